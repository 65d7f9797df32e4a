-- A mute or ban in an experiment's room holds on the platform for an account, so the record
-- names that account itself instead of only through the reported message. When the author
-- of that message erases their data, the message, the reason and the link to them go, but a
-- mute or ban still in force stays listed (/beperkingen) and can be lifted: the record then
-- keeps the account id alone, with the erasure's pseudonym, until it is lifted or ends.
ALTER TABLE room_sanctions ADD COLUMN target TEXT;
ALTER TABLE room_sanctions ADD COLUMN pseudonym TEXT;
UPDATE room_sanctions SET target = (
    SELECT q.author_platform_id FROM room_reports q WHERE q.id = room_sanctions.report_id
) WHERE kind IN ('mute', 'ban');
CREATE INDEX room_sanctions_target ON room_sanctions (room_id, target) WHERE target IS NOT NULL;
