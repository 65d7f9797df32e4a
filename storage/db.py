"""The SQLite database: one writer connection, WAL, foreign keys, numbered migrations.

Every change happens inside :meth:`Database.transaction`, which serialises writers on one
connection (SQLite has one writer anyway) and commits or rolls back as a whole.

Statements run on the event loop's own thread. The statements of a chat event are short
(an indexed row or a page of a list: a few microseconds in SQLite), and handing one to a
worker thread and back costs about 200 microseconds on a small machine, 50 times the
statement, mostly in waking threads and passing the interpreter lock; an event is a few
statements, so those hand-overs would be most of what it costs. Statements that read or
write many rows (exports, statistics, a broadcast's recipients, retention, rebuilding the
search index) say ``long=True`` and run on aiosqlite's thread on the same connection, so the
loop goes on serving everyone else meanwhile; other statements wait until that one is done.

A transaction takes SQLite's write lock (``BEGIN IMMEDIATE``) only at its first write: a
unit of work that only reads (a tap in a list, a card) needs no BEGIN and no COMMIT.

Group commit: a commit on the file (the write lock taken, the changed pages written to the
log, the lock released) costs more than most events' own work. When units of work wait for
their turn, the one that is done leaves its transaction open for them, each writes in a
savepoint of its own, and one commit saves them all; every unit returns (and its answer goes
out) only once that commit is done. Under light load nobody waits and each unit commits at
once. See :meth:`Database.transaction`.

SQLite's own checkpoint (copying the write-ahead log into the database file, with an
fsync) would run inside a commit now and then, on the loop's thread, holding every
conversation up for 5-15 ms. So the log is copied by a connection of its own on another
thread, every :data:`CHECKPOINT_EVERY` commits, while the loop goes on: the bulk without
holding anyone up, then the few pages written meanwhile and the restart of the log while
this process's transactions wait (a millisecond or two; up to about 25 ms on a busy shared
machine, where its fsync waits for the disk).

After an erasure the log is emptied altogether (:meth:`Database.truncate_log`): it holds
old copies of the pages it changed, erased words included, which a restart of the log
leaves in the file until they happen to be overwritten.

Work that must follow a transaction but not hold everyone up inside it (scrubbing an erased
person's words from other rows) is started with :meth:`Database.after_commit` and runs in
the background; :meth:`Database.settled` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

#: Background work started after a commit (see :meth:`Database.after_commit`).
Job = Callable[[], Awaitable[object]]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: The first line of a migration that builds tables again which other tables refer to (see
#: :meth:`Database.migrate`).
REBUILDS_TABLES = "-- rebuilds tables"
#: How long a transaction waits for another process that holds the write lock.
BUSY_TIMEOUT_MS = 5000
#: Units of work committed (a group commit counts each of its units) after which the
#: write-ahead log is copied into the database file. A checkpoint
#: costs much the same however many commits it copies: two fsyncs (a few milliseconds
#: each), two connections opened, the restart of the log while writers wait, and the cache
#: of pages dropped afterwards; and the pages written most (a person's row, the dialogs)
#: are copied once however often they were written. So fewer, larger ones: at an event's
#: one to seven pages a commit the log grows to about 16 MB (SQLite's own automatic
#: checkpoint would come after 1,000 pages, 4 MB). Every 250 commits cost bench.core about
#: a tenth of its events/s on a quiet machine and a quarter on a busy one.
CHECKPOINT_EVERY = 1000
#: Group commit (see :meth:`Database.transaction`): at most this many units share one
#: commit, and a group stays open at most this long for the next unit. A commit on the file
#: (taking SQLite's write lock, writing the pages to the log, releasing it) cost more than
#: most events' own work; units waiting behind one another now share it, and their reads
#: need no read lock of their own. Under light load nobody waits and every unit commits
#: at once; under heavy load an answer waits at most this long for its commit.
GROUP_UNITS = 32
GROUP_SECONDS = 0.01
#: How long the restart of the log waits for readers of the old log (another process's)
#: while this process's writers wait for it; past that it is left to the next checkpoint.
RESTART_WAIT_MS = 20
#: How soon an emptying of the log that found it in use is tried again (at a commit).
TRUNCATE_RETRY_S = 1.0
#: SQLite's primary result codes that mean "nothing can be saved right now".
_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


class DatabaseError(Exception):
    """The database cannot be opened or migrated."""


class StorageUnavailable(Exception):
    """A write could not be saved right now (disk full, read-only file)."""


def migrations() -> list[tuple[int, str, str]]:
    """The numbered migrations shipped in ``storage/migrations``, in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..n: {numbers}")
    return found


def _casefold(text: str | None) -> str | None:
    return text.casefold() if isinstance(text, str) else None


async def connect(
    target: str, *, uri: bool = False
) -> tuple[sqlite3.Connection, aiosqlite.Connection]:
    """A connection as :class:`Database` uses it (autocommit outside transactions), and
    aiosqlite's thread over the same connection for long statements.

    The connection is used from two threads, never at once: :class:`Database` lets no
    statement start on the loop's thread while one runs on aiosqlite's.
    """
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    # SQLite's own LIKE and lower() fold ASCII letters only: a search in Cyrillic, Turkish
    # or Polish folds its text with this.
    conn.create_function("casefold", 1, _casefold, deterministic=True)
    worker = aiosqlite.Connection(lambda: conn, iter_chunk_size=64)
    try:
        await worker
    except BaseException:
        conn.close()
        raise
    return conn, worker


#: The tables of a database file, SQLite's own left out.
TABLE_NAMES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite^_%' ESCAPE '^'"
)


def foreign_tables(tables: list[str]) -> list[str]:
    """The tables of a file that is not the bot's database (it has tables, but none of them
    is ``schema_version``, which the bot's first migration makes); [] for the bot's own
    database or an empty file."""
    return [] if not tables or "schema_version" in tables else sorted(tables)


def not_ours(path: str | Path, tables: list[str]) -> str:
    """What the operator reads about a file that is not the bot's database."""
    shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
    return (
        f"{path} is not a Samenspel database: it holds other tables ({shown}) and no"
        " schema_version; set SAMENSPEL_DB to the bot's database or a new file"
    )


class Database:
    """An open SQLite file with the schema up to date."""

    def __init__(self, conn: sqlite3.Connection, worker: aiosqlite.Connection, path: str):
        self.conn = conn
        #: aiosqlite's thread over ``conn``, for statements with ``long=True``.
        self.worker = worker
        self.path = path
        #: Set while no statement runs on the worker thread.
        self._worker_idle = asyncio.Event()
        self._worker_idle.set()
        #: Commits since the last checkpoint, and the checkpoint running now, if any.
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None
        self._closing = False
        #: Seconds a transaction waits for another process's write lock before giving up.
        self.busy_wait = BUSY_TIMEOUT_MS / 1000
        self._write_lock = asyncio.Lock()
        #: The task whose transaction is open: only it joins that transaction when nesting;
        #: every other task waits for the lock (one connection, one transaction at a time).
        self._owner: asyncio.Task[Any] | None = None
        #: The owner is in :meth:`transaction` (not :meth:`read_only` or :meth:`committed`):
        #: its first write begins SQLite's transaction.
        self._in_transaction_unit = False
        #: Jobs the open transaction starts once it is committed, and those running.
        self._after_commit: list[Job] = []
        self._jobs: set[asyncio.Task[None]] = set()
        #: Group commit (see :meth:`transaction`): the units done whose transaction is
        #: still open, each with what it waits on and what it starts once committed; since
        #: when; and how many units wait for their turn.
        self._pending: list[tuple[asyncio.Future[None], list[Job]]] = []
        self._group_since = 0.0
        self._units_waiting = 0
        self._closing_group = False
        #: The unit running now joined a group, and has taken its savepoint (at its first
        #: write).
        self._joined = False
        self._savepoint = False
        #: The group the running unit joined was committed early and that commit failed:
        #: the unit may have read what was lost, so it fails as well.
        self._lost: StorageUnavailable | None = None
        #: The log is to be emptied (an erasure happened), and when to try that again.
        self._truncate_owed = False
        self._truncate_retry_at = 0.0

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (or create) the database file and apply pending migrations."""
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn, worker = await connect(target)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {target}: {exc}") from exc
        db = cls(conn, worker, target)
        try:
            # Start-up may wait for another process's lock and migrate a large file: on
            # the worker thread, as long statements are.
            await db._configure()
            await db.migrate()
        except sqlite3.Error as exc:
            # Not a database, a read-only volume, a full disk: the operator's problem to
            # solve, said in one line, not a trace.
            await worker.close()
            raise DatabaseError(_cannot_use(target, exc)) from exc
        except BaseException:
            await worker.close()
            raise
        # From here on, waiting for another process's lock happens in _until_not_busy(),
        # where the wait is bounded by busy_wait and other work goes on meanwhile.
        conn.execute("PRAGMA busy_timeout = 0")
        return db

    async def _refuse_foreign(self) -> None:
        """Refuse another program's database (``SAMENSPEL_DB`` set to the wrong file):
        migrating it would put the bot's tables among its own and switch it to WAL."""
        if self.path == ":memory:":
            return
        foreign = foreign_tables(
            [row[0] for row in await self.worker.execute_fetchall(TABLE_NAMES)]
        )
        if foreign:
            raise DatabaseError(not_ours(self.path, foreign))

    async def _configure(self) -> None:
        await self.worker.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            await self._refuse_foreign()  # before anything of it is changed
            await self.worker.execute("PRAGMA journal_mode = WAL")
            # Checkpoints happen off the loop's thread (see _committed); SQLite still
            # checkpoints when the last connection to the file closes.
            await self.worker.execute("PRAGMA wal_autocheckpoint = 0")
        await self.worker.execute("PRAGMA synchronous = NORMAL")
        await self.worker.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten, so an erased person's data does not linger in the file.
        await self.worker.execute("PRAGMA secure_delete = ON")

    async def close(self) -> None:
        # Background work finishes first (an erasure's last steps, which empty the log).
        await self.settled()
        self._closing = True  # no checkpoint starts any more; closing makes the last one
        await self.settled()
        async with self._write_lock:
            await self._worker_done()
            self._settle_group()
            if self._truncate_owed:
                # Another process kept the log in use (an operator's command beside the bot,
                # or the bot beside one): closing does not empty a log others still use, so
                # try once more, waiting as long as a transaction would.
                try:
                    await asyncio.to_thread(_checkpoint, self.path, "TRUNCATE", BUSY_TIMEOUT_MS)
                except sqlite3.Error as exc:
                    log.warning("emptying the log at close failed error=%s", exc)
            await self.worker.close()

    def _committed(self, weight: int = 1) -> None:
        """Count a commit; every so many, copy the log into the file on another thread."""
        self._commits += weight
        if self._checkpoint is not None or self.path == ":memory:" or self._closing:
            return
        owed = self._truncate_owed and time.monotonic() >= self._truncate_retry_at
        if self._commits < CHECKPOINT_EVERY and not owed:
            return
        self._commits = 0
        self._checkpoint = asyncio.create_task(self._copy_log(), name="checkpoint")

    async def _copy_log(self) -> None:
        """Copy the log into the file, then start it afresh (see the module's docstring);
        empty it as well when that is owed."""
        truncate = self._truncate_owed
        try:
            # The bulk, while writers go on: a passive checkpoint never waits for them.
            await asyncio.to_thread(_checkpoint, self.path, "PASSIVE", 0)
            # What was written meanwhile (a few pages), and the restart of the log, with no
            # writer of this process in the way: otherwise a steady stream of commits
            # would keep it from ever restarting, and the log would grow without end.
            async with self._write_lock:
                await self._worker_done()
                self._settle_group()
                mode = "TRUNCATE" if truncate else "RESTART"
                done = await asyncio.to_thread(_checkpoint, self.path, mode, RESTART_WAIT_MS)
            if truncate and done:
                self._truncate_owed = False
            elif truncate:
                # Someone (another process) still reads an older snapshot: try again soon.
                self._truncate_retry_at = time.monotonic() + TRUNCATE_RETRY_S
                log.info("emptying the log postponed: it is in use")
        except sqlite3.Error as exc:
            # The log keeps what it holds; the next checkpoint copies it.
            log.warning("checkpoint failed error=%s", exc)
        finally:
            self._checkpoint = None

    async def truncate_log(self) -> bool:
        """Copy the whole log into the file and empty it; returns whether it was emptied.

        After an erasure: the log keeps old copies of the pages it changed, with the erased
        words. The bulk is copied while everyone goes on; this process's writers wait only
        for the last few pages and the truncation. When another process still reads an
        older snapshot, the log is emptied at a later commit instead (and at close).
        """
        if self.path == ":memory:":
            return True
        self._truncate_owed = True
        await self.checkpoint()
        return not self._truncate_owed

    async def checkpoint(self) -> None:
        """Copy the log into the file and start it afresh now (as every so many commits).

        For work that writes much in many small transactions (an erasure's last steps): the
        log then stays small, and so does what emptying it afterwards holds up.
        """
        while self._checkpoint is not None:
            await self._checkpoint
        if self._closing or self.path == ":memory:":
            return
        self._commits = 0
        self._checkpoint = asyncio.create_task(self._copy_log(), name="checkpoint")
        await self._checkpoint

    async def sync(self) -> None:
        """Make what is committed survive a power loss, not only a crash of this process.

        With ``synchronous = NORMAL`` a commit reaches the operating system, not the disk:
        enough for everything the bot itself decides, which a power loss rolls back as one.
        What the bot promises a third party it keeps (Telegram forgets an update it was told
        is stored) is flushed to the disk with this first, on another thread.
        """
        if self.path == ":memory:":
            return
        await asyncio.to_thread(_fsync, self.path + "-wal")

    # Background work after a commit ---------------------------------------------------------

    def after_commit(self, job: Job) -> None:
        """Start ``job`` in the background once the current transaction is committed.

        It is dropped if the transaction rolls back; outside a transaction it starts now.
        A job does its own units of work; :meth:`settled` waits for it, and so does
        :meth:`close`.
        """
        if self._in_own_unit() and self._in_transaction_unit:
            self._after_commit.append(job)
        else:
            self._start(job)

    def _start(self, job: Job) -> None:
        async def run() -> None:
            try:
                await job()
            except Exception:
                log.exception("background work after a commit failed")

        task = asyncio.create_task(run(), name="after-commit")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def settled(self) -> None:
        """Wait until background work started after commits, and any checkpoint, are done."""
        while self._jobs or self._checkpoint is not None:
            await asyncio.gather(*self._jobs, *([self._checkpoint] if self._checkpoint else []))

    async def schema_version(self) -> int:
        await self.worker.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        )
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    async def _broken_references(self) -> Counter[tuple[str, str]]:
        """Rows whose reference points at nothing, counted per (table, table referred to)."""
        rows = await self.worker.execute_fetchall("PRAGMA foreign_key_check")
        return Counter((str(row[0]), str(row[2])) for row in rows)

    async def migrate(self) -> list[str]:
        """Apply every migration newer than the recorded version, each in one transaction."""
        applied = []
        current = await self.schema_version()
        shipped = migrations()
        known = shipped[-1][0] if shipped else 0
        if current > known:
            # An older release on a file a newer one migrated (going back to the previous
            # image after an upgrade): its statements would meet columns and tables it
            # does not know, and write rows the newer release would misread.
            raise DatabaseError(
                f"{self.path} was written by a newer Samenspel (schema {current}; this one"
                f" knows up to {known}): run that release again, or restore a backup made"
                " before it"
            )
        for number, name, script in shipped:
            if number <= current:
                continue
            record = f"INSERT INTO schema_version (version, name) VALUES ({number}, '{name}');"
            rebuilds = script.startswith(REBUILDS_TABLES)
            if rebuilds:
                # SQLite's way of changing a table that others refer to ("Making Other Kinds
                # Of Table Schema Changes" in its ALTER TABLE page): with foreign keys on,
                # dropping the old table would first delete its rows, and with them (ON
                # DELETE CASCADE) every row that refers to them. The pragma does nothing
                # inside a transaction, so it is switched off before and on again after;
                # every reference is checked before the commit instead.
                await self.worker.execute("PRAGMA foreign_keys = OFF")
            try:
                # References broken before (a row written while foreign keys were off, in
                # the sqlite3 shell where they are off by default) are not the rebuild's
                # doing: they are logged, and only new ones stop the migration.
                before = await self._broken_references() if rebuilds else Counter()
                await self.worker.executescript(f"BEGIN IMMEDIATE;\n{script}\n{record}")
                if rebuilds:
                    after = await self._broken_references()
                    if after - before:
                        found = ", ".join(
                            f"{n} in {table} -> {parent}"
                            for (table, parent), n in sorted((after - before).items())[:5]
                        )
                        raise DatabaseError(f"migration {name} broke references: {found}")
                    if before:
                        log.warning(
                            "references broken before migration %s, kept as they were:"
                            " rows=%d tables=%s",
                            name,
                            before.total(),
                            ",".join(sorted({table for table, _ in before})),
                        )
                await self.worker.execute("COMMIT")
            except (sqlite3.Error, DatabaseError) as exc:
                if self.conn.in_transaction:
                    await self.worker.execute("ROLLBACK")
                if isinstance(exc, DatabaseError):
                    raise
                raise DatabaseError(f"migration {name} failed: {exc}") from exc
            finally:
                if rebuilds:
                    await self.worker.execute("PRAGMA foreign_keys = ON")
            log.info("migration applied name=%s", name)
            applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """Run a unit of work atomically; nested use in the same task joins the outer one.

        Another task's unit never joins an unfinished one: it waits until that one is done
        (saved, or rolled back), so one task's rollback cannot take another task's writes
        with it.

        SQLite's write lock is taken at the first write, and every write from there on
        commits or rolls back as one. Reads before it see what is committed; within this
        process nothing else can write meanwhile (the unit holds the one connection), so
        only another process (an operator's command) could change what they read.

        Group commit: when a unit that wrote is done while other units wait for their turn,
        its transaction is left open for them and committed once with theirs (see
        :data:`GROUP_UNITS`). Each unit that joins works inside a savepoint, so its failure
        rolls back only its own writes. A unit returns only once what it wrote (and what it
        read of the others') is committed, so nothing is answered before it is saved; when
        that commit fails, every unit of the group raises :class:`StorageUnavailable`.

        Raises:
            StorageUnavailable: nothing can be saved right now (a full disk, a read-only
                file, another process holding the write lock for longer than ``busy_wait``).
        """
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self
            return
        self._units_waiting += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._units_waiting -= 1
        saved: asyncio.Future[None] | None = None
        try:
            await self._worker_done()
            self._take_turn(task, [], None)
            try:
                yield self
                if self._lost is not None:
                    raise self._lost
            except BaseException:
                self._undo()
                raise
            if self._savepoint:
                self._leave_savepoint()
            if self.conn.in_transaction:
                saved = asyncio.get_running_loop().create_future()
                self._pending.append((saved, self._after_commit))
                if not self._keep_open():
                    self._commit_group()
            else:
                for job in self._after_commit:
                    self._start(job)
        finally:
            self._give_turn()
        if saved is not None:
            await saved
        await _let_others_run()

    def _take_turn(
        self, task: asyncio.Task[Any] | None, jobs: list[Job], lost: StorageUnavailable | None
    ) -> None:
        """The unit of ``task`` has the connection (the caller holds the write lock)."""
        self._owner = task
        self._in_transaction_unit = True
        # A unit joining a group's open transaction writes inside a savepoint of its own,
        # taken at its first write (most units only read).
        self._joined = bool(self._pending)
        self._savepoint = False
        self._lost = lost
        # sqlite3 sends BEGIN IMMEDIATE itself before the first INSERT, UPDATE, DELETE or
        # REPLACE, with that statement.
        self.conn.isolation_level = "IMMEDIATE"
        self._after_commit = jobs

    def _give_turn(self) -> None:
        """The unit running now is done with the connection: the write lock goes back."""
        self._after_commit = []
        self._owner = None
        self._in_transaction_unit = False
        self._joined = self._savepoint = False
        self._lost = None
        if not self._pending:
            self._autocommit()
        self._write_lock.release()
        if self._pending:
            # Left open for a unit waiting for its turn: if none takes it after all (it was
            # cancelled), the group is committed without it.
            asyncio.get_running_loop().call_soon(self._settle_soon)

    @asynccontextmanager
    async def aside(self) -> AsyncIterator[None]:
        """Let other units of work have their turn while this task's unit does work that
        uses no database (drawing a picture on a thread), then take its turn again.

        The router runs each event in a unit, and a unit holds the one connection until it
        is done: without this, everyone's answers would wait for a staff member's chart.
        Only a unit that has written nothing steps aside (what it read may change
        meanwhile; it reads again what it needs afterwards). A unit that wrote keeps its
        turn, as its writes must stay one transaction (so does an event whose sender the
        router marked seen, the first of theirs in a minute); inside :meth:`read_only`, or
        outside any unit, this does nothing either.
        """
        task = asyncio.current_task()
        wrote = self._savepoint or (self.conn.in_transaction and not self._joined)
        if self._owner is None or self._owner is not task:
            yield
            return
        if not self._in_transaction_unit or wrote:
            yield
            return
        jobs, lost = self._after_commit, self._lost
        self._give_turn()  # as a unit that wrote nothing ends
        try:
            yield
        finally:
            cancelled = await self._wait_for_turn_again()
            self._take_turn(task, jobs, lost)
            if cancelled:
                raise asyncio.CancelledError

    async def _wait_for_turn_again(self) -> bool:
        """Wait for the write lock back after :meth:`aside`, even when cancelled meanwhile:
        the unit around it releases the lock as it ends, so it must hold it again. Returns
        whether it was cancelled, to be raised once the unit is whole again."""
        self._units_waiting += 1
        taking = asyncio.ensure_future(self._write_lock.acquire())
        cancelled = False
        try:
            while True:
                try:
                    await asyncio.shield(taking)
                    break
                except asyncio.CancelledError:
                    cancelled = True
        finally:
            self._units_waiting -= 1
        while not self._worker_idle.is_set():
            try:
                await self._worker_idle.wait()
            except asyncio.CancelledError:
                cancelled = True
        return cancelled

    def _take_savepoint(self) -> None:
        """Before the first write of a unit that joined a group's open transaction."""
        try:
            self.conn.execute("SAVEPOINT unit")
        except sqlite3.Error as exc:
            raise StorageUnavailable(str(exc)) from exc
        self._savepoint = True

    def _undo(self) -> None:
        """Roll back a failed unit: only its own writes when it joined a group."""
        if not self._joined:
            self._rollback()
            return
        if not self._savepoint:
            return  # it wrote nothing
        try:
            self.conn.execute("ROLLBACK TO unit")
            self.conn.execute("RELEASE unit")
        except sqlite3.Error as exc:
            # SQLite rolled the whole transaction back (a full disk): the group is lost.
            self._fail_group(exc)

    def _leave_savepoint(self) -> None:
        try:
            self.conn.execute("RELEASE unit")
        except sqlite3.Error as exc:
            self._fail_group(exc)
            raise StorageUnavailable(str(exc)) from exc

    def _keep_open(self) -> bool:
        """Whether the open transaction waits for the next unit rather than commit now."""
        if not self._units_waiting or len(self._pending) >= GROUP_UNITS:
            return False
        if len(self._pending) == 1:
            self._group_since = time.monotonic()
            return True
        return time.monotonic() - self._group_since < GROUP_SECONDS

    def _commit_group(self) -> StorageUnavailable | None:
        """Commit the open transaction for every unit in it and let them return; when the
        commit fails, each of them raises :class:`StorageUnavailable` (returned as well)."""
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            return self._fail_group(exc)
        pending, self._pending = self._pending, []
        self._committed(len(pending))
        self._autocommit()
        for saved, jobs in pending:
            for job in jobs:
                self._start(job)
            if not saved.done():
                saved.set_result(None)
        return None

    def _fail_group(self, exc: sqlite3.Error) -> StorageUnavailable:
        """Roll back what the group wrote; each of its units raises the failure."""
        self._rollback()
        pending, self._pending = self._pending, []
        self._autocommit()
        failure = StorageUnavailable(str(exc))
        for saved, _ in pending:
            if not saved.done():
                saved.set_exception(failure)
        if pending:
            log.error("a group of %d units was not saved error=%s", len(pending), exc)
        return failure

    def _settle_soon(self) -> None:
        """Commit a group nobody took over (the unit waiting for it was cancelled)."""
        if self._pending and not self._write_lock.locked() and not self._closing_group:
            self._closing_group = True
            task = asyncio.get_running_loop().create_task(self._settle(), name="group-commit")
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)

    async def _settle(self) -> None:
        try:
            async with self._write_lock:
                await self._worker_done()
                self._settle_group()
        finally:
            self._closing_group = False

    def _settle_group(self) -> StorageUnavailable | None:
        """Commit an open group before work that is not a unit uses the connection (the
        caller holds the write lock, or nobody does, and the worker thread is idle); returns
        the failure when that commit failed."""
        return self._commit_group() if self._pending else None

    def _autocommit(self) -> None:
        """Back to autocommit after a transaction (committed or rolled back by now)."""
        if self.conn.in_transaction:
            # Setting it would commit what a failed rollback left: keep it to fail loudly
            # at the next BEGIN rather than save half a unit of work.
            log.error("a transaction is still open after commit or rollback")
            return
        self.conn.isolation_level = None

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[Database]:
        """Run a unit of reads while nothing can be saved; every write in it is refused.

        SQLite itself refuses the writes (``PRAGMA query_only``), so any write inside, also
        in a nested :meth:`transaction`, raises :class:`StorageUnavailable`; nothing done
        inside is ever committed.
        """
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            raise RuntimeError("read_only() cannot be used inside a transaction")
        async with self._write_lock:
            await self._worker_done()
            self._settle_group()
            self._owner = task
            was = self.conn.execute("PRAGMA query_only").fetchone()[0]
            self.conn.execute("PRAGMA query_only = ON")
            try:
                self.conn.execute("BEGIN DEFERRED")
                yield self
            finally:
                self._rollback()
                self.conn.execute(f"PRAGMA query_only = {int(was or 0)}")
                self._owner = None
        await _let_others_run()

    @asynccontextmanager
    async def committed(self) -> AsyncIterator[Database]:
        """Read only what is committed: wait until no other task's transaction is open.

        Cheaper than a transaction for reads that must not see another task's unfinished
        work (there is one connection): no BEGIN and COMMIT.
        """
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self
            return
        async with self._write_lock:
            await self._worker_done()
            self._settle_group()
            self._owner = task
            try:
                yield self
            finally:
                self._owner = None
        await _let_others_run()

    def _in_own_unit(self) -> bool:
        return self._owner is not None and self._owner is asyncio.current_task()

    def _may_begin(self) -> bool:
        """Whether a write now is the first of the current task's transaction."""
        return self._in_transaction_unit and self._in_own_unit() and not self.conn.in_transaction

    def _rollback(self) -> None:
        """Roll back what is open (SQLite may already have, after a full disk)."""
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    async def _worker_done(self) -> None:
        """Wait until no statement runs on the worker thread (the connection is shared)."""
        while not self._worker_idle.is_set():
            await self._worker_idle.wait()

    async def _on_worker(self, call: Awaitable[T]) -> T:
        """Run a long statement on aiosqlite's thread while the loop serves others."""
        await self._worker_done()
        if self._joined and not self._savepoint and self._in_own_unit():
            # The group this unit joined is committed first: its units' answers do not
            # wait for a long statement of another unit that has written nothing yet.
            failure = self._commit_joined()
            if failure is not None:
                # It may have read what the group wrote and lost: it fails as well.
                if asyncio.iscoroutine(call):
                    call.close()
                raise failure
        self._worker_idle.clear()
        try:
            return await call
        finally:
            self._worker_idle.set()

    async def _statement(
        self, sql: str, here: Callable[[], T], there: Callable[[], Awaitable[T]], long: bool
    ) -> T:
        """Run one statement: ``here`` on the loop's thread, or ``there`` (aiosqlite) when
        it is ``long``; a write may begin the current task's transaction."""

        async def run() -> T:
            if long:
                return await self._on_worker(there())
            await self._worker_done()
            return here()

        reads = _reads_only(sql)
        if not reads and not self._in_own_unit():
            # A write of no unit is a unit of its own: it waits for its turn instead of
            # running inside another task's open transaction (whose failure would take it
            # back), and returns once it is saved.
            async with self.transaction():
                return await self._statement(sql, here, there, long)
        if self._pending and not self._in_own_unit():
            await self._between_units()
        if not reads and self._joined and not self._savepoint and self._in_own_unit():
            self._take_savepoint()
        with _unavailable():
            if reads or self.conn.in_transaction:
                result = await run()
            elif self._may_begin() and not _begins_itself(sql):
                await self._until_not_busy(self._begin)
                result = await run()
            else:
                # It begins the transaction, or commits by itself: either way it did
                # nothing if it found the write lock taken.
                result = await self._until_not_busy(run)
        if not reads and not self.conn.in_transaction:
            self._committed()  # a write outside a transaction commits by itself
        if not self._in_own_unit():
            # A statement on its own lets other tasks run after it, as a unit of work does:
            # a loop of such statements never keeps the loop to itself.
            await _let_others_run()
        return result

    async def _between_units(self) -> None:
        """Before a statement of no unit: commit a group left open between two units, or
        one the unit holding the lock joined and has written nothing in yet (it waits for
        the worker thread, say), so the statement reads nothing that is not saved yet. (A
        read of no unit while a unit holds the lock still runs within that unit; a write of
        no unit is a unit of its own, see :meth:`_statement`.)"""
        await self._worker_done()
        if not self._write_lock.locked():
            self._settle_group()
        elif self._pending and not self._savepoint:
            self._commit_joined()

    def _commit_joined(self) -> StorageUnavailable | None:
        """Commit the group the unit running now joined, while it has written nothing;
        its own writes from here on begin a transaction of their own. When that commit
        fails, the unit fails too (it may have read what the group wrote and lost)."""
        failure = self._settle_group()
        self._joined = False
        if self._in_transaction_unit:
            # Committing put the connection back in autocommit.
            self.conn.isolation_level = "IMMEDIATE"
            self._lost = failure
        return failure

    async def _begin(self) -> None:
        await self._worker_done()
        self.conn.execute("BEGIN IMMEDIATE")

    async def _until_not_busy(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run what takes the write lock first; while another connection (another process,
        the checkpoint) holds it, it fails before doing anything and is tried again
        (without blocking the loop) for up to ``busy_wait``."""
        deadline = time.monotonic() + self.busy_wait
        pause = 0.001
        while True:
            try:
                return await run()
            except sqlite3.OperationalError as exc:
                if self.conn.in_transaction or not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise StorageUnavailable(str(exc)) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def atomic_script(self, script: str) -> None:
        """Run several statements as one transaction in one call to the worker thread.

        For writes of many rows at once; ``script`` holds literal values only (numbers,
        stored timestamps), never text from people.
        """
        async with self._write_lock:
            await self._worker_done()
            self._settle_group()
            try:
                await self._on_worker(
                    self.worker.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
                )
            except sqlite3.Error as exc:
                self._rollback()
                if isinstance(exc, sqlite3.OperationalError):
                    raise StorageUnavailable(str(exc)) from exc
                raise
            # Many rows at once: copy them into the file now.
            self._committed(CHECKPOINT_EVERY)
        await _let_others_run()

    async def execute(self, sql: str, params: Params = (), *, long: bool = False) -> int:
        """Run one statement; returns the last inserted row id."""

        def here() -> int:
            return self.conn.execute(sql, params).lastrowid or 0

        async def there() -> int:
            row = await self.worker.execute_insert(sql, params)
            return int(row[0]) if row is not None and row[0] is not None else 0

        return await self._statement(sql, here, there, long)

    async def execute_rowcount(self, sql: str, params: Params = (), *, long: bool = False) -> int:
        """Run one statement; returns how many rows it changed."""

        async def there() -> int:
            async with self.worker.execute(sql, params) as cursor:
                return int(cursor.rowcount)

        return await self._statement(
            sql, lambda: int(self.conn.execute(sql, params).rowcount), there, long
        )

    async def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]], *, long: bool = False
    ) -> None:
        batch = list(rows)  # tried again whole if the transaction had to wait to begin

        def here() -> None:
            self.conn.executemany(sql, batch)

        async def there() -> None:
            await (await self.worker.executemany(sql, batch)).close()

        await self._statement(sql, here, there, long)

    async def fetchone(
        self, sql: str, params: Params = (), *, long: bool = False
    ) -> sqlite3.Row | None:
        """The first row, or None (for statements that return at most a few rows)."""
        rows = await self.fetchall(sql, params, long=long)
        return rows[0] if rows else None

    async def fetchall(
        self, sql: str, params: Params = (), *, long: bool = False
    ) -> list[sqlite3.Row]:
        """Every row of the statement."""

        async def there() -> list[sqlite3.Row]:
            return list(await self.worker.execute_fetchall(sql, params))

        return await self._statement(
            sql, lambda: self.conn.execute(sql, params).fetchall(), there, long
        )

    async def fetchall_each(
        self, statements: Sequence[tuple[str, Params]]
    ) -> list[list[sqlite3.Row]]:
        """The rows of several reads, run one after the other off the loop in one hand-over.

        For a person's export: some seventy tables, most of them empty for that person,
        where handing each statement to another thread cost more than reading it.
        """
        if not all(_reads_only(sql) for sql, _ in statements):
            raise ValueError("fetchall_each only reads")
        if self._pending and not self._in_own_unit():
            await self._between_units()

        def read_all() -> list[list[sqlite3.Row]]:
            return [self.conn.execute(sql, params).fetchall() for sql, params in statements]

        with _unavailable():
            rows = await self._on_worker(asyncio.to_thread(read_all))
        if not self._in_own_unit():
            await _let_others_run()
        return rows

    async def fetchval(self, sql: str, params: Params = (), *, long: bool = False) -> Any:
        row = await self.fetchone(sql, params, long=long)
        return None if row is None else row[0]


def _fsync(path: str) -> None:
    """Flush a file's written pages to the disk (nothing to do when it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checkpoint(path: str, mode: str, wait_ms: int) -> bool:
    """Copy the write-ahead log into the database file, on a connection of its own; returns
    whether the checkpoint did all it was asked (False: a reader or writer was in the way)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA busy_timeout = {wait_ms}")
        busy, _, _ = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(busy) == 0


async def _let_others_run() -> None:
    """Give the loop to the other ready tasks once (statements here do not wait)."""
    await asyncio.sleep(0)


@contextmanager
def _unavailable() -> Iterator[None]:
    """SQLite's "nothing can be saved" errors as :class:`StorageUnavailable`."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if _is_unavailable(exc):
            raise StorageUnavailable(str(exc)) from exc
        raise


def _cannot_use(path: str, exc: sqlite3.Error) -> str:
    """Why the file at ``path`` cannot be used, for the operator."""
    if isinstance(exc, sqlite3.OperationalError) and _is_unavailable(exc):
        return f"cannot write to {path}: {exc}"
    return f"cannot open database {path}: {exc}"


def _first_word(sql: str) -> str:
    return sql.lstrip()[:7].upper()


def _reads_only(sql: str) -> bool:
    """Whether a statement surely only reads (an INSERT ... RETURNING writes)."""
    return _first_word(sql).startswith(("SELECT", "PRAGMA"))


def _begins_itself(sql: str) -> bool:
    """Whether sqlite3 sends the BEGIN itself before this statement (its "DML")."""
    return _first_word(sql).startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))


def _is_unavailable(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _UNAVAILABLE:
        return True
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "disk is full", "disk i/o"))


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc).lower()
