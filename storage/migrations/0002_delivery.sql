-- Delivery: everything sent that is not a direct reply goes through the outbox first.
-- A row is marked sent only after the platform confirmed it.
-- Also here: the staff side of access (one-time invites for roles) and the audit log.

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    -- The replies as JSON (catalog keys and parameters), rendered in the recipient's
    -- language when sent.
    payload      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    -- Rows that belong together (one broadcast) share a batch, for progress and reports.
    -- Single rows (a status notification, a report) go before batch rows.
    batch        TEXT,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sent', 'failed', 'unreachable', 'cancelled')),
    -- Real attempts (a platform's "slow down" is not one).
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- Not sent before this moment: a retry's backoff, or the platform asked this chat to wait.
    not_before   TEXT NOT NULL,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);

-- The delivery worker's queue: pending rows of one platform, single rows first, oldest first.
CREATE INDEX outbox_queue ON outbox (platform, (batch IS NOT NULL), id) WHERE status = 'pending';
-- When the next row comes due.
CREATE INDEX outbox_due ON outbox (platform, not_before) WHERE status = 'pending';
-- Holding back one chat (a 429) or giving up on it (blocked).
CREATE INDEX outbox_chat ON outbox (platform, chat_id) WHERE status = 'pending';
CREATE INDEX outbox_batch ON outbox (batch, status) WHERE batch IS NOT NULL;
CREATE INDEX outbox_user ON outbox (user_id);

-- A batch someone sent (a broadcast): who sees its progress and gets the final report.
CREATE TABLE outbox_batches (
    batch          TEXT PRIMARY KEY,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    total          INTEGER NOT NULL,
    -- The progress message on the author's platform ("1.234 van 5.000 verstuurd"), edited in
    -- place, and the count it shows.
    progress_ref   TEXT,
    progress_shown INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    -- Set when no row of the batch is pending any more, with the final figures.
    finished_at    TEXT,
    delivered      INTEGER,
    unreachable    INTEGER,
    failed         INTEGER,
    cancelled      INTEGER
);

CREATE INDEX outbox_batches_open ON outbox_batches (author_user_id) WHERE finished_at IS NULL;
CREATE INDEX outbox_batches_author ON outbox_batches (author_user_id, created_at);

-- One-time codes that grant a staff role (`samenspel invite`), redeemed with /start inv_CODE.
-- Only a hash of the code is kept: the database alone does not let anyone redeem one.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    code_hash   TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('ambtenaar', 'verbinder', 'admin')),
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    redeemed_at TEXT,
    redeemed_by INTEGER REFERENCES users(id) ON DELETE SET NULL
);

-- Who did what to whom, and why: role grants, invites, moderation, status changes.
-- People are linked by id with ON DELETE SET NULL, so erasing a person unlinks them here too.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    -- 'cli' (the operator on the server), 'user' (actor_user_id) or 'system'.
    actor           TEXT NOT NULL,
    actor_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action          TEXT NOT NULL,
    -- What was acted on: 'user' (subject_user_id), 'idea:17', 'invite:3', ...
    subject         TEXT NOT NULL,
    subject_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- JSON object with what changed (never message text or names).
    detail          TEXT NOT NULL DEFAULT '{}',
    reason          TEXT,
    -- Once a person is erased, the log names them only by their erasure pseudonym.
    actor_pseudonym   TEXT,
    subject_pseudonym TEXT
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject, at);
CREATE INDEX audit_log_subject_user ON audit_log (subject_user_id);
CREATE INDEX audit_log_actor_user ON audit_log (actor_user_id);
