-- A budget round invites every resident who may vote in it when it opens (through the
-- outbox, like a poll's invitations). Each invitation lets its reader turn such
-- invitations off; this table keeps that choice (no row: invitations on). Personal data:
-- in the export and the erasure (storage/privacy/personal.py).
CREATE TABLE budget_preferences (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    -- 0: no invitation when a round opens; 1: invitations (the default).
    invitations  INTEGER NOT NULL DEFAULT 1 CHECK (invitations IN (0, 1)),
    updated_at   TEXT NOT NULL
);
