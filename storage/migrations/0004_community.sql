-- Community: experiments and residents' proposals, "Wist je dat" subscriptions, news and
-- broadcasts, civil servants' cards, and questions to the connector.
-- Content points at its author with ON DELETE SET NULL; memberships and preferences are
-- personal and go with the person (ON DELETE CASCADE). Times are ISO 8601 in UTC.

-- Running experiments. Seeded ones carry the profile's slug; titles and texts in nl and en.
CREATE TABLE experiments (
    id            INTEGER PRIMARY KEY,
    slug          TEXT UNIQUE,
    title_nl      TEXT NOT NULL,
    title_en      TEXT NOT NULL,
    summary_nl    TEXT NOT NULL,
    summary_en    TEXT NOT NULL,
    place_nl      TEXT NOT NULL,
    place_en      TEXT NOT NULL,
    organiser_nl  TEXT NOT NULL,
    organiser_en  TEXT NOT NULL,
    neighbourhood TEXT,
    theme         TEXT,
    status        TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ended')),
    created_at    TEXT NOT NULL
);

CREATE INDEX experiments_running ON experiments (status, id);

CREATE TABLE experiment_participants (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at     TEXT NOT NULL,
    PRIMARY KEY (experiment_id, user_id)
);

CREATE INDEX experiment_participants_user ON experiment_participants (user_id);

-- A resident's proposal for a new experiment, triaged by the connector like an idea.
CREATE TABLE experiment_proposals (
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
                                           'afgewezen')),
    reason               TEXT,
    amount_decided_cents INTEGER CHECK (amount_decided_cents >= 0),
    experiment_id        INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

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

-- "Wist je dat": who wants the civil servants' news, and which of it.
CREATE TABLE news_subscriptions (
    user_id           INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    neighbourhood_only INTEGER NOT NULL DEFAULT 0 CHECK (neighbourhood_only IN (0, 1)),
    subscribed_at     TEXT NOT NULL
);

-- Themes a subscriber switched off (all themes are on by default, new ones too).
CREATE TABLE news_muted_themes (
    user_id INTEGER NOT NULL REFERENCES news_subscriptions(user_id) ON DELETE CASCADE,
    theme   TEXT NOT NULL,
    PRIMARY KEY (user_id, theme)
);

CREATE INDEX community_users_neighbourhood ON users (neighbourhood)
    WHERE neighbourhood IS NOT NULL;

-- A civil servant's introduction card, shown to residents under /ambtenaren.
CREATE TABLE staff_cards (
    user_id         INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    department_id   TEXT,
    department_text TEXT,
    work            TEXT NOT NULL,
    photo_id        INTEGER REFERENCES media(id) ON DELETE SET NULL,
    updated_at      TEXT NOT NULL
);

CREATE INDEX staff_cards_name ON staff_cards (name COLLATE NOCASE);

-- A "Wist je dat" message: composed, then released now or at scheduled_at. The payload is
-- the resident-facing replies as JSON, so releasing needs nothing but storage.
CREATE TABLE broadcasts (
    id             INTEGER PRIMARY KEY,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    text           TEXT NOT NULL,
    photo_id       INTEGER REFERENCES media(id) ON DELETE SET NULL,
    audience_kind  TEXT NOT NULL
                   CHECK (audience_kind IN ('all', 'theme', 'neighbourhood', 'experiment')),
    audience_value TEXT,
    payload        TEXT NOT NULL,
    scheduled_at   TEXT,
    status         TEXT NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'scheduled', 'released', 'cancelled')),
    released_at    TEXT,
    recipients     INTEGER,
    created_at     TEXT NOT NULL
);

CREATE INDEX broadcasts_pending ON broadcasts (status, scheduled_at);

-- Released news residents can browse: one item per released broadcast.
CREATE TABLE news (
    id             INTEGER PRIMARY KEY,
    broadcast_id   INTEGER UNIQUE REFERENCES broadcasts(id) ON DELETE SET NULL,
    audience_kind  TEXT NOT NULL,
    audience_value TEXT,
    payload        TEXT NOT NULL,
    published_at   TEXT NOT NULL
);

CREATE INDEX news_recent ON news (published_at DESC, id DESC);
CREATE INDEX news_audience ON news (audience_kind, audience_value, published_at DESC);

-- A resident's question to the connector (optionally meant for one civil servant's card).
CREATE TABLE questions (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    staff_user_id  INTEGER REFERENCES staff_cards(user_id) ON DELETE SET NULL,
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE INDEX questions_user ON questions (user_id, updated_at DESC);
CREATE INDEX questions_open ON questions (status, updated_at);

CREATE TABLE question_messages (
    id             INTEGER PRIMARY KEY,
    question_id    INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
    side           TEXT NOT NULL CHECK (side IN ('resident', 'connector')),
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    text           TEXT NOT NULL,
    at             TEXT NOT NULL
);

CREATE INDEX question_messages_thread ON question_messages (question_id, id);
