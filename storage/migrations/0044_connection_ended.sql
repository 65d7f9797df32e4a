-- rebuilds tables (foreign keys are off while this runs; see storage/db.py)
--
-- A request to connect two residents ends when one of the two erases their data while the
-- other still waits for it (asked, or said yes and their line from the other was not handed
-- over yet). The row stays for the one who is left, with nothing of the erased person: the
-- side of the erased person becomes empty (so user_a and user_b may be NULL), and 'ended'
-- joins the statuses, so that a late answer is told the request ended.
--
-- line_kept_for: the person whose copy of the other's contact line was kept for their
-- return when both said yes (the bot could not reach them then). The connector hears that
-- the two have each other's details only once that line is handed over.
--
-- The table is built again because SQLite cannot change a column's NOT NULL or a CHECK
-- constraint in place (nothing refers to connections, so no other table is touched).
CREATE TABLE connections_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- user_a < user_b, so a pair has one open request at most; NULL: erased since.
    user_a        INTEGER REFERENCES users(id) ON DELETE CASCADE,
    user_b        INTEGER REFERENCES users(id) ON DELETE CASCADE,
    idea_a        INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    idea_b        INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    answer_a      TEXT CHECK (answer_a IN ('yes', 'no')),
    answer_b      TEXT CHECK (answer_b IN ('yes', 'no')),
    contact_a     TEXT,
    contact_b     TEXT,
    status        TEXT NOT NULL DEFAULT 'asked'
                  CHECK (status IN ('asked', 'connected', 'declined', 'expired', 'ended')),
    by_user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    closed_at     TEXT,
    line_kept_for INTEGER REFERENCES users(id) ON DELETE SET NULL,
    CHECK (user_a < user_b),
    -- Only a request that ended keeps one side empty, and never both.
    CHECK ((user_a IS NOT NULL AND user_b IS NOT NULL)
           OR (status = 'ended' AND (user_a IS NOT NULL OR user_b IS NOT NULL)))
);
INSERT INTO connections_new (id, user_a, user_b, idea_a, idea_b, answer_a, answer_b,
    contact_a, contact_b, status, by_user_id, created_at, closed_at)
SELECT id, user_a, user_b, idea_a, idea_b, answer_a, answer_b,
    contact_a, contact_b, status, by_user_id, created_at, closed_at
FROM connections;
-- The numbers handed out stay handed out (0029): a new request never gets an old one's id.
DELETE FROM sqlite_sequence WHERE name = 'connections_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'connections_new', MAX(seq) FROM sqlite_sequence WHERE name = 'connections'
HAVING COUNT(*) > 0;
DROP TABLE connections;
ALTER TABLE connections_new RENAME TO connections;
CREATE UNIQUE INDEX connections_open_pair ON connections (user_a, user_b)
    WHERE status = 'asked';
CREATE INDEX connections_user_b ON connections (user_b);
CREATE INDEX connections_by ON connections (by_user_id) WHERE by_user_id IS NOT NULL;
CREATE INDEX connections_idea_a ON connections (idea_a) WHERE idea_a IS NOT NULL;
CREATE INDEX connections_idea_b ON connections (idea_b) WHERE idea_b IS NOT NULL;
CREATE INDEX connections_line_kept_for ON connections (line_kept_for)
    WHERE line_kept_for IS NOT NULL;
