-- The connector: triage of ideas and proposals, moderation of comment threads, answers,
-- connecting residents, and the audit log of every staff action. Times are ISO 8601 in UTC.

-- Triage ---------------------------------------------------------------------------------

-- The connector's queue: ideas still waiting for a decision, oldest first.
CREATE INDEX ideas_triage ON ideas (created_at, id)
    WHERE status IN ('ingediend', 'in_behandeling') AND removed_at IS NULL;

-- An experiment that grew out of an idea (a quick win).
ALTER TABLE experiments ADD COLUMN idea_id INTEGER REFERENCES ideas(id) ON DELETE SET NULL;
CREATE INDEX experiments_idea ON experiments (idea_id) WHERE idea_id IS NOT NULL;

-- Proposals get two decisions with an amount: fully financed (gefinancierd) and co-financed
-- (cofinanciering). SQLite cannot change a CHECK in place, so the proposal tables are
-- rebuilt. The children are parked first: dropping the parent with foreign keys on would
-- otherwise cascade into them.
CREATE TEMP TABLE parked_proposal_history AS SELECT * FROM experiment_proposal_history;
CREATE TEMP TABLE parked_proposal_followers AS SELECT * FROM experiment_proposal_followers;
DROP TABLE experiment_proposal_history;
DROP TABLE experiment_proposal_followers;

CREATE TABLE experiment_proposals_rebuilt (
    id                   INTEGER PRIMARY KEY,
    author_user_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    what                 TEXT NOT NULL,
    place                TEXT NOT NULL,
    partners             TEXT NOT NULL,
    budget_cents         INTEGER NOT NULL CHECK (budget_cents >= 0),
    -- Whether the budget was within the profile's full financing limit when proposed.
    full_financing       INTEGER NOT NULL CHECK (full_financing IN (0, 1)),
    status               TEXT NOT NULL DEFAULT 'ingediend'
                         CHECK (status IN ('ingediend', 'in_behandeling', 'goedgekeurd',
                                           'gefinancierd', 'cofinanciering', 'afgewezen')),
    reason               TEXT,
    amount_decided_cents INTEGER CHECK (amount_decided_cents >= 0),
    experiment_id        INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

INSERT INTO experiment_proposals_rebuilt (id, author_user_id, what, place, partners,
    budget_cents, full_financing, status, reason, amount_decided_cents, experiment_id,
    created_at, updated_at)
SELECT id, author_user_id, what, place, partners, budget_cents, full_financing, status,
    reason, amount_decided_cents, experiment_id, created_at, updated_at
FROM experiment_proposals;

DROP TABLE experiment_proposals;
ALTER TABLE experiment_proposals_rebuilt RENAME TO experiment_proposals;

CREATE INDEX experiment_proposals_queue ON experiment_proposals (status, created_at);
CREATE INDEX experiment_proposals_author ON experiment_proposals (author_user_id);

CREATE TABLE experiment_proposal_history (
    id              INTEGER PRIMARY KEY,
    proposal_id     INTEGER NOT NULL REFERENCES experiment_proposals(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    reason          TEXT,
    amount_cents    INTEGER,
    by_user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at              TEXT NOT NULL
);

CREATE INDEX experiment_proposal_history_proposal ON experiment_proposal_history (proposal_id, id);

CREATE TABLE experiment_proposal_followers (
    proposal_id INTEGER NOT NULL REFERENCES experiment_proposals(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    since       TEXT NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

CREATE INDEX experiment_proposal_followers_user ON experiment_proposal_followers (user_id);

INSERT INTO experiment_proposal_history (id, proposal_id, status, reason, amount_cents,
    by_user_id, at)
SELECT id, proposal_id, status, reason, amount_cents, by_user_id, at
FROM parked_proposal_history;
INSERT INTO experiment_proposal_followers (proposal_id, user_id, since)
SELECT proposal_id, user_id, since FROM parked_proposal_followers;
DROP TABLE parked_proposal_history;
DROP TABLE parked_proposal_followers;

-- Moderation -----------------------------------------------------------------------------

-- A resident's report of a comment: one per person per comment. Open until the connector
-- decides (resolved_at). An erased reporter leaves an anonymous report behind.
CREATE TABLE comment_reports (
    id               INTEGER PRIMARY KEY,
    comment_id       INTEGER NOT NULL REFERENCES idea_comments(id) ON DELETE CASCADE,
    reporter_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    reason           TEXT NOT NULL
                     CHECK (reason IN ('spam', 'beledigend', 'persoonsgegevens', 'anders')),
    -- The reporter's own words (reason 'anders').
    note             TEXT,
    created_at       TEXT NOT NULL,
    resolved_at      TEXT,
    UNIQUE (comment_id, reporter_user_id)
);

-- The connector's list of reported comments, and the count that hides one.
CREATE INDEX comment_reports_open ON comment_reports (comment_id, id) WHERE resolved_at IS NULL;
CREATE INDEX comment_reports_reporter ON comment_reports (reporter_user_id)
    WHERE reporter_user_id IS NOT NULL;

-- What the connector decided about a person: a warning, a mute (until ends_at) or a ban
-- (until lifted). A mute ends by itself at ends_at; expired_at records that its end was
-- handled (the person told), lifted_at that the connector ended it early.
CREATE TABLE sanctions (
    id                INTEGER PRIMARY KEY,
    user_id           INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('warning', 'mute', 'ban')),
    comment_id        INTEGER REFERENCES idea_comments(id) ON DELETE SET NULL,
    reason            TEXT NOT NULL,
    by_user_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL,
    ends_at           TEXT,
    lifted_at         TEXT,
    lifted_by_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    expired_at        TEXT,
    CHECK ((kind = 'mute') = (ends_at IS NOT NULL))
);

-- Read on every event of a resident (is this person muted or banned now?) and for their
-- history on a moderation card.
CREATE INDEX sanctions_user ON sanctions (user_id, id);
-- Everyone muted or banned (the connector's list).
CREATE INDEX sanctions_active ON sanctions (id) WHERE kind != 'warning' AND lifted_at IS NULL;
-- Mutes whose end still has to be handled (re-armed after a restart).
CREATE INDEX sanctions_mute_ends ON sanctions (ends_at)
    WHERE kind = 'mute' AND lifted_at IS NULL AND expired_at IS NULL;
CREATE INDEX sanctions_by ON sanctions (by_user_id) WHERE by_user_id IS NOT NULL;
CREATE INDEX sanctions_lifted_by ON sanctions (lifted_by_user_id)
    WHERE lifted_by_user_id IS NOT NULL;
CREATE INDEX sanctions_comment ON sanctions (comment_id) WHERE comment_id IS NOT NULL;

-- Connecting residents ---------------------------------------------------------------------

-- The connector asks two residents whether they want each other's contact details. Each
-- answers for themselves; only when both said yes does each get the other's contact line
-- (their own words: an e-mail address, a @handle). Contact lines are cleared once sent.
CREATE TABLE connections (
    id          INTEGER PRIMARY KEY,
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
                CHECK (status IN ('asked', 'connected', 'declined')),
    by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    closed_at   TEXT,
    CHECK (user_a < user_b)
);

CREATE UNIQUE INDEX connections_open_pair ON connections (user_a, user_b)
    WHERE status = 'asked';
CREATE INDEX connections_user_b ON connections (user_b);
CREATE INDEX connections_by ON connections (by_user_id) WHERE by_user_id IS NOT NULL;
CREATE INDEX connections_idea_a ON connections (idea_a) WHERE idea_a IS NOT NULL;
CREATE INDEX connections_idea_b ON connections (idea_b) WHERE idea_b IS NOT NULL;
