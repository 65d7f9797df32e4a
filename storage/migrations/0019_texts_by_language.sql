-- Texts with a language are stored per language generically: an experiment's title, summary,
-- place and organiser become JSON objects by language ({"nl": "...", "tr": "..."}), as the
-- texts of consultations already are, so a new language needs no new column. Dutch is always
-- there. An English text that only repeated the Dutch one (typed by staff, who write in Dutch)
-- is not kept: readers in other languages are told they read the Dutch original instead.

ALTER TABLE experiments ADD COLUMN title TEXT NOT NULL DEFAULT '{}';
ALTER TABLE experiments ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';
ALTER TABLE experiments ADD COLUMN place TEXT NOT NULL DEFAULT '{}';
ALTER TABLE experiments ADD COLUMN organiser TEXT NOT NULL DEFAULT '{}';

UPDATE experiments SET
    title = CASE WHEN title_en = title_nl THEN json_object('nl', title_nl)
                 ELSE json_object('nl', title_nl, 'en', title_en) END,
    summary = CASE WHEN summary_en = summary_nl THEN json_object('nl', summary_nl)
                   ELSE json_object('nl', summary_nl, 'en', summary_en) END,
    place = CASE WHEN place_en = place_nl THEN json_object('nl', place_nl)
                 ELSE json_object('nl', place_nl, 'en', place_en) END,
    organiser = CASE WHEN organiser_en = organiser_nl THEN json_object('nl', organiser_nl)
                     ELSE json_object('nl', organiser_nl, 'en', organiser_en) END;

ALTER TABLE experiments DROP COLUMN title_nl;
ALTER TABLE experiments DROP COLUMN title_en;
ALTER TABLE experiments DROP COLUMN summary_nl;
ALTER TABLE experiments DROP COLUMN summary_en;
ALTER TABLE experiments DROP COLUMN place_nl;
ALTER TABLE experiments DROP COLUMN place_en;
ALTER TABLE experiments DROP COLUMN organiser_nl;
ALTER TABLE experiments DROP COLUMN organiser_en;
