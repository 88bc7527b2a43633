CREATE TABLE `message_archives` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`month` text NOT NULL,
	`first_seq` integer NOT NULL,
	`last_seq` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`messages` integer NOT NULL,
	`inbound` integer NOT NULL,
	`outbound` integer NOT NULL,
	`key` text NOT NULL,
	`bytes` integer NOT NULL,
	`erased_before` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_archives_key_uq` ON `message_archives` (`key`);--> statement-breakpoint
CREATE INDEX `message_archives_conversation_idx` ON `message_archives` (`conversation_id`,`last_seq`);--> statement-breakpoint
CREATE INDEX `message_archives_workspace_idx` ON `message_archives` (`workspace_id`,`last_at`);--> statement-breakpoint
CREATE TABLE `workspace_shards` (
	`workspace_id` text PRIMARY KEY NOT NULL,
	`shard` text NOT NULL,
	`placed_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `campaigns` ADD `archived_counts` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `archive_after_days` integer;