-- An evaluation's "how is it going?" still waiting in the outbox when its experiment ends
-- is withdrawn, never sent: its people were not asked after all, and the staff's card
-- counts them on a line of their own. withdrawn_at notes when (NULL for every other
-- response, including those of people who answer without having been invited).
ALTER TABLE consultation_responses ADD COLUMN withdrawn_at TEXT;
