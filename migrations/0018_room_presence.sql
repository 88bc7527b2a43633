ALTER TABLE `conversations` ADD `room_listeners` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Threads that existed before: their rooms may have sockets open (the safe side; each room clears its own).
UPDATE `conversations` SET `room_listeners` = 1;