"""Encrypted messages whose room key has not arrived yet, kept until it does.

A resident's client sends the key for a message beside it, but it can come late (or, for
a message from before the bot joined, never). Such a message waits here; after every sync
the ones whose key has arrived are decrypted; after a while the rest are given up and the
resident is asked to send them again.

Anyone can send the bot encrypted events nobody can decrypt, as many as they like, so:

- what waits is bounded: :data:`MAX_PER_SENDER` per sender, :data:`MAX_PER_ROOM` per room,
  :data:`MAX_WAITING` in all. A message beyond a bound is not kept (and not asked for);
  its room is owed a notice like a message given up;
- each message is one row (``undecrypted_messages``), written when it arrives and deleted
  when it is decrypted or given up, never rewritten with the sync token;
- after a sync only the messages whose session key the bot now holds are tried (a lookup
  each); the ciphertext is read from the table only then;
- a room hears "send it again" once, when nothing in it waits any more, however many of its
  messages were given up.

    arrives ──► bounds? ──no──► owed a notice (nothing kept)
                  │ yes
                  ▼
               one row ──► key arrived? ──► decrypted, row deleted, to the router
                  │
                  └──► patience over ──► row deleted; room owed a notice
                                             │ (once nothing in the room waits)
                                             ▼
                                   "Ik kon een bericht van je niet lezen"
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, LocalProtocolError, MegolmEvent, RoomMessage
from nio.exceptions import EncryptionError

from bot.logs import pseudonym
from storage import Database, Undecrypted, UndecryptedMessages
from storage.clock import utcnow

log = logging.getLogger(__name__)

#: Messages one sender may have waiting (a resident whose app failed to share keys sends a
#: few before noticing; more is a flood).
MAX_PER_SENDER = 20
#: Messages one room may have waiting.
MAX_PER_ROOM = 50
#: Messages waiting in all (each up to an event's 64 KiB of ciphertext).
MAX_WAITING = 500


@dataclass(frozen=True)
class Notice:
    """A room to ask to send again what could not be read: the last message given up."""

    room_id: str
    sender: str
    event_id: str


class KeyWaits:
    """The messages waiting for their keys for one device, and the rooms owed a notice."""

    def __init__(self, db: Database, store: UndecryptedMessages, patience: timedelta):
        self.db = db
        self.store = store
        self.patience = patience
        self.device_id = ""
        self.waiting: dict[str, Undecrypted] = {}
        self._per_sender: Counter[str] = Counter()
        self._per_room: Counter[str] = Counter()
        #: Rooms where something was given up (or not kept), with the last such message.
        self._owed: dict[str, Notice] = {}
        #: Messages tried in vain, with the first message index their session then had.
        self._tried: dict[str, int] = {}

    async def load(self, device_id: str) -> None:
        """What waits for this device (what waited for another one is dropped)."""
        self.device_id = device_id
        async with self.db.transaction():
            stored = await self.store.waiting(device_id)
        self.waiting.clear()
        self._per_sender.clear()
        self._per_room.clear()
        self._tried.clear()
        beyond: list[str] = []
        for message in stored:
            if self._room_for(message):
                self._count(message, +1)
            else:
                beyond.append(message.event_id)  # kept by an older version without bounds
        if beyond:
            async with self.db.transaction():
                await self.store.forget(beyond)
            log.warning("matrix dropped %s stored undecrypted messages beyond bounds", len(beyond))

    def _room_for(self, message: Undecrypted) -> bool:
        return (
            self._per_sender[message.sender] < MAX_PER_SENDER
            and self._per_room[message.room_id] < MAX_PER_ROOM
            and len(self.waiting) < MAX_WAITING
        )

    def _count(self, message: Undecrypted, step: int) -> None:
        if step > 0:
            self.waiting[message.event_id] = message
        else:
            self.waiting.pop(message.event_id, None)
            self._tried.pop(message.event_id, None)
        for counter, key in (
            (self._per_sender, message.sender),
            (self._per_room, message.room_id),
        ):
            counter[key] += step
            if counter[key] <= 0:
                del counter[key]

    async def add(self, client: AsyncClient, room_id: str, native: MegolmEvent) -> None:
        """Keep a message for later and ask the sender's devices for its key; a message
        beyond the bounds is not kept, and its room owed a notice."""
        if native.event_id in self.waiting:
            return  # a sync replayed after a restart
        message = Undecrypted(
            event_id=native.event_id,
            room_id=room_id,
            sender=native.sender,
            session_id=native.session_id,
            sender_key=native.sender_key,
            since=utcnow(),
        )
        if not self._room_for(message):
            log.info(
                "matrix undecryptable message not kept (over a bound) room=%s sender=%s",
                pseudonym(room_id),
                pseudonym(native.sender),
            )
            self._owed[room_id] = Notice(room_id, native.sender, native.event_id)
            return
        # Counted before the write: senders are served at once, and each must see the others.
        self._count(message, +1)
        try:
            async with self.db.transaction():
                kept = await self.store.keep(self.device_id, message, json.dumps(native.source))
        except BaseException:
            self._count(message, -1)
            raise
        if not kept:
            return  # stored already (a replay): it waits, and its key was asked for then
        log.info("matrix message waits for its key room=%s", pseudonym(room_id))
        try:
            await client.request_room_key(native)
        except (LocalProtocolError, ClientError, TimeoutError) as exc:
            # Asked before for this session (nio remembers), or the request failed.
            log.info("matrix key request not sent: %s", exc)

    async def retry(self, client: AsyncClient) -> tuple[list[tuple[str, Any]], list[Notice]]:
        """(room, message) pairs whose key arrived, and the rooms to ask to send again.

        The rows of both are deleted: a message handed on is the router's now (it records
        the event id with its writes, so a crash before that replays it harmlessly).
        """
        ready: list[tuple[str, Any]] = []
        done: list[Undecrypted] = []
        given_up: list[Undecrypted] = []
        now = utcnow()
        sessions = client.olm.inbound_group_store if client.olm is not None else None
        for message in list(self.waiting.values()):
            session = None
            if sessions is not None:
                session = sessions.get(message.room_id, message.sender_key, message.session_id)
            # Tried once the session is there, and again only if it grew to earlier messages
            # (a forwarded key): a wrong ciphertext under a real session is not read again
            # after every sync.
            first = getattr(session, "first_known_index", 0)
            if session is not None and first < self._tried.get(message.event_id, first + 1):
                decrypted = await self._decrypt(client, message)
                if decrypted is not None:
                    ready.append((message.room_id, decrypted))
                    done.append(message)
                    continue
                self._tried[message.event_id] = first
            if now - message.since > self.patience:
                given_up.append(message)
        if done or given_up:
            async with self.db.transaction():
                still_there = await self.store.forget(m.event_id for m in [*done, *given_up])
            for message in [*done, *given_up]:
                self._count(message, -1)
            for message in given_up:
                log.info("matrix message never decrypted room=%s", pseudonym(message.room_id))
                if message.event_id in still_there:  # not erased meanwhile
                    self._owed[message.room_id] = Notice(
                        message.room_id, message.sender, message.event_id
                    )
        return ready, self._notices_due()

    def _notices_due(self) -> list[Notice]:
        """The owed rooms where nothing waits any more: each is told once."""
        due = [notice for room, notice in self._owed.items() if not self._per_room[room]]
        for notice in due:
            del self._owed[notice.room_id]
        return due

    async def _decrypt(self, client: AsyncClient, message: Undecrypted) -> Any:
        source = await self.store.source(message.event_id)
        if source is None:
            return None
        native = MegolmEvent.from_dict(json.loads(source))
        if not isinstance(native, MegolmEvent):
            return None
        native.room_id = message.room_id
        try:
            decrypted = client.decrypt_event(native)
        except EncryptionError:
            return None
        return decrypted if isinstance(decrypted, RoomMessage) else None

    def in_room(self, room_id: str) -> bool:
        return bool(self._per_room[room_id])
