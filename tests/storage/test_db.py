"""The database file: pragmas, migrations on fresh and existing files, transactions."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import storage.db as dbmod
from storage import Database, DatabaseError
from storage.clock import utcnow
from tests.waiting import until, waiting_for


async def test_a_fresh_file_gets_every_migration_recorded(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "new.db")
    try:
        versions = [row["version"] for row in await db.fetchall("SELECT * FROM schema_version")]
        assert versions == [number for number, _, _ in dbmod.migrations()]
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        # Waiting for another process's lock happens in transaction(), not in SQLite.
        assert await db.fetchval("PRAGMA busy_timeout") == 0
    finally:
        await db.close()


async def test_reopening_an_existing_file_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "existing.db"
    db = await Database.open(path)
    async with db.transaction():
        await db.execute(
            "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
            " VALUES ('test', '1', 'x', 'x')"
        )
    await db.close()

    again = await Database.open(path)
    try:
        assert await again.migrate() == []
        assert await again.fetchval("SELECT COUNT(*) FROM users") == 1
    finally:
        await again.close()


async def test_a_new_migration_is_applied_to_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "older.db"
    await (await Database.open(path)).close()
    shipped = dbmod.migrations()
    extra = (len(shipped) + 1, f"{len(shipped) + 1:04d}_extra.sql", "CREATE TABLE extra (x);")
    monkeypatch.setattr(dbmod, "migrations", lambda: [*shipped, extra])

    db = await Database.open(path)
    try:
        assert await db.fetchval("SELECT MAX(version) FROM schema_version") == extra[0]
        assert await db.fetchval("SELECT COUNT(*) FROM extra") == 0
    finally:
        await db.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.db"
    await (await Database.open(path)).close()
    shipped = dbmod.migrations()
    number = len(shipped) + 1
    broken = (number, f"{number:04d}_broken.sql", "CREATE TABLE half (x);\nSELECT * FROM nope;")
    monkeypatch.setattr(dbmod, "migrations", lambda: [*shipped, broken])

    with pytest.raises(DatabaseError, match="broken"):
        await Database.open(path)

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        assert await db.fetchval("SELECT MAX(version) FROM schema_version") == len(shipped)
        tables = await db.fetchall("SELECT name FROM sqlite_master WHERE name = 'half'")
        assert tables == []
    finally:
        await db.close()


async def test_a_transaction_that_raises_changes_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "tx.db")
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute(
                    "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                    " VALUES ('test', '1', 'x', 'x')"
                )
                raise RuntimeError("boom")
        assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
    finally:
        await db.close()


async def test_users_are_keyed_by_platform_and_id(tmp_path: Path) -> None:
    from storage import Repositories

    db = await Database.open(tmp_path / "users.db")
    repos = Repositories(db)
    try:
        async with db.transaction():
            first = await repos.users.seen("telegram", "42", utcnow())
            again = await repos.users.seen("telegram", "42", utcnow())
            other = await repos.users.seen("matrix", "42", utcnow())
        assert first.id == again.id != other.id
        assert first.consent_at is None and first.display_name is None
    finally:
        await db.close()


class _Turns:
    """Counts the loop's turns in a task of its own; ``reached`` is set after ``wanted``."""

    def __init__(self, wanted: int):
        self.count = 0
        self.reached = asyncio.Event()
        self._task = asyncio.create_task(self._turn(wanted))

    async def _turn(self, wanted: int) -> None:
        while True:
            self.count += 1
            if self.count == wanted:
                self.reached.set()
            await asyncio.sleep(0)

    def stop(self) -> None:
        self._task.cancel()


def test_migrations_are_numbered_without_gaps() -> None:
    numbers = [number for number, _, _ in dbmod.migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


async def test_another_task_never_joins_a_transaction_it_does_not_own(tmp_path: Path) -> None:

    db = await Database.open(tmp_path / "tasks.db")
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_owner() -> None:
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', 'rolled-back', 'x', 'x')"
            )
            inside.set()
            await release.wait()
            raise RuntimeError("the owner fails")

    async def bystander() -> None:
        await inside.wait()
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', 'kept', 'x', 'x')"
            )

    try:
        owner = asyncio.create_task(failing_owner())
        other = asyncio.create_task(bystander())
        await inside.wait()
        await until(lambda: waiting_for(db._write_lock) == 1)  # the bystander waits its turn
        release.set()
        with pytest.raises(RuntimeError):
            await owner
        await other
        rows = await db.fetchall("SELECT platform_user_id FROM users")
        assert [row[0] for row in rows] == ["kept"]
    finally:
        await db.close()


async def test_a_transaction_waits_for_another_process_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "locked.db"
    db = await Database.open(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', 'waited', 'x', 'x')"
            )

    turns = _Turns(200)
    try:
        writer = asyncio.create_task(write())
        # The loop keeps turning while the writer waits for the other process's lock.
        await turns.reached.wait()
        assert not writer.done()
        other.execute("COMMIT")
        await writer
        assert await db.fetchval("SELECT platform_user_id FROM users") == "waited"
    finally:
        turns.stop()
        other.close()
        await db.close()


async def test_a_write_lock_held_too_long_elsewhere_makes_storage_unavailable(
    tmp_path: Path,
) -> None:
    import sqlite3

    from storage import StorageUnavailable

    path = tmp_path / "stuck.db"
    db = await Database.open(path)
    db.busy_wait = 0.05
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageUnavailable):
            async with db.transaction():
                await db.execute(
                    "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                    " VALUES ('test', 'stuck', 'now', 'now')"
                )
        # Reads go on meanwhile, also in a transaction that turns out to only read.
        async with db.read_only():
            assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
        async with db.transaction():
            assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
    finally:
        other.close()
        await db.close()


async def test_a_transaction_takes_the_write_lock_at_its_first_write(tmp_path: Path) -> None:
    """Reads need no BEGIN; from the first write on, everything commits or rolls back as one."""
    db = await Database.open(tmp_path / "lazy.db")
    insert = (
        "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
        " VALUES ('test', ?, 'now', 'now')"
    )
    try:
        async with db.transaction():
            assert await db.fetchval("SELECT COUNT(*) FROM users") == 0
            assert not db.conn.in_transaction
            await db.execute(insert, ("anna",))
            assert db.conn.in_transaction
        assert not db.conn.in_transaction
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.fetchall(insert + " RETURNING id", ("bob",))
                assert db.conn.in_transaction
                await db.execute(insert, ("carla",))
                raise RuntimeError("handler failed")
        names = await db.fetchall("SELECT platform_user_id FROM users ORDER BY id")
        assert [row[0] for row in names] == ["anna"]
        # A first write that sqlite3 does not begin a transaction for gets its own BEGIN.
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("CREATE TABLE scratch (x)")
                assert db.conn.in_transaction
                raise RuntimeError("handler failed")
        assert await db.fetchval("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'scratch'") == 0
        # Outside a transaction every statement commits by itself.
        await db.execute(insert, ("dirk",))
        assert not db.conn.in_transaction
    finally:
        await db.close()


async def test_short_statements_run_on_the_loop_thread_and_long_ones_on_aiosqlites(
    tmp_path: Path,
) -> None:
    import threading

    db = await Database.open(tmp_path / "threads.db")
    db.conn.create_function("thread_id", 0, threading.get_ident)
    try:
        assert await db.fetchval("SELECT thread_id()") == threading.get_ident()
        assert await db.fetchval("SELECT thread_id()", long=True) != threading.get_ident()
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', thread_id(), 'x', 'x')",
                long=True,
            )
        # The long write was part of the transaction and committed with it.
        assert not db.conn.in_transaction
        assert await db.fetchval("SELECT COUNT(*) FROM users") == 1
    finally:
        await db.close()


async def test_the_loop_keeps_turning_during_a_long_statement_and_others_wait_for_it(
    tmp_path: Path,
) -> None:

    db = await Database.open(tmp_path / "long.db")
    # About a second of work for SQLite: counting to five million.
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000)"
        " SELECT COUNT(*) FROM n"
    )
    turns = _Turns(100)
    try:
        long_read = asyncio.create_task(db.fetchval(slow, long=True))
        await turns.reached.wait()
        assert not long_read.done()
        # A short statement now waits for the long one: the connection is never used
        # from both threads at once.
        assert await db.fetchval("SELECT 7") == 7
        assert long_read.done()
        assert await long_read == 5_000_000
        assert turns.count > 100
    finally:
        turns.stop()
        await db.close()


async def test_statements_outside_a_unit_let_other_tasks_run(tmp_path: Path) -> None:

    db = await Database.open(tmp_path / "fair.db")
    turns: list[str] = []

    async def reader(name: str) -> None:
        for _ in range(3):
            await db.fetchval("SELECT 1")
            turns.append(name)

    try:
        await asyncio.gather(reader("a"), reader("b"))
        assert turns == ["a", "b", "a", "b", "a", "b"]
    finally:
        await db.close()


async def test_the_write_ahead_log_is_copied_into_the_file_off_the_loop_and_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    # Fewer commits between checkpoints than the bot waits for: twelve checkpoints in a
    # short test.
    monkeypatch.setattr(dbmod, "CHECKPOINT_EVERY", 250)
    path = tmp_path / "log.db"
    db = await Database.open(path)
    commits = 12 * dbmod.CHECKPOINT_EVERY
    try:
        # SQLite's own checkpoint, which would run inside a commit, is off.
        assert await db.fetchval("PRAGMA wal_autocheckpoint") == 0
        one_stretch = 0.0
        for n in range(commits):
            async with db.transaction():
                await db.execute(
                    "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                    " VALUES ('test', ?, ?, 'x')",
                    (str(n), "x" * 2000),
                )
            if n == dbmod.CHECKPOINT_EVERY - 2:
                # What the commits between two checkpoints write (before the first one).
                one_stretch = os.stat(f"{path}-wal").st_size / 4096
        log_pages = os.stat(f"{path}-wal").st_size / 4096
        # Each commit wrote a few pages (the row, its indices, the id counter): twelve
        # stretches' worth in all. The log was restarted again and again, and never held
        # more than a few stretches.
        assert one_stretch > 0
        assert log_pages < 4 * one_stretch
    finally:
        await db.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("SELECT COUNT(*) FROM users").fetchone()[0] == commits


async def test_several_reads_in_one_hand_over_see_what_this_transaction_wrote(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "s.db")
    try:
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', 'a', 'x', 'x')"
            )
            first, none, again = await db.fetchall_each(
                [
                    ("SELECT platform_user_id FROM users WHERE platform = ?", ("test",)),
                    ("SELECT id FROM users WHERE platform = :p", {"p": "matrix"}),
                    ("SELECT COUNT(*) FROM users", ()),
                ]
            )
        assert [tuple(r) for r in first] == [("a",)] and none == [] and again[0][0] == 1
        with pytest.raises(ValueError):
            await db.fetchall_each([("DELETE FROM users", ())])
        assert await db.fetchval("SELECT COUNT(*) FROM users") == 1
    finally:
        await db.close()
