"""Someone erased or banned while a message for them is already on its way through delivery:
the erasure wins, nothing more reaches the chat of a person who asked to be forgotten; a ban
wins over what it takes back (a broadcast, an invitation to vote)."""

from __future__ import annotations

import asyncio

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from storage.clock import utcnow
from tests.bot.delivery_support import FakeAdapter, payload
from tests.handlers.community.test_moderation import _reported_comment
from tests.people import connector, person, row
from tests.waiting import until


async def test_a_message_taken_for_sending_is_not_sent_once_its_person_was_erased(
    app: App,
) -> None:
    bea = await person(app, "bea")
    anna = await person(app, "anna")
    async with app.db.transaction():
        for chat in (bea, anna):
            user = await row(app, chat)
            await app.repos.outbox.enqueue(user.id, payload(), kind="status", now=utcnow())
    # Bea's message is on the wire; Anna's was taken and waits for the one sender.
    wire = asyncio.Event()
    adapter = FakeAdapter(gates={"bea": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(concurrency=1, poll=0.05)
    )
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


async def test_an_invitation_taken_for_sending_is_not_sent_once_its_person_was_banned(
    app: App,
) -> None:
    anna, (bea, *_) = await _reported_comment(app)
    async with app.db.transaction():
        # What the reports queued is out of the way.
        await app.db.execute("UPDATE outbox SET status = 'sent' WHERE status = 'pending'")
        for chat, kind in ((bea, "status"), (anna, "budget_invitation")):
            user = await row(app, chat)
            await app.repos.outbox.enqueue(user.id, payload(), kind=kind, now=utcnow())
    wire = asyncio.Event()
    adapter = FakeAdapter(gates={"r0": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(concurrency=1, poll=0.05)
    )
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
