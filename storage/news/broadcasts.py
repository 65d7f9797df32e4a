"""Broadcasts: "Wist je dat" messages composed by civil servants, sent now or when due.

A broadcast is saved as a draft with its payload (the resident-facing replies as JSON, made
by the composer) and then released at once or scheduled. Releasing resolves the audience to
people *at that moment*, queues the payload for each of them in the outbox and publishes the
news item, all in one transaction; a released or cancelled broadcast is never released again.

Who is in an audience:

- ``all``: every subscriber who did not ask for neighbourhood news only;
- ``theme``: those of them who did not switch that theme off;
- ``neighbourhood``: every subscriber living in that neighbourhood;
- ``experiment``: everyone taking part in that experiment, subscribed or not.

Only people who can be reached count (consented, a chat, not blocked), the same people the
outbox queues for, so the number shown before sending is the number of messages queued.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.clock import iso, parse
from storage.db import Database
from storage.news.news import News
from storage.outbox import Outbox

_REACHABLE = "u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL AND u.unreachable_at IS NULL"
_SUBSCRIBERS = (
    "SELECT s.user_id FROM news_subscriptions s JOIN users u ON u.id = s.user_id"
    f" WHERE {_REACHABLE}"
)
_AUDIENCES = {
    "all": f"{_SUBSCRIBERS} AND s.neighbourhood_only = 0",
    "theme": f"{_SUBSCRIBERS} AND s.neighbourhood_only = 0 AND NOT EXISTS"
    " (SELECT 1 FROM news_muted_themes m WHERE m.user_id = s.user_id AND m.theme = ?)",
    "neighbourhood": f"{_SUBSCRIBERS} AND u.neighbourhood = ?",
    "experiment": "SELECT p.user_id FROM experiment_participants p"
    f" JOIN users u ON u.id = p.user_id WHERE {_REACHABLE} AND p.experiment_id = ?",
}


class AudienceKind(StrEnum):
    """Who a broadcast is for."""

    ALL = "all"
    THEME = "theme"
    NEIGHBOURHOOD = "neighbourhood"
    EXPERIMENT = "experiment"


class Audience(BaseModel):
    """An audience kind and, except for ``all``, which theme, neighbourhood or experiment."""

    model_config = ConfigDict(frozen=True)

    kind: AudienceKind
    value: str | None = None


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RELEASED = "released"
    CANCELLED = "cancelled"


class Broadcast(BaseModel):
    """One broadcast as stored."""

    id: int
    author_user_id: int | None
    text: str
    photo_id: int | None
    audience: Audience
    payload: list[dict[str, Any]]
    scheduled_at: datetime | None
    status: BroadcastStatus
    released_at: datetime | None
    recipients: int | None
    created_at: datetime


def _broadcast(row: aiosqlite.Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        author_user_id=row["author_user_id"],
        text=row["text"],
        photo_id=row["photo_id"],
        audience=Audience(kind=AudienceKind(row["audience_kind"]), value=row["audience_value"]),
        payload=json.loads(row["payload"]),
        scheduled_at=parse(row["scheduled_at"]),
        status=BroadcastStatus(row["status"]),
        released_at=parse(row["released_at"]),
        recipients=row["recipients"],
        created_at=parse(row["created_at"]),
    )


def _params(audience: Audience) -> tuple[str | None, ...]:
    return () if audience.kind is AudienceKind.ALL else (audience.value,)


class Broadcasts:
    """The broadcasts table; releasing writes the outbox and the news."""

    def __init__(self, db: Database, outbox: Outbox, news: News):
        self.db = db
        self.outbox = outbox
        self.news = news

    async def recipients(self, audience: Audience) -> list[int]:
        """The user ids in an audience right now."""
        rows = await self.db.fetchall(_AUDIENCES[audience.kind], _params(audience), long=True)
        return [int(row[0]) for row in rows]

    async def count(self, audience: Audience) -> int:
        """How many people an audience reaches right now."""
        sql = f"SELECT COUNT(*) FROM ({_AUDIENCES[audience.kind]})"
        return int(await self.db.fetchval(sql, _params(audience), long=True))

    async def save_draft(
        self,
        author_user_id: int,
        *,
        text: str,
        photo_id: int | None,
        audience: Audience,
        payload: list[dict[str, Any]],
        now: datetime,
    ) -> int:
        """Store a composed broadcast as a draft; the author's older drafts are dropped."""
        await self.db.execute(
            "DELETE FROM broadcasts WHERE author_user_id = ? AND status = 'draft'",
            (author_user_id,),
        )
        return await self.db.execute(
            "INSERT INTO broadcasts (author_user_id, text, photo_id, audience_kind,"
            " audience_value, payload, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                author_user_id,
                text,
                photo_id,
                audience.kind.value,
                audience.value,
                json.dumps(payload, ensure_ascii=False),
                BroadcastStatus.DRAFT.value,
                iso(now),
            ),
        )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.db.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return _broadcast(row) if row else None

    async def schedule(self, broadcast_id: int, at: datetime) -> bool:
        """Schedule a draft, or move a scheduled broadcast; False once released or cancelled."""
        changed = await self.db.execute_rowcount(
            "UPDATE broadcasts SET status = 'scheduled', scheduled_at = ?"
            " WHERE id = ? AND status IN ('draft', 'scheduled')",
            (iso(at), broadcast_id),
        )
        return changed == 1

    async def cancel(self, broadcast_id: int) -> bool:
        """Cancel a draft or scheduled broadcast; False when it was already out or cancelled."""
        changed = await self.db.execute_rowcount(
            "UPDATE broadcasts SET status = 'cancelled'"
            " WHERE id = ? AND status IN ('draft', 'scheduled')",
            (broadcast_id,),
        )
        return changed == 1

    async def release(self, broadcast_id: int, now: datetime) -> int | None:
        """Send a draft now, or a scheduled broadcast that is due.

        Returns how many messages were queued, or None when nothing was released (already
        released, cancelled, unknown, or scheduled for later).
        """
        async with self.db.transaction():
            stamp = iso(now)
            changed = await self.db.execute_rowcount(
                "UPDATE broadcasts SET status = 'released', released_at = ?"
                " WHERE id = ? AND (status = 'draft'"
                " OR (status = 'scheduled' AND scheduled_at <= ?))",
                (stamp, broadcast_id, stamp),
            )
            if changed != 1:
                return None
            broadcast = await self.get(broadcast_id)
            assert broadcast is not None
            people = await self.recipients(broadcast.audience)
            # With its author, so they see it go out and get a report at the end.
            queued = await self.outbox.fan_out(
                people,
                broadcast.payload,
                kind="broadcast",
                batch=f"broadcast:{broadcast_id}",
                now=now,
                author_user_id=broadcast.author_user_id,
            )
            await self.db.execute(
                "UPDATE broadcasts SET recipients = ? WHERE id = ?", (queued, broadcast_id)
            )
            await self.news.publish(
                broadcast.payload,
                audience_kind=broadcast.audience.kind.value,
                audience_value=broadcast.audience.value,
                now=now,
                broadcast_id=broadcast_id,
            )
            return queued

    async def pending(self) -> list[tuple[int, datetime]]:
        """(id, scheduled_at) of every scheduled broadcast, for re-arming timers."""
        rows = await self.db.fetchall(
            "SELECT id, scheduled_at FROM broadcasts WHERE status = 'scheduled'"
            " ORDER BY scheduled_at, id"
        )
        result = []
        for row in rows:
            at = parse(row["scheduled_at"])
            assert at is not None
            result.append((int(row["id"]), at))
        return result

    async def scheduled(self) -> list[Broadcast]:
        """Every scheduled broadcast, soonest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM broadcasts WHERE status = 'scheduled' ORDER BY scheduled_at, id"
        )
        return [_broadcast(row) for row in rows]
