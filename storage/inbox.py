"""Telegram updates kept from the moment they arrive until they are handled and answered.

Telegram forgets an update once the bot confirms it (its next ``getUpdates`` offset, or the
webhook's 200). Written here first, an update a crash interrupted is still there at start-up
and handled then; the router's ``handled_events`` keeps one that was handled from being
handled twice (only replies never confirmed are sent again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel

from storage.clock import iso
from storage.db import Database


class Arrived(BaseModel):
    """One update as it arrived: its id, who sent it, and its JSON."""

    update_id: int
    sender: str | None
    body: str


class TelegramInbox:
    """The telegram_inbox table."""

    def __init__(self, db: Database):
        self.db = db

    async def keep(self, updates: Sequence[Arrived], now: datetime) -> None:
        """Store updates; one already there (Telegram sent it again) stays as it is."""
        await self.db.executemany(
            "INSERT INTO telegram_inbox (update_id, sender, body, received_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
            [(u.update_id, u.sender, u.body, iso(now)) for u in updates],
        )

    async def waiting(self, most_attempts: int) -> tuple[list[Arrived], int]:
        """What a stop or crash left unhandled, in the order Telegram sent it, each counted
        as taken up once more; and how many were given up (deleted): taken up
        ``most_attempts`` times already. In the caller's transaction."""
        given_up = await self.db.execute_rowcount(
            "DELETE FROM telegram_inbox WHERE attempts >= ?", (most_attempts,)
        )
        await self.db.execute("UPDATE telegram_inbox SET attempts = attempts + 1")
        rows = await self.db.fetchall(
            "SELECT update_id, sender, body FROM telegram_inbox ORDER BY update_id", long=True
        )
        return [Arrived(update_id=r[0], sender=r[1], body=r[2]) for r in rows], given_up

    async def done(self, update_ids: Iterable[int]) -> None:
        """Handled and answered: forget them."""
        await self.db.executemany(
            "DELETE FROM telegram_inbox WHERE update_id = ?", [(i,) for i in update_ids]
        )
