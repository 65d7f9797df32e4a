-- How many of a row's calls to the platform arrived (a photo, then a text too long for its
-- caption): a row tried again after a 429 on its second call does not send the first again.
ALTER TABLE outbox ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
