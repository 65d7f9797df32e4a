"""Moderation: why things are reported, what the connector decided about people, activity.

* :class:`ReportReason`: why a resident reports a comment or an idea (the reports themselves
  are :mod:`storage.community.reports`).
* :class:`Sanctions`: warnings, mutes (ending by themselves) and bans. Whether someone is
  muted is always read from the stored end time, so an expired mute never blocks anyone,
  whether or not its timer has run; :meth:`Sanctions.pending` and
  :meth:`Sanctions.expire_due` let the scheduler tell people their mute is over.
* :class:`Activity`: how much someone posted lately, for the flood limits.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class ReportReason(StrEnum):
    """Why a resident reports a comment or an idea."""

    SPAM = "spam"
    ABUSE = "beledigend"
    PERSONAL_DATA = "persoonsgegevens"
    OTHER = "anders"


class SanctionKind(StrEnum):
    """What the connector decided about a person."""

    WARNING = "warning"
    #: May read, not post, until ``ends_at``.
    MUTE = "mute"
    #: May only use the privacy commands, until lifted.
    BAN = "ban"


class Sanction(BaseModel):
    """One decision about a person."""

    id: int
    user_id: int
    kind: SanctionKind
    comment_id: int | None
    reason: str
    by_user_id: int | None
    created_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None
    expired_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Whether it limits the person at ``now``."""
        if self.kind is SanctionKind.WARNING or self.lifted_at is not None:
            return False
        return self.ends_at is None or self.ends_at > now


def _sanction(row: aiosqlite.Row) -> Sanction:
    return Sanction(
        id=row["id"],
        user_id=row["user_id"],
        kind=SanctionKind(row["kind"]),
        comment_id=row["comment_id"],
        reason=row["reason"],
        by_user_id=row["by_user_id"],
        created_at=parse(row["created_at"]),
        ends_at=parse(row["ends_at"]),
        lifted_at=parse(row["lifted_at"]),
        expired_at=parse(row["expired_at"]),
    )


#: A mute or ban in force (``?``: now). Per person, sanctions_user finds their few rows;
#: across everyone, sanctions_active.
ACTIVE = "kind != 'warning' AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > ?)"


class Sanctions:
    """The sanctions table."""

    def __init__(self, db: Database):
        self.db = db

    async def add(
        self,
        user_id: int,
        kind: SanctionKind,
        *,
        reason: str,
        by_user_id: int | None,
        now: datetime,
        comment_id: int | None = None,
        ends_at: datetime | None = None,
    ) -> tuple[Sanction, list[Sanction]]:
        """Record a decision; a mute or ban replaces the person's current one.

        Returns the new sanction and the ones it replaced (their timers are disarmed).
        """
        if (kind is SanctionKind.MUTE) != (ends_at is not None):
            raise ValueError("a mute needs its end, and only a mute has one")
        replaced = []
        if kind is not SanctionKind.WARNING:
            replaced = await self.lift_all(user_id, by_user_id=by_user_id, now=now)
        sanction_id = await self.db.execute(
            "INSERT INTO sanctions (user_id, kind, comment_id, reason, by_user_id, created_at,"
            " ends_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                kind.value,
                comment_id,
                reason,
                by_user_id,
                iso(now),
                iso(ends_at) if ends_at else None,
            ),
        )
        stored = await self.get(sanction_id)
        assert stored is not None
        return stored, replaced

    async def get(self, sanction_id: int) -> Sanction | None:
        row = await self.db.fetchone("SELECT * FROM sanctions WHERE id = ?", (sanction_id,))
        return _sanction(row) if row else None

    async def active(self, user_id: int, now: datetime) -> Sanction | None:
        """The mute or ban that limits this person now (a ban before a mute), or None."""
        row = await self.db.fetchone(
            f"SELECT * FROM sanctions WHERE user_id = ? AND {ACTIVE}"
            " ORDER BY ends_at IS NULL DESC, ends_at DESC LIMIT 1",
            (user_id, iso(now)),
        )
        return _sanction(row) if row else None

    async def all_active(self, now: datetime, *, limit: int = 50) -> list[Sanction]:
        """Everyone muted or banned now, newest decision first."""
        rows = await self.db.fetchall(
            f"SELECT * FROM sanctions WHERE {ACTIVE} ORDER BY id DESC LIMIT ?",
            (iso(now), limit),
        )
        return [_sanction(row) for row in rows]

    async def of_user(self, user_id: int) -> list[Sanction]:
        """Everything decided about this person, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM sanctions WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [_sanction(row) for row in rows]

    async def lift_all(
        self, user_id: int, *, by_user_id: int | None, now: datetime
    ) -> list[Sanction]:
        """End this person's current mute or ban early; returns what was lifted."""
        rows = await self.db.fetchall(
            f"UPDATE sanctions SET lifted_at = ?, lifted_by_user_id = ?"
            f" WHERE user_id = ? AND {ACTIVE} RETURNING *",
            (iso(now), by_user_id, user_id, iso(now)),
        )
        return [_sanction(row) for row in rows]

    async def pending(self) -> list[tuple[int, datetime]]:
        """(id, end) of every mute whose end is still to be handled, for re-arming timers."""
        rows = await self.db.fetchall(
            "SELECT id, ends_at FROM sanctions"
            " WHERE kind = 'mute' AND lifted_at IS NULL AND expired_at IS NULL ORDER BY ends_at"
        )
        found = []
        for row in rows:
            ends_at = parse(row["ends_at"])
            assert ends_at is not None
            found.append((int(row["id"]), ends_at))
        return found

    async def expire_due(self, now: datetime) -> list[Sanction]:
        """Mark every mute that has ended by ``now`` as handled; returns them.

        Running it twice hands out nothing twice: a mute is returned once.
        """
        rows = await self.db.fetchall(
            "UPDATE sanctions SET expired_at = ?"
            " WHERE kind = 'mute' AND lifted_at IS NULL AND expired_at IS NULL AND ends_at <= ?"
            " RETURNING *",
            (iso(now), iso(now)),
        )
        return sorted((_sanction(row) for row in rows), key=lambda s: s.id)


class Activity:
    """How much someone posted lately, counted from what is stored (for flood limits)."""

    def __init__(self, db: Database):
        self.db = db

    async def ideas_since(self, user_id: int, since: datetime) -> tuple[int, datetime | None]:
        """How many ideas this person sent after ``since``, and when the first of them was."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n, MIN(created_at) AS first FROM ideas"
            " WHERE author_user_id = ? AND created_at > ?",
            (user_id, iso(since)),
        )
        assert row is not None
        return int(row["n"]), parse(row["first"])

    async def comments_since(self, user_id: int, since: datetime) -> tuple[int, datetime | None]:
        """How many comments this person placed after ``since``, and when the first was."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n, MIN(created_at) AS first FROM idea_comments"
            " WHERE author_user_id = ? AND created_at > ?",
            (user_id, iso(since)),
        )
        assert row is not None
        return int(row["n"]), parse(row["first"])
