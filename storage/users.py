"""People who talk to the bot, keyed by (platform, platform user id)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class Role(StrEnum):
    """What a person may do. Ordered: each role may do what the ones before it may."""

    RESIDENT = "inwoner"
    CIVIL_SERVANT = "ambtenaar"
    CONNECTOR = "verbinder"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """Whether someone with this role may do what ``required`` may."""
        return self.rank >= required.rank

    @staticmethod
    def sql_allowing(required: Role) -> str:
        """The roles that may do what ``required`` may, as an SQL list: ``('a', 'b')``."""
        return "(" + ", ".join(f"'{role.value}'" for role in Role if role.allows(required)) + ")"


#: How precisely the time a person was last seen is kept.
SEEN_PRECISION = timedelta(minutes=1)
_RANKS = {role: rank for rank, role in enumerate(Role)}


class User(BaseModel):
    """One person on one platform."""

    id: int
    platform: str
    platform_user_id: str
    chat_id: str | None = None
    display_name: str | None = None
    language: str | None = None
    neighbourhood: str | None = None
    role: Role = Role.RESIDENT
    consent_at: datetime | None = None
    onboarded_at: datetime | None = None
    unreachable_at: datetime | None = None
    created_at: datetime
    last_seen_at: datetime

    @property
    def consented(self) -> bool:
        return self.consent_at is not None


def seen_lately(row: aiosqlite.Row, now: datetime) -> bool:
    """Whether a stored user row needs no update to say they were seen ``now``."""
    return row["unreachable_at"] is None and row["last_seen_at"] > iso(now - SEEN_PRECISION)


def user_from_row(row: aiosqlite.Row) -> User:
    """A user from a row with the users table's columns (by name)."""
    return User(
        id=row["id"],
        platform=row["platform"],
        platform_user_id=row["platform_user_id"],
        chat_id=row["chat_id"],
        display_name=row["display_name"],
        language=row["language"],
        neighbourhood=row["neighbourhood"],
        role=Role(row["role"]),
        consent_at=parse(row["consent_at"]),
        onboarded_at=parse(row["onboarded_at"]),
        unreachable_at=parse(row["unreachable_at"]),
        created_at=parse(row["created_at"]),
        last_seen_at=parse(row["last_seen_at"]),
    )


class Users:
    """The users table."""

    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: int) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        return user_from_row(row) if row else None

    async def find(self, platform: str, platform_user_id: str) -> User | None:
        row = await self.db.fetchone(
            "SELECT * FROM users WHERE platform = ? AND platform_user_id = ?",
            (platform, platform_user_id),
        )
        return user_from_row(row) if row else None

    async def in_chat(self, platform: str, chat_id: str) -> list[User]:
        """Whoever is reached in this chat (one person, for a private chat)."""
        rows = await self.db.fetchall(
            "SELECT * FROM users WHERE platform = ? AND chat_id = ?", (platform, chat_id)
        )
        return [user_from_row(row) for row in rows]

    async def seen(self, platform: str, platform_user_id: str, now: datetime) -> User:
        """The user for this sender, created on first contact; marks them seen and reachable.

        Only the platform id is stored for someone new: everything else waits for consent.
        The time last seen is kept to the minute, so most events (a tap in a list, a card)
        write nothing here.
        """
        row = await self.db.fetchone(
            "SELECT * FROM users WHERE platform = ? AND platform_user_id = ?",
            (platform, platform_user_id),
        )
        if row is not None and seen_lately(row, now):
            return user_from_row(row)
        return await self.touch(platform, platform_user_id, now)

    async def touch(self, platform: str, platform_user_id: str, now: datetime) -> User:
        """Create the user on first contact, else mark them seen now and reachable again."""
        stamp = iso(now)
        row = await self.db.fetchone(
            "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, platform_user_id)"
            " DO UPDATE SET last_seen_at = excluded.last_seen_at, unreachable_at = NULL"
            " RETURNING *",
            (platform, platform_user_id, stamp, stamp),
        )
        assert row is not None
        return user_from_row(row)

    async def ensure(self, platform: str, platform_user_id: str, now: datetime) -> User:
        """The user with this platform id, created (not seen, no consent) if they are new.

        For the operator's tools: granting a role before the person ever wrote to the bot.
        """
        stamp = iso(now)
        await self.db.execute(
            "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (platform, platform_user_id) DO NOTHING",
            (platform, platform_user_id, stamp, stamp),
        )
        found = await self.find(platform, platform_user_id)
        assert found is not None
        return found

    async def give_consent(
        self, user_id: int, chat_id: str, display_name: str | None, now: datetime
    ) -> None:
        await self.db.execute(
            "UPDATE users SET consent_at = ?, chat_id = ?, display_name = ? WHERE id = ?",
            (iso(now), chat_id, display_name, user_id),
        )

    async def set_language(self, user_id: int, language: str) -> None:
        await self.db.execute("UPDATE users SET language = ? WHERE id = ?", (language, user_id))

    async def forget_languages_other_than(self, languages: Sequence[str]) -> int:
        """Unset every chosen language not among ``languages``; returns how many were.

        Run at every start-up: the languages outside the list are the ranges between its
        languages, each a range of the ``users_language`` index, so a million residents who
        all chose a language that still exists cost a few index lookups, not a read of all.
        """
        kept = sorted(set(languages))
        if not kept:
            return await self.db.execute_rowcount(
                "UPDATE users SET language = NULL WHERE language IS NOT NULL"
            )
        gaps = ["language < ?"]
        gaps += ["language > ? AND language < ?" for _ in kept[1:]]
        gaps.append("language > ?")
        inner = [bound for pair in itertools.pairwise(kept) for bound in pair]
        params = [kept[0], *inner, kept[-1]]
        found = " UNION ALL ".join(f"SELECT id FROM users WHERE {gap}" for gap in gaps)
        return await self.db.execute_rowcount(
            f"UPDATE users SET language = NULL WHERE id IN ({found})", params
        )

    async def set_neighbourhood(self, user_id: int, neighbourhood: str | None) -> None:
        await self.db.execute(
            "UPDATE users SET neighbourhood = ? WHERE id = ?", (neighbourhood, user_id)
        )

    async def finish_onboarding(self, user_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE users SET onboarded_at = COALESCE(onboarded_at, ?) WHERE id = ?",
            (iso(now), user_id),
        )

    async def move_chat(self, user_id: int, chat_id: str, now: datetime) -> None:
        """Reach a consented person in another chat from now on (a new direct chat).

        What was kept for their old chat goes: the numbered options last offered there
        (their own ideas, perhaps), which nothing would find again to export or erase. What
        waits for them in the outbox goes to the new chat, from ``now`` on: rows held back
        for the old chat (a room that others had joined) are due at once in the new one.
        """
        await self.db.execute(
            "DELETE FROM chat_options WHERE (platform, chat_id) IN (SELECT platform, chat_id"
            " FROM users WHERE id = ? AND consent_at IS NOT NULL AND chat_id IS NOT ?)",
            (user_id, chat_id),
        )
        moved = await self.db.fetchval(
            "UPDATE users SET chat_id = ? WHERE id = ? AND consent_at IS NOT NULL RETURNING id",
            (chat_id, user_id),
        )
        if moved is None:
            return
        await self.db.execute(
            "UPDATE outbox SET chat_id = ?, not_before = MIN(not_before, ?)"
            " WHERE user_id = ? AND status = 'pending' AND chat_id != ?",
            (chat_id, iso(now), user_id, chat_id),
        )

    async def set_role(self, user_id: int, role: Role) -> None:
        await self.db.execute("UPDATE users SET role = ? WHERE id = ?", (role.value, user_id))

    async def in_charge(
        self, started_by: int | None, role: Role, *, instead: Role | None = None
    ) -> list[int]:
        """Who hears how something ``started_by`` set going went (a request to connect, a
        budget round, an experiment's room): that person while they still hold ``role``
        (or more); once it was taken away, or they were erased, whoever holds ``instead``
        (by default ``role``) now, so that the news neither reaches someone without the
        role nor goes nowhere; with nobody in that role, the admins."""
        if started_by is not None:
            person = await self.get(started_by)
            if person is not None and person.consented and person.role.allows(role):
                return [person.id]
        return await self.holding(instead or role) or await self.holding(Role.ADMIN)

    async def holding(self, role: Role) -> list[int]:
        """Everyone who holds exactly this role now and agreed to take part (only they are
        written to), oldest account first."""
        rows = await self.db.fetchall(
            "SELECT id FROM users WHERE role = ? AND consent_at IS NOT NULL ORDER BY id",
            (role.value,),
        )
        return [int(row["id"]) for row in rows]
