CREATE TABLE `attachments` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`message_id` text,
	`key` text NOT NULL,
	`name` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `attachments_workspace_idx` ON `attachments` (`workspace_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `attachments_message_idx` ON `attachments` (`message_id`);--> statement-breakpoint
DROP INDEX `contacts_workspace_phone_uq`;--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_workspace_phone_uq` ON `contacts` (`workspace_id`,`phone`) WHERE phone <> '';--> statement-breakpoint
ALTER TABLE `conversations` ADD `channel` text DEFAULT 'sms' NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `customer_address` text;--> statement-breakpoint
ALTER TABLE `memberships` ADD `inbox_ids` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `subject` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `html` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `content_sid` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `content_variables` text;--> statement-breakpoint
ALTER TABLE `numbers` ADD `channel` text DEFAULT 'sms' NOT NULL;--> statement-breakpoint
ALTER TABLE `numbers` ADD `account_sid` text;--> statement-breakpoint
ALTER TABLE `numbers` ADD `credentials` text;--> statement-breakpoint
ALTER TABLE `templates` ADD `content_sid` text;--> statement-breakpoint
-- Every existing number is an SMS inbox (the column's default); email addresses match case-insensitively from now on.
UPDATE `contacts` SET `email` = lower(`email`) WHERE `email` IS NOT NULL AND `email` <> lower(`email`);
