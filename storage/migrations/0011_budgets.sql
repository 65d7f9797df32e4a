-- "Velsen kiest": budget rounds (participatory budgeting by knapsack voting).
-- Times are ISO 8601 in UTC. Amounts are in euro cents.

-- A round: its budget, its voting period and who may vote. Status moves
-- draft -> scheduled -> open -> closed; the scheduler only triggers the moves. Who made
-- it is in the audit log (budget.create), not here.
CREATE TABLE budget_rounds (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    total_cents      INTEGER NOT NULL CHECK (total_cents > 0),
    -- {"IJmuiden": 500000, ...}: parts of the total kept for a neighbourhood's projects.
    hood_budgets     TEXT NOT NULL DEFAULT '{}',
    opens_at         TEXT NOT NULL,
    closes_at        TEXT NOT NULL,
    -- 1: only residents who declared a neighbourhood may vote.
    hood_only        INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'scheduled', 'open', 'closed')),
    created_at       TEXT NOT NULL,
    reminded_at      TEXT,
    closed_at        TEXT,
    -- Set at closing: confirmed ballots and the budget the winners use.
    voters           INTEGER,
    spent_cents      INTEGER,
    CHECK (closes_at > opens_at)
);

CREATE INDEX budget_rounds_status ON budget_rounds (status);

-- A project on a round's ballot. votes and winner are set at closing (live counts are
-- read from budget_votes while the round is open).
CREATE TABLE budget_projects (
    id             INTEGER PRIMARY KEY,
    round_id       INTEGER NOT NULL REFERENCES budget_rounds(id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    cost_cents     INTEGER NOT NULL CHECK (cost_cents > 0),
    neighbourhood  TEXT,
    photo_id       INTEGER REFERENCES media(id) ON DELETE SET NULL,
    idea_id        INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    proposal_id    INTEGER REFERENCES experiment_proposals(id) ON DELETE SET NULL,
    votes          INTEGER,
    winner         INTEGER NOT NULL DEFAULT 0,
    experiment_id  INTEGER REFERENCES experiments(id) ON DELETE SET NULL
);

CREATE INDEX budget_projects_round ON budget_projects (round_id);

-- One ballot per account and round: when it was started, changed, confirmed, reminded.
CREATE TABLE budget_ballots (
    round_id      INTEGER NOT NULL REFERENCES budget_rounds(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    started_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    reminded_at   TEXT,
    PRIMARY KEY (round_id, user_id)
);

CREATE INDEX budget_ballots_user ON budget_ballots (user_id);

-- What a voter has chosen so far (saved at every tap).
CREATE TABLE budget_choices (
    round_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    project_id  INTEGER NOT NULL REFERENCES budget_projects(id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, user_id, project_id),
    FOREIGN KEY (round_id, user_id) REFERENCES budget_ballots (round_id, user_id)
        ON DELETE CASCADE
);

-- What the voter confirmed ("Stem uitbrengen"): only these are counted.
CREATE TABLE budget_votes (
    round_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    project_id  INTEGER NOT NULL REFERENCES budget_projects(id) ON DELETE CASCADE,
    PRIMARY KEY (round_id, user_id, project_id),
    FOREIGN KEY (round_id, user_id) REFERENCES budget_ballots (round_id, user_id)
        ON DELETE CASCADE
);

CREATE INDEX budget_votes_project ON budget_votes (project_id);
