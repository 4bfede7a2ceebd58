CREATE TABLE `build_logs` (
	`build_id` text PRIMARY KEY NOT NULL,
	`lines` text NOT NULL,
	`truncated` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`build_id`) REFERENCES `builds`(`id`) ON UPDATE no action ON DELETE cascade
);
