-- A feed reader or aggregator keeps every entry it read, with the idea's title in it, until
-- the feed gives it a newer version of that entry; an entry that only drops out of the feed
-- is kept as it was, for good. So when an idea leaves public view (hidden or removed by
-- moderation, withdrawn by its author, taken away by an erasure), the feed carries each of
-- its status-change entries for a while as a blanked version: the same id, no title, no
-- reason, updated when the idea was taken away (see bot/admin/public_site.py).
--
-- The idea's row and its status history are deleted after an erasure, so what the blanked
-- entries need is kept here, apart from them: the entry's number (the status change's id,
-- never given out again), the idea's public number, when the entry first appeared and when
-- the idea left view. Nothing here says who wrote, reported or removed anything.
CREATE TABLE feed_removals (
    entry        INTEGER PRIMARY KEY,
    idea         INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    removed_at   TEXT NOT NULL
);
CREATE INDEX feed_removals_idea ON feed_removals (idea);

-- When the idea was last shown again after moderation hid it: its entries then get a
-- version newer than the blanked one a reader keeps. The writer stamps it with the bot's
-- clock; the trigger below stamps what another writer does.
ALTER TABLE ideas ADD COLUMN restored_at TEXT;

-- The moment is the one the writer stored (the bot's clock): hiding an idea already hidden
-- (by reports, then by the connector) or erasing its author later keeps it, so the blanked
-- entries stay the same from export to export.
CREATE TRIGGER feed_idea_removed AFTER UPDATE OF removed_at ON ideas
WHEN old.removed_at IS NULL AND new.removed_at IS NOT NULL BEGIN
    INSERT OR REPLACE INTO feed_removals (entry, idea, published_at, removed_at)
    SELECT h.id, h.idea_id, h.at, new.removed_at FROM idea_status_history h
    WHERE h.idea_id = new.id;
END;

-- An idea deleted without being taken out of view first (no writer does that today).
CREATE TRIGGER feed_idea_deleted BEFORE DELETE ON ideas
WHEN old.removed_at IS NULL BEGIN
    INSERT OR REPLACE INTO feed_removals (entry, idea, published_at, removed_at)
    SELECT h.id, h.idea_id, h.at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM idea_status_history h WHERE h.idea_id = old.id;
END;

CREATE TRIGGER feed_idea_restored AFTER UPDATE OF removed_at ON ideas
WHEN old.removed_at IS NOT NULL AND new.removed_at IS NULL BEGIN
    DELETE FROM feed_removals WHERE idea = new.id;
    UPDATE ideas SET restored_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = new.id AND new.restored_at IS old.restored_at;
END;

-- Ideas out of view now: their entries left the feed without a word. Those taken away
-- recently enough get their blanked version at the next export; the rest are too old for it
-- (the export leaves them out). Ideas already deleted left nothing to go by.
INSERT INTO feed_removals (entry, idea, published_at, removed_at)
SELECT h.id, h.idea_id, h.at, i.removed_at FROM idea_status_history h
JOIN ideas i ON i.id = h.idea_id WHERE i.removed_at IS NOT NULL;
