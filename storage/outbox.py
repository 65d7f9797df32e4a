"""The outbox: messages that are not a direct reply, written first and sent by delivery.

Broadcasts, status notifications, the connector's answers and experiment updates all land
here in the same transaction as the change that caused them, so a crash loses none. The
delivery worker of each platform takes due rows (:meth:`Outbox.due`), sends them, and records
what happened in one transaction per handful of rows (:meth:`Outbox.settle`); a row is marked
sent only after the platform confirmed it.

A batch (one broadcast) may have an author: :meth:`Outbox.fan_out` with ``author_user_id``
creates its ``outbox_batches`` row, which holds the progress message shown to the author and,
once no row is pending any more, the final figures.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

Payload = list[dict[str, Any]]
#: Called (without arguments) when rows were queued, so a worker can wake up early. The
#: rows may not be committed yet: a worker reads them in a transaction of its own.
QueuedListener = Callable[[], None]
#: Called as ``hook(user_id, now)`` inside the transaction that marks a person unreachable
#: (they blocked the bot): unsubscribe them from whatever they follow.
UnreachableHook = Callable[[int, datetime], Awaitable[object]]

#: The kind of direct replies the platform could not take when they were answered
#: (:meth:`Outbox.hand_over`): they go out one after the other, in the order given.
REPLY_KIND = "reply"
#: Row statuses that end a row's life.
DONE_STATUSES = ("sent", "unreachable", "failed", "cancelled")
#: Why rows were cancelled that may come back (:meth:`Outbox.withdrawn_from`): what they
#: said stopped being true for now, or for their reader alone.
WITHDRAWN = "withdrawn"
#: Why a person's invitation was not sent: they did what it asks before it reached them
#: (finished the poll, voted), so "come and vote" would only be out of date.
DONE_FIRST = "done first"
#: Days a row is kept once its life ended (``SAMENSPEL_OUTBOX_KEEP_DAYS``).
DEFAULT_OUTBOX_KEEP_DAYS = 30
#: Rows looked at, and at most deleted, per transaction when pruning.
PRUNE_CHUNK = 1000
_DONE = "(" + ", ".join(f"'{status}'" for status in DONE_STATUSES) + ")"
#: Batches whose rows still count: running, or with progress still to show.
_BATCH_IN_USE = (
    "EXISTS (SELECT 1 FROM outbox_batches b WHERE b.batch = outbox.batch"
    " AND (b.finished_at IS NULL OR (b.progress_ref IS NOT NULL AND b.progress_shown < b.total)))"
)


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
    sent_at: datetime | None = None


class Due(BaseModel):
    """A pending row as a delivery worker takes it.

    ``payload`` stays the stored JSON text (every row of a broadcast holds the same text, so
    the worker parses each distinct text once); ``language`` is the recipient's choice now,
    or for a direct reply the language it was answered in.
    """

    id: int
    user_id: int | None
    chat_id: str
    payload: str
    kind: str
    batch: str | None
    attempts: int
    language: str | None
    #: Calls of this row that arrived on earlier tries (not made again).
    parts_sent: int = 0
    #: The key to send under instead of the row's own (a direct reply's first try).
    dedupe_key: str | None = None


@dataclass
class Settlement:
    """What happened to rows a worker sent, recorded together by :meth:`Outbox.settle`."""

    #: Rows the platform confirmed.
    sent: list[int] = field(default_factory=list)
    #: (row id, not before, error): try again later.
    retry: list[tuple[int, datetime, str]] = field(default_factory=list)
    #: (row id, error): given up after the last attempt.
    failed: list[tuple[int, str]] = field(default_factory=list)
    #: (row id, chat id, error): the person blocked the bot.
    unreachable: list[tuple[int, str, str]] = field(default_factory=list)
    #: (chat id, until): the platform asked this chat to wait; its pending rows wait too.
    holds: list[tuple[str, datetime]] = field(default_factory=list)
    #: (row id, calls that arrived, the messages sent as stored): a row tried again later
    #: that got part of the way.
    parts: list[tuple[int, int, str]] = field(default_factory=list)
    #: Batches of the rows above (to notice a batch is finished).
    batches: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return (
            len(self.sent)
            + len(self.retry)
            + len(self.failed)
            + len(self.unreachable)
            + len(self.holds)
            + len(self.parts)
        )


@dataclass(frozen=True)
class PartlySent:
    """A pending row some of whose messages went out already (see :meth:`Outbox.partly_sent`)."""

    row_id: int
    payload: Payload
    #: How many calls of it arrived (``parts_sent``).
    sent: int
    #: The language it is read in (the reader's, else the default).
    language: str
    #: When it expires: until then, what it says holds.
    expires_at: datetime | None


class Batch(BaseModel):
    """A batch with an author: its size, its progress message and, once done, its figures."""

    batch: str
    author_user_id: int | None
    total: int
    progress_ref: str | None
    progress_shown: int
    created_at: datetime
    finished_at: datetime | None
    delivered: int | None
    unreachable: int | None
    failed: int | None
    cancelled: int | None


class BatchProgress(BaseModel):
    """An author's batch as the progress message shows it, with where that message goes."""

    batch: Batch
    author_chat_id: str
    author_language: str | None
    counts: dict[str, int]

    @property
    def done(self) -> int:
        """Rows no longer pending: delivered, unreachable, failed or cancelled."""
        return sum(n for status, n in self.counts.items() if status in DONE_STATUSES)

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)


@dataclass
class _Withheld:
    """An erased person's texts that no message may carry while the last steps of their
    erasure remove the messages holding them (see :meth:`Outbox.withhold_quotes`)."""

    #: The texts as the messages' stored JSON holds them (see storage.privacy.personal).
    needles: tuple[str, ...]
    #: The generation at which those steps were found done (None: still running).
    done_at: int | None = None
    #: Whether a message text holds one of them, by text (a broadcast's rows share one).
    verdicts: dict[str, bool] = field(default_factory=dict)
    #: The needles by their first letters: a text quoted cut short in many places gives
    #: many needles that begin alike, looked for only where that beginning is found.
    starts: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for needle in self.needles:
            self.starts.setdefault(needle[:_START], []).append(needle)

    def found_in(self, payload: str) -> bool:
        verdict = self.verdicts.get(payload)
        if verdict is None:
            verdict = any(
                start in payload and any(needle in payload for needle in needles)
                for start, needles in self.starts.items()
            )
            if len(self.verdicts) >= _VERDICTS:
                self.verdicts.clear()
            self.verdicts[payload] = verdict
        return verdict


#: Distinct message texts whose verdict an erasure's withheld texts remember.
_VERDICTS = 256
#: Letters a needle is first looked for by (the shortest quoted text has five).
_START = 5


class Outbox:
    """The outbox and outbox_batches tables."""

    def __init__(self, db: Database):
        self.db = db
        self._queued: list[QueuedListener] = []
        self._unreachable: list[UnreachableHook] = []
        #: Counts :meth:`stop_sending` calls; each stopped person keeps the count of theirs.
        self._generation = 0
        self._stopped: dict[int, int] = {}
        #: The generations at which rows still on their way were taken, and how many each.
        self._holding: Counter[int] = Counter()
        #: Rows taken before this generation are looked up again before they are sent
        #: (someone was erased in another process, see :meth:`look_for_erasures`).
        self._recheck = 0
        #: The last erasure seen (the highest id in ``erasures``; -1 before the first look).
        self._erasures_seen = -1
        #: Texts no message may carry, by the erasure's last steps that remove them
        #: (``erasure_scrubs``: id and created_at, as an id is given again once its row went).
        self._withheld: dict[tuple[int, str], _Withheld] = {}

    # Wiring ---------------------------------------------------------------------------------

    def on_queued(self, listener: QueuedListener) -> Callable[[], None]:
        """Call ``listener`` whenever rows are queued; returns a function that stops it."""
        self._queued.append(listener)
        return lambda: self._queued.remove(listener)

    def on_unreachable(self, hook: UnreachableHook) -> Callable[[], None]:
        """Run ``hook(user_id, now)`` for everyone marked unreachable; returns its remover.

        This is where unsubscribing lives: the runtime registers the subscriptions' removal
        here, so every path that learns someone blocked the bot (a direct reply, a broadcast)
        unsubscribes them the same way.
        """
        self._unreachable.append(hook)
        return lambda: self._unreachable.remove(hook)

    def take(self) -> int:
        """The generation now, to read before taking rows: :meth:`stopped` tells whether a
        row taken then may still be sent. What is stopped after it is remembered until
        :meth:`let_go` (as long as :meth:`hold` keeps it for a row on its way)."""
        return self.hold(self._generation)

    def hold(self, generation: int) -> int:
        """Remember what is stopped after ``generation`` until :meth:`let_go`: a row taken
        then is still on its way."""
        self._holding[generation] += 1
        return generation

    def let_go(self, generation: int) -> None:
        """A row taken at ``generation`` is no longer on its way (or none was taken)."""
        self._holding[generation] -= 1
        if self._holding[generation] <= 0:
            del self._holding[generation]
        # A person stopped at or before the oldest generation still held has nothing on its
        # way from before: forgotten. However many were stopped meanwhile (a retention run
        # erasing hundreds while a broadcast goes out), the others are kept.
        oldest = min(self._holding, default=self._generation)
        while self._stopped:
            user_id, stopped_at = next(iter(self._stopped.items()))
            if stopped_at > oldest:
                break
            del self._stopped[user_id]

    def stop_sending(self, user_id: int) -> None:
        """This person's rows that a worker took already are not to be sent as taken (they
        are being erased, or banned): the worker puts them back, and takes again those
        still pending once the change is committed. Call it inside the transaction that
        deletes or cancels their rows, before it commits: a worker looks here at the moment
        of sending, without a query. Should the transaction roll back, such a row is merely
        taken again."""
        self._generation += 1
        # Last in the order of generations (let_go forgets from the front).
        self._stopped.pop(user_id, None)
        self._stopped[user_id] = self._generation

    @property
    def generation(self) -> int:
        """The generation now: it moves with every :meth:`stop_sending` and
        :meth:`recheck` (what signs a row may have changed since)."""
        return self._generation

    def stopped_since(self, generation: int) -> bool:
        """Whether anyone was stopped, or rows are to be looked up and signed again, since
        ``generation`` (:meth:`take`)."""
        return self._generation > generation

    def stopped(self, user_id: int | None, generation: int) -> bool:
        """Whether a row of ``user_id``, taken at ``generation`` (:meth:`take`), was
        stopped since (see :meth:`stop_sending`)."""
        if user_id is None or not self._stopped:
            return False
        return self._stopped.get(user_id, 0) > generation

    def recheck(self) -> None:
        """Rows taken already are looked up again before they are sent (:meth:`rechecking`):
        something changed that this process learns of only from the database (an erasure
        by the operator's command, in another process)."""
        self._generation += 1
        self._recheck = self._generation

    def rechecking(self, generation: int) -> bool:
        """Whether a row taken at ``generation`` is to be looked up again before it is sent
        (see :meth:`recheck`)."""
        return self._recheck > generation

    def withhold_quotes(self, scrub: tuple[int, str], needles: Sequence[str]) -> None:
        """No message holding one of ``needles`` (an erased person's texts as messages
        quote them) is sent until the erasure's last steps ``scrub`` (its ``erasure_scrubs``
        id and created_at) removed such messages from the outbox, however they were taken:
        a worker looks here at the moment of sending, without a query. The erasure calls it
        in its transaction; :meth:`look_for_erasures` for erasures by other processes, and
        to learn that those steps are done."""
        if scrub not in self._withheld:
            self._withheld[scrub] = _Withheld(tuple(needles))

    def quotes_erased(self, payload: str, generation: int) -> bool:
        """Whether a row's stored messages (``payload``), taken at ``generation``, quote
        someone erased whose erasure's last steps have not removed them yet."""
        if not self._withheld:
            return False
        for withheld in self._withheld.values():
            if withheld.done_at is not None and generation >= withheld.done_at:
                continue  # taken after those rows were removed
            if withheld.starts and withheld.found_in(payload):
                return True
        return False

    async def look_for_erasures(self) -> None:
        """Learn of erasures committed since the last look, in this process or another (the
        operator's ``samenspel erase-person`` or ``samenspel retention`` beside the bot):
        rows taken before are looked up again before they are sent (:meth:`recheck`), and
        the texts of the erased are withheld until the erasure's last steps have removed
        the messages quoting them (:meth:`withhold_quotes`). Reads a row or two: delivery
        calls it every second or so, never per message."""
        async with self.db.committed():
            seen = int(await self.db.fetchval("SELECT COALESCE(MAX(id), 0) FROM erasures"))
            rows = await self.db.fetchall("SELECT id, created_at FROM erasure_scrubs")
            running = {(int(row[0]), str(row[1])) for row in rows}
            new = sorted(key for key in running if key not in self._withheld)
            found = []
            if new:
                found = await self.db.fetchall(
                    "SELECT id, created_at, quotes FROM erasure_scrubs"
                    " WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([scrub_id for scrub_id, _ in new]),),
                )
        for row in found:
            try:
                needles = [str(text) for text in json.loads(row[2])]
            except (TypeError, ValueError):
                needles = []
            self.withhold_quotes((int(row[0]), str(row[1])), needles)
        if self._erasures_seen >= 0 and seen != self._erasures_seen:
            self.recheck()
        self._erasures_seen = seen
        done = [
            key
            for key, withheld in self._withheld.items()
            if key not in running and withheld.done_at is None
        ]
        if done:
            # Rows taken from now on were read after those steps removed what they found.
            self._generation += 1
            for key in done:
                self._withheld[key].done_at = self._generation
        # Forgotten once no row taken before those steps were done is on its way.
        oldest = min(self._holding, default=self._generation)
        for key in [
            key
            for key, withheld in self._withheld.items()
            if withheld.done_at is not None and withheld.done_at <= oldest
        ]:
            del self._withheld[key]

    def _notify_queued(self) -> None:
        for listener in list(self._queued):
            listener()

    # Queueing -------------------------------------------------------------------------------

    async def enqueue(
        self,
        user_id: int,
        payload: Payload,
        *,
        kind: str,
        now: datetime,
        batch: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Queue messages for one person; returns how many rows were queued (0 or 1).

        Someone without a chat to reach (no consent, unreachable) gets nothing queued.
        """
        return await self.fan_out(
            [user_id], payload, kind=kind, now=now, batch=batch, expires_at=expires_at
        )

    async def keep_for_return(
        self, user_id: int, payload: Payload, *, kind: str, now: datetime
    ) -> int:
        """Keep messages for someone the bot cannot reach now, as a row that met the block
        (``unreachable``), so that they are shown when the person comes back (see
        :mod:`storage.returns`); returns how many rows were kept (0 for someone reachable:
        :meth:`enqueue` them, or without consent or a chat). Pruned as any row that met
        the block."""
        stamp = iso(now)
        return await self.db.execute_rowcount(
            "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, status,"
            " last_error, not_before, created_at) SELECT id, platform, chat_id, ?, ?,"
            " 'unreachable', 'kept until they are back', ?, ? FROM users WHERE id = ?"
            " AND chat_id IS NOT NULL AND consent_at IS NOT NULL"
            " AND unreachable_at IS NOT NULL",
            (json.dumps(payload, ensure_ascii=False), kind, stamp, stamp, user_id),
        )

    async def handed_over(self, row_id: int, now: datetime) -> bool:
        """A row that met the block was shown to its person after all (they came back);
        False if it was not such a row any more."""
        changed = await self.db.execute_rowcount(
            "UPDATE outbox SET status = 'sent', sent_at = ? WHERE id = ?"
            " AND status = 'unreachable'",
            (iso(now), row_id),
        )
        return changed == 1

    async def drop_kept(self, user_id: int, kind: str) -> int:
        """Cancel the rows of ``kind`` that met this person's block and wait for their
        return (they were banned: nothing of the others may reach them); returns how many.
        What they said goes with them (a contact line someone else typed for this person
        would otherwise stay in the row, and in this person's own export, until pruning)."""
        return await self.db.execute_rowcount(
            "UPDATE outbox SET status = 'cancelled', payload = '[]' WHERE user_id = ?"
            " AND kind = ? AND status = 'unreachable'",
            (user_id, kind),
        )

    async def withdraw_pending(self, user_id: int, kind: str, button: str) -> int:
        """Cancel this person's messages of ``kind`` not sent yet that offer the button
        ``button`` (its payload): what they ask can no longer be answered. Returns how many
        (0: it reached them already, or never went)."""
        return await self.db.execute_rowcount(
            "UPDATE outbox SET status = 'cancelled' WHERE user_id = ? AND kind = ?"
            " AND status = 'pending' AND EXISTS (SELECT 1 FROM json_tree(outbox.payload) t"
            " WHERE t.key = 'payload' AND t.type = 'text' AND t.atom = ?)",
            (user_id, kind, button),
        )

    async def fan_out(
        self,
        user_ids: Sequence[int],
        payload: Payload,
        *,
        kind: str,
        now: datetime,
        batch: str | None = None,
        author_user_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Queue the same messages for many people in one statement; returns rows queued.

        With ``author_user_id`` (and a ``batch``) the author sees the batch's progress and
        gets a report when it is done. Fan out one batch in one transaction: a batch is
        finished as soon as none of its rows is pending. Rows not sent by ``expires_at``
        (what they say is no longer true then) are cancelled, never sent.
        """
        if author_user_id is not None and batch is None:
            raise ValueError("a batch with an author needs a batch name")
        queued = 0
        if user_ids:
            queued = await self._insert(user_ids, payload, kind, now, batch, expires_at)
        if author_user_id is not None:
            await self.db.execute(
                "INSERT INTO outbox_batches (batch, author_user_id, total, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (batch) DO UPDATE"
                " SET total = total + excluded.total",
                (batch, author_user_id, queued, iso(now)),
            )
        if queued or author_user_id is not None:
            self._notify_queued()
        return queued

    async def hand_over(
        self,
        user_id: int,
        platform: str,
        chat_id: str,
        payload: Payload,
        *,
        kind: str,
        now: datetime,
        language: str,
        parts_sent: int = 0,
        dedupe_key: str | None = None,
    ) -> None:
        """Queue a direct reply the platform could not take when it was answered.

        It goes to the chat the person wrote from (they wrote, so no consent or reachability
        is asked of the users table), in the ``language`` it was answered in (a newcomer's
        choice is not in the users table before consent); ``parts_sent`` of its calls
        arrived already, and ``dedupe_key`` is the key its first try was sent under.
        """
        stamp = iso(now)
        await self.db.execute(
            "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, not_before,"
            " created_at, parts_sent, dedupe_key, language)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                platform,
                chat_id,
                json.dumps(payload, ensure_ascii=False),
                kind,
                stamp,
                stamp,
                parts_sent,
                dedupe_key,
                language,
            ),
        )
        self._notify_queued()

    async def _insert(
        self,
        user_ids: Sequence[int],
        payload: Payload,
        kind: str,
        now: datetime,
        batch: str | None,
        expires_at: datetime | None,
    ) -> int:
        stamp = iso(now)
        body = json.dumps(payload, ensure_ascii=False)
        await self.db.execute("CREATE TEMP TABLE IF NOT EXISTS fan_out_ids (id INTEGER)")
        await self.db.execute("DELETE FROM fan_out_ids")
        await self.db.executemany(
            "INSERT INTO fan_out_ids (id) VALUES (?)",
            ((uid,) for uid in set(user_ids)),
            long=True,
        )
        return await self.db.execute_rowcount(
            "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, batch,"
            " not_before, created_at, expires_at)"
            " SELECT u.id, u.platform, u.chat_id, ?, ?, ?, ?, ?, ? FROM users u"
            " JOIN fan_out_ids f ON f.id = u.id"
            " WHERE u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL"
            " AND u.unreachable_at IS NULL ORDER BY u.id",
            (body, kind, batch, stamp, stamp, iso(expires_at) if expires_at else None),
            long=True,
        )

    # Taking work ----------------------------------------------------------------------------

    async def due(
        self,
        platform: str,
        now: datetime,
        limit: int,
        skip: Collection[int] = (),
        *,
        busy: Collection[str] = (),
    ) -> list[Due]:
        """Up to ``limit`` pending rows of a platform that may be sent now, not in ``skip``.

        Single rows (a notification, a report) come before batch rows, oldest first; rows a
        worker already holds are passed in ``skip``, and the chats it is sending to now in
        ``busy``: their rows wait for that one, and must not fill the ``limit`` in place of
        other chats' rows (forty reports for one connector would hold up everyone else
        while her first is on its way). A direct reply that had to wait
        (``kind``: :data:`REPLY_KIND`) is not due while an older one for its chat is still
        pending (tried again later, or on its way): the person reads the answers to what
        they did in the order they did it.
        """
        stamp = iso(now)
        chats = sorted(set(busy))
        rows = await self.db.fetchall(
            "SELECT o.id, o.user_id, o.chat_id, o.payload, o.kind, o.batch, o.attempts,"
            " COALESCE(o.language, u.language), o.parts_sent, o.dedupe_key"
            " FROM outbox o LEFT JOIN users u ON u.id = o.user_id"
            " WHERE o.platform = ? AND o.status = 'pending' AND o.not_before <= ?"
            " AND (o.expires_at IS NULL OR o.expires_at > ?)"
            " AND NOT (o.kind = ? AND EXISTS (SELECT 1 FROM outbox p"
            " WHERE p.platform = o.platform AND p.chat_id = o.chat_id"
            " AND p.status = 'pending' AND p.kind = o.kind AND p.id < o.id))"
            " AND o.chat_id NOT IN (SELECT value FROM json_each(?))"
            " ORDER BY (o.batch IS NOT NULL), o.id LIMIT ?",
            (platform, stamp, stamp, REPLY_KIND, json.dumps(chats), limit + len(skip)),
            long=True,  # a window of rows, while the loop goes on sending
        )
        found = [
            Due.model_construct(
                id=row[0],
                user_id=row[1],
                chat_id=row[2],
                payload=row[3],
                kind=row[4],
                batch=row[5],
                attempts=row[6],
                language=row[7],
                parts_sent=row[8],
                dedupe_key=row[9],
            )
            for row in rows
            if row[0] not in skip
        ]
        return found[:limit]

    async def expiring(self, platform: str, now: datetime) -> bool:
        """Whether a pending row of a platform has expired (for :meth:`expire`)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE platform = ? AND status = 'pending'"
            " AND expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
            (platform, iso(now)),
        )
        return found is not None

    async def expire(
        self, platform: str, now: datetime, skip: Collection[int] = ()
    ) -> tuple[int, set[str]]:
        """Cancel the pending rows of a platform whose time passed before they were sent
        (rows a worker holds, in ``skip``, are left to it); returns how many, and their
        batches (each may be finished now: its report counts them as cancelled)."""
        held = ",".join(str(int(row_id)) for row_id in skip)
        rows = await self.db.fetchall(
            "UPDATE outbox SET status = 'cancelled', last_error = 'expired'"
            " WHERE platform = ? AND status = 'pending'"
            " AND expires_at IS NOT NULL AND expires_at <= ?"
            + (f" AND id NOT IN ({held})" if held else "")
            + " RETURNING batch",
            (platform, iso(now)),
        )
        return len(rows), {row[0] for row in rows if row[0] is not None}

    async def withdraw(
        self,
        batches: Collection[str],
        *,
        people: Collection[int] | None = None,
        why: str = WITHDRAWN,
    ) -> int:
        """Cancel the pending rows of these batches, because what they say stopped being
        true (a meeting moved or was cancelled); returns how many. A row a delivery worker
        already took goes out as it is; an author's report counts the others as cancelled.
        ``people``: only the rows of these people (it stopped being true for them alone).
        ``why``: the reason kept with them; only rows withdrawn as :data:`WITHDRAWN` may
        come back (:meth:`withdrawn_from`)."""
        among, of = _among(people, "user_id")
        cancelled = 0
        for batch in batches:
            cancelled += await self.db.execute_rowcount(
                "UPDATE outbox SET status = 'cancelled', last_error = ?"
                " WHERE batch = ? AND status = 'pending'" + among,
                (why, batch, *of),
            )
        return cancelled

    async def withdrawn_from(self, batch: str, user_id: int) -> bool:
        """Whether this person's messages of a batch were withdrawn before they reached
        them: one was, and none waits, went out, or waits for their return."""
        found = await self.db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE batch = ? AND user_id = ?"
            " AND status = 'cancelled' AND last_error = 'withdrawn')"
            " AND NOT EXISTS (SELECT 1 FROM outbox WHERE batch = ? AND user_id = ?"
            " AND status IN ('pending', 'sent', 'unreachable'))",
            (batch, user_id, batch, user_id),
        )
        return bool(found)

    async def people_withdrawn(self, batch: str) -> list[int]:
        """The people whose rows of a batch were all withdrawn before they reached them
        (:meth:`withdrawn_from`, for everyone at once)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT o.user_id FROM outbox o WHERE o.batch = ?"
            " AND o.status = 'cancelled' AND o.last_error = 'withdrawn'"
            " AND o.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox p"
            " WHERE p.batch = o.batch AND p.user_id = o.user_id"
            " AND p.status IN ('pending', 'sent', 'unreachable')) ORDER BY o.user_id",
            (batch,),
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def people_waiting(self, batch: str) -> list[int]:
        """The people for whom rows of a batch are still pending."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT user_id FROM outbox WHERE batch = ? AND status = 'pending'"
            " AND user_id IS NOT NULL ORDER BY user_id",
            (batch,),
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def rewrite(
        self,
        batch: str,
        payload: Payload,
        *,
        expires_at: datetime | None,
        reading: tuple[str, str] | None = None,
        people: Collection[int] | None = None,
    ) -> int:
        """Give the pending rows of a batch new messages (and a new moment they expire), for
        the rows none of whose messages went out yet; returns how many were changed. Each
        row keeps its place in its chat's queue.

        ``reading=(language, default)``: only the rows of people who read ``language`` now
        (``default`` when they chose none), for a batch queued in each reader's language.
        ``people``: only the rows of these people (a batch whose rows say different things
        to different people).
        """
        where = ""
        params: tuple[str, ...] = ()
        if reading is not None:
            where = (
                " AND COALESCE((SELECT u.language FROM users u WHERE u.id = outbox.user_id), ?)"
                " = ?"
            )
            params = (reading[1], reading[0])
        among, of = _among(people, "outbox.user_id")
        return await self.db.execute_rowcount(
            "UPDATE outbox SET payload = ?, expires_at = ?"
            " WHERE batch = ? AND status = 'pending' AND parts_sent = 0" + where + among,
            (
                json.dumps(payload, ensure_ascii=False),
                iso(expires_at) if expires_at else None,
                batch,
                *params,
                *of,
            ),
            long=True,  # every invitation of a poll still waiting
        )

    async def languages_waiting(
        self, batch: str, default: str, people: Collection[int] | None = None
    ) -> list[str]:
        """The languages the people read (``default`` for who chose none) for whom rows of a
        batch are still pending, none of whose messages went out yet (what :meth:`rewrite`
        with ``reading`` changes); with ``people``, among these people only."""
        among, of = _among(people, "o.user_id")
        rows = await self.db.fetchall(
            "SELECT DISTINCT COALESCE(u.language, ?) FROM outbox o"
            " JOIN users u ON u.id = o.user_id"
            " WHERE o.batch = ? AND o.status = 'pending' AND o.parts_sent = 0"
            + among
            + " ORDER BY 1",
            (default, batch, *of),
            long=True,
        )
        return [str(row[0]) for row in rows]

    async def partly_sent(
        self, batch: str, default: str, people: Collection[int] | None = None
    ) -> list[PartlySent]:
        """Pending rows of a batch some of whose messages went out already (a platform asked
        to wait between them), of ``people`` only when given."""
        among, of = _among(people, "o.user_id")
        rows = await self.db.fetchall(
            "SELECT o.id, o.payload, o.parts_sent, COALESCE(o.language, u.language, ?) AS lang,"
            " o.expires_at FROM outbox o LEFT JOIN users u ON u.id = o.user_id"
            " WHERE o.batch = ? AND o.status = 'pending' AND o.parts_sent > 0"
            + among
            + " ORDER BY o.id",
            (default, batch, *of),
        )
        return [
            PartlySent(
                row_id=int(row["id"]),
                payload=json.loads(row["payload"]),
                sent=int(row["parts_sent"]),
                language=str(row["lang"]),
                expires_at=parse(row["expires_at"]),
            )
            for row in rows
        ]

    async def set_messages(self, row_id: int, payload: Payload) -> None:
        """Give one pending row other messages; those already sent are among them as they
        were (its count of messages sent stays)."""
        await self.db.execute(
            "UPDATE outbox SET payload = ? WHERE id = ? AND status = 'pending'",
            (json.dumps(payload, ensure_ascii=False), row_id),
        )

    async def expire_with(
        self, batch: str, expires_at: datetime | None, people: Collection[int] | None = None
    ) -> int:
        """Let every pending row of a batch (of ``people`` only, when given) expire at
        ``expires_at`` (what it says holds until then: a poll's new closing time), those
        partly sent too; returns how many."""
        among, of = _among(people, "user_id")
        return await self.db.execute_rowcount(
            "UPDATE outbox SET expires_at = ? WHERE batch = ? AND status = 'pending'" + among,
            (iso(expires_at) if expires_at else None, batch, *of),
        )

    async def due_for_chat(self, platform: str, chat_id: str, now: datetime) -> int:
        """How many pending rows for one chat may be sent now."""
        found = await self.db.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE platform = ? AND chat_id = ?"
            " AND status = 'pending' AND not_before <= ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (platform, chat_id, iso(now), iso(now)),
        )
        return int(found)

    async def waiting(self, row_id: int) -> bool:
        """Whether a row is still pending (not withdrawn since it was taken: its person
        erased, or it quoted what its author deleted)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE id = ? AND status = 'pending'", (row_id,)
        )
        return found is not None

    async def chats_waiting_for(self, kind: str) -> set[tuple[str, str]]:
        """(platform, chat id) of every chat with a pending row of ``kind``."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT platform, chat_id FROM outbox WHERE status = 'pending' AND kind = ?",
            (kind,),
        )
        return {(row[0], row[1]) for row in rows}

    async def chat_waits_for(self, platform: str, chat_id: str, kind: str) -> bool:
        """Whether a chat has a pending row of ``kind``."""
        found = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE platform = ? AND chat_id = ? AND status = 'pending'"
            " AND kind = ? LIMIT 1",
            (platform, chat_id, kind),
        )
        return found is not None

    async def waiting_since(self, platform: str, chat_id: str) -> datetime | None:
        """When the oldest pending row for one chat was queued (None: nothing pending)."""
        return parse(
            await self.db.fetchval(
                "SELECT MIN(created_at) FROM outbox WHERE platform = ? AND chat_id = ?"
                " AND status = 'pending'",
                (platform, chat_id),
            )
        )

    async def next_due(self, platform: str) -> datetime | None:
        """When the earliest pending row of a platform may be sent (None: nothing pending)."""
        return parse(
            await self.db.fetchval(
                "SELECT MIN(not_before) FROM outbox WHERE platform = ? AND status = 'pending'",
                (platform,),
            )
        )

    # Recording what happened ----------------------------------------------------------------

    async def record_sent(self, row_ids: Sequence[int], now: datetime) -> None:
        """Mark rows sent in one transaction of its own: the bulk of a broadcast, cheaply."""
        if not row_ids:
            return
        ids = ",".join(str(int(row_id)) for row_id in row_ids)
        await self.db.atomic_script(
            f"UPDATE outbox SET status = 'sent', sent_at = '{iso(now)}',"
            f" attempts = attempts + 1, last_error = NULL WHERE id IN ({ids});"
        )

    async def settle(self, platform: str, outcome: Settlement, now: datetime) -> list[Batch]:
        """Record what happened to sent rows; returns the batches this finished.

        Run it inside a transaction: an unreachable person is marked (and their hooks run)
        together with their rows.
        """
        stamp = iso(now)
        if outcome.sent:
            await self.db.executemany(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE id = ?",
                ((stamp, row_id) for row_id in outcome.sent),
                long=True,
            )
        # A row withdrawn while it was on its way (its reader voted or answered first, left
        # the experiment) and that did not get through keeps why it was withdrawn: the
        # author's report and what may come back go by it.
        if outcome.retry:
            await self.db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ?"
                " WHERE id = ? AND status = 'pending'",
                ((iso(until), error[:500], row_id) for row_id, until, error in outcome.retry),
            )
        if outcome.failed:
            await self.db.executemany(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1,"
                " last_error = ? WHERE id = ? AND status = 'pending'",
                ((error[:500], row_id) for row_id, error in outcome.failed),
            )
        batches = set(outcome.batches)
        for row_id, chat_id, error in outcome.unreachable:
            # Their rows waiting behind this one are marked with them: the batches of
            # those may be done now as well.
            rows = await self.db.fetchall(
                "SELECT DISTINCT batch FROM outbox WHERE platform = ? AND chat_id = ?"
                " AND status = 'pending' AND batch IS NOT NULL",
                (platform, chat_id),
            )
            batches |= {row[0] for row in rows}
            # The person first, while the row that met the block still counts as waiting
            # for them: what they missed begins with it.
            await self.mark_chat_unreachable(platform, chat_id, now, error)
            await self.db.execute(
                "UPDATE outbox SET status = 'unreachable', attempts = attempts + 1,"
                " last_error = ? WHERE id = ?",
                (error[:500], row_id),
            )
        if outcome.parts:
            # Counted in the messages that were sent: a row given other messages meanwhile
            # (a poll's closing time moved while it was on its way, see :meth:`rewrite` and
            # :meth:`set_messages`) keeps the count its new messages were made for, so the
            # next try sends them from there rather than skip a part of them by an index
            # into the old ones. A part that arrived may come again; none is left out.
            await self.db.executemany(
                "UPDATE outbox SET parts_sent = ? WHERE id = ? AND status = 'pending'"
                " AND payload = ?",
                ((parts, row_id, sent) for row_id, parts, sent in outcome.parts),
            )
        for chat_id, until in outcome.holds:
            await self.hold_chat(platform, chat_id, until)
        finished = []
        # Only batches that may be done now: no row of theirs still in the caller's hands.
        for batch in sorted(batches):
            done = await self.finish_if_done(batch, now)
            if done is not None:
                finished.append(done)
        return finished

    async def hold_chat(self, platform: str, chat_id: str, until: datetime) -> int:
        """Let no pending row of this chat go before ``until``; returns rows held."""
        stamp = iso(until)
        return await self.db.execute_rowcount(
            "UPDATE outbox SET not_before = ? WHERE platform = ? AND chat_id = ?"
            " AND status = 'pending' AND not_before < ?",
            (stamp, platform, chat_id, stamp),
        )

    async def release_chat(self, platform: str, chat_id: str, now: datetime) -> int:
        """Let every pending row of this chat go now (its person just opened the chat)."""
        stamp = iso(now)
        return await self.db.execute_rowcount(
            "UPDATE outbox SET not_before = ? WHERE platform = ? AND chat_id = ?"
            " AND status = 'pending' AND not_before > ?",
            (stamp, platform, chat_id, stamp),
        )

    async def mark_chat_unreachable(
        self, platform: str, chat_id: str, now: datetime, reason: str = "blocked"
    ) -> list[int]:
        """Whoever is reached in this chat blocked the bot: mark them, drop their pending rows.

        Someone reachable until now is away from here on, or from the oldest message still
        waiting for them if that is older (``users.away_since``: coming back, they hear
        what they missed since). Runs the :meth:`on_unreachable` hooks (unsubscribe) for
        each person; returns their ids. Call it inside a transaction.
        """
        stamp = iso(now)
        rows = await self.db.fetchall(
            "UPDATE users SET unreachable_at = ?1, away_since = CASE"
            " WHEN unreachable_at IS NOT NULL THEN COALESCE(away_since, unreachable_at)"
            " ELSE MIN(?1, COALESCE((SELECT MIN(o.created_at) FROM outbox o"
            " WHERE o.platform = ?2 AND o.chat_id = ?3 AND o.status = 'pending'), ?1)) END"
            " WHERE platform = ?2 AND chat_id = ?3 RETURNING id",
            (stamp, platform, chat_id),
        )
        await self.db.execute(
            "UPDATE outbox SET status = 'unreachable', last_error = ?"
            " WHERE platform = ? AND chat_id = ? AND status = 'pending'",
            (reason[:500], platform, chat_id),
        )
        user_ids = [int(row[0]) for row in rows]
        for user_id in user_ids:
            for hook in list(self._unreachable):
                await hook(user_id, now)
        return user_ids

    # Batches --------------------------------------------------------------------------------

    async def batch_counts(self, batch: str) -> dict[str, int]:
        """How many rows of a batch are in each status."""
        rows = await self.db.fetchall(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE batch = ? GROUP BY status", (batch,)
        )
        return {row["status"]: int(row["n"]) for row in rows}

    async def done_first(self, batch: str) -> int:
        """How many rows of a batch were not sent because their reader did what it asked
        before it reached them (:data:`DONE_FIRST`)."""
        found = await self.db.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE batch = ? AND status = 'cancelled'"
            " AND last_error = ?",
            (batch, DONE_FIRST),
        )
        return int(found)

    async def batch(self, batch: str) -> Batch | None:
        """A batch with an author, or None."""
        row = await self.db.fetchone("SELECT * FROM outbox_batches WHERE batch = ?", (batch,))
        return _batch(row) if row else None

    async def finish_if_done(self, batch: str, now: datetime) -> Batch | None:
        """Close a batch none of whose rows is pending, with its figures; None otherwise.

        Returns the batch only to the one caller that closed it (for the author's report).
        """
        still_pending = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE batch = ? AND status = 'pending' LIMIT 1", (batch,)
        )
        if still_pending:
            return None
        counts = await self.batch_counts(batch)
        row = await self.db.fetchone(
            "UPDATE outbox_batches SET finished_at = ?, delivered = ?, unreachable = ?,"
            " failed = ?, cancelled = ? WHERE batch = ? AND finished_at IS NULL RETURNING *",
            (
                iso(now),
                counts.get("sent", 0),
                counts.get("unreachable", 0),
                counts.get("failed", 0),
                counts.get("cancelled", 0),
                batch,
            ),
        )
        return _batch(row) if row else None

    async def open_batches(self, platform: str) -> list[BatchProgress]:
        """Batches whose author is on this platform and whose progress is still to be shown.

        That is: batches still running, and finished ones whose progress message does not
        show the end yet.
        """
        rows = await self.db.fetchall(
            # From the batches (a few a day) to their authors: CROSS JOIN keeps SQLite
            # from reading every resident of the platform first (0.4 s at a million).
            "SELECT b.*, u.chat_id AS author_chat_id, u.language AS author_language"
            " FROM outbox_batches b CROSS JOIN users u ON u.id = b.author_user_id"
            " WHERE u.platform = ? AND u.chat_id IS NOT NULL AND ("
            " b.finished_at IS NULL"
            " OR (b.progress_ref IS NOT NULL AND b.progress_shown < b.total))"
            " ORDER BY b.created_at",
            (platform,),
        )
        progress = []
        for row in rows:
            batch = _batch(row)
            progress.append(
                BatchProgress(
                    batch=batch,
                    author_chat_id=row["author_chat_id"],
                    author_language=row["author_language"],
                    counts=await self.batch_counts(batch.batch),
                )
            )
        return progress

    async def authorless_batches(self) -> list[str]:
        """Batches still running that have no author any more (erased, or no longer allowed
        to send them): no progress round closes them (:meth:`open_batches` lists none), so
        one whose last rows went another way than through a worker (cancelled, erased)
        is closed by asking for these."""
        rows = await self.db.fetchall(
            "SELECT batch FROM outbox_batches WHERE finished_at IS NULL"
            " AND author_user_id IS NULL ORDER BY created_at"
        )
        return [str(row[0]) for row in rows]

    async def leave_batches(self, author_user_id: int, prefix: str) -> int:
        """Take ``author_user_id`` off their batches (named ``prefix``...) still going out or
        with progress still to show: someone who may no longer send them is shown no
        progress and no report; the batches go on. Returns how many.

        A report of such a batch that waits to be sent is withdrawn too: it was queued when
        the batch finished, in the same transaction (so at the moment it finished)."""
        await self.db.execute(
            "UPDATE outbox SET status = 'cancelled', last_error = 'withdrawn'"
            " WHERE user_id = ?1 AND kind = 'report' AND status = 'pending'"
            " AND created_at IN (SELECT finished_at FROM outbox_batches"
            " WHERE author_user_id = ?1 AND substr(batch, 1, length(?2)) = ?2"
            " AND finished_at IS NOT NULL)",
            (author_user_id, prefix),
        )
        return await self.db.execute_rowcount(
            "UPDATE outbox_batches SET author_user_id = NULL, progress_ref = NULL"
            " WHERE author_user_id = ? AND substr(batch, 1, length(?)) = ?"
            " AND (finished_at IS NULL OR (progress_ref IS NOT NULL AND progress_shown < total))",
            (author_user_id, prefix, prefix),
        )

    async def show_progress(self, batch: str, ref: str | None, shown: int) -> None:
        """Remember the progress message of a batch and the count it shows, while it has
        an author (one erased while it was on its way is not pointed at again)."""
        await self.db.execute(
            "UPDATE outbox_batches SET progress_ref = ?, progress_shown = ? WHERE batch = ?"
            " AND author_user_id IS NOT NULL",
            (ref, shown, batch),
        )

    # Pruning --------------------------------------------------------------------------------

    async def prune(self, before: datetime) -> int:
        """Delete rows whose life ended before ``before`` (sent, or given up on); returns
        how many. Rows of a batch still running, or whose progress is still to be shown,
        stay until it is done.

        A thousand rows per transaction of its own (a nested call joins the caller's), so
        nobody waits long for the lock. Rows are walked in the order they were queued and
        the walk ends at the first one queued after ``before``.
        """
        stamp = iso(before)
        after, pruned = 0, 0
        while True:
            async with self.db.transaction():
                rows = await self.db.fetchall(
                    "SELECT id, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                    (after, PRUNE_CHUNK),
                )
                if not rows:
                    return pruned
                after = int(rows[-1]["id"])
                ids = ",".join(str(int(row["id"])) for row in rows)
                # The newest row stays, so a row id is never given out twice (a platform
                # may know a message by its row's id).
                pruned += await self.db.execute_rowcount(
                    f"DELETE FROM outbox WHERE id IN ({ids}) AND status IN {_DONE}"
                    " AND COALESCE(sent_at, created_at) < ?"
                    f" AND (batch IS NULL OR NOT {_BATCH_IN_USE})"
                    " AND id < (SELECT MAX(id) FROM outbox)",
                    (stamp,),
                )
            if rows[-1]["created_at"] >= stamp or len(rows) < PRUNE_CHUNK:
                return pruned

    # Reading --------------------------------------------------------------------------------

    async def for_user(self, user_id: int) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM outbox WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [_row(row) for row in rows]

    async def status_counts(self, platform: str | None = None) -> dict[str, int]:
        """How many rows are in each status (of one platform, or all)."""
        if platform is None:
            rows = await self.db.fetchall(
                "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"
            )
        else:
            rows = await self.db.fetchall(
                "SELECT status, COUNT(*) AS n FROM outbox WHERE platform = ? GROUP BY status",
                (platform,),
            )
        return {row["status"]: int(row["n"]) for row in rows}


def _among(people: Collection[int] | None, column: str) -> tuple[str, tuple[str, ...]]:
    """A condition keeping the rows of ``people`` (none when None), with its parameter."""
    if people is None:
        return "", ()
    return f" AND {column} IN (SELECT value FROM json_each(?))", (json.dumps(sorted(people)),)


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
        sent_at=parse(row["sent_at"]),
    )


def _batch(row: Any) -> Batch:
    return Batch(
        batch=row["batch"],
        author_user_id=row["author_user_id"],
        total=row["total"],
        progress_ref=row["progress_ref"],
        progress_shown=row["progress_shown"],
        created_at=parse(row["created_at"]),
        finished_at=parse(row["finished_at"]),
        delivered=row["delivered"],
        unreachable=row["unreachable"],
        failed=row["failed"],
        cancelled=row["cancelled"],
    )
