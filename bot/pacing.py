"""How fast a platform may be sent to: overall, per chat, per group chat; replies first.

Telegram allows a bot about 30 messages a second overall, about one a second in one chat
(short bursts allowed) and 20 a minute in a group. One :class:`Pacing` per platform keeps
everything the bot sends under such limits, direct replies and the outbox alike:

* The overall rate is a timeline of evenly spaced slots. Each message books the next one;
  a slot not used in time is not saved up, so there are no bursts above the rate.
* **Direct replies go first.** A reply (an answer to what someone just did,
  :meth:`Pacing.reply`) may use a slot up to ``reply_allowance`` seconds before it is due;
  the outbox (:meth:`Pacing.take`) only when it is due. So a reply overtakes the slots the
  outbox booked, and the outbox gets what replies leave over: both together never go above
  the rate, and a burst of replies is answered at once instead of queueing behind a
  broadcast.
* Each chat has a moment before which it gets nothing new (:meth:`Pacing.ready_at`),
  pushed on by every message to it (``chat_interval``, ``group_interval``; ``burst``
  messages may go at once, as Telegram allows, the average stays one per interval) and by
  a platform's "retry after" for that chat only (:meth:`Pacing.hold`); other chats are not
  slowed down by it. The outbox holds such a chat back in the database; a reply waits.

The allowance is what the platform must tolerate beyond the even rate: it has to be less
than the burst the platform accepts overall (Telegram's bucket holds about a second).

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
        burst: int = 1,
        reply_allowance: float = 0.0,
        is_group: Callable[[str], bool] = lambda _chat: False,
        clock: Callable[[], float] = time.monotonic,
    ):
        """
        Args:
            rate: Messages per second overall; 0 for no overall limit (a loopback test
                server, never a real platform).
            chat_interval: Seconds between two messages to one chat, on average.
            group_interval: Seconds between two messages to one group chat, on average.
            burst: Messages one chat may get at once before the interval applies.
            reply_allowance: Seconds a direct reply may go before its overall slot.
            is_group: Whether a chat id is a group chat.
            clock: Monotonic seconds (tests pass a fake one).
        """
        if rate < 0:
            raise ValueError("rate must be 0 (no limit) or positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.burst = burst
        self.reply_allowance = reply_allowance
        self.is_group = is_group
        self.clock = clock
        self._spacing = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        #: Per chat: when its last booked message is "due" (a theoretical arrival time).
        self._chats: dict[str, float] = {}
        #: Messages sent as direct replies, and as outbox messages (for logs and tests).
        self.replied = 0
        self.taken = 0

    @property
    def limited(self) -> bool:
        """Whether there is an overall rate at all."""
        return self.rate > 0

    # The overall rate ---------------------------------------------------------------------

    def reserve(self, messages: int = 1, *, reply: bool = False) -> float:
        """Book the next ``messages`` overall slots; returns seconds to wait for the first.

        Each booked slot is one message; the caller sends when the wait is over. A direct
        reply (``reply``) may go up to the allowance before its slot: ahead of the slots
        the outbox booked.
        """
        count = max(1, messages)
        if reply:
            self.replied += count
        else:
            self.taken += count
        if not self._spacing:
            return 0.0
        now = self.clock()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._spacing * count
        if reply:
            return max(0.0, slot - self.reply_allowance - now)
        return slot - now

    async def take(self, messages: int = 1) -> None:
        """Wait for the next overall slot(s): what the outbox sends."""
        wait = self.reserve(messages)
        if wait > 0:
            await asyncio.sleep(wait)

    def book_chat(self, chat_id: str, messages: int = 1) -> float:
        """Book a direct reply's place in its chat; returns seconds to wait for it.

        The place is booked at once, so the outbox does not send to the chat meanwhile.
        """
        wait = max(0.0, self.ready_at(chat_id) - self.clock())
        self.sent(chat_id, messages)
        return wait

    async def reply(self, chat_id: str | None, messages: int = 1) -> None:
        """Wait until a direct reply to ``chat_id`` may go (no chat: the overall rate only).

        First its chat's turn, then its overall slot: a reply that waits for its chat does
        not hold a slot meanwhile, which would hold up everyone behind it.
        """
        if chat_id is not None:
            wait = self.book_chat(chat_id, messages)
            if wait > 0:
                await asyncio.sleep(wait)
        wait = self.reserve(messages, reply=True)
        if wait > 0:
            await asyncio.sleep(wait)

    # Per chat -----------------------------------------------------------------------------

    def _interval(self, chat_id: str) -> float:
        return self.group_interval if self.is_group(chat_id) else self.chat_interval

    def ready_at(self, chat_id: str) -> float:
        """The moment this chat may get its next message (in the past when it may now)."""
        due = self._chats.get(chat_id)
        if due is None:
            return 0.0
        return due - (self.burst - 1) * self._interval(chat_id)

    def ready(self, chat_id: str) -> bool:
        return self.ready_at(chat_id) <= self.clock()

    def sent(self, chat_id: str, messages: int = 1) -> None:
        """Messages to this chat are on their way: space the next one out."""
        interval = self._interval(chat_id)
        if interval <= 0:
            return
        now = self.clock()
        start = max(now, self._chats.get(chat_id, 0.0))
        self._remember(chat_id, start + interval * max(1, messages))

    def hold(self, chat_id: str, seconds: float) -> None:
        """The platform asked this chat to wait ``seconds`` (a 429 with retry_after)."""
        # Stored as a due time whose burst has been spent: ready exactly when asked.
        until = self.clock() + max(0.0, seconds) + (self.burst - 1) * self._interval(chat_id)
        self._remember(chat_id, max(until, self._chats.get(chat_id, 0.0)))

    def _remember(self, chat_id: str, until: float) -> None:
        self._chats[chat_id] = until
        if len(self._chats) > _PRUNE_AT:
            now = self.clock()
            self._chats = {chat: t for chat, t in self._chats.items() if t > now}
