-- "Velsen kiest": who may vote by postcode, and the tie rule each round states.

-- The postcode ranges a round is restricted to, as they were in the profile when staff set
-- it up: JSON [{"first": 1970, "last": 1976, "neighbourhood": "ijmuiden"}, ...]. NULL: no
-- postcode restriction.
ALTER TABLE budget_rounds ADD COLUMN postcodes TEXT;

-- How projects with equal votes are ordered: 'cost' (lower cost first), 'hood' (more votes
-- from residents of the project's own neighbourhood first), 'earliest' (the project
-- submitted earliest first) or 'lot' (a lot drawn at closing; its seed is published).
ALTER TABLE budget_rounds ADD COLUMN tie_rule TEXT NOT NULL DEFAULT 'cost'
    CHECK (tie_rule IN ('cost', 'hood', 'earliest', 'lot'));

-- The lot's seed, drawn at closing and published with the result ('lot' rounds only).
ALTER TABLE budget_rounds ADD COLUMN tie_seed TEXT;

-- When the project was submitted: its idea's or proposal's creation, or the round's
-- creation for a project staff wrote themselves. Kept so the 'earliest' rule does not
-- change when the idea is later erased with its author.
ALTER TABLE budget_projects ADD COLUMN submitted_at TEXT;

-- The four digits of the postcode a voter gave for a postcode round (nothing more: no
-- letters, no house number). Erased with the ballot, and for everyone when the round closes.
ALTER TABLE budget_ballots ADD COLUMN postcode TEXT
    CHECK (postcode IS NULL OR (length(postcode) = 4 AND postcode GLOB '[1-9][0-9][0-9][0-9]'));
