"""Reading the audit log back: pages for /logboek and everything since a date for export."""

from __future__ import annotations

import json
from datetime import datetime

import aiosqlite

from storage.audit import AuditEntry
from storage.clock import iso, parse
from storage.db import Database


def _entry(row: aiosqlite.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=parse(row["at"]),
        actor=row["actor"],
        actor_user_id=row["actor_user_id"],
        action=row["action"],
        subject=row["subject"],
        subject_user_id=row["subject_user_id"],
        detail=json.loads(row["detail"]),
        reason=row["reason"],
    )


class Logbook:
    """Read-only views of the audit_log table."""

    def __init__(self, db: Database):
        self.db = db

    async def count(self) -> int:
        return int(await self.db.fetchval("SELECT COUNT(*) FROM audit_log"))

    async def page(self, *, limit: int, offset: int = 0) -> list[AuditEntry]:
        """Entries newest first, ``limit`` of them after skipping ``offset`` newer ones."""
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [_entry(row) for row in rows]

    async def since(self, moment: datetime) -> list[AuditEntry]:
        """Every entry at or after ``moment``, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log WHERE at >= ? ORDER BY at, id", (iso(moment),)
        )
        return [_entry(row) for row in rows]
