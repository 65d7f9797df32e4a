"""The delivery worker when something under it fails: an adapter's unexpected error, a progress
message that cannot be edited, a database that refuses the results, a stop that cannot wait.

Whatever fails, a row is marked sent only after the platform confirmed it, and a row that was
not sent stays pending for the next try."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.base import Blocked
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import (
    FakeAdapter,
    Sent,
    blocked,
    broken,
    paused,
    payload,
    residents,
)
from tests.reliability.faults import read_only_file
from tests.waiting import until

FAST = DeliveryPolicy(concurrency=2, attempts=3, backoff=0.02, poll=0.05, progress=0.05)


@asynccontextmanager
async def running(
    app: App, adapter: FakeAdapter, policy: DeliveryPolicy = FAST
) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(app.repos, app.catalog, adapter, policy)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def queue(app: App, ids: list[int], batch: str | None = None, **kwargs: object) -> None:
    async with app.db.transaction():
        if batch is None:
            for user_id in ids:
                await app.repos.outbox.enqueue(user_id, payload(), kind="status", now=utcnow())
        else:
            await app.repos.outbox.fan_out(
                ids,
                payload(),
                kind="broadcast",
                batch=batch,
                now=utcnow(),
                **kwargs,  # type: ignore[arg-type]
            )


async def finished(app: App, name: str) -> bool:
    batch = await app.repos.outbox.batch(name)
    return batch is not None and batch.finished_at is not None


async def settled(app: App) -> bool:
    return "pending" not in await app.repos.outbox.status_counts()


async def test_an_unexpected_error_of_the_adapter_is_retried_and_never_counts_as_sent(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await residents(app.db, ["once", "always", "again"], platform="test")
    # Not a DeliveryError: a bug or a library's surprise inside the adapter.
    adapter = FakeAdapter(
        script={
            "once": [KeyError("chat")],
            "always": [RuntimeError("adapter bug")] * 9,
            "again": [ValueError("no" * 400)] * 9,
        }
    )
    await queue(app, ids)
    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        async with running(app, adapter) as worker:
            await until(lambda: settled(app))
    recovered, given_up, also = [(await app.repos.outbox.for_user(i))[0] for i in ids]
    # Never marked sent, however often it was tried: the platform never confirmed it.
    assert (given_up.status, given_up.attempts) == ("failed", FAST.attempts)
    assert given_up.sent_at is None
    assert (recovered.status, recovered.attempts, recovered.last_error) == ("sent", 2, None)
    # The retry carries the first try's key: a platform that got the first drops the second.
    assert adapter.dedupe_keys["once"] == [f"outbox:{recovered.id}"] * 2
    assert given_up.last_error == "RuntimeError: adapter bug"
    # A long reason is kept to its first 500 characters.
    assert (also.status, also.last_error) == ("failed", ("ValueError: " + "no" * 400)[:500])
    assert recovered.sent_at is not None
    assert [sent.chat_id for sent in adapter.sent] == ["once"]
    assert adapter.attempts == {"once": 2, "always": FAST.attempts, "again": FAST.attempts}
    assert worker.counts == {"sent": 1, "failed": 2, "retried": 1 + 2 * (FAST.attempts - 1)}
    # Logged with its trace, as every unexpected error is.
    traced = [r for r in caplog.records if r.exc_info and "sending an outbox row" in r.message]
    assert len(traced) == 1 + 2 * FAST.attempts


async def test_a_failed_send_waits_its_backoff_before_the_next_try(app: App) -> None:
    (anna,) = await residents(app.db, ["anna"], platform="test")
    adapter = FakeAdapter(script={"anna": [broken("Bad Gateway " * 60)]})
    await queue(app, [anna])
    started = utcnow()
    slow = DeliveryPolicy(attempts=3, backoff=60, poll=0.05, progress=60)
    async with running(app, adapter, slow) as worker:
        await until(lambda: worker.counts["retried"] == 1 and worker.in_flight == 0)
    (row,) = await app.repos.outbox.for_user(anna)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == ("Bad Gateway " * 60)[:500]
    # A minute, give or take a tenth: not at once.
    assert row.not_before >= started + timedelta(seconds=54)
    assert adapter.attempts["anna"] == 1


async def test_a_broadcast_to_someone_who_just_blocked_the_bot_still_finishes(app: App) -> None:
    gone, here = await residents(app.db, ["gone", "here"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    # A notice first (single rows go before a broadcast's), then the broadcast: the one
    # sender takes the broadcast's row for "gone" right after that person blocked the bot.
    async with app.db.transaction():
        await app.repos.outbox.enqueue(gone, payload(), kind="status", now=utcnow())
    await queue(app, [gone, here], batch="broadcast:4", author_user_id=author)
    refusal = "Forbidden: bot was blocked by the user " + "." * 600
    adapter = FakeAdapter(script={"gone": [Blocked(refusal)]})
    # Progress is shown once at the start and not again for a minute: only the results of
    # the sends can close the broadcast here.
    one = DeliveryPolicy(concurrency=1, poll=0.05, progress=60)
    async with running(app, adapter, one):
        await until(lambda: finished(app, "broadcast:4"))
    assert [sent.chat_id for sent in adapter.sent if sent.chat_id != "ria"] == ["here"]
    assert adapter.attempts["gone"] == 1
    # Both rows say why, in the first 500 characters of the platform's words.
    assert [(row.status, row.last_error) for row in await app.repos.outbox.for_user(gone)] == [
        ("unreachable", refusal[:500]),
        ("unreachable", refusal[:500]),
    ]
    batch = await app.repos.outbox.batch("broadcast:4")
    assert batch is not None and (batch.total, batch.delivered, batch.unreachable) == (2, 1, 1)


async def test_a_progress_message_that_cannot_be_edited_is_sent_anew(app: App) -> None:
    ids = await residents(app.db, ["r0", "r1", "r2"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    first_one, the_rest = asyncio.Event(), asyncio.Event()
    adapter = FakeAdapter(
        # The author deleted the progress message: the first edit of it fails.
        edit_script={"ria": [broken("Bad Request: message to edit not found")]},
        gates={"r0": first_one, "r1": the_rest, "r2": the_rest},
    )
    await queue(app, ids, batch="broadcast:1", author_user_id=author)

    def progress() -> list[Sent]:
        return [s for s in adapter.to("ria") if s.keys[0].startswith("delivery.progress")]

    async with running(app, adapter):
        await until(progress)
        first_one.set()
        # One of three sent: the count cannot be edited, so it comes as a new message.
        await until(lambda: len([s for s in progress() if not s.edit]) == 2)
        the_rest.set()
        await until(lambda: any(s.keys == ["delivery.report"] for s in adapter.to("ria")))
        await until(lambda: progress()[-1].keys == ["delivery.progress_done"])
    assert adapter.edit_attempts["ria"] >= 2
    first, anew, *edits = progress()
    assert first.keys == anew.keys == ["delivery.progress"]
    assert not first.edit and not anew.edit and anew.message_id != first.message_id
    assert anew.replies[0].params["done"] == 1
    # The final count is shown on the new message, and the lost one is left alone.
    assert edits and all(s.edit and s.message_id == anew.message_id for s in edits)
    assert edits[-1].keys == ["delivery.progress_done"]
    batch = await app.repos.outbox.batch("broadcast:1")
    assert batch is not None and (batch.total, batch.delivered) == (3, 3)


async def test_an_author_who_blocked_the_bot_gets_no_progress_and_the_broadcast_goes_on(
    app: App,
) -> None:
    ids = await residents(app.db, ["r0", "r1"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    # A notice for the author that waits its turn for an hour.
    async with app.db.transaction():
        await app.repos.outbox.enqueue(author, payload(), kind="status", now=utcnow())
        await app.repos.outbox.hold_chat("test", "ria", utcnow() + timedelta(hours=1))
    told: list[tuple[int, datetime]] = []

    async def unsubscribe(user_id: int, now: datetime) -> None:
        told.append((user_id, now))

    app.repos.outbox.on_unreachable(unsubscribe)
    adapter = FakeAdapter(script={"ria": [blocked()]})
    await queue(app, ids, batch="broadcast:2", author_user_id=author)
    started = utcnow()
    async with running(app, adapter):
        await until(lambda: finished(app, "broadcast:2"))
        await until(lambda: settled(app))
    assert sorted(sent.chat_id for sent in adapter.sent) == ["r0", "r1"]
    assert adapter.attempts["ria"] == 1, "nothing more is sent to a chat that blocked the bot"
    person = await app.repos.users.get(author)
    assert person is not None and person.unreachable_at is not None
    assert [user for user, _ in told] == [author] and told[0][1] >= started
    # What waited for the author is not sent either; the report is not queued, or marked
    # unreachable with the rest.
    notice, *report = await app.repos.outbox.for_user(author)
    assert (notice.kind, notice.status, notice.last_error) == ("status", "unreachable", "blocked")
    assert all(row.status == "unreachable" for row in report)
    batch = await app.repos.outbox.batch("broadcast:2")
    assert batch is not None and batch.finished_at is not None and batch.delivered == 2


async def test_results_the_database_refused_are_kept_and_recorded_once_it_takes_them(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await residents(app.db, ["ok", "flaky", "gone"], platform="test")
    adapter = FakeAdapter(script={"flaky": [broken()], "gone": [blocked()]})
    await queue(app, ids)

    def refused() -> bool:
        return any("recording delivery results failed" in r.message for r in caplog.records)

    with caplog.at_level(logging.ERROR, logger="bot.delivery"):
        async with running(app, adapter) as worker:
            async with read_only_file(app):
                await until(lambda: sum(adapter.attempts.values()) == 3)
                await until(refused)
                # Nothing is recorded, so nothing looks sent; nothing is taken again either.
                rows = [(await app.repos.outbox.for_user(i))[0] for i in ids]
                assert [(r.status, r.attempts) for r in rows] == [("pending", 0)] * 3
                assert worker.in_flight == 3
            await until(lambda: settled(app))
    ok, flaky, gone = [(await app.repos.outbox.for_user(i))[0] for i in ids]
    assert (ok.status, ok.attempts) == ("sent", 1) and ok.sent_at is not None
    assert (flaky.status, flaky.attempts) == ("sent", 2)
    assert gone.status == "unreachable"
    assert adapter.attempts == {"ok": 1, "flaky": 2, "gone": 1}
    assert sorted(sent.chat_id for sent in adapter.sent) == ["flaky", "ok"]


async def test_a_stop_that_cannot_wait_for_the_dispatcher_leaves_untaken_rows_pending(
    app: App,
) -> None:
    ids = await residents(app.db, ["first", "second", "third", "fourth"], platform="test")
    # The first send hangs; one sender, so the second row waits in the queue and the
    # dispatcher waits to hand over the third.
    released = asyncio.Event()
    adapter = FakeAdapter(gates={"first": released})
    await queue(app, ids)
    policy = DeliveryPolicy(concurrency=1, window=8, poll=0.05, progress=60)
    worker = DeliveryWorker(app.repos, app.catalog, adapter, policy)
    await worker.start()
    await until(lambda: adapter.active == 1 and worker.in_flight == 3)
    dispatcher = worker._dispatcher
    assert dispatcher is not None
    stopping = asyncio.create_task(worker.stop())
    # The dispatcher cannot finish in the time stop() gives it: it is cancelled.
    await until(dispatcher.done)
    assert dispatcher.cancelled()
    released.set()  # the send under way comes back, and is recorded
    await stopping
    rows = {
        chat: (await app.repos.outbox.for_user(i))[0]
        for chat, i in zip(["first", "second", "third", "fourth"], ids, strict=True)
    }
    assert (rows["first"].status, rows["first"].attempts) == ("sent", 1)
    for chat in ("second", "third", "fourth"):
        assert (rows[chat].status, rows[chat].attempts) == ("pending", 0), chat
    assert [sent.chat_id for sent in adapter.sent] == ["first"]

    # The next start sends what was left, each once.
    async with running(app, adapter):
        await until(lambda: settled(app))
    assert [sent.chat_id for sent in adapter.sent] == ["first", "second", "third", "fourth"]


async def _queue_at(app: App, user_id: int, when: datetime) -> None:
    async with app.db.transaction():
        await app.repos.outbox.enqueue(user_id, payload(), kind="answer", now=when)


async def test_messages_for_a_chat_that_stays_paused_wait_less_often_then_make_her_unreachable(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    anna, bea, cor = await residents(app.db, ["anna", "bea", "cor"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    unsubscribed: list[int] = []

    async def unsubscribe(user_id: int, now: datetime) -> None:
        unsubscribed.append(user_id)

    app.repos.outbox.on_unreachable(unsubscribe)
    now = utcnow()
    # Anna's chat has been a group for a week and more: an answer waits since then, and
    # a broadcast since yesterday. Bea's waits since a day, Cor's since just now.
    await _queue_at(app, anna, now - timedelta(days=7, minutes=1))
    await _queue_at(app, bea, now - timedelta(days=1))
    await _queue_at(app, cor, now)
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            [anna],
            payload(),
            kind="broadcast",
            batch="broadcast:7",
            now=now - timedelta(days=1),
            author_user_id=author,
        )
    adapter = FakeAdapter(script={chat: [paused()] * 9 for chat in ("anna", "bea", "cor")})
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        async with running(app, adapter) as worker:
            await until(lambda: finished(app, "broadcast:7"))
            # The author's report is queued when the broadcast finishes, and sent after.
            await until(lambda: any("delivery.report" in s.keys for s in adapter.to("ria")))
            await until(lambda: worker.counts["held"] >= 2 and worker.in_flight == 0)

    # Anna: unreachable, as if she had blocked the bot; what waited for her is counted.
    rows = await app.repos.outbox.for_user(anna)
    assert [row.status for row in rows] == ["unreachable", "unreachable"]
    assert all("waited 7 days for a private chat" in (row.last_error or "") for row in rows)
    person = await app.repos.users.get(anna)
    assert person is not None and person.unreachable_at is not None
    assert unsubscribed == [anna]
    batch = await app.repos.outbox.batch("broadcast:7")
    assert batch is not None and (batch.total, batch.delivered, batch.unreachable) == (1, 0, 1)
    report = [sent for sent in adapter.to("ria") if "delivery.report" in sent.keys]
    assert len(report) == 1
    assert [r.message for r in caplog.records if "gave up on a chat paused" in r.message]
    # Bea and Cor keep waiting, not counted as tries: Bea's is looked at again in an
    # hour (a day waited), Cor's in a minute.
    for user_id, hold in ((bea, timedelta(hours=1)), (cor, timedelta(minutes=1))):
        (row,) = await app.repos.outbox.for_user(user_id)
        assert (row.status, row.attempts) == ("pending", 0)
        assert now + hold * 0.9 < row.not_before < utcnow() + hold * 1.1
        person = await app.repos.users.get(user_id)
        assert person is not None and person.unreachable_at is None
    assert adapter.sent == [sent for sent in adapter.sent if sent.chat_id == "ria"]


async def test_a_broadcast_whose_author_blocked_the_bot_finishes_when_her_own_row_was_the_last(
    app: App,
) -> None:
    # The civil servant follows "Wist je dat" herself; her chat waits (a 429 earlier), so
    # her own copy is the broadcast's last pending row. Her progress message meets her
    # block: that marks her copy unreachable, and the broadcast has nothing left to send.
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    await queue(app, [author], batch="broadcast:5", author_user_id=author)
    async with app.db.transaction():
        await app.repos.outbox.hold_chat("test", "ria", utcnow() + timedelta(hours=1))
    adapter = FakeAdapter(script={"ria": [blocked()]})
    async with running(app, adapter):
        await until(lambda: settled(app))
        await until(lambda: finished(app, "broadcast:5"))
        # Nothing more is shown to her, and nothing keeps the broadcast open.
        assert await app.repos.outbox.open_batches("test") == []
    assert adapter.attempts["ria"] == 1
    batch = await app.repos.outbox.batch("broadcast:5")
    assert batch is not None and (batch.total, batch.unreachable) == (1, 1)


async def test_a_finished_broadcast_whose_author_blocked_the_bot_is_not_kept_open_for_her(
    app: App,
) -> None:
    ids = await residents(app.db, ["r0", "r1"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    # Her progress message arrives; she blocks the bot before it can show the end.
    adapter = FakeAdapter(edit_script={"ria": [blocked()] * 10})
    await queue(app, ids, batch="broadcast:6", author_user_id=author)
    async with running(app, adapter):
        await until(lambda: finished(app, "broadcast:6"))
        await until(lambda: adapter.edit_attempts["ria"] >= 1)
        # Nothing is left to show anyone: the broadcast is done with, its rows can go.
        await until(_no_open_batches(app))
        await asyncio.sleep(0.3)
    assert adapter.edit_attempts["ria"] == 1
    person = await app.repos.users.get(author)
    assert person is not None and person.unreachable_at is not None
    assert await app.repos.outbox.prune(utcnow() + timedelta(days=1)) == 2


def _no_open_batches(app: App) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await app.repos.outbox.open_batches("test") == []

    return check
