"""The delivery worker with a scripted adapter: outcomes per chat, order, limits, reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.pacing import Pacing
from handlers.contract import Reply
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import (
    FakeAdapter,
    blocked,
    broken,
    flood,
    payload,
    residents,
)
from tests.waiting import until

FAST = DeliveryPolicy(concurrency=4, attempts=3, backoff=0.02, poll=0.05, progress=0.05)


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


async def fan_out(app: App, ids: list[int], **kwargs: object) -> int:
    async with app.db.transaction():
        return await app.repos.outbox.fan_out(
            ids,
            payload(),
            kind=str(kwargs.pop("kind", "broadcast")),
            now=utcnow(),
            **kwargs,  # type: ignore[arg-type]
        )


async def settled(app: App) -> bool:
    return "pending" not in await app.repos.outbox.status_counts()


async def test_failures_are_retried_with_backoff_and_then_given_up_with_the_reason(
    app: App,
) -> None:
    ids = await residents(app.db, ["a", "b"], platform="test")
    adapter = FakeAdapter(script={"a": [broken(), broken()], "b": [broken("Bad Gateway")] * 9})
    await fan_out(app, ids)
    async with running(app, adapter):
        await until(lambda: settled(app))
    recovered, given_up = [(await app.repos.outbox.for_user(i))[0] for i in ids]
    assert (recovered.status, recovered.attempts, recovered.last_error) == ("sent", 3, None)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert given_up.last_error == "Bad Gateway"
    assert adapter.attempts == {"a": 3, "b": 3}


async def test_a_chat_asked_to_wait_holds_back_that_chat_only(app: App) -> None:
    chats = ["slow", *(f"c{n}" for n in range(8))]
    ids = await residents(app.db, chats, platform="test")
    adapter = FakeAdapter(script={"slow": [flood(1.0)]})
    await fan_out(app, ids)
    async with running(app, adapter) as worker:
        await until(lambda: settled(app))
    order = [sent.chat_id for sent in adapter.sent]
    assert order[-1] == "slow" and sorted(order) == sorted(chats)
    slow = (await app.repos.outbox.for_user(ids[0]))[0]
    # Being asked to wait is not a failed attempt.
    assert (slow.status, slow.attempts) == ("sent", 1)
    assert worker.counts["held"] == 1 and worker.counts["retried"] == 0


async def test_a_person_who_blocked_the_bot_is_marked_unsubscribed_and_skipped(
    app: App,
) -> None:
    ids = await residents(app.db, ["gone", "here"], platform="test")
    unsubscribed: list[tuple[int, datetime]] = []

    async def unsubscribe(user_id: int, now: datetime) -> None:
        unsubscribed.append((user_id, now))

    app.repos.outbox.on_unreachable(unsubscribe)
    adapter = FakeAdapter(script={"gone": [blocked()]})
    await fan_out(app, ids, batch="news")
    await fan_out(app, [ids[0]], kind="notification")  # a second row for the same person
    async with running(app, adapter, DeliveryPolicy(concurrency=1, poll=0.05)):
        await until(lambda: settled(app))
    rows = await app.repos.outbox.for_user(ids[0])
    assert [row.status for row in rows] == ["unreachable", "unreachable"]
    person = await app.repos.users.get(ids[0])
    assert person is not None and person.unreachable_at is not None
    assert [user for user, _ in unsubscribed] == [ids[0]]
    assert [sent.chat_id for sent in adapter.sent] == ["here"]
    assert adapter.attempts["gone"] == 1


async def test_single_messages_go_before_a_broadcast_that_is_queued(app: App) -> None:
    ids = await residents(app.db, [f"r{n}" for n in range(30)], platform="test")
    await fan_out(app, ids, batch="news")
    await fan_out(app, [ids[-1]], kind="status")
    adapter = FakeAdapter()
    async with running(app, adapter, DeliveryPolicy(concurrency=1, poll=0.05)):
        await until(lambda: settled(app))
    assert adapter.sent[0].chat_id == "r29"
    assert len(adapter.sent) == 31


async def test_the_recipients_language_is_read_when_the_message_is_sent(app: App) -> None:
    ids = await residents(app.db, ["anna", "bob"], platform="test", language="nl")
    await fan_out(app, ids)
    async with app.db.transaction():
        await app.repos.users.set_language(ids[0], "en")  # changed after queueing
    adapter = FakeAdapter()
    async with running(app, adapter):
        await until(lambda: len(adapter.sent) == 2)
    assert {(sent.chat_id, sent.lang) for sent in adapter.sent} == {("anna", "en"), ("bob", "nl")}


async def test_no_more_than_the_concurrency_is_on_its_way_at_once(app: App) -> None:
    ids = await residents(app.db, [f"r{n}" for n in range(12)], platform="test")
    adapter = FakeAdapter(gate=asyncio.Event())
    await fan_out(app, ids)
    policy = DeliveryPolicy(concurrency=3, window=5, poll=0.05)
    async with running(app, adapter, policy) as worker:
        # Three being sent; two more taken and ready; the window is full. Nothing moves now
        # until a send comes back: the dispatcher waits for a place in the window.
        await until(lambda: worker.in_flight == worker.window == 5)
        assert adapter.active == 3
        assert await app.repos.outbox.status_counts() == {"pending": 12}
        adapter.gate.set()  # type: ignore[union-attr]
        await until(lambda: settled(app))
    assert adapter.most_active == 3
    assert len(adapter.sent) == 12


async def test_a_second_row_for_a_chat_waits_in_the_database_for_its_turn(app: App) -> None:
    (anna,) = await residents(app.db, ["anna"], platform="test")
    await fan_out(app, [anna], kind="status")
    await fan_out(app, [anna], kind="status")
    adapter = FakeAdapter(pacing=Pacing(0, chat_interval=60))
    started = utcnow()
    async with running(app, adapter) as worker:
        await until(lambda: worker.counts["held"] >= 1 and len(adapter.sent) == 1)
        await until(lambda: worker.in_flight == 0)
    first, second = await app.repos.outbox.for_user(anna)
    assert first.status == "sent" and second.status == "pending"
    assert second.not_before >= started + timedelta(seconds=55)


async def test_the_author_sees_progress_edited_in_place_and_then_a_report(app: App) -> None:
    ids = await residents(app.db, [f"r{n}" for n in range(40)], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", role=Role.CIVIL_SERVANT)
    # The residents' messages wait until the author saw the first count.
    shown = asyncio.Event()
    adapter = FakeAdapter(
        script={"r5": [blocked()], "r6": [broken()] * 9},
        gates={f"r{n}": shown for n in range(40)},
    )
    await fan_out(app, ids, batch="broadcast:1", author_user_id=author)
    async with running(app, adapter, DeliveryPolicy(concurrency=2, attempts=2, backoff=0.01)):
        await until(lambda: adapter.to("ria"))
        shown.set()
        await until(lambda: any("delivery.report" in sent.keys for sent in adapter.to("ria")))
        await until(lambda: any("delivery.progress_done" in s.keys for s in adapter.to("ria")))
    to_author = adapter.to("ria")
    progress = to_author[0]
    assert progress.keys == ["delivery.progress"] and not progress.edit
    edits = [sent for sent in to_author if sent.edit]
    assert edits and all(sent.message_id == progress.message_id for sent in edits)
    assert edits[-1].keys == ["delivery.progress_done"]
    (report,) = [sent for sent in to_author if sent.keys == ["delivery.report"]]
    assert not report.edit
    batch = await app.repos.outbox.batch("broadcast:1")
    assert batch is not None and batch.finished_at is not None
    assert (batch.total, batch.delivered, batch.unreachable, batch.failed) == (40, 38, 1, 1)


async def test_the_report_is_written_in_the_authors_language(app: App) -> None:
    (resident,) = await residents(app.db, ["r"], platform="test")
    (author,) = await residents(app.db, ["ria"], platform="test", language="en")
    rendered: list[str] = []

    def render(reply: Reply, lang: str) -> str:
        text = app.catalog.render(lang, reply, markup=False)
        rendered.append(text)
        return text

    adapter = FakeAdapter(render=render)
    await fan_out(app, [resident], batch="broadcast:2", author_user_id=author)
    async with running(app, adapter):
        await until(lambda: any("delivery.report" in s.keys for s in adapter.to("ria")))
    report = next(s for s in adapter.to("ria") if s.keys == ["delivery.report"])
    assert report.texts[0].startswith("Your message has been sent.")
    assert "Delivered: 1" in report.texts[0] and "Total: 1" in report.texts[0]


async def test_a_batch_that_reaches_nobody_is_closed_with_a_report(app: App) -> None:
    (author,) = await residents(app.db, ["ria"], platform="test")
    assert await fan_out(app, [], batch="broadcast:3", author_user_id=author) == 0
    adapter = FakeAdapter()
    async with running(app, adapter):
        await until(lambda: [s.keys for s in adapter.to("ria")] == [["delivery.report"]])
    batch = await app.repos.outbox.batch("broadcast:3")
    assert batch is not None and batch.finished_at is not None and batch.total == 0


async def test_a_worker_learns_of_new_rows_without_waiting_for_its_poll(app: App) -> None:
    (anna,) = await residents(app.db, ["anna"], platform="test")
    adapter = FakeAdapter()
    slow_poll = DeliveryPolicy(poll=60, progress=60)
    idle = asyncio.Event()
    next_due = app.repos.outbox.next_due

    async def looked(platform: str) -> datetime | None:
        # The worker asks when the next row is due just before it waits (for a minute).
        found = await next_due(platform)
        idle.set()
        return found

    app.repos.outbox.next_due = looked  # type: ignore[method-assign]
    async with running(app, adapter, slow_poll) as worker:
        await idle.wait()
        app.repos.outbox.on_queued(worker.wake)
        await fan_out(app, [anna], kind="status")
        await until(lambda: len(adapter.sent) == 1, timeout=5)


async def test_an_unreadable_payload_fails_at_once_and_blocks_nothing(app: App) -> None:
    ids = await residents(app.db, ["anna", "bob"], platform="test")
    async with app.db.transaction():
        await app.repos.outbox.enqueue(ids[0], [{"no": "key"}], kind="status", now=utcnow())
        await app.repos.outbox.enqueue(ids[1], payload(), kind="status", now=utcnow())
    adapter = FakeAdapter()
    async with running(app, adapter):
        await until(lambda: settled(app))
    broken_row = (await app.repos.outbox.for_user(ids[0]))[0]
    assert broken_row.status == "failed" and "unreadable payload" in (broken_row.last_error or "")
    assert [sent.chat_id for sent in adapter.sent] == ["bob"]


async def test_a_chat_whose_message_is_slow_to_go_does_not_hold_up_the_other_chats(
    app: App,
) -> None:
    """Forty reports wait for the connector; Telegram takes its time over the first (a slow
    request, up to its timeout). Her next report waits for that one, so that they arrive
    in order, but a resident's answer queued after them goes meanwhile."""
    connector, resident = await residents(app.db, ["connector", "anna"], platform="test")
    for _ in range(40):
        await fan_out(app, [connector], kind="report")
    await fan_out(app, [resident], kind="status")
    slow = asyncio.Event()
    adapter = FakeAdapter(pacing=Pacing(30, chat_interval=1.0, burst=2), gates={"connector": slow})
    async with running(app, adapter) as worker:
        try:
            assert worker._claim < 40  # the connector's rows fill a look at the outbox
            await until(lambda: [sent.chat_id for sent in adapter.sent] == ["anna"])
            assert adapter.attempts["connector"] == 1  # the next one waits for the first
        finally:
            slow.set()
        await until(lambda: adapter.attempts["connector"] >= 2)
