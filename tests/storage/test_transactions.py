"""Transactions of concurrent tasks on the one connection: serialised, never joined while
unfinished; units waiting for their turn share one commit (group commit)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing

import pytest

from bot.app import App
from storage.clock import utcnow
from storage.db import Database, StorageUnavailable
from tests.waiting import WAIT, until, waiting_for


async def test_one_task_rolling_back_does_not_take_another_tasks_writes_along(app: App) -> None:
    db, now = app.db, utcnow()
    inside = asyncio.Event()

    async def failing() -> None:
        async with db.transaction():
            await app.repos.users.seen("test", "anna", now)
            inside.set()
            # Another task wants to write meanwhile: it waits for this one.
            await until(lambda: waiting_for(db._write_lock) == 1)
            raise RuntimeError("handler bug")

    async def writing() -> None:
        await inside.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)

    results = await asyncio.gather(failing(), writing(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert await app.repos.users.find("test", "anna") is None
    assert await app.repos.users.find("test", "bob") is not None


async def test_nested_use_in_the_same_task_joins_the_outer_transaction(app: App) -> None:
    now = utcnow()
    with pytest.raises(RuntimeError):
        async with app.db.transaction():
            async with app.db.transaction():
                await app.repos.users.seen("test", "anna", now)
            raise RuntimeError("the outer unit of work fails")
    assert await app.repos.users.find("test", "anna") is None


def _committed_names(app: App) -> set[str]:
    """The people another connection sees: only what is committed."""
    with closing(sqlite3.connect(app.db.path)) as other:
        return {row[0] for row in other.execute("SELECT platform_user_id FROM users")}


async def _doom_the_commit(db: Database) -> None:
    """Write a dialog of nobody, checked only at the commit: the commit will fail."""
    await db.fetchall("PRAGMA defer_foreign_keys = ON")
    await db.execute(
        "INSERT INTO dialogs (user_id, name, step, token, updated_at)"
        " VALUES (999999, 'x', 'y', 't', '2026-01-01T00:00:00Z')"
    )


def _count_commits(app: App) -> list[str]:
    commits: list[str] = []
    app.db.conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return commits


async def _anna_opens_a_group(
    app: App,
    first_in: asyncio.Event,
    *,
    waiting: int = 1,
    doomed: bool = False,
    then: Callable[[], object] | None = None,
) -> None:
    """Anna's unit: she writes (its commit bound to fail when ``doomed``), lets the others
    in (``first_in``), and ends once ``waiting`` units wait for their turn, so that her
    transaction is left open for them; ``then`` runs just before it ends."""
    db = app.db
    async with db.transaction():
        await app.repos.users.seen("test", "anna", utcnow())
        if doomed:
            await _doom_the_commit(db)
        first_in.set()
        await until(lambda: waiting_for(db._write_lock) == waiting)
        if then is not None:
            then()


async def test_units_waiting_for_their_turn_share_one_commit_and_return_once_saved(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    commits = _count_commits(app)
    first_in = asyncio.Event()
    seen_on_return: dict[str, set[str]] = {}

    async def unit(name: str) -> None:
        async with db.transaction():
            await app.repos.users.seen("test", name, now)
            if name == "anna":
                first_in.set()
                await until(lambda: waiting_for(db._write_lock) == 2)
        # What a unit did is committed when it returns: nothing is answered before.
        seen_on_return[name] = _committed_names(app)

    async def later(name: str) -> None:
        await first_in.wait()
        await unit(name)

    try:
        await asyncio.gather(unit("anna"), later("bob"), later("carla"))
    finally:
        db.conn.set_trace_callback(None)
    assert commits == ["COMMIT"]
    for name, seen in seen_on_return.items():
        assert {"anna", "bob", "carla"} <= seen, name


async def test_a_unit_failing_in_a_group_rolls_back_only_its_own_writes(app: App) -> None:
    db, now = app.db, utcnow()
    commits = _count_commits(app)
    first_in = asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)
            raise RuntimeError("handler bug")

    async def carla() -> None:
        await first_in.wait()
        await until(lambda: waiting_for(db._write_lock) == 1)
        async with db.transaction():
            await app.repos.users.seen("test", "carla", now)

    try:
        results = await asyncio.gather(
            _anna_opens_a_group(app, first_in, waiting=2), bob(), carla(), return_exceptions=True
        )
    finally:
        db.conn.set_trace_callback(None)
    assert results[0] is None and isinstance(results[1], RuntimeError) and results[2] is None
    assert len(commits) == 1
    assert _committed_names(app) == {"anna", "carla"}


async def test_when_a_groups_commit_fails_every_unit_in_it_is_told_and_nothing_is_kept(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in = asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)

    results = await asyncio.gather(
        _anna_opens_a_group(app, first_in, doomed=True), bob(), return_exceptions=True
    )
    assert [type(result) for result in results] == [StorageUnavailable, StorageUnavailable]
    assert _committed_names(app) == set()
    # The connection is usable again afterwards.
    async with db.transaction():
        await app.repos.users.seen("test", "dirk", now)
    assert _committed_names(app) == {"dirk"}


async def test_a_group_left_open_for_a_unit_that_gave_up_waiting_is_still_committed(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    loop = asyncio.get_running_loop()
    first_in = asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)

    gives_up = asyncio.create_task(bob())

    # Bob's task is cancelled just as anna's unit hands the transaction over.
    await asyncio.wait_for(
        _anna_opens_a_group(app, first_in, then=lambda: loop.call_soon(gives_up.cancel)),
        timeout=WAIT,
    )
    with pytest.raises(asyncio.CancelledError):
        await gives_up
    assert _committed_names(app) == {"anna"}


async def test_a_statement_of_no_unit_commits_a_group_left_open_before_it_runs(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in, go = asyncio.Event(), asyncio.Event()
    #: Whether a transaction was open when the statement ran, and what others could see.
    when_run: list[tuple[bool, set[str]]] = []

    def trace(sql: str) -> None:
        if sql.startswith("SELECT platform_user_id"):
            when_run.append((db.conn.in_transaction, _committed_names(app)))

    async def alone() -> None:
        await go.wait()
        await db.fetchall("SELECT platform_user_id FROM users")

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)

    db.conn.set_trace_callback(trace)
    try:
        # Its turn comes right after anna's unit leaves its transaction open for bob.
        await asyncio.gather(_anna_opens_a_group(app, first_in, then=go.set), bob(), alone())
    finally:
        db.conn.set_trace_callback(None)
    # Anna's unit was committed first: the statement read nothing unsaved, and joined nothing.
    assert when_run == [(False, {"anna"})]


async def test_a_long_statement_of_a_unit_that_joined_a_group_does_not_hold_the_group_up(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in = asyncio.Event()
    committed_before_long: list[set[str]] = []

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            # A statistic, say: on the worker thread, after anna's unit was left open.
            committed_before_long.append(_committed_names(app))
            await db.fetchall("SELECT COUNT(*) FROM users", long=True)
            committed_before_long.append(_committed_names(app))
            await app.repos.users.seen("test", "bob", now)

    await asyncio.gather(_anna_opens_a_group(app, first_in), bob())
    assert committed_before_long == [set(), {"anna"}]
    assert _committed_names(app) == {"anna", "bob"}


async def test_a_unit_that_committed_its_group_before_a_long_statement_stays_atomic(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in = asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            # Commits anna's group first; bob's own writes after it are still one unit.
            await db.fetchall("SELECT COUNT(*) FROM users", long=True)
            await app.repos.users.seen("test", "bob", now)
            raise RuntimeError("handler bug")

    results = await asyncio.gather(
        _anna_opens_a_group(app, first_in), bob(), return_exceptions=True
    )
    assert results[0] is None and isinstance(results[1], RuntimeError)
    assert _committed_names(app) == {"anna"}
    assert db.conn.isolation_level is None and not db.conn.in_transaction


async def test_a_unit_that_read_a_group_whose_commit_then_fails_is_told(app: App) -> None:
    db, now = app.db, utcnow()
    first_in = asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            # Bob's unit sees anna, who is not saved yet, and would act on it.
            assert await app.repos.users.find("test", "anna") is not None
            await db.fetchall("SELECT COUNT(*) FROM users", long=True)
            await app.repos.users.seen("test", "bob", now)

    results = await asyncio.gather(
        _anna_opens_a_group(app, first_in, doomed=True), bob(), return_exceptions=True
    )
    assert [type(result) for result in results] == [StorageUnavailable, StorageUnavailable]
    assert _committed_names(app) == set()


async def test_a_statement_of_no_unit_reads_only_what_is_saved_while_a_joined_unit_waits(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in, bob_in = asyncio.Event(), asyncio.Event()
    #: What the statement read, and what was committed when it read it.
    read: list[tuple[set[str], set[str]]] = []

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            bob_in.set()
            # Waits (for the worker thread, say) before it writes anything.
            await until(lambda: read)
            await app.repos.users.seen("test", "bob", now)

    async def outbox() -> None:
        # What goes out to people is read outside any unit.
        await bob_in.wait()
        rows = await db.fetchall("SELECT platform_user_id FROM users")
        read.append(({row[0] for row in rows}, _committed_names(app)))

    await asyncio.gather(_anna_opens_a_group(app, first_in), bob(), outbox())
    assert read == [({"anna"}, {"anna"})]
    assert _committed_names(app) == {"anna", "bob"}


async def test_a_joined_unit_is_told_when_its_group_was_committed_early_and_failed(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in, bob_in = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            # Bob's unit sees anna, who is not saved yet, and would act on it.
            assert await app.repos.users.find("test", "anna") is not None
            bob_in.set()
            await until(lambda: done)
            await app.repos.users.seen("test", "bob", now)

    async def alone() -> None:
        await bob_in.wait()
        await db.fetchall("SELECT 1")
        done.append("read")

    results = await asyncio.gather(
        _anna_opens_a_group(app, first_in, doomed=True), bob(), alone(), return_exceptions=True
    )
    assert [type(result) for result in results] == [
        StorageUnavailable,
        StorageUnavailable,
        type(None),
    ]
    assert _committed_names(app) == set()
    assert db.conn.isolation_level is None and not db.conn.in_transaction


async def test_a_write_of_no_unit_never_runs_inside_another_units_transaction(app: App) -> None:
    db, now = app.db, utcnow()
    anna_in, anna_go = asyncio.Event(), asyncio.Event()

    async def failing() -> None:
        async with db.transaction():
            await app.repos.users.seen("test", "anna", now)
            anna_in.set()
            await anna_go.wait()  # the unit waits for something (a long statement, say)
            raise RuntimeError("handler bug")

    async def background() -> None:
        # A background job's write on its own (the outbox marking a message sent, say).
        await anna_in.wait()
        writing = asyncio.create_task(
            db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('test', 'bob', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
            )
        )
        try:
            # It waits for its turn rather than write into anna's open transaction.
            await until(lambda: waiting_for(db._write_lock) == 1)
        finally:
            anna_go.set()
        await writing

    results = await asyncio.gather(failing(), background(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    # Anna's failure took only anna's write back.
    assert _committed_names(app) == {"bob"}


async def test_a_unit_stepping_aside_lets_others_have_their_turn_and_then_goes_on(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    aside, bob_saved = asyncio.Event(), asyncio.Event()

    async def drawing() -> None:
        async with db.transaction():
            assert await app.repos.users.find("test", "bob") is None
            async with db.aside():  # drawing a chart, say
                aside.set()
                await asyncio.wait_for(bob_saved.wait(), WAIT)
            # Its turn again: it reads what was saved meanwhile, and writes as a unit does.
            assert await app.repos.users.find("test", "bob") is not None
            await app.repos.users.seen("test", "anna", now)
            assert "anna" not in _committed_names(app)

    async def bob() -> None:
        await aside.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)
        bob_saved.set()

    await asyncio.wait_for(asyncio.gather(drawing(), bob()), WAIT)
    assert _committed_names(app) == {"anna", "bob"}
    assert not db._write_lock.locked()


async def test_a_unit_that_wrote_keeps_its_turn_when_it_would_step_aside(app: App) -> None:
    db, now = app.db, utcnow()
    aside = asyncio.Event()

    async def drawing() -> None:
        async with db.transaction():
            await app.repos.users.seen("test", "anna", now)
            async with db.aside():
                aside.set()
                # Bob waits for this unit: its write and what follows stay one transaction.
                await until(lambda: waiting_for(db._write_lock) == 1)
            assert _committed_names(app) == set()

    async def bob() -> None:
        await aside.wait()
        async with db.transaction():
            assert await app.repos.users.find("test", "anna") is not None
            await app.repos.users.seen("test", "bob", now)

    await asyncio.wait_for(asyncio.gather(drawing(), bob()), WAIT)
    assert _committed_names(app) == {"anna", "bob"}


async def test_a_unit_that_joined_a_group_and_steps_aside_does_not_keep_the_group_waiting(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    first_in, aside, carl_saved = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def bob() -> None:
        await first_in.wait()
        async with db.transaction():
            # Anna's unit left its transaction open for this one (group commit).
            assert db._pending and "anna" not in _committed_names(app)
            async with db.aside():
                aside.set()
                await asyncio.wait_for(carl_saved.wait(), WAIT)
            await app.repos.users.seen("test", "bob", now)

    async def carl() -> None:
        await aside.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "carl", now)
        carl_saved.set()

    drawing, third = asyncio.create_task(bob()), asyncio.create_task(carl())
    # Anna's unit returns once saved, without waiting for bob's picture.
    await asyncio.wait_for(_anna_opens_a_group(app, first_in), WAIT)
    assert "anna" in _committed_names(app)
    await asyncio.wait_for(asyncio.gather(drawing, third), WAIT)
    assert _committed_names(app) == {"anna", "bob", "carl"}


async def test_a_unit_cancelled_while_aside_ends_whole_and_the_next_ones_go_on(
    app: App,
) -> None:
    db, now = app.db, utcnow()
    aside, bob_in, bob_may_go = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def drawing() -> None:
        async with db.transaction():
            async with db.aside():
                aside.set()
                await asyncio.sleep(WAIT)  # cancelled while drawing
            await app.repos.users.seen("test", "anna", now)  # never reached

    async def bob() -> None:
        await aside.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)
            bob_in.set()
            await bob_may_go.wait()

    drawn, writer = asyncio.create_task(drawing()), asyncio.create_task(bob())
    await asyncio.wait_for(bob_in.wait(), WAIT)
    drawn.cancel()
    await asyncio.sleep(0)
    # It waits for its turn back before it ends, even cancelled: bob's unit is not disturbed.
    assert not drawn.done()
    bob_may_go.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(drawn, WAIT)
    await asyncio.wait_for(writer, WAIT)
    async with db.transaction():
        await app.repos.users.seen("test", "carl", now)
    assert _committed_names(app) == {"bob", "carl"}
    assert not db._write_lock.locked()
