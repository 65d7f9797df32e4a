"""The SQLite database: one writer connection, WAL, foreign keys, numbered migrations.

Every change happens inside :meth:`Database.transaction`, which serialises writers on one
connection (SQLite has one writer anyway) and commits or rolls back as a whole.

Statements run on the event loop's own thread. A resident's query takes microseconds (an
indexed lookup in a local file), while handing each statement to a worker thread and back
costs tens of microseconds and two wake-ups of the loop; and since every event holds the one
writer connection for its whole transaction, a worker thread would not let two events'
queries overlap anyway. The one thing that may take long, another process holding the write
lock, is waited for asynchronously: ``BEGIN IMMEDIATE`` is retried with ``asyncio.sleep``,
never inside SQLite's busy handler, so the bot keeps sending and receiving meanwhile.

When nothing can be saved (a full disk, a read-only file), :meth:`Database.read_only` still
lets reads run, and every write in it fails with :class:`StorageUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any

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


class DatabaseError(Exception):
    """The database cannot be opened or migrated."""


class StorageUnavailable(Exception):
    """A write could not be saved right now (disk full, read-only file, locked elsewhere)."""


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


class Database:
    """An open SQLite file with the schema up to date."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        #: Seconds a transaction waits for another process's write lock before giving up.
        self.busy_wait = BUSY_TIMEOUT_MS / 1000
        self._write_lock = asyncio.Lock()
        # Which task holds the transaction: only that task (and what it awaits) may join it;
        # any other task waits for the lock, so one task's rollback never takes another's work.
        self._owner: ContextVar[bool] = ContextVar(f"db-{id(self)}", default=False)

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (or create) the database file and apply pending migrations."""
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(target, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {target}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, target)
        try:
            db._configure()
            await db.migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot open database {target}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        # From here on, waiting for a lock happens in transaction(), without blocking.
        conn.execute("PRAGMA busy_timeout = 0")
        return db

    def _configure(self) -> None:
        # Start-up may wait for another process's migration or write, blocking.
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")

    async def close(self) -> None:
        async with self._write_lock:
            self.conn.close()

    async def schema_version(self) -> int:
        self.conn.execute(
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
                self.conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n{record}\nCOMMIT;")
            except sqlite3.Error as exc:
                self._rollback()
                raise DatabaseError(f"migration {name} failed: {exc}") from exc
            log.info("migration applied name=%s", name)
            applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """Run a unit of work atomically; nested use in the same task joins the outer one.

        Raises:
            StorageUnavailable: the transaction could not start or commit (the write lock
                stayed taken, the disk is full, the file is read-only); nothing was saved.
        """
        if self._owner.get():
            yield self
            return
        async with self._write_lock:
            token = self._owner.set(True)
            try:
                await self._begin_immediate()
                try:
                    yield self
                except BaseException:
                    self._rollback()
                    raise
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    self._rollback()
                    raise StorageUnavailable(str(exc)) from exc
            finally:
                self._owner.reset(token)

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[Database]:
        """Run a unit of reads while nothing can be saved; every write in it is refused.

        SQLite itself refuses the writes (``PRAGMA query_only``, the error a read-only file
        gives), so any write inside, also in a nested :meth:`transaction`, raises
        :class:`StorageUnavailable`; nothing done inside is ever committed.
        """
        if self._owner.get():
            raise RuntimeError("read_only() cannot be used inside a transaction")
        async with self._write_lock:
            token = self._owner.set(True)
            was_query_only = self.conn.execute("PRAGMA query_only").fetchone()[0]
            self.conn.execute("PRAGMA query_only = ON")
            try:
                self._run("BEGIN DEFERRED", ()).close()
                yield self
            finally:
                self._rollback()
                self.conn.execute(f"PRAGMA query_only = {int(was_query_only)}")
                self._owner.reset(token)

    async def _begin_immediate(self) -> None:
        """Take the write lock, waiting (without blocking the loop) while another has it."""
        deadline = time.monotonic() + self.busy_wait
        pause = 0.001
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if _code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise StorageUnavailable(str(exc)) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _rollback(self) -> None:
        """Roll back what is open (SQLite may already have, after a full disk)."""
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed")

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the last inserted row id."""
        cursor = self._run(sql, params)
        rowid = cursor.lastrowid or 0
        cursor.close()
        return rowid

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        cursor = self._run(sql, params)
        count = cursor.rowcount
        cursor.close()
        return count

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows).close()
        except sqlite3.OperationalError as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        cursor = self._run(sql, params)
        try:
            row: sqlite3.Row | None = cursor.fetchone()
        except sqlite3.OperationalError as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        finally:
            cursor.close()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        cursor = self._run(sql, params)
        try:
            return cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if _is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise
        finally:
            cursor.close()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


def _code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of an error (-1 when unknown)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def _is_unavailable(exc: sqlite3.OperationalError) -> bool:
    """Whether an error means the database cannot take writes now (rather than a bug)."""
    if _code(exc) in _UNAVAILABLE:
        return True
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "disk is full", "disk i/o"))
