-- Residents change their own content: an author withdraws an idea while it is still new (it
-- leaves public view like a removed one, but shows as withdrawn), and edits or deletes their
-- own comment (an edited comment shows that it was edited).
ALTER TABLE ideas ADD COLUMN withdrawn_at TEXT;
ALTER TABLE idea_comments ADD COLUMN edited_at TEXT;
