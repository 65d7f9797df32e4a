"""The SQLite database: one writer connection, WAL, foreign keys, numbered migrations.

Every change happens inside :meth:`Database.transaction`, which serialises writers on one
connection (SQLite has one writer anyway) and commits or rolls back as a whole.

Each statement is one trip to aiosqlite's database thread, and those trips are what an event
costs, so a statement with its rows is one trip, and a transaction takes SQLite's write lock
(``BEGIN IMMEDIATE``) only at its first write, in the same trip: a unit of work that only
reads (a tap in a list, a card) needs no BEGIN and no COMMIT.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: How long a transaction waits for another process that holds the write lock.
BUSY_TIMEOUT_MS = 5000
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


async def connect(target: str, *, uri: bool = False) -> aiosqlite.Connection:
    """A connection as :class:`Database` uses it: autocommit outside transactions.

    The connection is used on aiosqlite's thread; only its ``isolation_level`` is set from
    the loop's thread, between statements (see :meth:`Database.transaction`), which
    sqlite3 would otherwise refuse.
    """
    conn = await aiosqlite.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    conn.row_factory = aiosqlite.Row
    return conn


class Database:
    """An open SQLite file with the schema up to date."""

    def __init__(self, conn: aiosqlite.Connection, path: str):
        self.conn = conn
        self.path = path
        #: Seconds a transaction waits for another process's write lock before giving up.
        self.busy_wait = BUSY_TIMEOUT_MS / 1000
        self._write_lock = asyncio.Lock()
        #: The task whose transaction is open: only it joins that transaction when nesting;
        #: every other task waits for the lock (one connection, one transaction at a time).
        self._owner: asyncio.Task[Any] | None = None
        #: The owner is in :meth:`transaction` (not :meth:`read_only` or :meth:`committed`):
        #: its first write begins SQLite's transaction.
        self._in_transaction_unit = False

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (or create) the database file and apply pending migrations."""
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await connect(target)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {target}: {exc}") from exc
        db = cls(conn, target)
        try:
            await db._configure()
            await db.migrate()
        except BaseException:
            await conn.close()
            raise
        # From here on, waiting for another process's lock happens in _until_not_busy(),
        # where the wait is bounded by busy_wait and other work goes on meanwhile.
        await conn.execute("PRAGMA busy_timeout = 0")
        return db

    async def _configure(self) -> None:
        await self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            await self.conn.execute("PRAGMA journal_mode = WAL")
        await self.conn.execute("PRAGMA synchronous = NORMAL")
        await self.conn.execute("PRAGMA foreign_keys = ON")
        # Deleted rows are overwritten, so an erased person's data does not linger in the file.
        await self.conn.execute("PRAGMA secure_delete = ON")

    async def close(self) -> None:
        async with self._write_lock:
            await self.conn.close()

    async def schema_version(self) -> int:
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        )
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    async def migrate(self) -> list[str]:
        """Apply every migration newer than the recorded version, each in one transaction."""
        applied = []
        current = await self.schema_version()
        for number, name, script in migrations():
            if number <= current:
                continue
            record = f"INSERT INTO schema_version (version, name) VALUES ({number}, '{name}');"
            try:
                await self.conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n{record}\nCOMMIT;")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise DatabaseError(f"migration {name} failed: {exc}") from exc
            log.info("migration applied name=%s", name)
            applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """Run a unit of work atomically; nested use in the same task joins the outer one.

        Another task's transaction is never joined: it waits until that one is committed or
        rolled back, so one task's rollback cannot take another task's writes with it.

        SQLite's write lock is taken at the first write, and every write from there on
        commits or rolls back as one. Reads before it see what is committed; within this
        process nothing else can write meanwhile (the unit holds the one connection), so
        only another process (an operator's command) could change what they read.

        Raises:
            StorageUnavailable: nothing can be saved right now (a full disk, a read-only
                file, another process holding the write lock for longer than ``busy_wait``).
        """
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self
            return
        async with self._write_lock:
            self._owner = task
            self._in_transaction_unit = True
            # sqlite3 sends BEGIN IMMEDIATE itself before the first INSERT, UPDATE, DELETE
            # or REPLACE, in the same trip to the database thread.
            self.conn.isolation_level = "IMMEDIATE"
            try:
                try:
                    yield self
                except BaseException:
                    await self._rollback()
                    raise
                if self.conn.in_transaction:
                    try:
                        await self.conn.execute("COMMIT")
                    except sqlite3.OperationalError as exc:
                        await self._rollback()
                        raise StorageUnavailable(str(exc)) from exc
            finally:
                self._autocommit()
                self._owner = None
                self._in_transaction_unit = False

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
            self._owner = task
            was = await self.fetchval("PRAGMA query_only")
            await self.conn.execute("PRAGMA query_only = ON")
            try:
                await self.conn.execute("BEGIN DEFERRED")
                yield self
            finally:
                await self._rollback()
                await self.conn.execute(f"PRAGMA query_only = {int(was or 0)}")
                self._owner = None

    def _may_begin(self) -> bool:
        """Whether a write now is the first of the current task's transaction."""
        return (
            self._in_transaction_unit
            and self._owner is asyncio.current_task()
            and not self.conn.in_transaction
        )

    async def _write(self, sql: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run a statement that may write; the first of a transaction begins it.

        An INSERT, UPDATE, DELETE or REPLACE begins it itself (see :meth:`transaction`);
        any other statement gets its own BEGIN IMMEDIATE first.
        """
        with _unavailable():
            if not self._may_begin():
                return await run()
            if _begins_itself(sql):
                return await self._until_not_busy(run)
            await self._until_not_busy(lambda: self.conn.execute("BEGIN IMMEDIATE"))
            return await run()

    async def _until_not_busy(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run what begins a transaction; while another process holds the write lock, it
        fails before doing anything and is tried again (without blocking the loop) for up
        to ``busy_wait``."""
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

    async def _rollback(self) -> None:
        """Roll back what is open (SQLite may already have, after a full disk)."""
        if not self.conn.in_transaction:
            return
        try:
            await self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    @asynccontextmanager
    async def committed(self) -> AsyncIterator[Database]:
        """Read only what is committed: wait until no other task's transaction is open.

        Cheaper than a transaction for reads that must not see another task's unfinished
        work (there is one connection): no BEGIN and COMMIT round trips.
        """
        task = asyncio.current_task()
        if self._owner is not None and self._owner is task:
            yield self
            return
        async with self._write_lock:
            self._owner = task
            try:
                yield self
            finally:
                self._owner = None

    async def atomic_script(self, script: str) -> None:
        """Run several statements as one transaction in one call to the database thread.

        For hot paths that write many rows at once; ``script`` holds literal values only
        (numbers, stored timestamps), never text from people.
        """
        async with self._write_lock:
            try:
                await self.conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
            except sqlite3.Error as exc:
                await self._rollback()
                if isinstance(exc, sqlite3.OperationalError):
                    raise StorageUnavailable(str(exc)) from exc
                raise

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the last inserted row id (one trip to the database)."""
        row = await self._write(sql, lambda: self.conn.execute_insert(sql, params))
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns how many rows it changed (one trip to the database).

        The cursor is not closed: a statement that changes rows runs to its end inside
        ``execute`` and holds nothing afterwards, and closing would be a second trip.
        """
        cursor = await self._write(sql, lambda: self.conn.execute(sql, params))
        return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)  # tried again whole if the transaction had to wait to begin
        await self._write(sql, lambda: self.conn.executemany(sql, batch))

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """The first row, or None (for statements that return at most a few rows)."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """Every row, fetched in the same trip to the database thread as the statement."""
        if _reads_only(sql):
            with _unavailable():
                return list(await self.conn.execute_fetchall(sql, params))
        return list(await self._write(sql, lambda: self.conn.execute_fetchall(sql, params)))

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


@contextmanager
def _unavailable() -> Iterator[None]:
    """SQLite's "nothing can be saved" errors as :class:`StorageUnavailable`."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if _is_unavailable(exc):
            raise StorageUnavailable(str(exc)) from exc
        raise


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
