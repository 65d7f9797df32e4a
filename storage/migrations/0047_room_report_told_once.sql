-- A reporter whose /melden (or reaction) the bot may not take out of the room hears so in
-- private, to take it away themselves: once per reported message, however often they
-- report it, and not when a ban from that room holds for them by then. The hide of a
-- reporter's own /melden names the report it made (room_tasks.report_id; NULL for tasks
-- from before, and for every other task), and the reporter's row notes when they were
-- told (room_reporters.told_left_at).
ALTER TABLE room_tasks ADD COLUMN report_id INTEGER REFERENCES room_reports(id) ON DELETE SET NULL;
ALTER TABLE room_reporters ADD COLUMN told_left_at TEXT;
