-- Taking someone out of an experiment's room ('remove') is noted as tried just before the
-- platform is asked: should the process stop after the platform took them out but before
-- that was recorded, the next try finds them out already and still does what follows (the
-- private note, a mute in force put back), once.
ALTER TABLE room_tasks ADD COLUMN tried_at TEXT;
