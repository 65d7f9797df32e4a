"""Who subscribed to "Wist je dat", for which themes, and whether only for their neighbourhood.

Every theme is on by default (a theme added to the profile later too): a subscriber's choice
is kept as the themes they switched off. "Only my neighbourhood" holds only while the profile
still has that neighbourhood: without it no broadcast could reach them but one to everyone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class Subscription(BaseModel):
    """One subscriber's preferences."""

    user_id: int
    neighbourhood_only: bool
    muted_themes: frozenset[str]
    subscribed_at: datetime

    def follows(self, theme: str) -> bool:
        return theme not in self.muted_themes


class Subscriptions:
    """The news_subscriptions and news_muted_themes tables."""

    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: int) -> Subscription | None:
        row = await self.db.fetchone(
            "SELECT * FROM news_subscriptions WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return None
        muted = await self.db.fetchall(
            "SELECT theme FROM news_muted_themes WHERE user_id = ?", (user_id,)
        )
        return Subscription(
            user_id=user_id,
            neighbourhood_only=bool(row["neighbourhood_only"]),
            muted_themes=frozenset(str(m[0]) for m in muted),
            subscribed_at=parse(row["subscribed_at"]),
        )

    async def subscribe(self, user_id: int, now: datetime) -> bool:
        """Subscribe with every theme on; False when already subscribed (nothing changes).

        A subscription that lapsed while they could not be reached is not offered back any
        more: this one replaces it."""
        changed = await self.db.execute_rowcount(
            "INSERT INTO news_subscriptions (user_id, subscribed_at) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING",
            (user_id, iso(now)),
        )
        if changed == 1:
            await self.db.execute("DELETE FROM news_lapsed WHERE user_id = ?", (user_id,))
        return changed == 1

    async def lapse(self, user_id: int, now: datetime) -> bool:
        """Stop the news for someone who cannot be reached, keeping it as it was so that
        they can turn it on again when they come back (:meth:`resume`); False when they were
        not subscribed (a subscription that lapsed before stays as it was)."""
        kept = await self.db.execute_rowcount(
            "INSERT INTO news_lapsed (user_id, neighbourhood_only, muted_themes, lapsed_at)"
            " SELECT s.user_id, s.neighbourhood_only, (SELECT json_group_array(m.theme)"
            " FROM news_muted_themes m WHERE m.user_id = s.user_id), ?"
            " FROM news_subscriptions s WHERE s.user_id = ? ON CONFLICT (user_id) DO UPDATE"
            " SET neighbourhood_only = excluded.neighbourhood_only,"
            " muted_themes = excluded.muted_themes, lapsed_at = excluded.lapsed_at",
            (iso(now), user_id),
        )
        if kept:
            await self.unsubscribe(user_id)
        return kept == 1

    async def resume(self, user_id: int, now: datetime, *, neighbourhood_only: bool) -> bool:
        """Turn on again the subscription that lapsed while they could not be reached, with
        the themes they had switched off; False when there is none (nothing changes).

        ``neighbourhood_only``: whether "only my neighbourhood" may hold again (it was on,
        and the caller knows their neighbourhood is still in the profile)."""
        row = await self.db.fetchone(
            "DELETE FROM news_lapsed WHERE user_id = ? RETURNING neighbourhood_only, muted_themes",
            (user_id,),
        )
        if row is None or not await self.subscribe(user_id, now):
            return False
        only = neighbourhood_only and bool(row["neighbourhood_only"])
        if only:
            await self.set_neighbourhood_only(user_id, True)
        muted = json.loads(row["muted_themes"])
        await self.db.executemany(
            "INSERT INTO news_muted_themes (user_id, theme) VALUES (?, ?) ON CONFLICT DO NOTHING",
            ((user_id, str(theme)) for theme in muted),
        )
        return True

    async def lapsed(self, user_id: int) -> bool:
        """Whether a subscription that lapsed while they could not be reached waits for
        them to turn it on again."""
        return (
            await self.db.fetchval("SELECT 1 FROM news_lapsed WHERE user_id = ?", (user_id,))
            is not None
        )

    async def unsubscribe(self, user_id: int) -> bool:
        """Stop the news (and forget the preferences); False when not subscribed.

        A broadcast to subscribers still going out stops for them too: the copy not yet
        sent is cancelled (a broadcast to an experiment's participants is not news they
        subscribed to, and still comes)."""
        changed = await self.db.execute_rowcount(
            "DELETE FROM news_subscriptions WHERE user_id = ?", (user_id,)
        )
        if changed == 1:
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = 'unsubscribed'"
                " WHERE user_id = ? AND status = 'pending' AND batch IN"
                " (SELECT 'broadcast:' || id FROM broadcasts WHERE status = 'released'"
                " AND audience_kind != 'experiment')",
                (user_id,),
            )
        return changed == 1

    async def set_theme(self, user_id: int, theme: str, on: bool) -> None:
        """Switch one theme on or off for a subscriber (off: a broadcast about it still on
        its way to them stops, see :meth:`drop_unmeant`)."""
        if on:
            await self.db.execute(
                "DELETE FROM news_muted_themes WHERE user_id = ? AND theme = ?", (user_id, theme)
            )
        else:
            await self.db.execute(
                "INSERT INTO news_muted_themes (user_id, theme) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (user_id, theme),
            )
            await self.drop_unmeant(user_id)

    async def set_neighbourhood_only(self, user_id: int, only: bool) -> None:
        """Whether a subscriber gets the news of their own neighbourhood only (from their
        neighbourhood as it is now: call it after a move too)."""
        await self.db.execute(
            "UPDATE news_subscriptions SET neighbourhood_only = ? WHERE user_id = ?",
            (int(only), user_id),
        )
        await self.drop_unmeant(user_id)

    async def drop_unmeant(self, user_id: int) -> int:
        """Cancel this person's copies, not yet sent, of broadcasts to subscribers whose
        audience they left since (a theme switched off, the news of their own neighbourhood
        only, a move): what they just asked not to get must not come minutes later. Returns
        how many; the author's report counts them as not sent. (An update to an
        experiment's participants stops when they leave it, see Experiments.leave.)"""
        return await self.db.execute_rowcount(
            "UPDATE outbox SET status = 'cancelled', last_error = 'left the audience'"
            " WHERE user_id = ?1 AND status = 'pending' AND batch IN"
            " (SELECT 'broadcast:' || b.id FROM broadcasts b WHERE b.status = 'released'"
            " AND b.audience_kind IN ('all', 'theme', 'neighbourhood') AND NOT EXISTS"
            " (SELECT 1 FROM news_subscriptions s JOIN users u ON u.id = s.user_id"
            " WHERE s.user_id = ?1 AND CASE b.audience_kind"
            " WHEN 'neighbourhood' THEN u.neighbourhood IS b.audience_value"
            " WHEN 'theme' THEN s.neighbourhood_only = 0 AND NOT EXISTS"
            " (SELECT 1 FROM news_muted_themes m WHERE m.user_id = ?1"
            " AND m.theme = b.audience_value)"
            " ELSE s.neighbourhood_only = 0 END))",
            (user_id,),
        )

    async def everywhere_outside(self, neighbourhoods: Sequence[str]) -> int:
        """Give the news of the whole municipality to every subscriber who asked for their
        own neighbourhood's only while their neighbourhood is none of ``neighbourhoods`` (it
        left the profile); returns how many. Run at every start-up."""
        return await self.db.execute_rowcount(
            "UPDATE news_subscriptions SET neighbourhood_only = 0 WHERE neighbourhood_only = 1"
            " AND user_id IN (SELECT id FROM users WHERE neighbourhood IS NULL"
            " OR neighbourhood NOT IN (SELECT value FROM json_each(?)))",
            (json.dumps(list(neighbourhoods)),),
        )
