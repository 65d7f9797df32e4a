-- A room for each experiment: a Telegram group or a Matrix room, linked by staff, where the
-- participants talk; residents report messages there and the connector moderates them.

CREATE TABLE experiment_rooms (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    linked_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    linked_at       TEXT NOT NULL,
    -- One room is one experiment's; an experiment has one room per platform.
    UNIQUE (platform, chat_id),
    UNIQUE (experiment_id, platform)
);

-- Who was welcomed in a room already (the welcome comes once). Only people the bot knows:
-- nothing is stored about someone who never talked to it (they are welcomed each time).
CREATE TABLE room_welcomes (
    room_id     INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    welcomed_at TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_welcomes_user ON room_welcomes (user_id);

-- A message residents reported in a room, until the connector decided about it.
CREATE TABLE room_reports (
    id                 INTEGER PRIMARY KEY,
    room_id            INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    message_id         TEXT NOT NULL,
    -- The author as the platform knows them, and as a person here if they are one.
    author_platform_id TEXT NOT NULL,
    author_user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- The reported text (NULL once it named a person who was erased since).
    body               TEXT,
    link               TEXT,
    created_at         TEXT NOT NULL,
    decided_at         TEXT,
    decision           TEXT,
    UNIQUE (room_id, message_id)
);
CREATE INDEX room_reports_open ON room_reports (id) WHERE decided_at IS NULL;
CREATE INDEX room_reports_author ON room_reports (author_user_id)
    WHERE author_user_id IS NOT NULL;

-- Who reported a room message (one report per person and message).
CREATE TABLE room_reporters (
    report_id        INTEGER NOT NULL REFERENCES room_reports(id) ON DELETE CASCADE,
    reporter_user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reported_at      TEXT NOT NULL,
    PRIMARY KEY (report_id, reporter_user_id)
) WITHOUT ROWID;
CREATE INDEX room_reporters_user ON room_reporters (reporter_user_id);

-- Warnings, mutes and bans in a room, with the connector's reason.
CREATE TABLE room_sanctions (
    id                 INTEGER PRIMARY KEY,
    room_id            INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    report_id          INTEGER REFERENCES room_reports(id) ON DELETE SET NULL,
    user_id            INTEGER REFERENCES users(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL CHECK (kind IN ('hide', 'warning', 'mute', 'ban')),
    -- The connector's reason (NULL once it named a person who was erased since).
    reason             TEXT,
    by_user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL,
    ends_at            TEXT
);
CREATE INDEX room_sanctions_user ON room_sanctions (user_id) WHERE user_id IS NOT NULL;

-- What the bot must still do in a room on the platform (an invite, hiding a message, a mute,
-- a ban, the end of a mute): stored first, carried out by the runtime after the commit, so
-- a restart between the decision and the platform loses nothing. Done rows are deleted.
CREATE TABLE room_tasks (
    id          INTEGER PRIMARY KEY,
    room_id     INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    op          TEXT NOT NULL CHECK (op IN ('invite', 'hide', 'mute', 'unmute', 'ban')),
    -- The message (hide) or the person as the platform knows them (the others).
    target      TEXT NOT NULL,
    -- The person it concerns here (an invite is sent to them privately).
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    -- Who decided it (the connector): told when it cannot be done.
    by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    until       TEXT,
    due_at      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX room_tasks_due ON room_tasks (due_at);
CREATE INDEX room_tasks_user ON room_tasks (user_id) WHERE user_id IS NOT NULL;
