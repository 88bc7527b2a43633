CREATE TABLE `message_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` text NOT NULL,
	`message_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`provider_sid` text,
	`status` text NOT NULL,
	`error_code` integer,
	`error_message` text,
	`started_at` integer,
	`ended_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_attempts_provider_sid_unique` ON `message_attempts` (`provider_sid`);--> statement-breakpoint
CREATE UNIQUE INDEX `message_attempts_message_uq` ON `message_attempts` (`message_id`,`attempt`);--> statement-breakpoint
CREATE TABLE `suppressions` (
	`workspace_id` text NOT NULL,
	`phone` text NOT NULL,
	`source` text NOT NULL,
	`keyword` text,
	`reference` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`workspace_id`, `phone`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `scopes` text DEFAULT 'messages:send messages:read contacts:write' NOT NULL;--> statement-breakpoint
-- Existing opt-outs move to the suppression list, keyed by the number.
INSERT OR IGNORE INTO `suppressions` (`workspace_id`, `phone`, `source`, `keyword`, `created_at`)
SELECT `workspace_id`, `phone`, 'manual', 'migrated', coalesce(`opted_out_at`, `updated_at`) FROM `contacts` WHERE `opted_out` = 1;--> statement-breakpoint
-- Keys made before scopes existed acted as admins; they keep that, so no integration breaks on upgrade.
UPDATE `api_keys` SET `scopes` = 'messages:send messages:read contacts:write admin';
