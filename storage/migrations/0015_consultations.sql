-- "Velsen vraagt": consultations (polls and short consultations), evaluations of experiments,
-- who was asked, their answers, and the results as they were published at closing.
-- Texts written for residents are JSON objects by language ({"nl": "...", "en": "..."}).
-- Times are ISO 8601 in UTC.

CREATE TABLE consultations (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('poll', 'evaluation')),
    title          TEXT NOT NULL,
    intro          TEXT NOT NULL,
    -- What the municipality will do with the answers (sent with the results).
    follow_up      TEXT NOT NULL,
    -- The questions, in order, as a JSON list (at most ten).
    questions      TEXT NOT NULL,
    -- Evaluations: when each moment goes out, as a JSON list; polls have none.
    moments        TEXT NOT NULL DEFAULT '[]',
    -- Evaluations: how many days a participant has to answer after being asked.
    answer_days    INTEGER CHECK (answer_days > 0),
    audience_kind  TEXT NOT NULL CHECK (audience_kind IN ('all', 'theme', 'neighbourhood',
                                                          'experiment')),
    audience_value TEXT,
    experiment_id  INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
    -- The profile's evaluation this one was seeded from (with experiment_id: one each).
    seed           TEXT,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'open', 'closed',
                                                   'cancelled')),
    opens_at       TEXT,
    closes_at      TEXT,
    reminded_at    TEXT,
    closed_at      TEXT,
    invited        INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (seed, experiment_id)
);

CREATE INDEX consultations_status ON consultations (status, id);
CREATE INDEX consultations_author ON consultations (author_user_id);

-- One per person per consultation (and per moment of an evaluation): invited, started,
-- finished. A person who may answer but was not invited gets one at their first answer.
CREATE TABLE consultation_responses (
    id              INTEGER PRIMARY KEY,
    consultation_id INTEGER NOT NULL REFERENCES consultations(id) ON DELETE CASCADE,
    moment          INTEGER NOT NULL DEFAULT 0,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invited_at      TEXT,
    -- Answers are taken until then (evaluations); NULL: until the consultation closes.
    deadline        TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    reminded_at     TEXT,
    UNIQUE (consultation_id, moment, user_id)
);

CREATE INDEX consultation_responses_user ON consultation_responses (user_id);
CREATE INDEX consultation_responses_unfinished ON consultation_responses (deadline)
    WHERE started_at IS NOT NULL AND finished_at IS NULL AND reminded_at IS NULL;

-- One answer per question of a response: chosen options (or the scale value) as a JSON
-- list, a typed text (reviewed before anyone sees it), or "zeg ik liever niet".
CREATE TABLE consultation_answers (
    response_id INTEGER NOT NULL REFERENCES consultation_responses(id) ON DELETE CASCADE,
    question    INTEGER NOT NULL CHECK (question BETWEEN 1 AND 10),
    choices     TEXT,
    text        TEXT,
    skipped     INTEGER NOT NULL DEFAULT 0 CHECK (skipped IN (0, 1)),
    review      TEXT CHECK (review IN ('pending', 'approved', 'rejected')),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (response_id, question)
) WITHOUT ROWID;

CREATE INDEX consultation_answers_pending ON consultation_answers (review)
    WHERE review = 'pending';

-- Whether a person wants the reminder a day before a consultation closes.
CREATE TABLE consultation_preferences (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    reminders  INTEGER NOT NULL CHECK (reminders IN (0, 1)),
    updated_at TEXT NOT NULL
);

-- The counts as published at closing (they stay when people are erased later): per
-- question (0: the whole consultation), overall and per neighbourhood and language.
CREATE TABLE consultation_results (
    consultation_id INTEGER NOT NULL REFERENCES consultations(id) ON DELETE CASCADE,
    moment          INTEGER NOT NULL,
    question        INTEGER NOT NULL,
    dimension       TEXT NOT NULL CHECK (dimension IN ('all', 'neighbourhood', 'language')),
    grp             TEXT NOT NULL,
    answer          TEXT NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (consultation_id, moment, question, dimension, grp, answer)
) WITHOUT ROWID;
