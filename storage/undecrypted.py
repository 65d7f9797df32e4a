"""Encrypted Matrix messages the bot could not decrypt yet, one row each (see
:mod:`bot.platforms._matrix_keys`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from storage.clock import iso, parse, utcnow
from storage.db import Database


class Undecrypted(BaseModel):
    """One message waiting for its room key (without its ciphertext, kept in the table)."""

    event_id: str
    room_id: str
    sender: str
    session_id: str
    sender_key: str
    since: datetime


class UndecryptedMessages:
    """The undecrypted_messages table."""

    def __init__(self, db: Database):
        self.db = db

    async def keep(self, device_id: str, message: Undecrypted, source: str) -> bool:
        """Store a message (``source``: the event as JSON); False if it was there already."""
        added = await self.db.execute_rowcount(
            "INSERT INTO undecrypted_messages (event_id, device_id, room_id, sender,"
            " session_id, sender_key, source, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO NOTHING",
            (
                message.event_id,
                device_id,
                message.room_id,
                message.sender,
                message.session_id,
                message.sender_key,
                source,
                iso(message.since),
            ),
        )
        return added > 0

    async def waiting(self, device_id: str) -> list[Undecrypted]:
        """What waits for this device, oldest first; rows for another device are dropped
        (the caller's transaction)."""
        await self.db.execute(
            "DELETE FROM undecrypted_messages WHERE device_id != ?", (device_id,)
        )
        rows = await self.db.fetchall(
            "SELECT event_id, room_id, sender, session_id, sender_key, since"
            " FROM undecrypted_messages ORDER BY since, event_id"
        )
        return [
            Undecrypted(
                event_id=row["event_id"],
                room_id=row["room_id"],
                sender=row["sender"],
                session_id=row["session_id"],
                sender_key=row["sender_key"],
                since=parse(row["since"]) or utcnow(),
            )
            for row in rows
        ]

    async def source(self, event_id: str) -> str | None:
        """The stored event, or None when it is gone (decrypted, given up, or erased)."""
        value = await self.db.fetchval(
            "SELECT source FROM undecrypted_messages WHERE event_id = ?", (event_id,)
        )
        return None if value is None else str(value)

    async def forget(self, event_ids: Iterable[str]) -> set[str]:
        """Delete these messages; returns those that were still there."""
        gone: set[str] = set()
        for event_id in event_ids:
            if await self.db.execute_rowcount(
                "DELETE FROM undecrypted_messages WHERE event_id = ?", (event_id,)
            ):
                gone.add(event_id)
        return gone
