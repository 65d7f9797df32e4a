-- A reported room message may have been edited before it was reported: the report's body is
-- its text as the room shows it then (the latest edit), and this is its text as first
-- written (NULL when it was never edited), so what was edited away is still seen.
ALTER TABLE room_reports ADD COLUMN original_body TEXT;
