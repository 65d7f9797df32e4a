-- Someone the bot could not reach (they blocked it, left the direct chat) who comes back is
-- told what they missed meanwhile.
--
-- away_since: from when they may have missed what the bot did for them: the moment they
-- were found unreachable, or the creation of the oldest message still waiting for them then
-- (the one that met the block is older than that moment). Kept until they are found
-- unreachable again; it only counts while unreachable_at is set.
ALTER TABLE users ADD COLUMN away_since TEXT;

-- A "Wist je dat" subscription that stopped because its subscriber could not be reached,
-- as it was (the themes they had switched off, their neighbourhood only or not), so that
-- coming back they turn it on again with one tap. Gone once they subscribe again.
CREATE TABLE news_lapsed (
    user_id            INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    neighbourhood_only INTEGER NOT NULL CHECK (neighbourhood_only IN (0, 1)),
    -- The themes switched off, as a JSON list of theme ids.
    muted_themes       TEXT NOT NULL,
    lapsed_at          TEXT NOT NULL
);
