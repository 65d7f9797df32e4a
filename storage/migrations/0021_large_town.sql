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

-- How many ideas can be browsed, per category and neighbourhood ('' for none), kept by
-- triggers: every page of "all ideas" shows the total, and counting 100,000 entries of an
-- index for it took longer than finding the page itself.
CREATE TABLE ideas_listed_counts (
    category      TEXT NOT NULL,
    neighbourhood TEXT NOT NULL,
    listed        INTEGER NOT NULL,
    PRIMARY KEY (category, neighbourhood)
) WITHOUT ROWID;

INSERT INTO ideas_listed_counts (category, neighbourhood, listed)
    SELECT category, COALESCE(neighbourhood, ''), COUNT(*) FROM ideas
    WHERE removed_at IS NULL GROUP BY 1, 2;

CREATE TRIGGER ideas_listed_added AFTER INSERT ON ideas WHEN new.removed_at IS NULL BEGIN
    INSERT INTO ideas_listed_counts (category, neighbourhood, listed)
        VALUES (new.category, COALESCE(new.neighbourhood, ''), 1)
        ON CONFLICT DO UPDATE SET listed = listed + 1;
END;

CREATE TRIGGER ideas_listed_deleted AFTER DELETE ON ideas WHEN old.removed_at IS NULL BEGIN
    UPDATE ideas_listed_counts SET listed = listed - 1
        WHERE category = old.category AND neighbourhood = COALESCE(old.neighbourhood, '');
END;

-- Taken out of view or back, or moved to another category or neighbourhood.
CREATE TRIGGER ideas_listed_changed AFTER UPDATE OF removed_at, category, neighbourhood ON ideas
WHEN (old.removed_at IS NULL) IS NOT (new.removed_at IS NULL)
    OR new.category IS NOT old.category OR new.neighbourhood IS NOT old.neighbourhood
BEGIN
    UPDATE ideas_listed_counts SET listed = listed - 1
        WHERE old.removed_at IS NULL
        AND category = old.category AND neighbourhood = COALESCE(old.neighbourhood, '');
    INSERT INTO ideas_listed_counts (category, neighbourhood, listed)
        SELECT new.category, COALESCE(new.neighbourhood, ''), 1 WHERE new.removed_at IS NULL
        ON CONFLICT DO UPDATE SET listed = listed + 1;
END;

-- The daily retention run (also at every start-up) looks for residents silent since a
-- moment: by this index instead of reading every resident. last_seen_at changes at most a
-- few times an hour per person (users.SEEN_PRECISION), so keeping it costs little.
CREATE INDEX users_silent ON users (last_seen_at) WHERE role = 'inwoner';

-- At start-up, languages whose catalog was removed are forgotten: the chosen languages
-- are found by this index instead of reading every resident.
CREATE INDEX users_language ON users (language) WHERE language IS NOT NULL;
