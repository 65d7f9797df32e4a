-- Meetings (bijeenkomsten): staff organise them, residents register (or wait for a place),
-- and get a reminder the day before and an hour before. Times are ISO 8601 in UTC.

CREATE TABLE meetings (
    id             INTEGER PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    -- Where: an address (with an optional map link), or an online link.
    address        TEXT,
    map_link       TEXT,
    online_link    TEXT,
    neighbourhood  TEXT,
    starts_at      TEXT NOT NULL,
    ends_at        TEXT NOT NULL,
    capacity       INTEGER NOT NULL CHECK (capacity > 0),
    experiment_id  INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
    theme          TEXT,
    -- The language staff wrote it in.
    lang           TEXT NOT NULL,
    -- The "Wist je dat" that invited people to it, if any.
    broadcast_id   INTEGER REFERENCES broadcasts(id) ON DELETE SET NULL,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    status         TEXT NOT NULL CHECK (status IN ('planned', 'cancelled')),
    -- Bumped whenever its time or place changes: the calendar file's SEQUENCE.
    version        INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK ((address IS NULL) <> (online_link IS NULL))
);

CREATE INDEX meetings_starts ON meetings (status, starts_at);
CREATE INDEX meetings_author ON meetings (author_user_id);

-- Who comes (or waits for a place), in the order they asked. Removed when they cancel,
-- when the meeting is cancelled, and a period (from the profile) after the meeting.
CREATE TABLE meeting_registrations (
    meeting_id     INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('going', 'waiting')),
    registered_at  TEXT NOT NULL,
    -- When they got a place (at registering, or when someone cancelled).
    placed_at      TEXT,
    -- The reminders sent (or skipped, when their moment had passed at registering).
    reminded_day_at  TEXT,
    reminded_hour_at TEXT,
    PRIMARY KEY (meeting_id, user_id)
) WITHOUT ROWID;

CREATE INDEX meeting_registrations_user ON meeting_registrations (user_id);
CREATE INDEX meeting_registrations_queue ON meeting_registrations (meeting_id, status,
                                                                  registered_at);
