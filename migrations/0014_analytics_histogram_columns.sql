ALTER TABLE `analytics_daily` ADD `fr_0` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_1` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_2` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_3` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_4` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_5` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_6` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_7` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_8` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `fr_9` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_0` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_1` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_2` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_3` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_4` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_5` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_6` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_7` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_8` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_daily` ADD `rs_9` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_0` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_1` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_2` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_3` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_4` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_5` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_6` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_7` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_8` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `fr_9` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_0` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_1` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_2` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_3` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_4` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_5` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_6` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_7` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_8` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `analytics_hourly` ADD `rs_9` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Existing histograms move from their JSON arrays into the bucket columns.
UPDATE `analytics_daily` SET fr_0 = coalesce(json_extract(first_response_hist, '$[0]'), 0), fr_1 = coalesce(json_extract(first_response_hist, '$[1]'), 0), fr_2 = coalesce(json_extract(first_response_hist, '$[2]'), 0), fr_3 = coalesce(json_extract(first_response_hist, '$[3]'), 0), fr_4 = coalesce(json_extract(first_response_hist, '$[4]'), 0), fr_5 = coalesce(json_extract(first_response_hist, '$[5]'), 0), fr_6 = coalesce(json_extract(first_response_hist, '$[6]'), 0), fr_7 = coalesce(json_extract(first_response_hist, '$[7]'), 0), fr_8 = coalesce(json_extract(first_response_hist, '$[8]'), 0), fr_9 = coalesce(json_extract(first_response_hist, '$[9]'), 0), rs_0 = coalesce(json_extract(resolution_hist, '$[0]'), 0), rs_1 = coalesce(json_extract(resolution_hist, '$[1]'), 0), rs_2 = coalesce(json_extract(resolution_hist, '$[2]'), 0), rs_3 = coalesce(json_extract(resolution_hist, '$[3]'), 0), rs_4 = coalesce(json_extract(resolution_hist, '$[4]'), 0), rs_5 = coalesce(json_extract(resolution_hist, '$[5]'), 0), rs_6 = coalesce(json_extract(resolution_hist, '$[6]'), 0), rs_7 = coalesce(json_extract(resolution_hist, '$[7]'), 0), rs_8 = coalesce(json_extract(resolution_hist, '$[8]'), 0), rs_9 = coalesce(json_extract(resolution_hist, '$[9]'), 0);--> statement-breakpoint
-- Existing histograms move from their JSON arrays into the bucket columns.
UPDATE `analytics_hourly` SET fr_0 = coalesce(json_extract(first_response_hist, '$[0]'), 0), fr_1 = coalesce(json_extract(first_response_hist, '$[1]'), 0), fr_2 = coalesce(json_extract(first_response_hist, '$[2]'), 0), fr_3 = coalesce(json_extract(first_response_hist, '$[3]'), 0), fr_4 = coalesce(json_extract(first_response_hist, '$[4]'), 0), fr_5 = coalesce(json_extract(first_response_hist, '$[5]'), 0), fr_6 = coalesce(json_extract(first_response_hist, '$[6]'), 0), fr_7 = coalesce(json_extract(first_response_hist, '$[7]'), 0), fr_8 = coalesce(json_extract(first_response_hist, '$[8]'), 0), fr_9 = coalesce(json_extract(first_response_hist, '$[9]'), 0), rs_0 = coalesce(json_extract(resolution_hist, '$[0]'), 0), rs_1 = coalesce(json_extract(resolution_hist, '$[1]'), 0), rs_2 = coalesce(json_extract(resolution_hist, '$[2]'), 0), rs_3 = coalesce(json_extract(resolution_hist, '$[3]'), 0), rs_4 = coalesce(json_extract(resolution_hist, '$[4]'), 0), rs_5 = coalesce(json_extract(resolution_hist, '$[5]'), 0), rs_6 = coalesce(json_extract(resolution_hist, '$[6]'), 0), rs_7 = coalesce(json_extract(resolution_hist, '$[7]'), 0), rs_8 = coalesce(json_extract(resolution_hist, '$[8]'), 0), rs_9 = coalesce(json_extract(resolution_hist, '$[9]'), 0);
