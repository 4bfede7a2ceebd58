-- The one generation row, bumped by every change that can alter which policies bind a user.
INSERT INTO `iam_generation` (`id`, `value`) VALUES (1, 0);
--> statement-breakpoint
CREATE TRIGGER `policies_insert_bumps_iam_generation` AFTER INSERT ON `policies` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `policies_update_bumps_iam_generation` AFTER UPDATE ON `policies` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `policies_delete_bumps_iam_generation` AFTER DELETE ON `policies` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `policy_attachments_insert_bumps_iam_generation` AFTER INSERT ON `policy_attachments` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `policy_attachments_update_bumps_iam_generation` AFTER UPDATE ON `policy_attachments` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `policy_attachments_delete_bumps_iam_generation` AFTER DELETE ON `policy_attachments` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `group_members_insert_bumps_iam_generation` AFTER INSERT ON `group_members` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `group_members_update_bumps_iam_generation` AFTER UPDATE ON `group_members` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
--> statement-breakpoint
CREATE TRIGGER `group_members_delete_bumps_iam_generation` AFTER DELETE ON `group_members` BEGIN UPDATE `iam_generation` SET `value` = `value` + 1 WHERE `id` = 1; END;
