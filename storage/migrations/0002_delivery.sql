-- Delivery: everything sent that is not a direct reply goes through the outbox first.
-- A row is marked sent only after the platform confirmed it.

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
    batch        TEXT,
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sent', 'failed', 'unreachable', 'cancelled')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   TEXT NOT NULL,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);

CREATE INDEX outbox_due ON outbox (platform, status, not_before) WHERE status = 'pending';
CREATE INDEX outbox_batch ON outbox (batch, status) WHERE batch IS NOT NULL;
CREATE INDEX outbox_user ON outbox (user_id);
