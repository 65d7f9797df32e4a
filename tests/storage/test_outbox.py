"""The outbox: queued in the caller's transaction, only for people who can be reached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.app import App
from storage.clock import parse, utcnow
from storage.outbox import Settlement


async def test_fan_out_queues_one_row_per_reachable_person(app: App) -> None:
    repos, now = app.repos, utcnow()
    async with app.db.transaction():
        ids = []
        for n in range(5):
            user = await repos.users.seen("telegram", str(n), now)
            ids.append(user.id)
            if n != 3:  # person 3 never consented: nothing may be sent to them
                await repos.users.give_consent(user.id, str(n), None, now)
    await app.chat_unreachable("telegram", "4")
    async with app.db.transaction():
        queued = await repos.outbox.fan_out(
            [*ids, ids[0]],
            [{"key": "raw", "params": {"text": "hi"}}],
            kind="broadcast",
            batch="broadcast:1",
            now=now,
        )
    assert queued == 3
    assert await repos.outbox.batch_counts("broadcast:1") == {"pending": 3}
    rows = await repos.outbox.for_user(ids[0])
    assert rows[0].payload == [{"key": "raw", "params": {"text": "hi"}}]
    assert rows[0].platform == "telegram" and rows[0].chat_id == "0"


async def _people(app: App, count: int) -> list[int]:
    now, ids = utcnow(), []
    async with app.db.transaction():
        for n in range(count):
            user = await app.repos.users.seen("telegram", str(n), now)
            await app.repos.users.give_consent(user.id, str(n), None, now)
            ids.append(user.id)
    return ids


async def test_a_batch_with_an_author_is_recorded_and_listeners_hear_of_it(app: App) -> None:
    ids, heard = await _people(app, 3), []
    stop = app.repos.outbox.on_queued(lambda: heard.append(True))
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids[:2], [], kind="broadcast", batch="b", author_user_id=ids[2], now=utcnow()
        )
        await app.repos.outbox.fan_out(
            ids[2:], [], kind="broadcast", batch="b", author_user_id=ids[2], now=utcnow()
        )
    stop()
    async with app.db.transaction():
        await app.repos.outbox.enqueue(ids[0], [], kind="status", now=utcnow())
    batch = await app.repos.outbox.batch("b")
    assert batch is not None and (batch.total, batch.author_user_id) == (3, ids[2])
    assert heard == [True, True]
    with pytest.raises(ValueError, match="batch"):
        await app.repos.outbox.fan_out(ids, [], kind="x", author_user_id=ids[0], now=utcnow())


async def test_due_rows_come_single_first_oldest_first_and_skip_the_held(app: App) -> None:
    ids = await _people(app, 3)
    now = utcnow()
    async with app.db.transaction():
        await app.repos.outbox.fan_out(ids, [], kind="broadcast", batch="b", now=now)
        await app.repos.outbox.enqueue(ids[0], [], kind="status", now=now)
        await app.repos.outbox.hold_chat("telegram", "1", now + timedelta(minutes=1))
    due = await app.repos.outbox.due("telegram", now, 10)
    assert [(row.kind, row.chat_id) for row in due] == [
        ("status", "0"),
        ("broadcast", "0"),
        ("broadcast", "2"),
    ]
    assert [
        row.chat_id for row in await app.repos.outbox.due("telegram", now, 1, {due[0].id})
    ] == ["0"]
    assert await app.repos.outbox.next_due("telegram") == now
    assert await app.repos.outbox.due("matrix", now, 10) == []


async def test_settling_records_each_outcome_and_closes_a_finished_batch_once(app: App) -> None:
    ids = await _people(app, 4)
    now = utcnow()
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids[:3], [], kind="broadcast", batch="b", author_user_id=ids[3], now=now
        )
    sent, retried, blocked = await app.repos.outbox.due("telegram", now, 10)
    later = now + timedelta(seconds=30)
    async with app.db.transaction():
        done = await app.repos.outbox.settle(
            "telegram",
            Settlement(
                sent=[sent.id],
                retry=[(retried.id, later, "Bad Gateway")],
                unreachable=[(blocked.id, blocked.chat_id, "blocked")],
                batches={"b"},
            ),
            now,
        )
    assert done == []
    assert await app.repos.outbox.batch_counts("b") == {"sent": 1, "pending": 1, "unreachable": 1}
    row = (await app.repos.outbox.for_user(retried.user_id or 0))[0]
    assert (row.attempts, row.not_before, row.last_error) == (1, later, "Bad Gateway")
    person = await app.repos.users.get(blocked.user_id or 0)
    assert person is not None and person.unreachable_at is not None

    async with app.db.transaction():
        (closed,) = await app.repos.outbox.settle(
            "telegram", Settlement(failed=[(retried.id, "gave up")], batches={"b"}), now
        )
        assert await app.repos.outbox.finish_if_done("b", now) is None  # only once
    assert (closed.delivered, closed.unreachable, closed.failed, closed.total) == (1, 1, 1, 3)
    assert closed.finished_at == now


async def _plans(app: App, run: Callable[[], Awaitable[object]]) -> dict[str, str]:
    """The query plan of every statement ``run`` makes, with its values bound."""
    seen: list[str] = []
    app.db.conn.set_trace_callback(seen.append)
    try:
        await run()
    finally:
        app.db.conn.set_trace_callback(None)
    plans = {}
    for sql in seen:
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
            rows = app.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            plans[sql] = " | ".join(str(row[3]) for row in rows)
    return plans


async def test_what_a_broadcast_asks_of_residents_finds_them_by_index_not_by_reading_all(
    app: App,
) -> None:
    # At a million residents, reading every resident of the platform took 0.3-0.4 s: for
    # each chat that blocked the bot during a broadcast, and for the progress shown to its
    # author every few seconds.
    ids = await _people(app, 3)
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids[:2], [], kind="broadcast", batch="b", author_user_id=ids[2], now=utcnow()
        )

    async def blocked() -> None:
        async with app.db.transaction():
            assert await app.repos.outbox.mark_chat_unreachable("telegram", "1", utcnow())

    async def progress() -> None:
        async with app.db.committed():
            assert len(await app.repos.outbox.open_batches("telegram")) == 1

    for run in (blocked, progress):
        plans = await _plans(app, run)
        touching = {sql: plan for sql, plan in plans.items() if "users" in sql}
        assert touching, plans
        for sql, plan in touching.items():
            assert "SCAN users" not in plan and "users USING INDEX sqlite_autoindex" not in plan, (
                sql,
                plan,
            )


async def test_someone_found_unreachable_is_away_since_the_oldest_message_that_met_the_block(
    app: App,
) -> None:
    """What they missed begins with the row delivery tried when the platform refused it (it
    was made before that moment), and a second refusal does not move that start."""
    [anna, bob] = await _people(app, 2)
    made = utcnow() - timedelta(minutes=5)
    async with app.db.transaction():
        await app.repos.outbox.enqueue(anna, [], kind="answer", now=made)
        await app.repos.outbox.enqueue(bob, [], kind="answer", now=made)
    [row] = await app.repos.outbox.for_user(anna)
    refused = utcnow()
    async with app.db.transaction():
        await app.repos.outbox.settle(
            "telegram", Settlement(unreachable=[(row.id, "0", "Forbidden")]), refused
        )
    stored = await app.db.fetchone(
        "SELECT unreachable_at, away_since FROM users WHERE id = ?", (anna,)
    )
    assert stored is not None
    assert parse(stored["away_since"]) == made and parse(stored["unreachable_at"]) == refused
    [after] = await app.repos.outbox.for_user(anna)
    assert (after.status, after.attempts) == ("unreachable", 1)

    async with app.db.transaction():
        await app.repos.outbox.mark_chat_unreachable("telegram", "0", utcnow())
    again = await app.db.fetchval("SELECT away_since FROM users WHERE id = ?", (anna,))
    assert parse(again) == made

    # Nothing waiting: away from the moment they were found unreachable.
    [sent] = await app.repos.outbox.for_user(bob)
    async with app.db.transaction():
        await app.repos.outbox.settle("telegram", Settlement(sent=[sent.id]), utcnow())
        found = utcnow()
        await app.repos.outbox.mark_chat_unreachable("telegram", "1", found)
    assert parse(await app.db.fetchval("SELECT away_since FROM users WHERE id = ?", (bob,))) == (
        found
    )


async def test_parts_sent_of_messages_replaced_meanwhile_do_not_count_against_the_new_ones(
    app: App,
) -> None:
    """A worker took a row cut off after its first message; while it sent the second (and
    was cut off again), the row was given a line after the first. The count it brings back
    is of the old messages: the new ones go on from where they were made for."""
    [anna] = await _people(app, 1)
    now = utcnow()
    messages = [{"key": "raw", "params": {"text": text}} for text in ("A", "B", "C")]
    async with app.db.transaction():
        await app.repos.outbox.fan_out([anna], messages, kind="consultation", batch="c", now=now)
        [row] = await app.repos.outbox.due("telegram", now, 10)
        await app.repos.outbox.settle(
            "telegram", Settlement(parts=[(row.id, 1, row.payload)]), now
        )
    [taken] = await app.repos.outbox.due("telegram", now, 10)  # A arrived; B and C to go
    line = {"key": "raw", "params": {"text": "moved"}}
    async with app.db.transaction():
        [partly] = await app.repos.outbox.partly_sent("c", "nl")
        await app.repos.outbox.set_messages(taken.id, [messages[0], line, *messages[1:]])
    async with app.db.transaction():  # B arrived too, then the chat had to wait
        await app.repos.outbox.settle(
            "telegram", Settlement(parts=[(taken.id, 2, taken.payload)]), now
        )
    [again] = await app.repos.outbox.due("telegram", now, 10)
    assert partly.sent == again.parts_sent == 1  # the line, B and C are still to come
    async with app.db.transaction():
        await app.repos.outbox.settle(
            "telegram", Settlement(parts=[(again.id, 2, again.payload)]), now
        )
    [last] = await app.repos.outbox.due("telegram", now, 10)
    assert last.parts_sent == 2
