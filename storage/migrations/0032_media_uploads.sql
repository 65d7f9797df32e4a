-- Who sent each picture in. A picture is stored once by its content, so one picture can have
-- several senders: each is recorded with when they sent it. An export and an erasure find
-- every picture a person sent this way, also one that nothing shows any more (replaced in a
-- draft, or in a draft that was stopped), not only the pictures their rows point at.
CREATE TABLE media_uploads (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    media_id    INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (user_id, media_id)
) WITHOUT ROWID;

-- Whether anyone else still sent a picture in (an erasure asks).
CREATE INDEX media_uploads_media ON media_uploads (media_id);

-- The senders that can be known from what refers to a picture now: the author of an idea,
-- a civil servant's card, a "Wist je dat" message, and whoever holds it in a draft. (A
-- budget round's project does not say who added it; a picture nothing refers to any more
-- has no sender to find.)
INSERT OR IGNORE INTO media_uploads (user_id, media_id, uploaded_at)
SELECT i.author_user_id, m.id, m.created_at
FROM ideas i JOIN media m ON m.id = i.photo_id
WHERE i.author_user_id IS NOT NULL;

INSERT OR IGNORE INTO media_uploads (user_id, media_id, uploaded_at)
SELECT c.user_id, m.id, m.created_at
FROM staff_cards c JOIN media m ON m.id = c.photo_id;

INSERT OR IGNORE INTO media_uploads (user_id, media_id, uploaded_at)
SELECT b.author_user_id, m.id, m.created_at
FROM broadcasts b JOIN media m ON m.id = b.photo_id
WHERE b.author_user_id IS NOT NULL;

INSERT OR IGNORE INTO media_uploads (user_id, media_id, uploaded_at)
SELECT d.user_id, m.id, m.created_at
FROM dialogs d,
     json_tree(CASE WHEN json_valid(d.data) THEN d.data ELSE '{}' END) AS t
     JOIN media m ON m.id = t.value
WHERE t.key IN ('photo', 'photo_id', 'old_photo_id') AND t.type = 'integer';
