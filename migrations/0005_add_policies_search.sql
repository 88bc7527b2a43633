ALTER TABLE `contacts` ADD `fields` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `contacts` ADD `timezone` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `last_inbound_at` integer;--> statement-breakpoint
ALTER TABLE `conversations` ADD `away_sent_at` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `deferred_reason` text;--> statement-breakpoint
ALTER TABLE `templates` ADD `shortcut` text;--> statement-breakpoint
ALTER TABLE `templates` ADD `updated_at` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `templates_workspace_shortcut_uq` ON `templates` (`workspace_id`,`shortcut`);--> statement-breakpoint
ALTER TABLE `workspaces` ADD `timezone` text DEFAULT 'America/New_York' NOT NULL;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `quiet_hours` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `business_hours` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `away_message` text;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `user_sends_per_minute` integer;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `workspace_sends_per_second` integer;--> statement-breakpoint
ALTER TABLE `workspaces` ADD `workspace_send_burst` integer;--> statement-breakpoint
UPDATE `conversations` SET `last_inbound_at` = (SELECT max(`created_at`) FROM `messages` m WHERE m.`conversation_id` = `conversations`.`id` AND m.`direction` = 'inbound');--> statement-breakpoint
-- Full-text search (FTS5), kept in step with every write by triggers: message bodies, and contacts'
-- names, phones and emails. Each row carries its workspace, and every query filters on it.
CREATE VIRTUAL TABLE `messages_fts` USING fts5(`body`, `workspace_id` UNINDEXED, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');--> statement-breakpoint
INSERT INTO `messages_fts` (`rowid`, `body`, `workspace_id`) SELECT `rowid`, `body`, `workspace_id` FROM `messages`;--> statement-breakpoint
CREATE TRIGGER `messages_fts_insert` AFTER INSERT ON `messages` BEGIN
  INSERT INTO `messages_fts` (`rowid`, `body`, `workspace_id`) VALUES (new.`rowid`, new.`body`, new.`workspace_id`);
END;--> statement-breakpoint
CREATE TRIGGER `messages_fts_delete` AFTER DELETE ON `messages` BEGIN
  INSERT INTO `messages_fts` (`messages_fts`, `rowid`, `body`, `workspace_id`) VALUES ('delete', old.`rowid`, old.`body`, old.`workspace_id`);
END;--> statement-breakpoint
CREATE TRIGGER `messages_fts_update` AFTER UPDATE OF `body` ON `messages` BEGIN
  INSERT INTO `messages_fts` (`messages_fts`, `rowid`, `body`, `workspace_id`) VALUES ('delete', old.`rowid`, old.`body`, old.`workspace_id`);
  INSERT INTO `messages_fts` (`rowid`, `body`, `workspace_id`) VALUES (new.`rowid`, new.`body`, new.`workspace_id`);
END;--> statement-breakpoint
CREATE VIRTUAL TABLE `contacts_fts` USING fts5(`name`, `phone`, `email`, `workspace_id` UNINDEXED, content='contacts', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');--> statement-breakpoint
INSERT INTO `contacts_fts` (`rowid`, `name`, `phone`, `email`, `workspace_id`) SELECT `rowid`, coalesce(`name`, ''), `phone`, coalesce(`email`, ''), `workspace_id` FROM `contacts`;--> statement-breakpoint
CREATE TRIGGER `contacts_fts_insert` AFTER INSERT ON `contacts` BEGIN
  INSERT INTO `contacts_fts` (`rowid`, `name`, `phone`, `email`, `workspace_id`) VALUES (new.`rowid`, coalesce(new.`name`, ''), new.`phone`, coalesce(new.`email`, ''), new.`workspace_id`);
END;--> statement-breakpoint
CREATE TRIGGER `contacts_fts_delete` AFTER DELETE ON `contacts` BEGIN
  INSERT INTO `contacts_fts` (`contacts_fts`, `rowid`, `name`, `phone`, `email`, `workspace_id`) VALUES ('delete', old.`rowid`, coalesce(old.`name`, ''), old.`phone`, coalesce(old.`email`, ''), old.`workspace_id`);
END;--> statement-breakpoint
CREATE TRIGGER `contacts_fts_update` AFTER UPDATE OF `name`, `phone`, `email` ON `contacts` BEGIN
  INSERT INTO `contacts_fts` (`contacts_fts`, `rowid`, `name`, `phone`, `email`, `workspace_id`) VALUES ('delete', old.`rowid`, coalesce(old.`name`, ''), old.`phone`, coalesce(old.`email`, ''), old.`workspace_id`);
  INSERT INTO `contacts_fts` (`rowid`, `name`, `phone`, `email`, `workspace_id`) VALUES (new.`rowid`, coalesce(new.`name`, ''), new.`phone`, coalesce(new.`email`, ''), new.`workspace_id`);
END;
