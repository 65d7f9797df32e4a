-- rebuilds tables (foreign keys are off while this runs; see storage/db.py)
--
-- A budget round knows who set it up, and a round that will not open is 'cancelled'. A
-- connector who lost the role (revoked, or changed some other way) must not have residents
-- vote in a round they scheduled: revoking cancels their scheduled rounds at once, and the
-- job that opens a round refuses one whose author no longer runs rounds. A round already
-- open runs on. Until now only the audit log (budget.create) named who made a round: that
-- person is copied into the new column for the rounds made before, where they are still
-- here (an erased author stays unknown, as the erasure left the log).
--
-- SQLite cannot widen a CHECK in place. The table is built again as its documentation says
-- for a table others refer to (budget_projects, budget_ballots): a new table with the same
-- columns and constraints plus the two new ones, the rows copied with their numbers, the
-- old one dropped, the new one renamed, its index made again.

CREATE TABLE budget_rounds_new (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    total_cents      INTEGER NOT NULL CHECK (total_cents > 0),
    -- {"IJmuiden": 500000, ...}: parts of the total kept for a neighbourhood's projects.
    hood_budgets     TEXT NOT NULL DEFAULT '{}',
    opens_at         TEXT NOT NULL,
    closes_at        TEXT NOT NULL,
    -- 1: only residents who declared a neighbourhood may vote.
    hood_only        INTEGER NOT NULL DEFAULT 0,
    -- draft -> scheduled -> open -> closed; scheduled -> cancelled when its author lost
    -- the role before it opened (it never opens then).
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'scheduled', 'open', 'closed', 'cancelled')),
    created_at       TEXT NOT NULL,
    reminded_at      TEXT,
    closed_at        TEXT,
    -- Set at closing: confirmed ballots and the budget the winners use.
    voters           INTEGER,
    spent_cents      INTEGER,
    postcodes        TEXT,
    tie_rule         TEXT NOT NULL DEFAULT 'cost'
                     CHECK (tie_rule IN ('cost', 'hood', 'earliest', 'lot')),
    tie_seed         TEXT,
    -- The connector who set it up (NULL once they are erased, or when nobody knows).
    author_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    cancelled_at     TEXT,
    CHECK (closes_at > opens_at)
);

INSERT INTO budget_rounds_new (id, name, total_cents, hood_budgets, opens_at, closes_at,
    hood_only, status, created_at, reminded_at, closed_at, voters, spent_cents, postcodes,
    tie_rule, tie_seed, author_user_id)
SELECT r.id, r.name, r.total_cents, r.hood_budgets, r.opens_at, r.closes_at, r.hood_only,
    r.status, r.created_at, r.reminded_at, r.closed_at, r.voters, r.spent_cents, r.postcodes,
    r.tie_rule, r.tie_seed,
    (SELECT a.actor_user_id FROM audit_log a
     WHERE a.action = 'budget.create' AND a.subject = 'budget:' || r.id
       AND a.actor_user_id IN (SELECT id FROM users)
     ORDER BY a.id LIMIT 1)
FROM budget_rounds r;

DROP TABLE budget_rounds;
ALTER TABLE budget_rounds_new RENAME TO budget_rounds;
CREATE INDEX budget_rounds_status ON budget_rounds (status);
CREATE INDEX budget_rounds_author ON budget_rounds (author_user_id)
    WHERE author_user_id IS NOT NULL;

-- A round cancelled before it opened no longer goes ahead: the published folder (which
-- listed it as scheduled) is redone soon, as for a cancelled meeting.
CREATE TRIGGER open_data_budget_round_cancelled AFTER UPDATE OF status ON budget_rounds
WHEN new.status = 'cancelled' AND old.status IS NOT 'cancelled' BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;
