"""Sanctions across an erasure: a keyed hash per installation, nothing else about the person."""

from __future__ import annotations

from pathlib import Path

from storage import Database, Repositories
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.privacy.personal import Cause, ContentChoice


async def _banned_and_erased(path: Path) -> str:
    """A resident banned and erased in a fresh database; returns the kept account hash."""
    db = await Database.open(path)
    try:
        repos, now = Repositories(db), utcnow()
        async with db.transaction():
            user = await repos.users.seen("telegram", "7001112223", now)
            await repos.users.give_consent(user.id, "7001112223", "Anna", now)
            await repos.sanctions.add(
                user.id, SanctionKind.BAN, reason="spam", by_user_id=None, now=now
            )
            assert await db.fetchval("SELECT COUNT(*) FROM sanction_key") == 0
            await repos.personal.erase(
                user.id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
            )
        assert await db.fetchval("SELECT COUNT(*) FROM sanction_key") == 1
        return str(await db.fetchval("SELECT account FROM kept_sanctions"))
    finally:
        await db.close()


async def test_the_same_account_gets_another_hash_in_another_installation(tmp_path: Path) -> None:
    here = await _banned_and_erased(tmp_path / "a.db")
    there = await _banned_and_erased(tmp_path / "b.db")
    assert here != there and "7001112223" not in here


async def test_someone_new_makes_no_key_and_gets_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "c.db")
    try:
        repos, now = Repositories(db), utcnow()
        async with db.transaction():
            user = await repos.users.seen("telegram", "42", now)
            assert await repos.sanctions.restore(user.id, "telegram", "42", now) is None
        assert await db.fetchval("SELECT COUNT(*) FROM sanction_key") == 0
    finally:
        await db.close()
