-- The published folder (open data, site, feed) is redone soon after something leaves public
-- view, not only weekly: taking content out (an idea hidden, removed or withdrawn, content
-- deleted, any erasure) counts one change here, in the same transaction as the change itself.
-- The export records which count it published; a higher count means the folder is stale.
CREATE TABLE open_data_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    changes   INTEGER NOT NULL DEFAULT 0,
    published INTEGER NOT NULL DEFAULT 0
);
-- Stale at once: a folder published before this migration may still show what left view.
INSERT INTO open_data_state (id, changes, published) VALUES (1, 1, 0);

CREATE TRIGGER open_data_idea_removed AFTER UPDATE OF removed_at ON ideas
WHEN old.removed_at IS NULL AND new.removed_at IS NOT NULL BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;

CREATE TRIGGER open_data_idea_deleted AFTER DELETE ON ideas BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;

-- Every erasure (whatever it changes in public content) leaves a clean-up behind.
CREATE TRIGGER open_data_erasure AFTER INSERT ON erasure_scrubs BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;

-- A status change's number (the id in idea_status_history.csv, and the feed entry's id) is
-- never given out twice: without AUTOINCREMENT, deleting the newest rows (an erasure deleting
-- an idea) handed their numbers to the next changes. SQLite cannot add AUTOINCREMENT in
-- place: the table is built again with the same rows (nothing refers to it, no trigger names
-- it yet). Copying the rows sets the counter to the highest number kept.
CREATE TABLE idea_status_history_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO idea_status_history_new (id, idea_id, status, reason, theme, department,
    merged_into, by_user_id, at)
SELECT id, idea_id, status, reason, theme, department, merged_into, by_user_id, at
FROM idea_status_history;
DROP TABLE idea_status_history;
ALTER TABLE idea_status_history_new RENAME TO idea_status_history;
CREATE INDEX idea_status_history_idea ON idea_status_history (idea_id, id);
CREATE INDEX idea_status_history_merged ON idea_status_history (merged_into)
    WHERE merged_into IS NOT NULL;
CREATE INDEX idea_status_history_by ON idea_status_history (by_user_id)
    WHERE by_user_id IS NOT NULL;

-- A status reason emptied or changed (an erasure's clean-up empties those naming the person).
CREATE TRIGGER open_data_reason_changed AFTER UPDATE OF reason ON idea_status_history
WHEN new.reason IS NOT old.reason BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;
