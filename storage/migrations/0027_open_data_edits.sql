-- An author changing a new idea's title or text (a phone number taken out) makes the published
-- folder out of date as well: the old words must not stay public until the weekly export.
CREATE TRIGGER open_data_idea_edited AFTER UPDATE OF title, description ON ideas
WHEN new.title IS NOT old.title OR new.description IS NOT old.description BEGIN
    UPDATE open_data_state SET changes = changes + 1 WHERE id = 1;
END;
