-- Onboarding dialogs kept an invite link's code as it was typed; now only its hash is kept.
-- A code waiting in a half-finished onboarding is dropped (the link still works afterwards).
UPDATE dialogs SET data = json_remove(data, '$.payload')
    WHERE name = 'onboarding' AND json_extract(data, '$.payload') LIKE 'inv\_%' ESCAPE '\';

-- A mute or ban in force when its person is erased is kept here, by a keyed hash of the
-- account (HMAC-SHA256 of platform and platform id) and nothing else, until it ends; when the
-- same account agrees to take part again it is a sanction again (and removed here).
CREATE TABLE kept_sanctions (
    account    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    created_at TEXT NOT NULL,
    ends_at    TEXT,
    CHECK ((kind = 'mute') = (ends_at IS NOT NULL))
) WITHOUT ROWID;

-- The key of those hashes: random, made once per installation, kept with the database.
CREATE TABLE sanction_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);

-- Whose message an event was: a reply that could not be delivered waits in `pending` (a
-- whole /mijngegevens export, perhaps) and goes when its person is erased.
ALTER TABLE handled_events ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
CREATE INDEX handled_events_user ON handled_events (user_id) WHERE user_id IS NOT NULL;

-- An erasure's last steps, run in the background right after it: the texts and names to
-- remove where others' rows quote them. Each row is deleted once done (within seconds); a
-- restart finishes what is left here.
CREATE TABLE erasure_scrubs (
    id         INTEGER PRIMARY KEY,
    quotes          TEXT NOT NULL,
    names           TEXT NOT NULL,
    -- Their content was deleted: the search index is merged so its words go too.
    content_deleted INTEGER NOT NULL,
    -- Rows the erasure took out of view, to delete a few at a time: {"ideas": [ids]}.
    delete_later    TEXT NOT NULL,
    -- Pictures that were theirs: deleted once nothing uses them any more.
    media           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- "Wist je dat" messages are signed when they are sent or shown, not when they are written:
-- an author's name is kept on their card only. Names already written into broadcasts, the
-- news and the outbox give way to the municipality's signature, put in again (with the
-- author's card as it is then) whenever such a message is sent or shown.
UPDATE broadcasts SET payload = json_set(payload, '$[0].parts[0]',
        json_object('key', 'news.signed_municipality', 'params', json_object('municipality', '')))
    WHERE json_extract(payload, '$[0].parts[0].key') = 'news.signed';
UPDATE news SET payload = json_set(payload, '$[0].parts[0]',
        json_object('key', 'news.signed_municipality', 'params', json_object('municipality', '')))
    WHERE json_extract(payload, '$[0].parts[0].key') = 'news.signed';
UPDATE outbox SET payload = json_set(payload, '$[0].parts[0]',
        json_object('key', 'news.signed_municipality', 'params', json_object('municipality', '')))
    WHERE batch LIKE 'broadcast:%' AND json_extract(payload, '$[0].parts[0].key') = 'news.signed';

-- Deleting an idea deletes its comments (ON DELETE CASCADE), and deleting a resident's
-- ideas deleted them one full scan of all comments per idea: the only index on idea_id
-- left hidden comments out. With 200,000 comments an erasure of someone with 50 ideas held
-- everyone up for seconds.
CREATE INDEX idea_comments_idea ON idea_comments (idea_id);
