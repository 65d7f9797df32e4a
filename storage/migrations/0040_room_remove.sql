-- Someone who may no longer be in an experiment's room (they left the experiment, were
-- banned from the bot, or erased their data) is taken out of it ('remove'): on Telegram a
-- ban at once lifted, so that leaving is not a ban; on Matrix a kick, which also withdraws
-- an invite not yet accepted. SQLite cannot widen a CHECK in place: the table is built
-- again with the same rows (nothing refers to it).
CREATE TABLE room_tasks_new (
    id          INTEGER PRIMARY KEY,
    room_id     INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    op          TEXT NOT NULL
                CHECK (op IN ('invite', 'hide', 'mute', 'unmute', 'ban', 'unban', 'remove')),
    -- The message (hide) or the person as the platform knows them (the others).
    target      TEXT NOT NULL,
    -- The person it concerns here (an invite is sent to them privately; someone taken out
    -- is told). Empty for the tasks an erasure left: those keep the account alone.
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
