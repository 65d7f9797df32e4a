"""Small named values a platform adapter keeps between runs (a device id, a sync token)."""

from __future__ import annotations

import secrets
from datetime import datetime

from storage.clock import iso
from storage.db import Database


class PlatformState:
    """The platform_state table: one text value per (platform, key)."""

    def __init__(self, db: Database):
        self.db = db

    async def get(self, platform: str, key: str) -> str | None:
        value = await self.db.fetchval(
            "SELECT value FROM platform_state WHERE platform = ? AND key = ?", (platform, key)
        )
        return None if value is None else str(value)

    async def get_all(self, platform: str) -> dict[str, str]:
        """Every value this platform stored, by key."""
        rows = await self.db.fetchall(
            "SELECT key, value FROM platform_state WHERE platform = ?", (platform,)
        )
        return {row["key"]: row["value"] for row in rows}

    async def set(self, platform: str, key: str, value: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO platform_state (platform, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (platform, key, value, iso(now)),
        )

    async def delete(self, platform: str, *keys: str) -> None:
        for key in keys:
            await self.db.execute(
                "DELETE FROM platform_state WHERE platform = ? AND key = ?", (platform, key)
            )

    async def kept_secret(self, platform: str, key: str, now: datetime) -> str:
        """A random secret (64 hex digits) made the first time it is asked for, then kept.

        Call it in a transaction: two processes asking at once get the same one.
        """
        await self.db.execute(
            "INSERT INTO platform_state (platform, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, key) DO NOTHING",
            (platform, key, secrets.token_hex(32), iso(now)),
        )
        value = await self.get(platform, key)
        assert value is not None
        return value
