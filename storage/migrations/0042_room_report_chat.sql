-- rebuilds tables (foreign keys are off while this runs; see storage/db.py)
--
-- A reported message is known by the group or room it was written in as well as by its
-- number there. An experiment's room that moved to another group (/koppel there after the
-- bot was removed from the old one) meets the same message numbers again (Telegram counts
-- per group): a report there must not be taken for the old group's report of that number,
-- with its author and its text, and a message of the old group cannot be hidden in the new
-- one. Reports from before are of the group the room is linked to now (the best known).
--
-- The table is built again (SQLite cannot change a UNIQUE constraint in place), as 0029
-- did: same columns and constraints plus chat_id, the rows copied, its indexes made again,
-- and its counter kept, so that no report number is given out twice.

CREATE TEMP TABLE room_reports_counter AS
SELECT seq FROM sqlite_sequence WHERE name = 'room_reports';

CREATE TABLE room_reports_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id            INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    -- The group or room the message is in (its room may have moved to another one since).
    chat_id            TEXT NOT NULL,
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
    original_body      TEXT,
    UNIQUE (room_id, chat_id, message_id)
);
INSERT INTO room_reports_new (id, room_id, chat_id, message_id, author_platform_id,
    author_user_id, body, link, created_at, decided_at, decision, original_body)
SELECT q.id, q.room_id, r.chat_id, q.message_id, q.author_platform_id,
    q.author_user_id, q.body, q.link, q.created_at, q.decided_at, q.decision, q.original_body
FROM room_reports q JOIN experiment_rooms r ON r.id = q.room_id;
DROP TABLE room_reports;
ALTER TABLE room_reports_new RENAME TO room_reports;
CREATE INDEX room_reports_open ON room_reports (id) WHERE decided_at IS NULL;
CREATE INDEX room_reports_author ON room_reports (author_user_id)
    WHERE author_user_id IS NOT NULL;
CREATE INDEX room_reports_author_account ON room_reports (author_platform_id);

INSERT INTO sqlite_sequence (name, seq)
SELECT 'room_reports', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'room_reports');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT MAX(seq) FROM temp.room_reports_counter), 0))
WHERE name = 'room_reports';
DROP TABLE temp.room_reports_counter;
