-- The connector can lift a mute or a ban in an experiment's room early (/beperkingen): when
-- and by whom, as for bot-wide sanctions.
ALTER TABLE room_sanctions ADD COLUMN lifted_at TEXT;
ALTER TABLE room_sanctions ADD COLUMN lifted_by_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;

-- Lifting a ban is a task on the platform too ('unban'). SQLite cannot widen a CHECK in
-- place: the table is built again with the same rows (nothing refers to it).
CREATE TABLE room_tasks_new (
    id          INTEGER PRIMARY KEY,
    room_id     INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    op          TEXT NOT NULL CHECK (op IN ('invite', 'hide', 'mute', 'unmute', 'ban', 'unban')),
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
INSERT INTO room_tasks_new SELECT id, room_id, op, target, user_id, by_user_id, until, due_at,
    attempts, last_error, created_at FROM room_tasks;
DROP TABLE room_tasks;
ALTER TABLE room_tasks_new RENAME TO room_tasks;
CREATE INDEX room_tasks_due ON room_tasks (due_at);
CREATE INDEX room_tasks_user ON room_tasks (user_id) WHERE user_id IS NOT NULL;
