CREATE TABLE `build_secrets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repository_id` integer NOT NULL,
	`name` text NOT NULL,
	`value_sealed` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `build_secrets_repository_name` ON `build_secrets` (`repository_id`,`name`);--> statement-breakpoint
ALTER TABLE `build_rules` ADD `registry_cache` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `build_rules` ADD `platforms` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `builds` ADD `registry_cache` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `builds` ADD `platforms` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
CREATE INDEX `builds_rule_status` ON `builds` (`rule_id`,`status`);--> statement-breakpoint
ALTER TABLE `tags` ADD `platforms` text;