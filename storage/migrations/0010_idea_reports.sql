-- Residents report ideas as they report comments; the connector decides in /meldingen.

CREATE TABLE idea_reports (
    id               INTEGER PRIMARY KEY,
    idea_id          INTEGER NOT NULL REFERENCES ideas(id) ON DELETE CASCADE,
    reporter_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    reason           TEXT NOT NULL
                     CHECK (reason IN ('spam', 'beledigend', 'persoonsgegevens', 'anders')),
    -- The reporter's own words (reason 'anders').
    note             TEXT,
    created_at       TEXT NOT NULL,
    resolved_at      TEXT,
    UNIQUE (idea_id, reporter_user_id)
);

-- The connector's list of reported ideas, and the count that hides one.
CREATE INDEX idea_reports_open ON idea_reports (idea_id, id) WHERE resolved_at IS NULL;
CREATE INDEX idea_reports_reporter ON idea_reports (reporter_user_id)
    WHERE reporter_user_id IS NOT NULL;

-- Why an idea is out of public view (removed_at is set): hidden by residents' reports until
-- the connector decides ('reports'), hidden by the connector, who can show it again
-- ('hidden'), or removed by the connector for good ('removed'), with the connector's reason.
-- NULL with removed_at set: taken out of view otherwise (by its author).
ALTER TABLE ideas ADD COLUMN removal TEXT CHECK (removal IN ('reports', 'hidden', 'removed'));
ALTER TABLE ideas ADD COLUMN removal_reason TEXT;
