CREATE TABLE `build_rules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`repository_id` integer NOT NULL,
	`source_type` text NOT NULL,
	`source` text NOT NULL,
	`tags` text NOT NULL,
	`dockerfile_dir` text DEFAULT '/' NOT NULL,
	`dockerfile_name` text DEFAULT 'Dockerfile' NOT NULL,
	`context` text,
	`build_args` text NOT NULL,
	`target` text,
	`no_cache` integer DEFAULT false NOT NULL,
	`include_paths` text NOT NULL,
	`exclude_paths` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `build_rules_repository` ON `build_rules` (`repository_id`);--> statement-breakpoint
CREATE TABLE `builds` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`repository_id` integer NOT NULL,
	`rule_id` integer,
	`trigger` text NOT NULL,
	`ref` text NOT NULL,
	`commit` text,
	`clone_url` text NOT NULL,
	`tags` text NOT NULL,
	`status` text NOT NULL,
	`stage` text,
	`error` text,
	`digest` text,
	`delivery_id` integer,
	`enqueued_at` text,
	`queued_at` text NOT NULL,
	`started_at` text,
	`finished_at` text,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`rule_id`) REFERENCES `build_rules`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`delivery_id`) REFERENCES `deliveries`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `builds_repository_queued` ON `builds` (`repository_id`,`queued_at`);--> statement-breakpoint
CREATE INDEX `builds_outbox` ON `builds` (`status`,`enqueued_at`);--> statement-breakpoint
CREATE INDEX `builds_supersede` ON `builds` (`repository_id`,`rule_id`,`ref`,`status`);--> statement-breakpoint
CREATE TABLE `deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`binding_id` integer NOT NULL,
	`provider_delivery_id` text NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`build_ids` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`binding_id`) REFERENCES `source_bindings`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deliveries_binding_delivery` ON `deliveries` (`binding_id`,`provider_delivery_id`);--> statement-breakpoint
CREATE TABLE `source_bindings` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` text NOT NULL,
	`repository_id` integer NOT NULL,
	`hook_id` text NOT NULL,
	`provider` text NOT NULL,
	`repo_url` text NOT NULL,
	`repo_key` text NOT NULL,
	`push_user_id` integer NOT NULL,
	`auto_build` integer DEFAULT true NOT NULL,
	`branch_filter` text,
	`webhook_secret_sealed` text NOT NULL,
	`credentials_sealed` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`repository_id`) REFERENCES `repositories`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`push_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `source_bindings_repository_id_unique` ON `source_bindings` (`repository_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `source_bindings_hook_id_unique` ON `source_bindings` (`hook_id`);--> statement-breakpoint
CREATE INDEX `source_bindings_repo_key` ON `source_bindings` (`account_id`,`repo_key`);