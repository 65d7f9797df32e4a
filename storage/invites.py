"""One-time invites that grant a staff role: ``samenspel invite``, redeemed with a deep link.

The code is shown once, to whoever creates it; only its SHA-256 is stored, so a copy of the
database does not let anyone become staff.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database
from storage.users import Role

VALID_FOR = timedelta(days=7)
#: Roles an invite can grant (residents need no invite).
INVITABLE = (Role.CIVIL_SERVANT, Role.CONNECTOR, Role.ADMIN)
_CODE_BYTES = 12  # 16 characters of [A-Za-z0-9_-]: fits a Telegram /start parameter


class Invite(BaseModel):
    """An invite as stored (without its code)."""

    id: int
    role: Role
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    redeemed_by: int | None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @property
    def used(self) -> bool:
        return self.redeemed_at is not None


def code_hash(code: str) -> str:
    """What is stored for a code."""
    return hashlib.sha256(code.encode()).hexdigest()


class Invites:
    """The invites table."""

    def __init__(self, db: Database):
        self.db = db

    async def create(
        self,
        role: Role,
        now: datetime,
        *,
        created_by: int | None = None,
        valid_for: timedelta = VALID_FOR,
    ) -> tuple[str, Invite]:
        """A new invite for ``role``; returns its code (shown once) and the stored invite."""
        if role not in INVITABLE:
            raise ValueError(f"no invite is needed for role {role.value}")
        code = secrets.token_urlsafe(_CODE_BYTES)
        row = await self.db.fetchone(
            "INSERT INTO invites (code_hash, role, created_by, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (code_hash(code), role.value, created_by, iso(now), iso(now + valid_for)),
        )
        assert row is not None
        return code, _invite(row)

    async def find(self, code: str) -> Invite | None:
        """The invite with this code, or None."""
        if not code or len(code) > 64:
            return None
        return await self.find_hashed(code_hash(code.strip()))

    async def find_hashed(self, digest: str) -> Invite | None:
        """The invite whose code has this hash, or None.

        Only for a hash the bot kept itself (of a code someone opened before onboarding):
        never for what someone typed, or the stored hashes would work as codes.
        """
        row = await self.db.fetchone("SELECT * FROM invites WHERE code_hash = ?", (digest,))
        return _invite(row) if row else None

    async def redeem(self, invite_id: int, user_id: int, now: datetime) -> bool:
        """Use an invite once; False when it was used or expired meanwhile."""
        changed = await self.db.execute_rowcount(
            "UPDATE invites SET redeemed_at = ?, redeemed_by = ?"
            " WHERE id = ? AND redeemed_at IS NULL AND expires_at > ?",
            (iso(now), user_id, invite_id, iso(now)),
        )
        return changed == 1


def _invite(row: Any) -> Invite:
    return Invite(
        id=row["id"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created_at=parse(row["created_at"]),
        expires_at=parse(row["expires_at"]),
        redeemed_at=parse(row["redeemed_at"]),
        redeemed_by=row["redeemed_by"],
    )
