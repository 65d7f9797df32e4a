"""The outbox: messages that are not a direct reply, written first and sent by delivery.

Broadcasts, status notifications, the connector's answers and experiment updates all land
here in the same transaction as the change that caused them, so a crash loses none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

Payload = list[dict[str, Any]]


class OutboxRow(BaseModel):
    """One message waiting for (or done with) delivery to one chat."""

    id: int
    user_id: int | None
    platform: str
    chat_id: str
    payload: Payload
    kind: str
    batch: str | None
    status: str
    attempts: int
    not_before: datetime
    last_error: str | None


class Outbox:
    """The outbox table."""

    def __init__(self, db: Database):
        self.db = db

    async def enqueue(
        self,
        user_id: int,
        payload: Payload,
        *,
        kind: str,
        now: datetime,
        batch: str | None = None,
    ) -> int:
        """Queue messages for one person; returns how many rows were queued (0 or 1).

        Someone without a chat to reach (no consent, unreachable) gets nothing queued.
        """
        return await self.fan_out([user_id], payload, kind=kind, now=now, batch=batch)

    async def fan_out(
        self,
        user_ids: Sequence[int],
        payload: Payload,
        *,
        kind: str,
        now: datetime,
        batch: str | None = None,
    ) -> int:
        """Queue the same messages for many people in one statement; returns rows queued."""
        if not user_ids:
            return 0
        stamp = iso(now)
        body = json.dumps(payload, ensure_ascii=False)
        await self.db.execute("CREATE TEMP TABLE IF NOT EXISTS fan_out_ids (id INTEGER)")
        await self.db.execute("DELETE FROM fan_out_ids")
        await self.db.executemany(
            "INSERT INTO fan_out_ids (id) VALUES (?)", ((uid,) for uid in set(user_ids))
        )
        return await self.db.execute_rowcount(
            "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, batch,"
            " not_before, created_at)"
            " SELECT u.id, u.platform, u.chat_id, ?, ?, ?, ?, ? FROM users u"
            " JOIN fan_out_ids f ON f.id = u.id"
            " WHERE u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL"
            " AND u.unreachable_at IS NULL",
            (body, kind, batch, stamp, stamp),
        )

    async def batch_counts(self, batch: str) -> dict[str, int]:
        """How many rows of a batch are in each status."""
        rows = await self.db.fetchall(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE batch = ? GROUP BY status", (batch,)
        )
        return {row["status"]: int(row["n"]) for row in rows}

    async def for_user(self, user_id: int) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [_row(row) for row in rows]


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        user_id=row["user_id"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        payload=json.loads(row["payload"]),
        kind=row["kind"],
        batch=row["batch"],
        status=row["status"],
        attempts=row["attempts"],
        not_before=parse(row["not_before"]),
        last_error=row["last_error"],
    )
