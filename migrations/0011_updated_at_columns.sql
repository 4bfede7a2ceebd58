ALTER TABLE `build_rules` ADD `updated_at` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `policies` ADD `updated_at` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `repositories` ADD `updated_at` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `source_bindings` ADD `updated_at` text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Until now both times lived in created_at (an edit overwrote it): it is the last change either way.
UPDATE `build_rules` SET `updated_at` = `created_at`;--> statement-breakpoint
UPDATE `policies` SET `updated_at` = `created_at`;--> statement-breakpoint
UPDATE `repositories` SET `updated_at` = `created_at`;--> statement-breakpoint
UPDATE `source_bindings` SET `updated_at` = `created_at`;
