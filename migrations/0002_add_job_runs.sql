CREATE TABLE `job_runs` (
	`name` text PRIMARY KEY NOT NULL,
	`last_started_at` integer,
	`last_success_at` integer,
	`last_error` text,
	`watermark` integer,
	`last_result` text
);
--> statement-breakpoint
ALTER TABLE `messages` ADD `checked_at` integer;