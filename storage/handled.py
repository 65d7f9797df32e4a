"""Incoming events already handled, so a replay after a crash is not handled twice."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from storage.clock import iso
from storage.db import Database


class HandledEvent(BaseModel):
    """An event that was handled; ``pending`` holds its replies until they were delivered."""

    lang: str | None
    pending: str | None


class HandledEvents:
    """The handled_events table, keyed by (platform, the platform's event id)."""

    def __init__(self, db: Database):
        self.db = db

    async def find(self, platform: str, event_id: str) -> HandledEvent | None:
        row = await self.db.fetchone(
            "SELECT lang, pending FROM handled_events WHERE platform = ? AND event_id = ?",
            (platform, event_id),
        )
        return None if row is None else HandledEvent(lang=row["lang"], pending=row["pending"])

    async def record(
        self,
        platform: str,
        event_id: str,
        now: datetime,
        *,
        lang: str | None = None,
        pending: str | None = None,
        sender: str | None = None,
    ) -> None:
        """Remember the event, with its replies (as text) while they are not yet delivered.

        ``sender`` is the platform id of whoever sent it: the row goes when they are erased
        (one erased by this very event is not linked again).
        """
        await self.db.execute(
            "INSERT INTO handled_events (platform, event_id, handled_at, lang, pending, user_id)"
            " VALUES (?, ?, ?, ?, ?,"
            " (SELECT id FROM users WHERE platform = ? AND platform_user_id = ?))",
            (platform, event_id, iso(now), lang, pending, platform, sender),
        )

    async def delivered(self, platform: str, event_id: str) -> None:
        """The platform confirmed the replies: forget them."""
        await self.db.execute(
            "UPDATE handled_events SET pending = NULL WHERE platform = ? AND event_id = ?",
            (platform, event_id),
        )

    async def prune(self, before: datetime) -> int:
        """Forget events handled before ``before``; returns how many."""
        return await self.db.execute_rowcount(
            "DELETE FROM handled_events WHERE handled_at < ?", (iso(before),)
        )
