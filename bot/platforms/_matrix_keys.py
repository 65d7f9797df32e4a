"""Encrypted messages whose room key has not arrived yet, kept until it does.

A resident's client sends the key for a message beside it, but it can come late (or, for
a message from before the bot joined, never). Such messages wait here, are tried again
after every sync, survive a restart (stored with the sync token), and after a while are
given up so the resident can be asked to send them again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, LocalProtocolError, MegolmEvent, RoomMessage
from nio.exceptions import EncryptionError

from bot.logs import pseudonym
from storage.clock import iso, parse, utcnow

log = logging.getLogger(__name__)


@dataclass
class Waiting:
    """One encrypted message waiting for its key."""

    room_id: str
    source: dict[str, Any]
    since: datetime


class KeyWaits:
    """The messages waiting for their keys, oldest first."""

    def __init__(self, patience: timedelta, waiting: list[Waiting] | None = None):
        self.patience = patience
        self.waiting = waiting or []

    @classmethod
    def load(cls, raw: str | None, patience: timedelta) -> KeyWaits:
        """The waits stored by :meth:`dump` (an unreadable store is dropped, and logged)."""
        if not raw:
            return cls(patience)
        try:
            waiting = [
                Waiting(item["room_id"], item["source"], parse(item["since"]) or utcnow())
                for item in json.loads(raw)
            ]
        except (ValueError, KeyError, TypeError):
            log.warning("matrix: stored undecrypted messages unreadable; dropped")
            return cls(patience)
        return cls(patience, waiting)

    def dump(self) -> str | None:
        """The waits as text to store, or None when nothing waits."""
        if not self.waiting:
            return None
        return json.dumps(
            [
                {"room_id": w.room_id, "source": w.source, "since": iso(w.since)}
                for w in self.waiting
            ]
        )

    async def add(self, client: AsyncClient, room_id: str, native: MegolmEvent) -> None:
        """Keep a message for later and ask the sender's devices for its key."""
        self.waiting.append(Waiting(room_id, native.source, utcnow()))
        log.info("matrix message waits for its key room=%s", pseudonym(room_id))
        try:
            await client.request_room_key(native)
        except (LocalProtocolError, ClientError, TimeoutError) as exc:
            log.info("matrix key request not sent: %s", exc)

    def retry(self, client: AsyncClient) -> tuple[list[tuple[str, Any]], list[Waiting]]:
        """(room, message) pairs whose key arrived, and the waits that ran out of patience."""
        ready: list[tuple[str, Any]] = []
        given_up: list[Waiting] = []
        still: list[Waiting] = []
        for waiting in self.waiting:
            decrypted = _decrypt(client, waiting)
            if decrypted is not None:
                ready.append((waiting.room_id, decrypted))
            elif utcnow() - waiting.since > self.patience:
                given_up.append(waiting)
            else:
                still.append(waiting)
        self.waiting = still
        return ready, given_up

    def in_room(self, room_id: str) -> bool:
        return any(w.room_id == room_id for w in self.waiting)


def _decrypt(client: AsyncClient, waiting: Waiting) -> Any:
    native = MegolmEvent.from_dict(waiting.source)
    if not isinstance(native, MegolmEvent):
        return None
    native.room_id = waiting.room_id
    try:
        decrypted = client.decrypt_event(native)
    except EncryptionError:
        return None
    return decrypted if isinstance(decrypted, RoomMessage) else None
