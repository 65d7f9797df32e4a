"""Helpers for delivery tests: many consented residents at once, and a scriptable adapter."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.pacing import Pacing
from bot.platforms.base import Blocked, DeliveryError, Lost, Paused, RetryLater
from handlers.contract import Platform, Reply
from storage import Database, Role
from storage.clock import iso, utcnow

#: A broadcast's payload as the community composer would queue it.
NEWS = [Reply(key="raw", params={"text": "Wist je dat de Burgertop weer begint?"})]


def payload(*replies: Reply) -> list[dict[str, object]]:
    """Replies as the outbox stores them."""
    return [reply.model_dump(mode="json") for reply in (replies or NEWS)]


async def residents(
    db: Database,
    chat_ids: Iterable[int | str],
    *,
    platform: str = "telegram",
    language: str | None = "nl",
    role: Role = Role.RESIDENT,
) -> list[int]:
    """Consented, onboarded people (chat id = platform id), created in one transaction."""
    stamp = iso(utcnow())
    rows = [
        (platform, str(chat), str(chat), language, role.value, stamp, stamp, stamp, stamp)
        for chat in chat_ids
    ]
    async with db.transaction():
        await db.executemany(
            "INSERT INTO users (platform, platform_user_id, chat_id, language, role,"
            " consent_at, onboarded_at, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        found = await db.fetchall(
            "SELECT id FROM users WHERE platform = ? ORDER BY id DESC LIMIT ?",
            (platform, len(rows)),
        )
    return sorted(int(row[0]) for row in found)


@dataclass
class Sent:
    """One send (or edit) the fake adapter accepted."""

    chat_id: str
    lang: str
    keys: list[str]
    texts: list[str]
    message_id: str
    edit: bool = False
    replies: list[Reply] = field(default_factory=list)


@dataclass
class FakeAdapter:
    """An adapter whose chats can be told to fail; records what it sent, in order.

    ``script[chat_id]`` is a list of what the next sends to that chat do: an exception to
    raise or ``None`` to succeed; once used up, sends succeed. ``edit_script`` does the same
    for edits.
    """

    name: str = "test"
    pacing: Pacing = field(default_factory=lambda: Pacing(0))
    lost: Lost = field(default_factory=Lost)
    platform: Platform = field(default_factory=lambda: Platform(name="test"))
    script: dict[str, list[Exception | None]] = field(default_factory=dict)
    edit_script: dict[str, list[Exception | None]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    #: Set to make sends wait until it is set (to hold messages in flight).
    gate: asyncio.Event | None = None
    #: Sends to these chats wait until their event is set.
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    active: int = 0
    most_active: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    #: The dedupe key of every attempt, per chat (a retry must repeat it).
    dedupe_keys: dict[str, list[str | None]] = field(default_factory=dict)
    edit_attempts: Counter[str] = field(default_factory=Counter)
    _ids: int = 0
    render: Callable[[Reply, str], str] = lambda reply, lang: f"{lang}:{reply.key}"

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        self.attempts[chat_id] += 1
        self.dedupe_keys.setdefault(chat_id, []).append(dedupe_key)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if chat_id in self.gates:
                await self.gates[chat_id].wait()
            _play(self.script.get(chat_id))
            self._ids += 1
            self.sent.append(
                Sent(
                    chat_id,
                    lang,
                    [reply.key for reply in replies],
                    [self.render(reply, lang) for reply in replies],
                    str(self._ids),
                    replies=replies,
                )
            )
            return str(self._ids)
        finally:
            self.active -= 1

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        self.edit_attempts[chat_id] += 1
        _play(self.edit_script.get(chat_id))
        self.sent.append(
            Sent(
                chat_id,
                lang,
                [reply.key],
                [self.render(reply, lang)],
                message_id,
                edit=True,
                replies=[reply],
            )
        )

    def to(self, chat_id: str) -> list[Sent]:
        """Everything sent to one chat."""
        return [sent for sent in self.sent if sent.chat_id == chat_id]


def _play(planned: list[Exception | None] | None) -> None:
    """Do the next planned outcome: raise its exception, or nothing."""
    if planned:
        outcome = planned.pop(0)
        if outcome is not None:
            raise outcome


def blocked() -> Blocked:
    return Blocked("Forbidden: bot was blocked by the user")


def flood(seconds: float) -> RetryLater:
    return RetryLater(seconds, "Flood control exceeded")


def paused() -> Paused:
    """What the Matrix adapter says of a private chat others have joined."""
    return Paused(60, "the room is not private (any more)")


def broken(text: str = "Bad Gateway") -> DeliveryError:
    return DeliveryError(text)
