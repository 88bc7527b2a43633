ALTER TABLE `analytics_daily` DROP COLUMN `first_response_hist`;--> statement-breakpoint
ALTER TABLE `analytics_daily` DROP COLUMN `resolution_hist`;--> statement-breakpoint
ALTER TABLE `analytics_hourly` DROP COLUMN `first_response_hist`;--> statement-breakpoint
ALTER TABLE `analytics_hourly` DROP COLUMN `resolution_hist`;