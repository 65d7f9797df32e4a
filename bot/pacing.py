"""How fast delivery may send on one platform: overall, per chat, per group chat.

Telegram allows a bot about 30 messages a second overall, about one a second in one chat
and 20 a minute in a group. :class:`Pacing` keeps delivery under such limits:

* the overall rate hands out evenly spaced slots (:meth:`Pacing.take`); a slot not used in
  time is not saved up, so there are no bursts above the rate;
* each chat has a moment before which it gets nothing new (:meth:`Pacing.ready_at`),
  pushed on by every message to it and by a platform's "retry after" for that chat only
  (:meth:`Pacing.hold`); other chats are not slowed down by it;
* direct replies (answers to what someone just did) are not held up by delivery, but they
  use the same overall budget: the adapter reports each one with :meth:`Pacing.debit`, and
  delivery slows down for as long as the conversation traffic needs the room.

Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Chats remembered before old entries (whose moment has passed) are dropped.
_PRUNE_AT = 10_000


class Pacing:
    """The send limits of one platform, shared by its delivery worker and its adapter."""

    def __init__(
        self,
        rate: float,
        *,
        chat_interval: float = 0.0,
        group_interval: float = 0.0,
        is_group: Callable[[str], bool] = lambda _chat: False,
        clock: Callable[[], float] = time.monotonic,
    ):
        """
        Args:
            rate: Messages per second overall; 0 for no overall limit (a loopback test
                server, never a real platform).
            chat_interval: Seconds between two messages to one chat.
            group_interval: Seconds between two messages to one group chat.
            is_group: Whether a chat id is a group chat.
            clock: Monotonic seconds (tests pass a fake one).
        """
        if rate < 0:
            raise ValueError("rate must be 0 (no limit) or positive")
        self.rate = rate
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.is_group = is_group
        self.clock = clock
        self._spacing = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._chats: dict[str, float] = {}
        #: Messages sent outside delivery that used the overall budget (for logs and tests).
        self.debited = 0

    @property
    def limited(self) -> bool:
        """Whether there is an overall rate at all."""
        return self.rate > 0

    def reserve(self, messages: int = 1) -> float:
        """Book the next ``messages`` overall slots; returns seconds to wait for the first.

        Each booked slot is one message; the caller sends when the wait is over.
        """
        if not self._spacing:
            return 0.0
        now = self.clock()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._spacing * max(1, messages)
        return slot - now

    async def take(self, messages: int = 1) -> None:
        """Wait for the next overall slot(s)."""
        wait = self.reserve(messages)
        if wait > 0:
            await asyncio.sleep(wait)

    def debit(self, messages: int = 1) -> None:
        """A message went out without waiting (a direct reply): it used a slot all the same."""
        self.debited += messages
        if self._spacing:
            self._next_slot = max(self._next_slot, self.clock()) + self._spacing * messages

    def ready_at(self, chat_id: str) -> float:
        """The moment this chat may get its next message (in the past when it may now)."""
        return self._chats.get(chat_id, 0.0)

    def ready(self, chat_id: str) -> bool:
        return self.ready_at(chat_id) <= self.clock()

    def sent(self, chat_id: str, messages: int = 1) -> None:
        """Messages to this chat are on their way: space the next one out."""
        interval = self.group_interval if self.is_group(chat_id) else self.chat_interval
        if interval <= 0:
            return
        now = self.clock()
        start = max(now, self._chats.get(chat_id, 0.0))
        self._remember(chat_id, start + interval * max(1, messages))

    def hold(self, chat_id: str, seconds: float) -> None:
        """The platform asked this chat to wait ``seconds`` (a 429 with retry_after)."""
        until = self.clock() + max(0.0, seconds)
        self._remember(chat_id, max(until, self._chats.get(chat_id, 0.0)))

    def _remember(self, chat_id: str, until: float) -> None:
        self._chats[chat_id] = until
        if len(self._chats) > _PRUNE_AT:
            now = self.clock()
            self._chats = {chat: t for chat, t in self._chats.items() if t > now}
