-- rebuilds tables (foreign keys are off while this runs; see storage/db.py)
--
-- A number that people see, press in a button, carry in a dialog or find in the audit log is
-- never given out twice. Without AUTOINCREMENT SQLite hands out the highest number again once
-- its row was deleted (an erasure, a dropped draft, a report kept no longer), so a connector
-- answering question #1 could reach whoever asked the next question #1, and the audit log's
-- user 7 could be a newcomer. These tables lose rows that way and their numbers travel:
-- users, media (pictures in a dialog), idea_comments, broadcasts, questions, sanctions,
-- connections, experiment_proposals, consultations, room_reports and room_sanctions.
--
-- SQLite cannot add AUTOINCREMENT in place. Each table is built again as its documentation
-- says for tables others refer to: a new table with the same columns and constraints, the
-- rows copied, the old one dropped, the new one renamed, its indexes and triggers made again
-- exactly as they were. Only the keyword differs. The counter starts above the highest
-- number still in the table or named in the audit log (numbers of rows deleted before this
-- migration that left no trace cannot be known).

CREATE TABLE users_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    platform         TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    -- Everything below is stored only after consent (except role, which staff get by grant).
    chat_id          TEXT,
    display_name     TEXT,
    language         TEXT,
    neighbourhood    TEXT,
    role             TEXT NOT NULL DEFAULT 'inwoner'
                     CHECK (role IN ('inwoner', 'ambtenaar', 'verbinder', 'admin')),
    consent_at       TEXT,
    onboarded_at     TEXT,
    unreachable_at   TEXT,
    created_at       TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    UNIQUE (platform, platform_user_id)
);
INSERT INTO users_new (id, platform, platform_user_id, chat_id, display_name, language,
    neighbourhood, role, consent_at, onboarded_at, unreachable_at, created_at, last_seen_at)
SELECT id, platform, platform_user_id, chat_id, display_name, language,
    neighbourhood, role, consent_at, onboarded_at, unreachable_at, created_at, last_seen_at
FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX community_users_neighbourhood ON users (neighbourhood)
    WHERE neighbourhood IS NOT NULL;
CREATE INDEX users_silent ON users (last_seen_at) WHERE role = 'inwoner';
CREATE INDEX users_language ON users (language) WHERE language IS NOT NULL;
CREATE INDEX users_chat ON users (platform, chat_id) WHERE chat_id IS NOT NULL;

CREATE TABLE media_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256     TEXT NOT NULL UNIQUE,
    mime_type  TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO media_new (id, sha256, mime_type, data, created_at)
SELECT id, sha256, mime_type, data, created_at FROM media;
DROP TABLE media;
ALTER TABLE media_new RENAME TO media;

CREATE TABLE idea_comments_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    idea_id        INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    hidden_at      TEXT,
    hidden_reason  TEXT,
    edited_at      TEXT
);
INSERT INTO idea_comments_new (id, idea_id, author_user_id, body, created_at, hidden_at,
    hidden_reason, edited_at)
SELECT id, idea_id, author_user_id, body, created_at, hidden_at, hidden_reason, edited_at
FROM idea_comments;
-- Dropping the old table drops its counting triggers too: the ideas' comment counts are
-- left as they are (the copy goes into a table without triggers yet).
DROP TABLE idea_comments;
ALTER TABLE idea_comments_new RENAME TO idea_comments;
CREATE INDEX idea_comments_visible ON idea_comments (idea_id, id) WHERE hidden_at IS NULL;
CREATE INDEX idea_comments_author ON idea_comments (author_user_id)
    WHERE author_user_id IS NOT NULL;
CREATE INDEX idea_comments_idea ON idea_comments (idea_id);
CREATE TRIGGER idea_comments_counted AFTER INSERT ON idea_comments
WHEN new.hidden_at IS NULL BEGIN
    UPDATE ideas SET comments = comments + 1 WHERE id = new.idea_id;
END;
CREATE TRIGGER idea_comments_uncounted AFTER DELETE ON idea_comments
WHEN old.hidden_at IS NULL BEGIN
    UPDATE ideas SET comments = comments - 1 WHERE id = old.idea_id;
END;
CREATE TRIGGER idea_comments_changed AFTER UPDATE OF hidden_at, idea_id ON idea_comments
WHEN (old.hidden_at IS NULL) IS NOT (new.hidden_at IS NULL) OR new.idea_id IS NOT old.idea_id
BEGIN
    UPDATE ideas SET comments = comments - 1 WHERE id = old.idea_id AND old.hidden_at IS NULL;
    UPDATE ideas SET comments = comments + 1 WHERE id = new.idea_id AND new.hidden_at IS NULL;
END;

CREATE TABLE broadcasts_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO broadcasts_new (id, author_user_id, text, photo_id, audience_kind, audience_value,
    payload, scheduled_at, status, released_at, recipients, created_at)
SELECT id, author_user_id, text, photo_id, audience_kind, audience_value,
    payload, scheduled_at, status, released_at, recipients, created_at
FROM broadcasts;
DROP TABLE broadcasts;
ALTER TABLE broadcasts_new RENAME TO broadcasts;
CREATE INDEX broadcasts_pending ON broadcasts (status, scheduled_at);
CREATE INDEX broadcasts_author ON broadcasts (author_user_id) WHERE author_user_id IS NOT NULL;

CREATE TABLE questions_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    staff_user_id  INTEGER REFERENCES staff_cards(user_id) ON DELETE SET NULL,
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
INSERT INTO questions_new (id, user_id, staff_user_id, status, created_at, updated_at)
SELECT id, user_id, staff_user_id, status, created_at, updated_at FROM questions;
DROP TABLE questions;
ALTER TABLE questions_new RENAME TO questions;
CREATE INDEX questions_user ON questions (user_id, updated_at DESC);
CREATE INDEX questions_open ON questions (status, updated_at);
CREATE INDEX questions_staff ON questions (staff_user_id) WHERE staff_user_id IS NOT NULL;

CREATE TABLE sanctions_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO sanctions_new (id, user_id, kind, comment_id, reason, by_user_id, created_at,
    ends_at, lifted_at, lifted_by_user_id, expired_at)
SELECT id, user_id, kind, comment_id, reason, by_user_id, created_at,
    ends_at, lifted_at, lifted_by_user_id, expired_at
FROM sanctions;
DROP TABLE sanctions;
ALTER TABLE sanctions_new RENAME TO sanctions;
CREATE INDEX sanctions_user ON sanctions (user_id, id);
CREATE INDEX sanctions_active ON sanctions (id) WHERE kind != 'warning' AND lifted_at IS NULL;
CREATE INDEX sanctions_mute_ends ON sanctions (ends_at)
    WHERE kind = 'mute' AND lifted_at IS NULL AND expired_at IS NULL;
CREATE INDEX sanctions_by ON sanctions (by_user_id) WHERE by_user_id IS NOT NULL;
CREATE INDEX sanctions_lifted_by ON sanctions (lifted_by_user_id)
    WHERE lifted_by_user_id IS NOT NULL;
CREATE INDEX sanctions_comment ON sanctions (comment_id) WHERE comment_id IS NOT NULL;

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
                CHECK (status IN ('asked', 'connected', 'declined')),
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
DROP TABLE connections;
ALTER TABLE connections_new RENAME TO connections;
CREATE UNIQUE INDEX connections_open_pair ON connections (user_a, user_b)
    WHERE status = 'asked';
CREATE INDEX connections_user_b ON connections (user_b);
CREATE INDEX connections_by ON connections (by_user_id) WHERE by_user_id IS NOT NULL;
CREATE INDEX connections_idea_a ON connections (idea_a) WHERE idea_a IS NOT NULL;
CREATE INDEX connections_idea_b ON connections (idea_b) WHERE idea_b IS NOT NULL;

CREATE TABLE experiment_proposals_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO experiment_proposals_new (id, author_user_id, what, place, partners, budget_cents,
    full_financing, status, reason, amount_decided_cents, experiment_id, created_at,
    updated_at)
SELECT id, author_user_id, what, place, partners, budget_cents,
    full_financing, status, reason, amount_decided_cents, experiment_id, created_at,
    updated_at
FROM experiment_proposals;
DROP TABLE experiment_proposals;
ALTER TABLE experiment_proposals_new RENAME TO experiment_proposals;
CREATE INDEX experiment_proposals_queue ON experiment_proposals (status, created_at);
CREATE INDEX experiment_proposals_author ON experiment_proposals (author_user_id);

CREATE TABLE consultations_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO consultations_new (id, kind, title, intro, follow_up, questions, moments,
    answer_days, audience_kind, audience_value, experiment_id, seed, author_user_id, status,
    opens_at, closes_at, reminded_at, closed_at, invited, created_at, updated_at)
SELECT id, kind, title, intro, follow_up, questions, moments,
    answer_days, audience_kind, audience_value, experiment_id, seed, author_user_id, status,
    opens_at, closes_at, reminded_at, closed_at, invited, created_at, updated_at
FROM consultations;
DROP TABLE consultations;
ALTER TABLE consultations_new RENAME TO consultations;
CREATE INDEX consultations_status ON consultations (status, id);
CREATE INDEX consultations_author ON consultations (author_user_id);

CREATE TABLE room_reports_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id            INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    message_id         TEXT NOT NULL,
    -- The author as the platform knows them, and as a person here if they are one.
    author_platform_id TEXT NOT NULL,
    author_user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- The reported text (NULL once it named a person who was erased since).
    body               TEXT,
    link               TEXT,
    created_at         TEXT NOT NULL,
    decided_at         TEXT,
    decision           TEXT,
    UNIQUE (room_id, message_id)
);
INSERT INTO room_reports_new (id, room_id, message_id, author_platform_id, author_user_id,
    body, link, created_at, decided_at, decision)
SELECT id, room_id, message_id, author_platform_id, author_user_id,
    body, link, created_at, decided_at, decision
FROM room_reports;
DROP TABLE room_reports;
ALTER TABLE room_reports_new RENAME TO room_reports;
CREATE INDEX room_reports_open ON room_reports (id) WHERE decided_at IS NULL;
CREATE INDEX room_reports_author ON room_reports (author_user_id)
    WHERE author_user_id IS NOT NULL;
CREATE INDEX room_reports_author_account ON room_reports (author_platform_id);

CREATE TABLE room_sanctions_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id            INTEGER NOT NULL REFERENCES experiment_rooms(id) ON DELETE CASCADE,
    report_id          INTEGER REFERENCES room_reports(id) ON DELETE SET NULL,
    user_id            INTEGER REFERENCES users(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL CHECK (kind IN ('hide', 'warning', 'mute', 'ban')),
    -- The connector's reason (NULL once it named a person who was erased since).
    reason             TEXT,
    by_user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL,
    ends_at            TEXT,
    lifted_at          TEXT,
    lifted_by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    target             TEXT,
    pseudonym          TEXT
);
INSERT INTO room_sanctions_new (id, room_id, report_id, user_id, kind, reason, by_user_id,
    created_at, ends_at, lifted_at, lifted_by_user_id, target, pseudonym)
SELECT id, room_id, report_id, user_id, kind, reason, by_user_id,
    created_at, ends_at, lifted_at, lifted_by_user_id, target, pseudonym
FROM room_sanctions;
DROP TABLE room_sanctions;
ALTER TABLE room_sanctions_new RENAME TO room_sanctions;
CREATE INDEX room_sanctions_user ON room_sanctions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX room_sanctions_report ON room_sanctions (report_id) WHERE report_id IS NOT NULL;
CREATE INDEX room_sanctions_target ON room_sanctions (room_id, target) WHERE target IS NOT NULL;

-- The counters. Copying the rows set each to the highest number kept (an empty table has
-- none yet); numbers the audit log names go higher where a deleted row was the newest.
INSERT INTO sqlite_sequence (name, seq)
SELECT name, 0 FROM (
    SELECT 'users' AS name UNION ALL SELECT 'media' UNION ALL SELECT 'idea_comments'
    UNION ALL SELECT 'broadcasts' UNION ALL SELECT 'questions' UNION ALL SELECT 'sanctions'
    UNION ALL SELECT 'connections' UNION ALL SELECT 'experiment_proposals'
    UNION ALL SELECT 'consultations' UNION ALL SELECT 'room_reports'
    UNION ALL SELECT 'room_sanctions'
) AS rebuilt
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = rebuilt.name);

-- What was done to something: 'question:12' ('<kind>:<id>', see storage/audit.py).
CREATE TEMP TABLE audit_numbers AS
SELECT substr(subject, 1, instr(subject, ':') - 1) AS kind,
       MAX(CAST(substr(subject, instr(subject, ':') + 1) AS INTEGER)) AS number
FROM audit_log WHERE instr(subject, ':') > 0 GROUP BY 1;
-- The facts of an entry that name rows by number (JSON written by the bot itself).
INSERT INTO temp.audit_numbers (kind, number)
SELECT CASE
           WHEN a.action = 'connection.propose' THEN 'user'
           WHEN a.action = 'room.lift' THEN 'room_sanction'
           WHEN a.action IN ('user.warn', 'user.mute', 'user.ban') THEN 'comment'
           ELSE 'sanction'
       END,
       n.value
FROM audit_log a,
     json_each(CASE WHEN json_valid(a.detail) THEN a.detail ELSE '{}' END) AS field,
     json_each(CASE WHEN field.type = 'array' THEN field.value ELSE json_array(field.value) END)
         AS n
WHERE a.action IN ('connection.propose', 'room.lift', 'user.warn', 'user.mute', 'user.ban',
                   'user.mute_end', 'user.sanction_restored', 'user.unrestrict')
  AND n.type = 'integer'
  AND field.key = CASE
      WHEN a.action = 'connection.propose' THEN 'users'
      WHEN a.action IN ('room.lift', 'user.unrestrict') THEN 'sanctions'
      WHEN a.action IN ('user.warn', 'user.mute', 'user.ban') THEN 'comment'
      ELSE 'sanction'
  END;
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((
    SELECT MAX(n.number) FROM temp.audit_numbers n
    WHERE n.kind = CASE sqlite_sequence.name
        WHEN 'users' THEN 'user'
        WHEN 'idea_comments' THEN 'comment'
        WHEN 'questions' THEN 'question'
        WHEN 'sanctions' THEN 'sanction'
        WHEN 'connections' THEN 'connection'
        WHEN 'experiment_proposals' THEN 'proposal'
        WHEN 'consultations' THEN 'consultation'
        WHEN 'room_reports' THEN 'room_report'
        WHEN 'room_sanctions' THEN 'room_sanction'
    END
), 0))
WHERE name IN ('users', 'idea_comments', 'questions', 'sanctions', 'connections',
               'experiment_proposals', 'consultations', 'room_reports', 'room_sanctions');
DROP TABLE temp.audit_numbers;
