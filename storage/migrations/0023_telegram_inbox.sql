-- Telegram: updates stored before they are confirmed to Telegram (the next getUpdates offset,
-- or the webhook's 200), and deleted once handled and answered. What a crash interrupted is
-- handled again at start-up; the router's handled_events keeps that from happening twice.
CREATE TABLE telegram_inbox (
    update_id   INTEGER PRIMARY KEY,
    -- The Telegram user id of whoever sent it (NULL: an update without a person): the row
    -- goes when they are erased.
    sender      TEXT,
    -- The update as Telegram sent it, JSON.
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- Start-ups that took it up again: one that takes the process down with it each time
    -- is given up after a few, instead of keeping the bot from ever serving anyone.
    attempts    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX telegram_inbox_sender ON telegram_inbox (sender);
