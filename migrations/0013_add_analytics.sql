CREATE TABLE `analytics_daily` (
	`workspace_id` text NOT NULL,
	`day` integer NOT NULL,
	`inbox` text NOT NULL,
	`agent_id` text NOT NULL,
	`channel` text NOT NULL,
	`inbound` integer DEFAULT 0 NOT NULL,
	`outbound` integer DEFAULT 0 NOT NULL,
	`delivered` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`segments` integer DEFAULT 0 NOT NULL,
	`first_responses` integer DEFAULT 0 NOT NULL,
	`first_response_hist` text NOT NULL,
	`resolutions` integer DEFAULT 0 NOT NULL,
	`resolution_hist` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `day`, `inbox`, `agent_id`, `channel`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `analytics_errors` (
	`workspace_id` text NOT NULL,
	`hour` integer NOT NULL,
	`inbox` text NOT NULL,
	`error_code` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `hour`, `inbox`, `error_code`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `analytics_hourly` (
	`workspace_id` text NOT NULL,
	`hour` integer NOT NULL,
	`inbox` text NOT NULL,
	`agent_id` text NOT NULL,
	`channel` text NOT NULL,
	`inbound` integer DEFAULT 0 NOT NULL,
	`outbound` integer DEFAULT 0 NOT NULL,
	`delivered` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`segments` integer DEFAULT 0 NOT NULL,
	`first_responses` integer DEFAULT 0 NOT NULL,
	`first_response_hist` text NOT NULL,
	`resolutions` integer DEFAULT 0 NOT NULL,
	`resolution_hist` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `hour`, `inbox`, `agent_id`, `channel`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `conversation_resolutions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`inbox` text NOT NULL,
	`agent_id` text,
	`opened_at` integer NOT NULL,
	`resolved_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `conversation_resolutions_workspace_idx` ON `conversation_resolutions` (`workspace_id`,`resolved_at`);--> statement-breakpoint
ALTER TABLE `conversations` ADD `opened_at` integer;--> statement-breakpoint
CREATE INDEX `messages_workspace_created_idx` ON `messages` (`workspace_id`,`created_at`);--> statement-breakpoint
-- Open conversations' current episode began when they were created.
UPDATE `conversations` SET `opened_at` = `created_at` WHERE `opened_at` IS NULL;
