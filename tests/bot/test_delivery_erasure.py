"""Someone erased or banned while a message for them is already on its way through delivery:
the erasure wins, nothing more reaches the chat of a person who asked to be forgotten; a ban
wins over what it takes back (a broadcast, an invitation to vote)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import FakeAdapter, payload
from tests.handlers.community.test_moderation import _reported_comment
from tests.people import connector, person, row, with_role
from tests.support import Chat
from tests.waiting import until


def _one_sender(app: App, gated: str, wire: asyncio.Event) -> tuple[FakeAdapter, DeliveryWorker]:
    """Delivery with one sender, whose send to ``gated`` stays on the wire until ``wire``."""
    adapter = FakeAdapter(gates={gated: wire})
    policy = DeliveryPolicy(concurrency=1, poll=0.05)
    return adapter, DeliveryWorker(app.repos, app.catalog, adapter, policy)


async def _queue_one_each(app: App, *messages: tuple[Chat, str]) -> None:
    """One message of the given kind for each chat, queued in that order."""
    async with app.db.transaction():
        for chat, kind in messages:
            user = await row(app, chat)
            await app.repos.outbox.enqueue(user.id, payload(), kind=kind, now=utcnow())


async def test_a_message_taken_for_sending_is_not_sent_once_its_person_was_erased(
    app: App,
) -> None:
    bea = await person(app, "bea")
    anna = await person(app, "anna")
    await _queue_one_each(app, (bea, "status"), (anna, "status"))
    # Bea's message is on the wire; Anna's was taken and waits for the one sender.
    wire = asyncio.Event()
    adapter, worker = _one_sender(app, "bea", wire)
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        await anna.send("/vergeetmij")
        await anna.press("Ja, wis mijn gegevens")
        assert anna.keys == ["privacy.forget.done"]

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("bea"))
    finally:
        await worker.stop()
    assert adapter.to("anna") == [], "nothing reaches the chat of someone erased"
    assert adapter.attempts["anna"] == 0
    assert "pending" not in await app.repos.outbox.status_counts()


async def test_a_message_taken_for_sending_is_not_sent_to_someone_erased_before_many_others(
    app: App,
) -> None:
    """A retention run erases hundreds of silent residents one after the other while
    delivery works through rows it took before them (a broadcast to thousands goes out at
    about 30 a second): the first of them is not sent what was taken for her either."""
    bea = await person(app, "bea")
    anna = await person(app, "anna")
    await _queue_one_each(app, (bea, "status"), (anna, "status"))
    wire = asyncio.Event()
    adapter, worker = _one_sender(app, "bea", wire)
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        await anna.send("/vergeetmij")
        await anna.press("Ja, wis mijn gegevens")
        assert anna.keys == ["privacy.forget.done"]
        # Many more erasures follow before Anna's row comes to be sent (what each erasure
        # tells delivery, as the retention run's would).
        for other in range(100_000, 102_500):
            for hook in app.repos.personal.erasing:
                hook(other)

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("bea"))
    finally:
        await worker.stop()
    assert adapter.to("anna") == [], "nothing reaches the chat of someone erased"
    assert adapter.attempts["anna"] == 0


async def test_an_invitation_taken_for_sending_is_not_sent_once_its_person_was_banned(
    app: App,
) -> None:
    anna, (bea, *_) = await _reported_comment(app)
    # What the reports queued is out of the way.
    await app.db.execute("UPDATE outbox SET status = 'sent' WHERE status = 'pending'")
    await _queue_one_each(app, (bea, "status"), (anna, "budget_invitation"))
    wire = asyncio.Event()
    adapter, worker = _one_sender(app, "r0", wire)
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        ria = await connector(app)
        await ria.send("/meldingen")
        await ria.press("Blokkeren")
        await ria.send("Herhaaldelijk schelden.")

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("r0"))
        await until(lambda: adapter.to("anna"))  # what the ban says to her
        await asyncio.sleep(0.2)
    finally:
        await worker.stop()
    assert [sent.keys for sent in adapter.to("anna") if "raw" in sent.keys] == []
    rows = await app.repos.outbox.for_user((await row(app, anna)).id)
    assert [r.status for r in rows if r.kind == "budget_invitation"] == ["cancelled"]


async def test_a_broadcast_without_an_author_any_more_finishes_when_its_last_copy_is_erased(
    app: App,
) -> None:
    ria = await with_role(app, await person(app, "ria"), Role.CIVIL_SERVANT)
    anna = await person(app, "anna")
    bea = await person(app, "bea")
    ids = [(await row(app, chat)).id for chat in (ria, anna, bea)]
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids[1:],
            payload(),
            kind="broadcast",
            batch="broadcast:9",
            author_user_id=ids[0],
            now=utcnow(),
        )
        # Bea's chat waits (the platform asked it to): her copy is the last one pending.
        await app.repos.outbox.hold_chat("test", "bea", utcnow() + timedelta(hours=1))
    adapter = FakeAdapter()
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05, progress=0.05)
    )
    await worker.start()
    try:
        await until(lambda: sent(app, ids[1]))
        # The civil servant, then Bea, ask to be forgotten.
        for chat in (ria, bea):
            await chat.send("/vergeetmij")
            await chat.press("Ja, wis mijn gegevens")
            assert chat.keys == ["privacy.forget.done"]

        async def finished() -> bool:
            batch = await app.repos.outbox.batch("broadcast:9")
            return batch is not None and batch.finished_at is not None

        await until(finished)
    finally:
        await worker.stop()
    batch = await app.repos.outbox.batch("broadcast:9")
    assert batch is not None and (batch.total, batch.delivered) == (1, 1)
    # Anna's copy is kept no longer than any other message.
    async with app.db.transaction():
        await app.repos.outbox.enqueue(ids[1], payload(), kind="status", now=utcnow())
    assert await app.repos.outbox.prune(utcnow() + timedelta(days=40)) >= 1
    assert [r.kind for r in await app.repos.outbox.for_user(ids[1])] == ["status"]


async def sent(app: App, user_id: int) -> bool:
    return [r.status for r in await app.repos.outbox.for_user(user_id)] == ["sent"]


async def test_a_progress_message_on_its_way_when_its_author_is_erased_is_not_remembered(
    app: App,
) -> None:
    ria = await with_role(app, await person(app, "ria"), Role.CIVIL_SERVANT)
    anna = await person(app, "anna")
    author, anna_id = (await row(app, ria)).id, (await row(app, anna)).id
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            [anna_id],
            payload(),
            kind="broadcast",
            batch="broadcast:8",
            author_user_id=author,
            now=utcnow(),
        )
        # Anna's chat waits a while (the platform asked it to): the broadcast runs on.
        await app.repos.outbox.hold_chat("test", "anna", utcnow() + timedelta(hours=1))
    # Ria's progress message is on the wire when she asks to be forgotten.
    wire = asyncio.Event()
    adapter = FakeAdapter(gates={"ria": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05, progress=0.05)
    )
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and adapter.attempts["ria"] == 1)
        await ria.send("/vergeetmij")
        await ria.press("Ja, wis mijn gegevens")
        assert ria.keys == ["privacy.forget.done"]
        wire.set()
        await until(lambda: adapter.to("ria"))
        await asyncio.sleep(0.3)
        batch = await app.repos.outbox.batch("broadcast:8")
        # Nothing points at her chat any more.
        assert batch is not None and (batch.author_user_id, batch.progress_ref) == (None, None)
        async with app.db.transaction():
            await app.repos.outbox.release_chat("test", "anna", utcnow())
        await until(lambda: sent(app, anna_id))

        async def finished() -> bool:
            batch = await app.repos.outbox.batch("broadcast:8")
            return batch is not None and batch.finished_at is not None

        await until(finished)
    finally:
        await worker.stop()
    assert len(adapter.to("ria")) == 1, "nothing more goes to her chat"
    # The broadcast does not stay open for her progress message: its copies are pruned.
    async with app.db.transaction():
        await app.repos.outbox.enqueue(anna_id, payload(), kind="status", now=utcnow())
    assert await app.repos.outbox.prune(utcnow() + timedelta(days=40)) >= 1
