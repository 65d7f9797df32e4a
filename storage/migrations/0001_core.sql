-- The core: people, their dialogs, and the buttons last offered in chats without native buttons.
-- Times are ISO 8601 in UTC.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
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

CREATE TABLE dialogs (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    token      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- On platforms without native buttons (console, Matrix) residents answer with a number or a
-- label; the options last offered in each chat are kept so that answer survives a restart.
CREATE TABLE chat_options (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    options    TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

-- Pictures residents send (an idea's photo) and staff attach, kept once by content hash so
-- any platform can show them; platform_refs remember each platform's id for an upload.
CREATE TABLE media (
    id         INTEGER PRIMARY KEY,
    sha256     TEXT NOT NULL UNIQUE,
    mime_type  TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE media_refs (
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    ref      TEXT NOT NULL,
    PRIMARY KEY (media_id, platform)
);
