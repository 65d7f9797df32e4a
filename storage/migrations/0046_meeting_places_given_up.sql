-- How often a person gave up their place at a meeting. Each time, their calendar got a
-- file that took the meeting out (METHOD:CANCEL, one SEQUENCE higher than the file that
-- put it in); a calendar ignores a later file with a lower SEQUENCE (RFC 5546 2.1.5), so
-- every file they get afterwards counts these (see handlers/meetings/shown.py). It outlives
-- the registration, which giving up deletes. Personal data: in the export and the erasure
-- (storage/privacy/personal.py), and removed with the registrations after the meeting.
CREATE TABLE meeting_places_given_up (
    meeting_id  INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    times       INTEGER NOT NULL CHECK (times > 0),
    last_at     TEXT NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
) WITHOUT ROWID;

CREATE INDEX meeting_places_given_up_user ON meeting_places_given_up (user_id);
