-- A feed entry (feed.xml) shows its idea's title and its status change's reason. A feed
-- reader keeps the entry it has until the entry's `updated` changes, so the export needs to
-- know when those words last changed: a title its author edited (a phone number taken out),
-- a reason an erasure emptied because it named the person. The writers stamp these moments
-- themselves (with the bot's clock); the triggers stamp what another writer changes.
ALTER TABLE ideas ADD COLUMN title_changed_at TEXT;
ALTER TABLE idea_status_history ADD COLUMN reason_changed_at TEXT;

-- Until now only an idea's last change was kept (updated_at). An idea still new that changed
-- after its last status change may have had its title edited: counted as such, once.
UPDATE ideas SET title_changed_at = updated_at
WHERE status = 'ingediend' AND removed_at IS NULL
  AND updated_at > (SELECT MAX(h.at) FROM idea_status_history h WHERE h.idea_id = ideas.id);

CREATE TRIGGER idea_title_changed AFTER UPDATE OF title ON ideas
WHEN new.title IS NOT old.title AND new.title_changed_at IS old.title_changed_at BEGIN
    UPDATE ideas SET title_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = new.id;
END;

CREATE TRIGGER idea_reason_changed AFTER UPDATE OF reason ON idea_status_history
WHEN new.reason IS NOT old.reason AND new.reason_changed_at IS old.reason_changed_at BEGIN
    UPDATE idea_status_history SET reason_changed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = new.id;
END;
