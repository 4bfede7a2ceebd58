ALTER TABLE `builds` ADD `dockerfile_dir` text DEFAULT '/' NOT NULL;--> statement-breakpoint
ALTER TABLE `builds` ADD `dockerfile_name` text DEFAULT 'Dockerfile' NOT NULL;--> statement-breakpoint
ALTER TABLE `builds` ADD `context` text;--> statement-breakpoint
ALTER TABLE `builds` ADD `build_args` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `builds` ADD `target` text;--> statement-breakpoint
ALTER TABLE `builds` ADD `no_cache` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Builds recorded before this migration take their settings from their rule where it still exists.
UPDATE `builds` SET
  `dockerfile_dir` = (SELECT `dockerfile_dir` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`),
  `dockerfile_name` = (SELECT `dockerfile_name` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`),
  `context` = (SELECT `context` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`),
  `build_args` = (SELECT `build_args` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`),
  `target` = (SELECT `target` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`),
  `no_cache` = (SELECT `no_cache` FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`)
WHERE EXISTS (SELECT 1 FROM `build_rules` WHERE `build_rules`.`id` = `builds`.`rule_id`);
