"""Moderation: why things are reported, what the connector decided about people, activity.

* :class:`ReportReason`: why a resident reports a comment or an idea (the reports themselves
  are :mod:`storage.community.reports`).
* :class:`Sanctions`: warnings, mutes (ending by themselves) and bans. Whether someone is
  muted is always read from the stored end time, so an expired mute never blocks anyone,
  whether or not its timer has run; :meth:`Sanctions.pending` and
  :meth:`Sanctions.expire_due` let the scheduler tell people their mute is over.
  A mute or ban in force outlives the person's erasure (:meth:`Sanctions.keep`), kept only
  as a keyed hash of their account, and is theirs again when that account agrees to take
  part once more (:meth:`Sanctions.restore`): ``/vergeetmij`` is no way around a ban.
* :class:`Activity`: how much someone posted lately, for the flood limits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
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


#: The reason of a sanction kept across an erasure: what the connector wrote is not kept
#: (it may quote the person); the handlers explain it in the reader's language instead.
KEPT_REASON = ""

#: A mute or ban in force (``?``: now). Per person, sanctions_user finds their few rows;
#: across everyone, sanctions_active.
ACTIVE = "kind != 'warning' AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > ?)"
#: A condition on a ``users u`` row: no ban holds for the person (a ban has no end; it holds
#: until lifted). For who is asked something every answer to which a ban refuses.
NOT_BANNED = (
    "NOT EXISTS (SELECT 1 FROM sanctions b WHERE b.user_id = u.id AND b.kind = 'ban'"
    " AND b.lifted_at IS NULL)"
)


class Sanctions:
    """The sanctions table."""

    def __init__(self, db: Database):
        self.db = db
        #: Called with the user id inside a ban's transaction, before it commits (delivery's
        #: outbox: rows already taken for them are looked at again, not sent as they were).
        self.banning: list[Callable[[int], None]] = []

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
        if kind is SanctionKind.BAN:
            for hook in self.banning:
                hook(user_id)
            # Broadcasts leave banned people out (storage.news.broadcasts): so does a
            # broadcast still going out, whose buttons would all answer "geblokkeerd"; and
            # so does an invitation to vote in a budget round (storage.budgets.rounds's
            # INVITATION_KIND), which a ban keeps them from.
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = 'banned'"
                " WHERE user_id = ? AND status = 'pending' AND (batch IN"
                " (SELECT 'broadcast:' || id FROM broadcasts WHERE status = 'released')"
                " OR kind = 'budget_invitation')",
                (user_id,),
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

    async def all_active(
        self, now: datetime, *, limit: int = 50, offset: int = 0
    ) -> list[Sanction]:
        """Everyone muted or banned now, newest decision first (``limit`` from ``offset``)."""
        rows = await self.db.fetchall(
            f"SELECT * FROM sanctions WHERE {ACTIVE} ORDER BY id DESC LIMIT ? OFFSET ?",
            (iso(now), limit, offset),
        )
        return [_sanction(row) for row in rows]

    async def count_active(self, now: datetime) -> int:
        """How many mutes and bans hold now."""
        return int(
            await self.db.fetchval(f"SELECT COUNT(*) FROM sanctions WHERE {ACTIVE}", (iso(now),))
        )

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

    # Across an erasure ------------------------------------------------------------------

    async def keep(
        self, user_id: int, platform: str, platform_user_id: str, now: datetime
    ) -> bool:
        """Before this person is erased: keep their mute or ban in force, if any, by a keyed
        hash of their account only (no name, no reason, no link to anything else).

        Call it in the erasure's transaction. Returns whether something was kept.
        """
        row = await self.db.fetchone(
            f"SELECT kind, created_at, ends_at FROM sanctions WHERE user_id = ? AND {ACTIVE}"
            " ORDER BY ends_at IS NULL DESC, ends_at DESC LIMIT 1",
            (user_id, iso(now)),
        )
        await self._forget_ended(now)
        if row is None:
            return False
        account = await self._account(platform, platform_user_id, create=True)
        await self.db.execute(
            "INSERT INTO kept_sanctions (account, kind, created_at, ends_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account) DO UPDATE SET kind = excluded.kind,"
            " created_at = excluded.created_at, ends_at = excluded.ends_at",
            (account, row["kind"], row["created_at"], row["ends_at"]),
        )
        return True

    async def restore(
        self, user_id: int, platform: str, platform_user_id: str, now: datetime
    ) -> Sanction | None:
        """When someone agrees to take part: the mute or ban their account had when it was
        erased, if it is still in force, is theirs again (and no longer kept apart)."""
        account = await self._account(platform, platform_user_id, create=False)
        if account is None:
            return None  # nothing was ever kept
        await self._forget_ended(now)
        row = await self.db.fetchone(
            "DELETE FROM kept_sanctions WHERE account = ? RETURNING kind, created_at, ends_at",
            (account,),
        )
        if row is None:
            return None
        sanction_id = await self.db.execute(
            "INSERT INTO sanctions (user_id, kind, reason, created_at, ends_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, row["kind"], KEPT_REASON, row["created_at"], row["ends_at"]),
        )
        return await self.get(sanction_id)

    async def _forget_ended(self, now: datetime) -> None:
        await self.db.execute(
            "DELETE FROM kept_sanctions WHERE ends_at IS NOT NULL AND ends_at <= ?", (iso(now),)
        )

    async def _account(self, platform: str, platform_user_id: str, *, create: bool) -> str | None:
        key = await self.account_key(create=create)
        return None if key is None else account_hash(key, platform, platform_user_id)

    async def account_key(self, *, create: bool) -> bytes | None:
        """The installation's random key of account hashes (see :func:`account_hash`),
        made the first time ``create`` asks for it. Call it in a transaction when creating:
        two processes asking at once get the same key."""
        key = await self.db.fetchval("SELECT key FROM sanction_key WHERE id = 1")
        if key is None:
            if not create:
                return None
            await self.db.execute(
                "INSERT INTO sanction_key (id, key) VALUES (1, ?) ON CONFLICT DO NOTHING",
                (secrets.token_bytes(32),),
            )
            key = await self.db.fetchval("SELECT key FROM sanction_key WHERE id = 1")
        return bytes(key)


def account_hash(key: bytes, platform: str, platform_user_id: str) -> str:
    """The keyed hash that stands for an account: HMAC-SHA256 of its platform and id under
    a random key made once for this installation and kept in its database, so the hash
    cannot be worked out from an id without that database."""
    account = f"{platform}\x00{platform_user_id}".encode()
    return hmac.new(key, account, hashlib.sha256).hexdigest()


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

    async def proposals_since(self, user_id: int, since: datetime) -> tuple[int, datetime | None]:
        """How many experiments this person proposed after ``since``, and when the first was."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n, MIN(created_at) AS first FROM experiment_proposals"
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
