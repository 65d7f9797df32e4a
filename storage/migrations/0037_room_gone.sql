-- The bot was removed from an experiment's group or room. The link stays (its reports, mutes
-- and bans keep their room), nobody is invited there any more, and staff may link the
-- experiment to another group with /koppel, which moves the room there. Empty while the
-- bot is in it.
ALTER TABLE experiment_rooms ADD COLUMN gone_at TEXT;
