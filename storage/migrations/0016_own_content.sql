-- Residents change their own content: an edited comment shows that it was edited. (An idea
-- its author withdrew is out of view with no removal reason: see 0010_idea_reports.sql.)
ALTER TABLE idea_comments ADD COLUMN edited_at TEXT;
