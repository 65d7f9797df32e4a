-- Ideas: the Burgertop, all year round. Residents submit, support, follow and discuss ideas;
-- the connector gives each idea a status with a reason. Times are ISO 8601 in UTC.

-- id is the public number (#42); AUTOINCREMENT so a number is never given out twice, even
-- after an idea was erased. supporters is kept equal to the idea's idea_supports rows by the
-- triggers below, in the same transaction as the change to those rows.
CREATE TABLE ideas (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    category       TEXT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    neighbourhood  TEXT,
    photo_id       INTEGER REFERENCES media(id) ON DELETE SET NULL,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    status         TEXT NOT NULL DEFAULT 'ingediend'
                   CHECK (status IN ('ingediend', 'in_behandeling', 'quick_win', 'opgenomen',
                                     'doorgestuurd', 'niet_haalbaar', 'samengevoegd')),
    supporters     INTEGER NOT NULL DEFAULT 0 CHECK (supporters >= 0),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    removed_at     TEXT
);

-- Browsing: newest first (rowid order) or most supported first, all or per category or
-- neighbourhood; removed ideas are never listed.
CREATE INDEX ideas_most_supported ON ideas (supporters DESC, id DESC)
    WHERE removed_at IS NULL;
CREATE INDEX ideas_category_newest ON ideas (category, id DESC) WHERE removed_at IS NULL;
CREATE INDEX ideas_category_most_supported ON ideas (category, supporters DESC, id DESC)
    WHERE removed_at IS NULL;
CREATE INDEX ideas_neighbourhood_newest ON ideas (neighbourhood, id DESC)
    WHERE removed_at IS NULL;
CREATE INDEX ideas_neighbourhood_most_supported
    ON ideas (neighbourhood, supporters DESC, id DESC) WHERE removed_at IS NULL;
CREATE INDEX ideas_author ON ideas (author_user_id, id DESC);
CREATE INDEX ideas_photo ON ideas (photo_id) WHERE photo_id IS NOT NULL;

-- Every status an idea had, with the reason residents are told. theme: a theme id of the
-- profile (status opgenomen); department: a department id (doorgestuurd); merged_into: the
-- idea it was merged with (samengevoegd).
CREATE TABLE idea_status_history (
    id          INTEGER PRIMARY KEY,
    idea_id     INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    status      TEXT NOT NULL
                CHECK (status IN ('ingediend', 'in_behandeling', 'quick_win', 'opgenomen',
                                  'doorgestuurd', 'niet_haalbaar', 'samengevoegd')),
    reason      TEXT,
    theme       TEXT,
    department  TEXT,
    merged_into INTEGER REFERENCES ideas(id) ON DELETE SET NULL,
    by_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at          TEXT NOT NULL
);

CREATE INDEX idea_status_history_idea ON idea_status_history (idea_id, id);
CREATE INDEX idea_status_history_merged ON idea_status_history (merged_into)
    WHERE merged_into IS NOT NULL;
CREATE INDEX idea_status_history_by ON idea_status_history (by_user_id)
    WHERE by_user_id IS NOT NULL;

-- One support per person per idea.
CREATE TABLE idea_supports (
    idea_id    INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (idea_id, user_id)
) WITHOUT ROWID;

CREATE INDEX idea_supports_user ON idea_supports (user_id);

CREATE TRIGGER idea_supports_counted AFTER INSERT ON idea_supports BEGIN
    UPDATE ideas SET supporters = supporters + 1 WHERE id = new.idea_id;
END;

CREATE TRIGGER idea_supports_uncounted AFTER DELETE ON idea_supports BEGIN
    UPDATE ideas SET supporters = supporters - 1 WHERE id = old.idea_id;
END;

-- Supports moved to another idea (a merge) keep both counts right.
CREATE TRIGGER idea_supports_moved AFTER UPDATE OF idea_id ON idea_supports
WHEN new.idea_id IS NOT old.idea_id BEGIN
    UPDATE ideas SET supporters = supporters - 1 WHERE id = old.idea_id;
    UPDATE ideas SET supporters = supporters + 1 WHERE id = new.idea_id;
END;

-- Who hears about every status change of an idea (its author, its supporters, followers).
CREATE TABLE idea_follows (
    idea_id    INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (idea_id, user_id)
) WITHOUT ROWID;

CREATE INDEX idea_follows_user ON idea_follows (user_id);

-- One comment thread per idea, shared by every platform. hidden_at/hidden_reason are set by
-- moderation; hidden comments are never shown.
CREATE TABLE idea_comments (
    id             INTEGER PRIMARY KEY,
    idea_id        INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    author_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    hidden_at      TEXT,
    hidden_reason  TEXT
);

CREATE INDEX idea_comments_visible ON idea_comments (idea_id, id) WHERE hidden_at IS NULL;
CREATE INDEX idea_comments_author ON idea_comments (author_user_id)
    WHERE author_user_id IS NOT NULL;

-- Full-text search over title and description (similar-idea hints), kept in step with the
-- ideas table by triggers. Diacritics are folded: "cafe" finds "café".
CREATE VIRTUAL TABLE ideas_fts USING fts5(
    title,
    description,
    content = 'ideas',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER ideas_fts_added AFTER INSERT ON ideas BEGIN
    INSERT INTO ideas_fts (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;

CREATE TRIGGER ideas_fts_deleted AFTER DELETE ON ideas BEGIN
    INSERT INTO ideas_fts (ideas_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;

CREATE TRIGGER ideas_fts_changed AFTER UPDATE OF title, description ON ideas BEGIN
    INSERT INTO ideas_fts (ideas_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO ideas_fts (rowid, title, description)
    VALUES (new.id, new.title, new.description);
END;
