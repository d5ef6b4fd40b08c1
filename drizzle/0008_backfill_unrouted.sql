-- Events stored before 0007 that no route took (no delivery at all) are unrouted too.
UPDATE `events` SET `unrouted` = 1 WHERE NOT EXISTS (SELECT 1 FROM `deliveries` WHERE `deliveries`.`event_id` = `events`.`id`);
