-- A request to connect two residents that is not answered in time expires: its contact
-- lines are cleared and it is no longer open. 'expired' joins the statuses; the table is
-- built again because SQLite cannot change a CHECK constraint in place (nothing refers to
-- connections, so no other table is touched).
CREATE TABLE connections_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- user_a < user_b, so a pair has one open request at most.
    user_a      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_b      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    idea_a      INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    idea_b      INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    answer_a    TEXT CHECK (answer_a IN ('yes', 'no')),
    answer_b    TEXT CHECK (answer_b IN ('yes', 'no')),
    contact_a   TEXT,
    contact_b   TEXT,
    status      TEXT NOT NULL DEFAULT 'asked'
                CHECK (status IN ('asked', 'connected', 'declined', 'expired')),
    by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    closed_at   TEXT,
    CHECK (user_a < user_b)
);
INSERT INTO connections_new (id, user_a, user_b, idea_a, idea_b, answer_a, answer_b,
    contact_a, contact_b, status, by_user_id, created_at, closed_at)
SELECT id, user_a, user_b, idea_a, idea_b, answer_a, answer_b,
    contact_a, contact_b, status, by_user_id, created_at, closed_at
FROM connections;
-- The numbers handed out stay handed out (0029): a new request never gets an old one's id,
-- also when the highest were deleted (an erasure) before this ran.
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
