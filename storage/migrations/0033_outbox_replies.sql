-- A direct reply the platform could not take for a moment waits in the outbox. Where the
-- platform recognises a repeat by a key (Matrix transaction ids), it is sent again under
-- the key of its first try, so whatever arrived then is not posted twice.
ALTER TABLE outbox ADD COLUMN dedupe_key TEXT;

-- A message that stops being true at a moment (a meeting's reminder once it began, a poll's
-- invitation once it closed) is not sent after it: delivery cancels it instead.
ALTER TABLE outbox ADD COLUMN expires_at TEXT;
CREATE INDEX outbox_expiry ON outbox (platform, expires_at)
    WHERE status = 'pending' AND expires_at IS NOT NULL;
