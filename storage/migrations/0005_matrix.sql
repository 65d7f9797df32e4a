-- Matrix: what a platform adapter must remember between runs, and which incoming events were
-- already handled (for any platform that gives its events stable ids).

-- Small named values per platform: Matrix keeps its device id, access token and sync token
-- here, so a restart continues where it stopped, on the same device.
CREATE TABLE platform_state (
    platform   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, key)
) WITHOUT ROWID;

-- An event is recorded in the same transaction as the handler's writes, so an event seen
-- again (a replay after a crash) is never handled twice. Its replies wait in pending until
-- the platform confirmed them, so a crash between saving and sending loses no answer.
-- Rows are pruned after a week.
CREATE TABLE handled_events (
    platform   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    lang       TEXT,
    pending    TEXT,
    PRIMARY KEY (platform, event_id)
) WITHOUT ROWID;

CREATE INDEX handled_events_age ON handled_events (handled_at);
