"""Delivery: one worker per platform sends the outbox at that platform's pace.

::

    outbox ──due()──► dispatcher ──window + pacing──► senders ──► results ──settle()──► outbox
    (pending)          (one loop)                   (N at once)           (one write for
                                                                          the results at hand)

* The dispatcher takes due rows (single rows before batch rows, oldest first) when no other
  task's transaction is open, so it never sees rows of a transaction that may still roll
  back. A chat that must wait (one message a second, 20 a minute in a group, a 429) is held
  back in the database instead of blocking the others.
* One chat has one row in flight at most: the next waits until that one's result is
  written, so a chat's messages arrive in the order they were taken (two requests side by
  side may arrive the other way round). A direct reply that waited is not even taken
  while an older one for its chat is tried again later (see :meth:`Outbox.due`).
* At most ``window`` rows are in flight: sent or being sent, their result not committed yet
  (a row's place in the window is freed only once its result is committed). So when the
  process is killed, at most that many messages were sent but not recorded as sent, and
  only those can arrive twice after the restart. Of those, at most ``concurrency`` are being
  sent at once; the rest of the window lets sending go on while results are written.
* Results are recorded together, in one call to the database for all results at hand (as
  many as the window holds beside the rows being sent, or what arrived in 50 ms): a
  broadcast costs a few transactions per hundred messages, not one per message.
* Rows with an expiry (a meeting's reminder, a poll's invitation) that were not sent by
  then are ``cancelled``, never sent late; a batch's report counts them as cancelled.
* Outcomes: confirmed → ``sent``; ``Blocked`` → the person is marked unreachable (and
  unsubscribed, see :meth:`storage.outbox.Outbox.on_unreachable`), their pending rows too;
  ``RetryLater`` → that chat waits, nobody else does, and it is not counted as an attempt;
  ``Paused`` (the chat cannot take anything personal for now: others are in a Matrix room
  that was private) → the same, looking again less often the longer the person's messages
  wait, until the oldest has waited ``pause_limit``: then she is unreachable, as if she
  had blocked the bot, and it is logged (she is reached again once she writes from a
  private chat);
  anything else → retried after ``backoff``, doubling, and ``failed`` with its reason after
  the last attempt. A row can take several calls (a photo, then its long text): the calls
  that arrived before a failure are recorded with it and not made again on the next try.
* The author of a batch sees one progress message edited in place ("1.234 van 5.000
  verstuurd") and, once no row is pending, gets a report through the outbox itself.

* Someone erased while rows are on their way: in this process the erasure tells the outbox
  at once (:meth:`storage.outbox.Outbox.stop_sending`); an erasure by the operator's command
  in another process is found by looking at the database every ``poll`` seconds, and rows
  taken before are looked up again before they are sent. A row that quotes the erased
  person's words (an idea's title in a follower's notice) is not sent, however it was
  taken, until the erasure's last steps have removed it from the outbox.

The worker learns about new rows from :meth:`DeliveryWorker.wake` (the runtime calls it when
rows are queued) and, failing that, by looking every ``poll`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.logs import pseudonym
from bot.platforms.base import Adapter, Blocked, DeliveryError, Paused, RetryLater
from bot.render import numbered_options
from bot.router import DIALOG_LIFETIME
from bot.settings import Settings
from handlers.catalog import Catalog
from handlers.contract import Reply
from storage import Repositories
from storage.clock import utcnow
from storage.outbox import REPLY_KIND, Batch, BatchProgress, Due, Settlement

log = logging.getLogger(__name__)

#: Called as ``sign(batch, lang, replies)`` before a row is sent: the replies with their
#: sender's signature put in, as it is at that moment (see handlers.news.wist_je_dat.Signer).
Sign = Callable[[str | None, str, list[Reply]], Awaitable[list[Reply]]]

#: Distinct payload texts whose parsed replies are kept (every row of a broadcast has one).
_PAYLOAD_CACHE = 256
#: Rows taken at most per look at the outbox.
_MAX_CLAIM = 1000
#: Seconds results wait to be written together with the next ones (at most).
_GATHER = 0.05
#: Seconds a blocked chat is remembered: longer than rows wait between being taken and sent.
_BLOCKED_MEMORY = 120.0
#: Seconds a chat waits whose row quotes someone erased meanwhile: the erasure's last steps
#: remove that row within seconds (and should the erasure roll back, it goes out then).
_QUOTE_HOLD = 5.0
#: Progress messages that failed this often in a row are given up (the report still comes).
_PROGRESS_TRIES = 3
#: A paused chat is looked at again after this share of the time its messages have waited
#: (at least what the platform asked, at most ``_PAUSE_HOLD_MAX``): every few minutes at
#: first, hourly after a day.
_PAUSE_HOLD_SHARE = 1 / 24
_PAUSE_HOLD_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How a worker sends: how much at once, how often it retries, how often it looks."""

    concurrency: int = 8
    window: int = 128
    attempts: int = 5
    backoff: float = 5.0
    poll: float = 1.0
    progress: float = 3.0
    max_backoff: float = 3600.0
    #: How long a person's messages wait for a chat that cannot take them (``Paused``)
    #: before she is treated as unreachable.
    pause_limit: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            concurrency=settings.delivery_concurrency,
            window=settings.delivery_window,
            attempts=settings.delivery_attempts,
            backoff=settings.delivery_backoff,
            poll=settings.delivery_poll,
            progress=settings.delivery_progress,
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed tries (with a little jitter)."""
        delay = min(self.max_backoff, self.backoff * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.9, 1.1)


class DeliveryWorker:
    """Sends one platform's outbox rows through its adapter until stopped."""

    def __init__(
        self,
        repos: Repositories,
        catalog: Catalog,
        adapter: Adapter,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        sign: Sign | None = None,
    ):
        self.repos = repos
        #: Puts a broadcast's signature in as it is sent (see Sign).
        self.sign = sign
        self.outbox = repos.outbox
        self.catalog = catalog
        self.adapter = adapter
        self.platform = adapter.name
        self.pacing = adapter.pacing
        self.policy = policy or DeliveryPolicy()
        self.clock = clock
        #: Outcomes so far in this process: sent, retried, failed, unreachable, held.
        self.counts: Counter[str] = Counter()
        # About a second's worth of rows at a time (all there is without a rate).
        rate = self.pacing.rate
        claim = int(rate) + 1 if rate else _MAX_CLAIM
        self._claim = min(_MAX_CLAIM, max(4 * self.policy.concurrency, claim))
        #: Rows in flight: being sent, or sent with the result not committed yet.
        self._slots = asyncio.Semaphore(self.window)
        #: The same rows by their chat: a chat with a row in flight is sent nothing else
        #: until that row's result is written, so its messages arrive in order.
        self._held: dict[int, str] = {}
        #: The generation (Outbox.take) each of them was taken at.
        self._generations: dict[int, int] = {}
        self._busy: Counter[str] = Counter()
        #: Chats told to wait whose hold is not in the database yet: their rows are still
        #: read as due until it is, and are passed over meanwhile (one hold, counted once).
        self._holding: set[str] = set()
        #: Rows being sent per batch: a batch with rows on their way is not finished yet.
        self._sending: Counter[str] = Counter()
        #: The last look at the outbox found less than it could take: the queue is draining,
        #: so a batch whose last row comes back may be done.
        self._draining = True
        #: Batches of rows sent since they were last checked for being done.
        self._touched: set[str] = set()
        self._results = Settlement()
        self._finished_rows: list[int] = []
        #: Rows ready to go, taken by ``concurrency`` long-lived senders (a sender goes on to
        #: the next row without a round through the event loop, like a plain send loop).
        self._queue: asyncio.Queue[tuple[Due, list[Reply], int] | None] = asyncio.Queue(
            maxsize=self.policy.concurrency
        )
        self._senders: list[asyncio.Task[None]] = []
        self._payloads: dict[str, list[Reply]] = {}
        #: Chats that just turned out blocked: rows taken before that are not sent.
        self._blocked: dict[str, float] = {}
        self._progress_failures: Counter[str] = Counter()
        #: Batches seen without an author in the last progress round.
        self._authorless: set[str] = set()
        self._wake = asyncio.Event()
        self._progress_wake = asyncio.Event()
        self._flush_wanted = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._progress: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch_wake = asyncio.Event()

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin sending in the background."""
        self._stopping = False
        # What was erased before the first row is taken is no news to rows taken after.
        await self._look_for_erasures()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="delivery-dispatch")
        self._senders = [
            asyncio.create_task(self._sender(), name=f"delivery-send-{n}")
            for n in range(self.policy.concurrency)
        ]
        self._flusher = asyncio.create_task(self._flush_loop(), name="delivery-flush")
        self._progress = asyncio.create_task(self._progress_loop(), name="delivery-progress")
        self._watcher = asyncio.create_task(self._watch_loop(), name="delivery-watch")
        log.info(
            "delivery started platform=%s rate=%s concurrency=%d",
            self.platform,
            self.pacing.rate or "off",
            self.policy.concurrency,
        )

    async def stop(self) -> None:
        """Take nothing new, let sends in flight finish and record every result."""
        self._stopping = True
        self._flush_now.set()
        self._wake.set()
        self._progress_wake.set()
        self._watch_wake.set()
        for task in (self._dispatcher, self._progress, self._watcher):
            if task is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=2.0)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Rows handed to the senders but not sent yet stay pending for the next start.
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                self._put_back(item[0])
        for _ in self._senders:
            self._queue.put_nowait(None)
        if self._senders:
            await asyncio.gather(*self._senders, return_exceptions=True)
        if self._flusher is not None:
            self._flush_wanted.set()
            await self._flusher
        log.info("delivery stopped platform=%s %s", self.platform, dict(self.counts))

    def wake(self) -> None:
        """Rows were queued: look at the outbox now rather than at the next poll."""
        self._wake.set()
        self._progress_wake.set()

    @property
    def window(self) -> int:
        """The most rows that can be in flight: the most that can arrive twice after a kill."""
        return max(self.policy.window, self.policy.concurrency)

    @property
    def _gather(self) -> int:
        """Results worth one write: as many as fit in the window beside the sends (and the
        rows queued for them)."""
        return max(1, self.window - 2 * self.policy.concurrency)

    @property
    def in_flight(self) -> int:
        """Rows sent or being sent whose result is not committed yet."""
        return len(self._held)

    # Taking and sending -------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            # Before the rows are read: a person erased after this is not sent what was
            # taken (see Outbox.stop_sending), while a row taken now is on its way.
            generation = self.outbox.take()
            try:
                taken = await self._take_rows(generation)
            finally:
                self.outbox.let_go(generation)
            if not taken:
                await self._idle()

    async def _take_rows(self, generation: int) -> bool:
        """Take the rows due and dispatch them; False when there were none."""
        try:
            now = self.clock()
            async with self.repos.db.committed():
                expiring = await self.outbox.expiring(self.platform, now)
                rows = await self.outbox.due(
                    self.platform, now, self._claim, self._held, busy=self._busy
                )
            if expiring:
                await self._expire(now)
        except Exception:
            log.exception("reading the outbox failed platform=%s", self.platform)
            rows = []
        self._draining = len(rows) < self._claim
        if self._draining:
            self._check_idle_batches()
        # A chat with a row in flight waits for its result (looked at again then). Its
        # rows are not even read: they would take the places of other chats' rows.
        rows = [row for row in rows if not self._busy[row.chat_id]]
        if not rows:
            return False
        for row in rows:
            if self._stopping:
                break
            await self._dispatch(row, generation)
        return True

    async def _expire(self, now: datetime) -> None:
        """Cancel rows whose time passed before they could be sent (held back by a 429, a
        backoff, or a stop): a meeting's reminder once it began is worse than none."""
        async with self.repos.db.transaction():
            expired, batches = await self.outbox.expire(self.platform, now, self._held)
        if expired:
            log.info("outbox rows expired unsent platform=%s rows=%d", self.platform, expired)
            self.counts["expired"] += expired
        if batches:
            # Finished now, perhaps: their reports count these rows as cancelled.
            self._results.batches |= batches
            self._flush_wanted.set()

    async def _dispatch(self, row: Due, generation: int) -> None:
        """Send one row when its chat and the overall rate allow; hold its chat otherwise."""
        pacing = self.pacing
        if row.chat_id in self._holding or self._busy[row.chat_id]:
            return
        if not pacing.ready(row.chat_id):
            wait = pacing.ready_at(row.chat_id) - pacing.clock()
            self._hold(row.chat_id, self.clock() + timedelta(seconds=wait))
            return
        try:
            replies = self._replies(row.payload)
        except ValueError as exc:
            self._results.failed.append((row.id, f"unreadable payload: {exc}"))
            self._finish(row, None)
            return
        replies = await self._signed(row, replies)
        await self._slots.acquire()
        if self._stopping:
            self._slots.release()
            return
        await pacing.take(len(replies))
        pacing.sent(row.chat_id, len(replies))
        self._held[row.id] = row.chat_id
        # What is stopped after it was taken is remembered until it is released.
        self._generations[row.id] = self.outbox.hold(generation)
        self._busy[row.chat_id] += 1
        if row.batch is not None:
            self._sending[row.batch] += 1
            self._touched.add(row.batch)
        await self._queue.put((row, replies, generation))

    async def _signed(self, row: Due, replies: list[Reply]) -> list[Reply]:
        """The row's replies signed as they are now (a broadcast by its author's card)."""
        if self.sign is None:
            return replies
        try:
            return await self.sign(row.batch, self.catalog.language(row.language), replies)
        except Exception:
            # Sent as stored, signed by the municipality.
            log.exception("signing an outbox row failed platform=%s", self.platform)
            return replies

    def _hold(self, chat_id: str, until: datetime) -> None:
        """Keep a chat's rows back until ``until`` (recorded with the next write)."""
        self._results.holds.append((chat_id, until))
        self._holding.add(chat_id)
        self.counts["held"] += 1
        self._flush_wanted.set()

    def _check_idle_batches(self) -> None:
        """Batches with no row on its way any more may be done: check them with the next
        write (their last rows may have come back before the queue was seen draining)."""
        idle = {batch for batch in self._touched if not self._sending.get(batch)}
        if idle:
            self._touched -= idle
            self._results.batches |= idle
            self._flush_wanted.set()

    def _put_back(self, row: Due) -> None:
        """A row taken but not sent: it stays pending in the outbox, its place is freed."""
        self._release(row.id)
        if row.batch is not None:
            self._sending[row.batch] -= 1
            if self._sending[row.batch] <= 0:
                del self._sending[row.batch]

    def _release(self, row_id: int) -> None:
        """A row is no longer in flight: its place in the window, and its chat, are free."""
        chat_id = self._held.pop(row_id, None)
        if chat_id is None:
            return
        self.outbox.let_go(self._generations.pop(row_id))
        self._slots.release()
        self._busy[chat_id] -= 1
        if self._busy[chat_id] <= 0:
            del self._busy[chat_id]

    async def _sender(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            row, replies, generation = item
            if self._recently_blocked(row.chat_id):
                # Its pending rows were marked unreachable with the block; should this row
                # be new (the person came back meanwhile), it waits until that is forgotten.
                self._put_back(row)
                self._hold(row.chat_id, self.clock() + timedelta(seconds=_BLOCKED_MEMORY))
                continue
            await self._send(row, replies, generation)

    async def _send(self, row: Due, replies: list[Reply], generation: int) -> None:
        # Results go to whatever settlement is current when the send returns (a flush may
        # have taken the previous one meanwhile).
        lang = self.catalog.language(row.language)
        if self.sign is not None and self.outbox.stopped_since(generation):
            # Someone was erased since it was signed (its author, perhaps): signed again,
            # as it is now.
            replies = await self._signed(row, self._replies(row.payload))
        if self.outbox.quotes_erased(row.payload, generation):
            # It quotes someone erased (their idea's title, their comment), taken before
            # the erasure's last steps removed it from the outbox: it waits for them (and
            # its options, which may quote them too, are not remembered for the chat).
            self._put_back(row)
            self._hold(row.chat_id, self.clock() + timedelta(seconds=_QUOTE_HOLD))
            return
        if self.outbox.rechecking(generation) and not await self._still_waiting(row):
            # Taken before an erasure by another process (the operator's command) that
            # this one learned of since: it went with the erased person (to them, from
            # them, quoting them), or was withdrawn.
            self._finish(row, row.id)
            return
        numbered = self.adapter.platform.numbered_options
        if numbered and row.kind == REPLY_KIND:
            # A direct reply that waited: what it shows is what the chat sees last (newer
            # replies wait behind it), so its numbers are the ones a "2" chooses from,
            # even where a notification sent meanwhile offered others.
            if not await self._offer_again(row, lang, replies):
                self._finish(row, row.id)
                return
        elif numbered and any(r.buttons for r in replies):
            offered = await self._offer(row, lang, replies)
            if offered is None:
                # Withdrawn since it was taken: nothing to send, nothing to record.
                self._finish(row, row.id)
                return
            replies = offered
        if self.outbox.stopped(row.user_id, generation):
            # Its person was erased since it was taken (or is being erased): the erasure
            # deleted the row, or puts it back should it roll back.
            self._put_back(row)
            self._flush_wanted.set()
            return
        if self.outbox.quotes_erased(row.payload, generation):
            # Someone it quotes was erased while its options were remembered: as above.
            self._put_back(row)
            self._hold(row.chat_id, self.clock() + timedelta(seconds=_QUOTE_HOLD))
            return
        try:
            await self.adapter.send(
                row.chat_id,
                lang,
                replies,
                dedupe_key=row.dedupe_key or f"outbox:{row.id}",
                skip=row.parts_sent,
            )
        except Blocked as exc:
            self._blocked[row.chat_id] = time.monotonic()
            self._results.unreachable.append((row.id, row.chat_id, str(exc) or "blocked"))
            self.counts["unreachable"] += 1
        except Paused as exc:
            await self._paused(row, exc)
            self._remember_parts(row, exc)
        except RetryLater as exc:
            self.pacing.hold(row.chat_id, exc.seconds)
            self._hold(row.chat_id, self.clock() + timedelta(seconds=exc.seconds))
            self._remember_parts(row, exc)
        except DeliveryError as exc:
            self._retry_or_fail(row, str(exc) or type(exc).__name__)
            self._remember_parts(row, exc)
        except Exception as exc:
            log.exception("sending an outbox row failed platform=%s", self.platform)
            self._retry_or_fail(row, f"{type(exc).__name__}: {exc}")
        else:
            self._results.sent.append(row.id)
            self.counts["sent"] += 1
        self._finish(row, row.id)

    async def _still_waiting(self, row: Due) -> bool:
        """Whether a row taken earlier is still pending in the outbox."""
        try:
            async with self.repos.db.committed():
                return await self.outbox.waiting(row.id)
        except Exception:
            log.exception("reading the outbox failed platform=%s", self.platform)
            return True

    async def _paused(self, row: Due, paused: Paused) -> None:
        """A chat that cannot take anything personal for now: hold it, looking again less
        often the longer its messages have waited; once the oldest has waited
        ``pause_limit``, its person is unreachable (her rows too, counted as such)."""
        now = self.clock()
        try:
            async with self.repos.db.committed():
                since = await self.outbox.waiting_since(self.platform, row.chat_id)
        except Exception:
            log.exception("reading the outbox failed platform=%s", self.platform)
            since = None
        waited = now - since if since is not None else timedelta(0)
        if waited >= self.policy.pause_limit:
            log.warning(
                "delivery gave up on a chat paused for %s platform=%s chat=%s: %s",
                waited,
                self.platform,
                pseudonym(row.chat_id),
                paused,
            )
            self._blocked[row.chat_id] = time.monotonic()
            reason = f"waited {waited.days} days for a private chat: {paused}"
            self._results.unreachable.append((row.id, row.chat_id, reason))
            self.counts["unreachable"] += 1
            return
        hold = min(
            max(timedelta(seconds=paused.seconds), waited * _PAUSE_HOLD_SHARE), _PAUSE_HOLD_MAX
        )
        self.pacing.hold(row.chat_id, hold.total_seconds())
        self._hold(row.chat_id, now + hold)

    def _remember_parts(self, row: Due, error: DeliveryError) -> None:
        """Part of the row arrived before it failed: the next try starts after that part."""
        if error.delivered > row.parts_sent:
            self._results.parts.append((row.id, error.delivered, row.payload))

    async def _offer_again(self, row: Due, lang: str, replies: list[Reply]) -> bool:
        """Remember a waiting direct reply's options again before it is shown, as the router
        did when it answered (none forgets the ones before); False when the row left the
        outbox since it was taken."""
        options = [
            (self.catalog.label(lang, b), b.payload, True) for b in numbered_options(replies)
        ]
        try:
            async with self.repos.db.transaction():
                if not await self.outbox.waiting(row.id):
                    return False
                await self.repos.chat_options.save(
                    self.platform, row.chat_id, options, self.clock()
                )
        except Exception:
            log.exception("remembering offered options failed platform=%s", self.platform)
        return True

    async def _offer(self, row: Due, lang: str, replies: list[Reply]) -> list[Reply] | None:
        """Remember the numbered options a message is about to show in a chat, before it is
        shown, so that typing "2" there chooses what it shows (like a direct reply's), not
        what the chat was offered before; options offered later are kept. Returns the
        replies to send, or None when the row left the outbox since it was taken (an
        erasure took it: its chat is not to be remembered, nor sent to).

        While the person is in the middle of a dialog, its numbers stay theirs: "2" still
        answers the question they were asked. This message's options are added after the
        dialog's and shown by label ("[Ik kom]"), and typing a label chooses it.
        """
        options = [
            (self.catalog.label(lang, b), b.payload, True) for b in numbered_options(replies)
        ]
        now = self.clock()
        try:
            async with self.repos.db.transaction():
                if not await self.outbox.waiting(row.id):
                    return None
                dialog = await self.repos.dialogs.load(row.user_id) if row.user_id else None
                mid_dialog = dialog is not None and now - dialog.updated_at <= DIALOG_LIFETIME
                if mid_dialog:
                    asked = await self.repos.chat_options.load(self.platform, row.chat_id)
                    known = {(label, payload) for label, payload, _ in asked}
                    options = asked + [
                        (label, payload, False)
                        for label, payload, _ in options
                        if (label, payload) not in known
                    ]
                await self.repos.chat_options.save(
                    self.platform, row.chat_id, options, now, only_if_newer=True
                )
            if mid_dialog:
                return [reply.model_copy(update={"by_label": True}) for reply in replies]
        except Exception:
            # A number typed there then chooses from what was offered before; the message
            # itself is sent all the same.
            log.exception("remembering offered options failed platform=%s", self.platform)
        return replies

    def _retry_or_fail(self, row: Due, error: str) -> None:
        tried = row.attempts + 1
        if tried >= self.policy.attempts:
            self._results.failed.append((row.id, error))
            self.counts["failed"] += 1
            return
        until = self.clock() + timedelta(seconds=self.policy.retry_delay(tried))
        self._results.retry.append((row.id, until, error))
        self.counts["retried"] += 1

    def _finish(self, row: Due, held_id: int | None) -> None:
        if held_id is not None:
            self._finished_rows.append(held_id)
            if len(self._finished_rows) >= self._gather:
                self._flush_now.set()
        if row.batch is not None:
            if held_id is not None:
                self._sending[row.batch] -= 1
            if self._sending[row.batch] <= 0:
                del self._sending[row.batch]
                if self._draining:
                    # No other row of this batch on its way, few waiting: it may be done.
                    self._results.batches.add(row.batch)
                    self._touched.discard(row.batch)
        self._flush_wanted.set()

    def _recently_blocked(self, chat_id: str) -> bool:
        """Whether this chat blocked the bot after its row was taken from the outbox."""
        if not self._blocked:
            return False
        horizon = time.monotonic() - _BLOCKED_MEMORY
        if len(self._blocked) > 1000:
            self._blocked = {chat: t for chat, t in self._blocked.items() if t > horizon}
        return self._blocked.get(chat_id, 0.0) > horizon

    def _replies(self, payload: str) -> list[Reply]:
        """The replies of a payload text, parsed once per distinct text."""
        found = self._payloads.get(payload)
        if found is None:
            try:
                found = [Reply.model_validate(item) for item in json.loads(payload)]
            except (TypeError, ValueError) as exc:
                raise ValueError(str(exc)[:200]) from exc
            if not found:
                raise ValueError("no messages in the payload")
            if len(self._payloads) >= _PAYLOAD_CACHE:
                self._payloads.clear()
            self._payloads[payload] = found
        return found

    async def _idle(self) -> None:
        """Wait for a wake-up, the next due row, or the poll interval, whichever is first."""
        timeout = self.policy.poll
        try:
            upcoming = await self.outbox.next_due(self.platform)
        except Exception:
            upcoming = None
        if upcoming is not None:
            ahead = (upcoming - self.clock()).total_seconds()
            if ahead > 0:
                timeout = min(timeout, ahead)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, timeout))

    # Recording ----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            if not self._stopping and len(self._finished_rows) < self._gather:
                # Gather the results of a few more sends into the same write, unless so
                # many wait to be recorded that sending would stall.
                self._flush_now.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush_now.wait(), timeout=_GATHER)
            recorded = await self._flush()
            if not recorded:
                await asyncio.sleep(1.0)  # the database refused: try again shortly
                self._flush_wanted.set()
                continue
            if self._stopping and self._senders_done() and not self._pending_results():
                return

    def _senders_done(self) -> bool:
        return all(sender.done() for sender in self._senders)

    def _pending_results(self) -> bool:
        return bool(len(self._results) or self._results.batches or self._finished_rows)

    async def _flush(self) -> bool:
        """Record every result at hand in one transaction; False if that failed."""
        if not self._pending_results():
            return True
        results, self._results = self._results, Settlement()
        finished_rows, self._finished_rows = self._finished_rows, []
        now = self.clock()
        done = []
        try:
            if len(results) == len(results.sent) and not results.batches:
                await self.outbox.record_sent(results.sent, now)  # the common case: one call
            else:
                async with self.repos.db.transaction():
                    done = await self.outbox.settle(self.platform, results, now)
                    for batch in done:
                        await self._queue_report(batch, now)
        except Exception:
            log.exception("recording delivery results failed platform=%s", self.platform)
            self._results = _merge(results, self._results)
            self._finished_rows = finished_rows + self._finished_rows
            return False
        for row_id in finished_rows:
            self._release(row_id)
        # Their holds are in the database now: those rows are no longer read as due.
        self._holding -= {chat for chat, _ in results.holds} - {
            chat for chat, _ in self._results.holds
        }
        if done:
            self._progress_wake.set()
        self._wake.set()
        return True

    async def _queue_report(self, batch: Batch, now: datetime) -> None:
        """The author's final report, sent through the outbox like any notification."""
        log.info(
            "batch finished batch=%s total=%d delivered=%s unreachable=%s failed=%s",
            batch.batch,
            batch.total,
            batch.delivered,
            batch.unreachable,
            batch.failed,
        )
        if batch.author_user_id is None:
            return
        parts = []
        # Invitations that someone answered or voted on before theirs went out were not
        # needed: said apart, as "cancelled" would read as something that went wrong.
        cancelled = batch.cancelled or 0
        done_first = await self.outbox.done_first(batch.batch) if cancelled else 0
        if cancelled > done_first:
            parts.append(
                Reply(key="delivery.report_cancelled", params={"n": cancelled - done_first})
            )
        if done_first:
            parts.append(Reply(key="delivery.report_done_first", params={"n": done_first}))
        report = Reply(
            key="delivery.report",
            params={
                "total": batch.total,
                "delivered": batch.delivered or 0,
                "unreachable": batch.unreachable or 0,
                "failed": batch.failed or 0,
            },
            parts=parts,
        )
        await self.outbox.enqueue(
            batch.author_user_id, [report.model_dump(mode="json")], kind="report", now=now
        )

    # Erasures in other processes ----------------------------------------------------------

    async def _watch_loop(self) -> None:
        """Look for erasures every ``poll`` seconds: the operator's commands run in another
        process, whose erasures this one learns of only from the database."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._watch_wake.wait(), timeout=self.policy.poll)
            if not self._stopping:
                await self._look_for_erasures()

    async def _look_for_erasures(self) -> None:
        try:
            await self.outbox.look_for_erasures()
        except Exception:
            log.exception("looking for erasures failed platform=%s", self.platform)

    # The author's progress ----------------------------------------------------------------

    async def _progress_loop(self) -> None:
        while not self._stopping:
            self._progress_wake.clear()
            try:
                await self._show_progress()
            except Exception:
                log.exception("showing delivery progress failed platform=%s", self.platform)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress_wake.wait(), timeout=self.policy.progress)
            if not self._stopping:
                # Wake-ups come with every queued row: show progress at most this often.
                await asyncio.sleep(min(0.5, self.policy.progress))

    async def _show_progress(self) -> None:
        generation = self.outbox.take()
        try:
            await self._show_progress_from(generation)
        finally:
            self.outbox.let_go(generation)

    async def _show_progress_from(self, generation: int) -> None:
        async with self.repos.db.committed():
            batches = await self.outbox.open_batches(self.platform)
            authorless = await self.outbox.authorless_batches()
        if not set(authorless) <= self._authorless:
            # An author erased, or revoked (perhaps by the operator's command, in another
            # process): rows taken already are looked up again (her report withdrawn) and
            # signed again as they go, as things are now.
            self.outbox.recheck()
        self._authorless = set(authorless)
        for name in authorless:
            # Its author was erased or lost the right to send it: none of her rounds below
            # closes it, and a batch never closed keeps its rows from being pruned.
            async with self.repos.db.transaction():
                await self.outbox.finish_if_done(name, self.clock())
        for progress in batches:
            name = progress.batch.batch
            # Closed whether or not its author can be shown anything: her block may have
            # taken the last rows it waited for (her own copy), and no result closes it then.
            if progress.batch.finished_at is None and progress.pending == 0:
                await self._close_batch(name)
                continue
            if self._progress_failures[name] >= _PROGRESS_TRIES:
                continue
            if self.outbox.stopped(progress.batch.author_user_id, generation):
                continue  # being erased: nothing more goes to her chat
            try:
                await self._update_progress(progress)
            except Blocked:
                async with self.repos.db.transaction():
                    await self.outbox.mark_chat_unreachable(
                        self.platform, progress.author_chat_id, self.clock()
                    )
                    # No progress message to keep up to date any more: once done, the
                    # batch is not open (nor its rows kept) for a message nobody sees.
                    await self.outbox.show_progress(name, None, progress.batch.progress_shown)
                self._progress_failures[name] = _PROGRESS_TRIES
                self._progress_wake.set()
            except RetryLater as exc:
                self.pacing.hold(progress.author_chat_id, exc.seconds)
            except DeliveryError as exc:
                log.info("progress message failed batch=%s error=%s", name, exc)
                self._progress_failures[name] += 1
                if progress.batch.progress_ref is not None:
                    # Edits fail (the message was deleted?): start a new message next time.
                    async with self.repos.db.transaction():
                        await self.outbox.show_progress(name, None, progress.batch.progress_shown)

    async def _close_batch(self, name: str) -> None:
        """A batch with nothing pending that no result closed (an empty one): close it now."""
        now = self.clock()
        async with self.repos.db.transaction():
            batch = await self.outbox.finish_if_done(name, now)
            if batch is not None:
                await self._queue_report(batch, now)
        self._progress_wake.set()

    async def _update_progress(self, progress: BatchProgress) -> None:
        """Send the progress message, or edit it when its count changed."""
        batch = progress.batch
        chat = progress.author_chat_id
        final = batch.finished_at is not None
        done = progress.done
        if not final and batch.progress_ref is not None and done == batch.progress_shown:
            return
        if not self.pacing.ready(chat):
            if not final:
                return  # the next round shows a newer count anyway
            # Her chat's turn, on the pacing's clock (and with its sleep, as its replies).
            await self.pacing.sleep(max(0.0, self.pacing.ready_at(chat) - self.pacing.clock()))
        key = "delivery.progress_done" if final else "delivery.progress"
        reply = Reply(key=key, params={"done": done, "total": batch.total})
        lang = self.catalog.language(progress.author_language)
        await self.pacing.take()
        async with self.repos.db.committed():
            current = await self.outbox.batch(batch.batch)
        if current is None or current.author_user_id != batch.author_user_id:
            # Its author was erased, or lost the right to send it, since it was read
            # (perhaps by the operator's command, in another process; perhaps while the
            # last count waited for her chat): nothing more goes to her about it.
            return
        self.pacing.sent(chat)
        if batch.progress_ref is None:
            ref = await self.adapter.send(chat, lang, [reply])
        else:
            ref = batch.progress_ref
            await self.adapter.edit(chat, ref, lang, reply)
        async with self.repos.db.transaction():
            await self.outbox.show_progress(batch.batch, ref, batch.total if final else done)


def _merge(first: Settlement, second: Settlement) -> Settlement:
    """Results not yet recorded, in the order they arrived."""
    return Settlement(
        sent=first.sent + second.sent,
        retry=first.retry + second.retry,
        failed=first.failed + second.failed,
        unreachable=first.unreachable + second.unreachable,
        holds=first.holds + second.holds,
        parts=first.parts + second.parts,
        batches=first.batches | second.batches,
    )
