ALTER TABLE `contacts` ADD `merged_into` text;--> statement-breakpoint
CREATE INDEX `contacts_merged_into_idx` ON `contacts` (`merged_into`);