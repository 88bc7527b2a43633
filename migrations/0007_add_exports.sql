CREATE TABLE `exports` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`format` text NOT NULL,
	`range_from` integer,
	`range_to` integer,
	`status` text NOT NULL,
	`file_key` text NOT NULL,
	`rows` integer DEFAULT 0 NOT NULL,
	`token_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`failure` text,
	`created_by` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `exports_workspace_idx` ON `exports` (`workspace_id`,`created_at`);