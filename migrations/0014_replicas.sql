CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `login_failures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`failed_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `login_failures_scope_key_at` ON `login_failures` (`scope`,`key`,`failed_at_ms`);--> statement-breakpoint
CREATE INDEX `builds_delivery` ON `builds` (`delivery_id`);