-- A direct reply the platform could not take for a moment waits in the outbox. Where the
-- platform recognises a repeat by a key (Matrix transaction ids), it is sent again under
-- the key of its first try, so whatever arrived then is not posted twice.
ALTER TABLE outbox ADD COLUMN dedupe_key TEXT;
