-- A direct reply that waits in the outbox is sent in the language it was answered in: before
-- consent nothing is stored in users.language, yet the person may have chosen one (or their
-- app told it), and the reply's buttons and numbered options were made in that language.
-- Empty for other rows: they are written in the recipient's language of the moment.
ALTER TABLE outbox ADD COLUMN language TEXT;
