"""How fast a platform may be sent to: overall, per chat, per group chat; replies first.

Telegram allows a bot about 30 messages a second overall, about one a second in one chat
(short bursts allowed) and 20 a minute in a group. One :class:`Pacing` per platform keeps
everything the bot sends under such limits, direct replies and the outbox alike::

    reply(chat) ──chat's turn──► replies queue ──┐
                                                 ├──► one slot at a time ──► send
    take() (the outbox) ──────► outbox queue ────┘    (replies first)

* The overall rate is a timeline of evenly spaced slots, handed out one at a time when
  they come, to the longest waiting direct reply if there is one, else to the outbox. A
  slot not used in time is not saved up (but for the few a late wake-up needs,
  ``CATCH_UP_SLOTS``), so there are no bursts above the rate; and because a slot is
  given when it comes rather than booked in advance, a moment in which the process could
  not run does not make all the messages of that moment go at once after it.
* **Direct replies go first** (:meth:`Pacing.reply`, an answer to what someone just did);
  the outbox (:meth:`Pacing.take`) gets what they leave over.
* Each chat has a moment before which it gets nothing new (:meth:`Pacing.ready_at`),
  pushed on by every message to it (``chat_interval``, ``group_interval``; ``burst``
  messages may go at once, the average stays one per interval) and by a platform's
  "retry after" for that chat only (:meth:`Pacing.hold`); other chats are not slowed down
  by it. The outbox holds such a chat back in the database; a reply waits for its chat
  first and only then queues for a slot, so it never holds up the others.

Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

#: Chats remembered before old entries (whose moment has passed) are dropped.
_PRUNE_AT = 10_000
#: Slots a late hand-out may still use. Waking up takes a little longer than asked, more
#: so on a busy machine; without this, each slot would begin that much later and a busy
#: process would send well below its rate (23 instead of 30 a second in bench.peak).
#: With it, at most this many messages go at once after a moment the process stalled.
CATCH_UP_SLOTS = 5


class Pacing:
    """The send limits of one platform, shared by its delivery worker and its adapter."""

    def __init__(
        self,
        rate: float,
        *,
        chat_interval: float = 0.0,
        group_interval: float = 0.0,
        burst: int = 1,
        is_group: Callable[[str], bool] = lambda _chat: False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        """
        Args:
            rate: Messages per second overall; 0 for no overall limit (a loopback test
                server, never a real platform).
            chat_interval: Seconds between two messages to one chat, on average.
            group_interval: Seconds between two messages to one group chat, on average.
            burst: Messages one chat may get at once before the interval applies.
            is_group: Whether a chat id is a group chat.
            clock: Monotonic seconds (tests pass a fake one, with its ``sleep``).
            sleep: Waits the given seconds.
        """
        if rate < 0:
            raise ValueError("rate must be 0 (no limit) or positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.burst = burst
        self.is_group = is_group
        self.clock = clock
        self.sleep = sleep
        self._spacing = 1.0 / rate if rate else 0.0
        #: When the next overall slot comes, and the slot the last message used.
        self._next_slot = 0.0
        self._last: float | None = None
        self._catch_up = CATCH_UP_SLOTS * self._spacing
        #: Per chat: when its last booked message is "due" (a theoretical arrival time).
        self._chats: dict[str, float] = {}
        #: Waiting for a slot: direct replies, and the outbox; (messages, its turn).
        self._replies: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._outbox: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._handing_out: asyncio.Task[None] | None = None
        #: Messages sent as direct replies, and as outbox messages (for logs and tests).
        self.replied = 0
        self.taken = 0

    @property
    def limited(self) -> bool:
        """Whether there is an overall rate at all."""
        return self.rate > 0

    # The overall rate ---------------------------------------------------------------------

    async def take(self, messages: int = 1) -> None:
        """Wait for the next overall slot(s) that no direct reply wants: the outbox's."""
        await self._slot(self._outbox, messages)
        self.taken += max(1, messages)

    async def reply(self, chat_id: str | None, messages: int = 1) -> None:
        """Wait until a direct reply to ``chat_id`` may go (no chat: the overall rate only).

        First its chat's turn, then the next overall slot, before any the outbox waits for.
        """
        if chat_id is not None:
            wait = self.book_chat(chat_id, messages)
            if wait > 0:
                await self.sleep(wait)
        await self._slot(self._replies, messages)
        self.replied += max(1, messages)

    async def _slot(self, queue: deque[tuple[int, asyncio.Future[None]]], messages: int) -> None:
        count = max(1, messages)
        if not self._spacing:
            return
        if not self._replies and not self._outbox and self._next_slot <= self.clock():
            self._book(count)  # a free slot, nobody waiting: no detour through the queue
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append((count, turn))
        if self._handing_out is None or self._handing_out.done():
            self._handing_out = asyncio.create_task(self._hand_out(), name="pacing")
        await turn

    async def _hand_out(self) -> None:
        """Give each slot as it comes to the first reply waiting, else to the outbox."""
        while self._replies or self._outbox:
            wait = self._next_slot - self.clock()
            if wait > 0:
                await self.sleep(wait)
                continue
            queue = self._replies or self._outbox
            count, turn = queue.popleft()
            if turn.done():  # its sender gave up (cancelled)
                continue
            self._book(count)
            turn.set_result(None)

    def _book(self, messages: int) -> None:
        """The next ``messages`` slots are used now (a few recent unused ones first, but
        none from before the last message: a first message is not a burst)."""
        now = self.clock()
        earliest = now if self._last is None else max(self._last, now - self._catch_up)
        slot = max(self._next_slot, earliest)
        self._next_slot = slot + self._spacing * messages
        self._last = slot

    # Per chat -----------------------------------------------------------------------------

    def book_chat(self, chat_id: str, messages: int = 1) -> float:
        """Book a direct reply's place in its chat; returns seconds to wait for it.

        The place is booked at once, so the outbox does not send to the chat meanwhile.
        """
        wait = max(0.0, self.ready_at(chat_id) - self.clock())
        self.sent(chat_id, messages)
        return wait

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

    def release(self, chat_id: str) -> None:
        """What held this chat back is over (a room private again): it may get messages now."""
        self._chats.pop(chat_id, None)

    def _remember(self, chat_id: str, until: float) -> None:
        self._chats[chat_id] = until
        if len(self._chats) > _PRUNE_AT:
            now = self.clock()
            self._chats = {chat: t for chat, t in self._chats.items() if t > now}
