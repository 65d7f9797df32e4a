-- Trust: warnings before erasing inactive residents, and a record of every erasure.
-- Times are ISO 8601 in UTC. Inactive residents are found by a daily scan of users; no index
-- on last_seen_at, so the update on every message stays cheap.

-- A resident told that their data will be erased for inactivity. Anyone seen after
-- warned_at (users.last_seen_at) came back and is spared; the warning is then dropped.
CREATE TABLE retention_notices (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    warned_at   TEXT NOT NULL,
    erase_after TEXT NOT NULL
);

CREATE INDEX retention_notices_due ON retention_notices (erase_after);

-- Every erasure, without personal data: when, why, what happened to the person's public
-- content, and the pseudonym that stands in for them in records kept for accountability.
CREATE TABLE erasures (
    id        INTEGER PRIMARY KEY,
    erased_at TEXT NOT NULL,
    cause     TEXT NOT NULL CHECK (cause IN ('request', 'retention', 'admin')),
    content   TEXT NOT NULL CHECK (content IN ('kept', 'deleted')),
    pseudonym TEXT NOT NULL UNIQUE
);

-- Erasing a person looks up every row that points at them (and the database does the same
-- for each foreign key): these links had no index yet.
CREATE INDEX question_messages_author ON question_messages (author_user_id)
    WHERE author_user_id IS NOT NULL;
CREATE INDEX experiment_proposal_history_by ON experiment_proposal_history (by_user_id)
    WHERE by_user_id IS NOT NULL;
CREATE INDEX broadcasts_author ON broadcasts (author_user_id) WHERE author_user_id IS NOT NULL;
CREATE INDEX questions_staff ON questions (staff_user_id) WHERE staff_user_id IS NOT NULL;
