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
Nobody banned counts either: a ban closes the news and everything its buttons lead to, and
the person gets the news again once the ban is lifted (their subscription is kept).

A broadcast speaks for the municipality only while its author may still write one: when a
civil servant loses that role, their drafts and scheduled broadcasts are cancelled with it
(:meth:`Broadcasts.withdraw`), and a release checks the author's role once more, whatever
changed it (:meth:`Broadcasts.release`). A broadcast whose author was erased has no author
left to check: it stays the municipality's publication.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.audit import Audit
from storage.clock import iso, parse
from storage.community.moderation import NOT_BANNED
from storage.db import Database
from storage.news.news import News
from storage.outbox import Outbox
from storage.users import Role

log = logging.getLogger(__name__)

_REACHABLE = (
    "u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL AND u.unreachable_at IS NULL"
    f" AND {NOT_BANNED}"
)
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

#: The role an author needs for their broadcast to go out (the composer's role).
AUTHOR_ROLE = Role.CIVIL_SERVANT
#: The roles that may have a broadcast go out, as an SQL list.
WRITER_ROLES = Role.sql_allowing(AUTHOR_ROLE)
#: A broadcast row (of ``broadcasts``, unaliased) whose author may still have it go out.
_AUTHORISED = (
    "(broadcasts.author_user_id IS NULL OR EXISTS (SELECT 1 FROM users a"
    f" WHERE a.id = broadcasts.author_user_id AND a.role IN {WRITER_ROLES}))"
)
#: A broadcast row that a release at ``?`` would send.
_RELEASABLE = "(status = 'draft' OR (status = 'scheduled' AND scheduled_at <= ?))"


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


def counted_each(audience_sql: str, values: Sequence[str]) -> tuple[str, list[str]]:
    """One query that counts the people of several audiences of one kind (a picker's page of
    experiments, each with how many it reaches): rows of (value, count).

    ``audience_sql`` is the kind's query of user ids, with the one parameter (``?``) that
    says which theme, neighbourhood or experiment; here each value takes its place in turn.
    """
    if audience_sql.count("?") != 1 or not values:
        raise ValueError("an audience of one value, and at least one value, to count")
    chosen = " UNION ALL ".join(["SELECT ? AS value"] * len(values))
    each = audience_sql.replace("?", "chosen.value")
    sql = (
        f"WITH chosen AS ({chosen})"
        f" SELECT chosen.value, (SELECT COUNT(*) FROM ({each})) FROM chosen"
    )
    return sql, list(values)


class Broadcasts:
    """The broadcasts table; releasing writes the outbox and the news."""

    def __init__(self, db: Database, outbox: Outbox, news: News, audit: Audit):
        self.db = db
        self.outbox = outbox
        self.news = news
        self.audit = audit

    async def recipients(self, audience: Audience) -> list[int]:
        """The user ids in an audience right now."""
        rows = await self.db.fetchall(_AUDIENCES[audience.kind], _params(audience), long=True)
        return [int(row[0]) for row in rows]

    async def count(self, audience: Audience) -> int:
        """How many people an audience reaches right now."""
        sql = f"SELECT COUNT(*) FROM ({_AUDIENCES[audience.kind]})"
        return int(await self.db.fetchval(sql, _params(audience), long=True))

    async def counts(self, kind: AudienceKind, values: Sequence[str]) -> dict[str, int]:
        """How many people each audience of ``kind`` (one per value) reaches right now."""
        if not values:
            return {}
        sql, params = counted_each(_AUDIENCES[kind], values)
        return {str(v): int(n) for v, n in await self.db.fetchall(sql, params, long=True)}

    async def save_draft(
        self,
        author_user_id: int,
        *,
        text: str,
        photo_id: int | None,
        audience: Audience,
        payload: list[dict[str, Any]],
        now: datetime,
        replace_drafts: bool = True,
    ) -> int:
        """Store a composed broadcast as a draft; the author's older drafts are dropped
        (unless ``replace_drafts`` is False: an invitation released at once, which must not
        take a "Wist je dat" the author is still composing with it)."""
        if replace_drafts:
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

    async def replace_payload(self, broadcast_id: int, payload: list[dict[str, Any]]) -> None:
        """What "Wist je dat" shows of a broadcast from now on (an invitation to a meeting
        that was moved or cancelled); copies already sent stay as they were."""
        await self.db.execute(
            "UPDATE broadcasts SET payload = ? WHERE id = ?",
            (json.dumps(payload, ensure_ascii=False), broadcast_id),
        )

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

    async def release(
        self, broadcast_id: int, now: datetime, *, expires_at: datetime | None = None
    ) -> int | None:
        """Send a draft now, or a scheduled broadcast that is due; messages not sent by
        ``expires_at`` (a meeting's invitation once it began) are cancelled.

        Returns how many messages were queued, or None when nothing was released (already
        released, cancelled, unknown, or scheduled for later). One whose author may no longer
        write broadcasts is cancelled instead, and the audit log says why.
        """
        async with self.db.transaction():
            stamp = iso(now)
            if await self._refuse(broadcast_id, now):
                return None
            changed = await self.db.execute_rowcount(
                "UPDATE broadcasts SET status = 'released', released_at = ?"
                f" WHERE id = ? AND {_RELEASABLE}",
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
                expires_at=expires_at,
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

    async def _refuse(self, broadcast_id: int, now: datetime) -> bool:
        """Cancel the broadcast if a release now would send it while its author may no
        longer write one (their role changed after they scheduled it); True if it was."""
        row = await self.db.fetchone(
            "UPDATE broadcasts SET status = 'cancelled'"
            f" WHERE id = ? AND {_RELEASABLE} AND NOT {_AUTHORISED}"
            " RETURNING author_user_id",
            (broadcast_id, iso(now)),
        )
        if row is None:
            return False
        author = row["author_user_id"]
        role = await self.db.fetchval("SELECT role FROM users WHERE id = ?", (author,))
        log.warning("broadcast %s cancelled: its author's role is now %s", broadcast_id, role)
        await self.audit.record(
            "broadcast.cancel",
            now=now,
            subject=f"broadcast:{broadcast_id}",
            subject_user_id=author,
            detail={"why": "author_role", "role": role},
        )
        return True

    async def withdraw(self, author_user_id: int) -> list[int]:
        """Cancel every draft and scheduled broadcast of an author who may no longer write
        one (their role was taken away); returns the ids of the scheduled ones."""
        rows = await self.db.fetchall(
            "SELECT id FROM broadcasts WHERE author_user_id = ? AND status = 'scheduled'"
            " ORDER BY id",
            (author_user_id,),
        )
        await self.db.execute(
            "UPDATE broadcasts SET status = 'cancelled'"
            " WHERE author_user_id = ? AND status IN ('draft', 'scheduled')",
            (author_user_id,),
        )
        return [int(row["id"]) for row in rows]

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

    async def scheduled(self, *, limit: int = -1, offset: int = 0) -> list[Broadcast]:
        """The scheduled broadcasts that will go out, soonest first (not those whose author
        may no longer write one: they are cancelled when due); ``limit`` of them from
        ``offset`` (every one by default)."""
        rows = await self.db.fetchall(
            f"SELECT * FROM broadcasts WHERE status = 'scheduled' AND {_AUTHORISED}"
            " ORDER BY scheduled_at, id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_broadcast(row) for row in rows]

    async def count_scheduled(self) -> int:
        """How many :meth:`scheduled` lists."""
        total = await self.db.fetchval(
            f"SELECT COUNT(*) FROM broadcasts WHERE status = 'scheduled' AND {_AUTHORISED}"
        )
        return int(total)
