-- A town of a million residents (`bench.scale --residents 1000000`): what a resident's tap
-- and the start-up read is found through an index or kept up to date, never counted or
-- searched over a whole table.

-- An idea's visible comments are counted on its row, like its supporters, by triggers in
-- the same transaction as the comment's change: showing a page of popular ideas no longer
-- counts tens of thousands of comments each. Hidden comments never count.
ALTER TABLE ideas ADD COLUMN comments INTEGER NOT NULL DEFAULT 0;

UPDATE ideas SET comments = (
    SELECT COUNT(*) FROM idea_comments c WHERE c.idea_id = ideas.id AND c.hidden_at IS NULL
);

CREATE TRIGGER idea_comments_counted AFTER INSERT ON idea_comments
WHEN new.hidden_at IS NULL BEGIN
    UPDATE ideas SET comments = comments + 1 WHERE id = new.idea_id;
END;

CREATE TRIGGER idea_comments_uncounted AFTER DELETE ON idea_comments
WHEN old.hidden_at IS NULL BEGIN
    UPDATE ideas SET comments = comments - 1 WHERE id = old.idea_id;
END;

-- Hidden, shown again, or moved to another idea (a merge).
CREATE TRIGGER idea_comments_changed AFTER UPDATE OF hidden_at, idea_id ON idea_comments
WHEN (old.hidden_at IS NULL) IS NOT (new.hidden_at IS NULL) OR new.idea_id IS NOT old.idea_id
BEGIN
    UPDATE ideas SET comments = comments - 1 WHERE id = old.idea_id AND old.hidden_at IS NULL;
    UPDATE ideas SET comments = comments + 1 WHERE id = new.idea_id AND new.hidden_at IS NULL;
END;

-- The daily retention run (also at every start-up) looks for residents silent since a
-- moment: by this index instead of reading every resident. last_seen_at changes at most a
-- few times an hour per person (users.SEEN_PRECISION), so keeping it costs little.
CREATE INDEX users_silent ON users (last_seen_at) WHERE role = 'inwoner';

-- At start-up, languages whose catalog was removed are forgotten: the chosen languages
-- are found by this index instead of reading every resident.
CREATE INDEX users_language ON users (language) WHERE language IS NOT NULL;
