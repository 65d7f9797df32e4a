"""Invites: a code shown once, stored as a hash, redeemed once before it expires."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from storage import Role
from storage.clock import utcnow
from storage.invites import code_hash


async def test_an_invite_is_found_by_its_code_and_redeemed_only_once(app: App) -> None:
    now = utcnow()
    async with app.db.transaction():
        code, invite = await app.repos.invites.create(Role.CONNECTOR, now)
        anna = await app.repos.users.seen("telegram", "1", now)
        bob = await app.repos.users.seen("telegram", "2", now)
    assert len(code) == 16 and code.replace("-", "").replace("_", "").isalnum()
    assert invite.expires_at == now + timedelta(days=7)
    stored = await app.db.fetchval("SELECT code_hash FROM invites WHERE id = ?", (invite.id,))
    assert stored == code_hash(code) and code not in stored

    found = await app.repos.invites.find(code)
    assert found is not None and found.role is Role.CONNECTOR and not found.used
    async with app.db.transaction():
        assert await app.repos.invites.redeem(invite.id, anna.id, now)
        assert not await app.repos.invites.redeem(invite.id, bob.id, now)
    used = await app.repos.invites.find(code)
    assert used is not None and used.used and used.redeemed_by == anna.id


async def test_an_expired_invite_cannot_be_redeemed(app: App) -> None:
    now = utcnow()
    async with app.db.transaction():
        code, invite = await app.repos.invites.create(Role.CIVIL_SERVANT, now - timedelta(days=8))
        anna = await app.repos.users.seen("telegram", "1", now)
        assert not await app.repos.invites.redeem(invite.id, anna.id, now)
    found = await app.repos.invites.find(code)
    assert found is not None and found.expired(now)


async def test_unknown_codes_and_invites_for_residents_are_refused(app: App) -> None:
    assert await app.repos.invites.find("nonsense") is None
    assert await app.repos.invites.find("") is None
    assert await app.repos.invites.find("x" * 500) is None
    with pytest.raises(ValueError, match="no invite"):
        await app.repos.invites.create(Role.RESIDENT, utcnow())
