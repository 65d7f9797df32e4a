-- A comment shows its author by the role they wrote it in, kept with it: a resident who
-- later becomes the community connector is not named as the connector under what they
-- wrote as a resident, and a civil servant's answer stays the municipality's after their
-- role ends or they erase their data with their comments kept. NULL: written as a resident
-- (or unknown). Comments from before keep what they showed: their author's role now.
ALTER TABLE idea_comments ADD COLUMN author_role TEXT;
UPDATE idea_comments
SET author_role = (SELECT role FROM users WHERE users.id = idea_comments.author_user_id)
WHERE author_user_id IS NOT NULL;
