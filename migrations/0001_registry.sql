CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` text,
	`actor` text NOT NULL,
	`source_ip` text,
	`event` text NOT NULL,
	`resource` text,
	`requested` text,
	`granted` text,
	`outcome` text NOT NULL,
	`reason` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_events_account_at` ON `audit_events` (`account_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `registry_events` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`action` text NOT NULL,
	`repository` text NOT NULL,
	`repository_id` integer,
	`tag` text,
	`digest` text,
	`media_type` text,
	`size` integer,
	`actor` text,
	`source_addr` text,
	`occurred_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `registry_events_repository` ON `registry_events` (`region`,`repository`);--> statement-breakpoint
CREATE TABLE `tags` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repository_id` integer NOT NULL,
	`tag` text NOT NULL,
	`digest` text NOT NULL,
	`media_type` text,
	`size` integer,
	`pushed_by` text,
	`pushed_at` text NOT NULL,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tags_repository_tag` ON `tags` (`repository_id`,`tag`);--> statement-breakpoint
CREATE INDEX `tags_repository_digest` ON `tags` (`repository_id`,`digest`);