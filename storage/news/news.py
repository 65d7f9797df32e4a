"""Released "Wist je dat" news that residents can browse.

An item addressed to an experiment's participants is shown only to them; everything else is
shown to everyone. The payload is the replies residents received, as JSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

_VISIBLE_TO = (
    "(audience_kind != 'experiment' OR audience_value IN"
    " (SELECT CAST(experiment_id AS TEXT) FROM experiment_participants WHERE user_id = ?))"
)


class NewsItem(BaseModel):
    """One published item."""

    id: int
    broadcast_id: int | None
    audience_kind: str
    audience_value: str | None
    payload: list[dict[str, Any]]
    published_at: datetime


def _item(row: aiosqlite.Row) -> NewsItem:
    return NewsItem(
        id=row["id"],
        broadcast_id=row["broadcast_id"],
        audience_kind=row["audience_kind"],
        audience_value=row["audience_value"],
        payload=json.loads(row["payload"]),
        published_at=parse(row["published_at"]),
    )


class News:
    """The news table."""

    def __init__(self, db: Database):
        self.db = db

    async def publish(
        self,
        payload: list[dict[str, Any]],
        *,
        audience_kind: str,
        audience_value: str | None,
        now: datetime,
        broadcast_id: int | None = None,
    ) -> int:
        """Publish an item; returns its id."""
        return await self.db.execute(
            "INSERT INTO news (broadcast_id, audience_kind, audience_value, payload,"
            " published_at) VALUES (?, ?, ?, ?, ?)",
            (
                broadcast_id,
                audience_kind,
                audience_value,
                json.dumps(payload, ensure_ascii=False),
                iso(now),
            ),
        )

    async def replace_payload(self, broadcast_id: int, payload: list[dict[str, Any]]) -> None:
        """What the news shows of a broadcast from now on (an invitation to a meeting that
        was moved or cancelled); copies already sent stay as they were."""
        await self.db.execute(
            "UPDATE news SET payload = ? WHERE broadcast_id = ?",
            (json.dumps(payload, ensure_ascii=False), broadcast_id),
        )

    async def recent_for(self, user_id: int, *, offset: int, limit: int) -> list[NewsItem]:
        """The newest items this person may see, a page at a time."""
        rows = await self.db.fetchall(
            f"SELECT * FROM news WHERE {_VISIBLE_TO}"
            " ORDER BY published_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [_item(row) for row in rows]

    async def count_for(self, user_id: int) -> int:
        """How many items this person may see."""
        return int(
            await self.db.fetchval(f"SELECT COUNT(*) FROM news WHERE {_VISIBLE_TO}", (user_id,))
        )
