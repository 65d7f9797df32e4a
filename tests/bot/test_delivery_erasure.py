"""Someone erased or banned while a message for them is already on its way through delivery:
the erasure wins, nothing more reaches the chat of a person who asked to be forgotten; a ban
wins over what it takes back (a broadcast, an invitation to vote)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.admin.cli import open_repositories, revoke, run_erase_person
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.pacing import Pacing
from storage import Role
from storage.clock import utcnow
from storage.privacy.personal import Cause, ContentChoice
from tests.bot.delivery_support import FakeAdapter, payload
from tests.handlers.community.test_moderation import _reported_comment
from tests.handlers.ideas.helpers import TITLE, submit_idea
from tests.people import connector, person, row, with_role
from tests.support import Chat
from tests.waiting import until


def _one_sender(app: App, gated: str, wire: asyncio.Event) -> tuple[FakeAdapter, DeliveryWorker]:
    """Delivery with one sender, whose send to ``gated`` stays on the wire until ``wire``."""
    adapter = FakeAdapter(gates={gated: wire})
    policy = DeliveryPolicy(concurrency=1, poll=0.05)
    return adapter, DeliveryWorker(app.repos, app.catalog, adapter, policy)


def _learns_of_an_erasure(app: App) -> Callable[[], bool]:
    """Whether delivery has learned, from the database, of an erasure committed after this
    call (by another process): it looks every ``poll`` seconds, later on a busy machine."""
    outbox = app.repos.outbox
    generation = outbox.take()
    outbox.let_go(generation)
    return lambda: outbox.rechecking(generation)


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


async def test_a_message_taken_for_sending_is_not_sent_once_the_operator_erased_its_person_from_another_process(  # noqa: E501
    app: App,
) -> None:
    """``samenspel erase-person`` runs in a process of its own beside the bot: the bot
    learns of the erasure from the database, within a second, and what it had taken for
    that person is not sent."""
    bea = await person(app, "1001", platform="telegram")
    anna = await person(app, "1002", platform="telegram")
    await _queue_one_each(app, (bea, "status"), (anna, "status"))
    wire = asyncio.Event()
    adapter = FakeAdapter(name="telegram", gates={"1001": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(concurrency=1, poll=0.05)
    )
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        # The operator's command opens the database on a connection of its own.
        learned = _learns_of_an_erasure(app)
        await run_erase_person(app.settings, "telegram", "1002", False)
        await until(learned, what="the bot learns of the erasure from the database")

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("1001"))
    finally:
        wire.set()
        await worker.stop()
    assert adapter.to("1002") == [], "nothing reaches the chat of someone erased"
    assert adapter.attempts["1002"] == 0
    assert "pending" not in await app.repos.outbox.status_counts()


async def _idea_withdrawn_for_a_supporter(app: App, author: Chat, supporter: Chat) -> None:
    """The author's idea, supported by ``supporter``, withdrawn by its author: the
    supporter's notice that says so (with its title) waits in the outbox."""
    await submit_idea(author, TITLE)
    await supporter.press_payload("idea.open:1")
    await supporter.press("Steunen")
    await author.press("Bekijk #1")
    await author.press("Intrekken")
    await author.press("Ja, trek idee in")
    assert author.keys == ["ideas.withdrawn"]
    [told] = await app.repos.outbox.for_user((await row(app, supporter)).id)
    assert TITLE in json.dumps(told.payload, ensure_ascii=False)


async def test_a_notice_taken_for_sending_that_quotes_an_idea_its_author_erased_is_not_sent(
    app: App,
) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    cor = await person(app, "cor")
    # Cor's message will be on the wire; Bob's notice taken, waiting for the one sender.
    await _queue_one_each(app, (cor, "status"))
    await _idea_withdrawn_for_a_supporter(app, anna, bob)
    wire = asyncio.Event()
    adapter, worker = _one_sender(app, "cor", wire)
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        await anna.send("/vergeetmij")
        await anna.press("Ook wissen")
        await anna.press("Ja, wis mijn gegevens")
        assert anna.keys == ["privacy.forget.done"]
        await app.db.settled()  # the erasure's last steps removed Bob's notice

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("cor"))
        await asyncio.sleep(0.2)
    finally:
        wire.set()
        await worker.stop()
    assert adapter.to("bob") == [], "the title of an erased idea reaches nobody"
    assert await app.repos.outbox.for_user((await row(app, bob)).id) == []


async def test_a_notice_quoting_an_idea_the_operator_erased_from_another_process_is_not_sent(
    app: App,
) -> None:
    anna = await person(app, "1001", platform="telegram")
    bob = await person(app, "1002", platform="telegram")
    cor = await person(app, "1003", platform="telegram")
    await _queue_one_each(app, (cor, "status"))
    await _idea_withdrawn_for_a_supporter(app, anna, bob)
    wire = asyncio.Event()
    adapter = FakeAdapter(name="telegram", gates={"1003": wire})
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(concurrency=1, poll=0.05)
    )
    await worker.start()
    try:
        await until(lambda: adapter.active == 1 and worker.in_flight == 2)

        learned = _learns_of_an_erasure(app)
        await run_erase_person(app.settings, "telegram", "1001", True)
        await until(learned, what="the bot learns of the erasure from the database")

        wire.set()
        await until(lambda: worker.in_flight == 0 and adapter.to("1003"))
        await asyncio.sleep(0.2)
    finally:
        wire.set()
        await worker.stop()
    assert adapter.to("1002") == [], "the title of an erased idea reaches nobody"
    assert await app.repos.outbox.for_user((await row(app, bob)).id) == []


async def test_a_notice_quoting_an_idea_erased_a_moment_ago_waits_for_the_erasure_to_remove_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between an erasure and its last steps (which remove what quotes the erased person
    from the outbox, in the background) a notice not taken before is not sent either."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await _idea_withdrawn_for_a_supporter(app, anna, bob)
    # The erasure's last steps wait (a large database takes seconds to go through).
    steps = asyncio.Event()
    scrub = app.repos.personal.scrub

    async def later(scrub_id: int) -> None:
        await steps.wait()
        await scrub(scrub_id)

    monkeypatch.setattr(app.repos.personal, "scrub", later)
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    adapter = FakeAdapter()
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:
        await asyncio.sleep(0.5)
        assert adapter.to("bob") == [], "the title of an erased idea reaches nobody"
        steps.set()
        await app.db.settled()
        await asyncio.sleep(0.3)
    finally:
        steps.set()
        await worker.stop()
    assert adapter.to("bob") == [], "the title of an erased idea reaches nobody"
    assert await app.repos.outbox.for_user((await row(app, bob)).id) == []


@pytest.mark.parametrize("operator", ["erase-person", "revoke"])
async def test_the_last_count_of_a_broadcast_waiting_for_its_authors_chat_does_not_follow_her_erasure_or_revocation(  # noqa: E501
    app: App, operator: str
) -> None:
    """The author's progress message says "Klaar" once the broadcast is done; when her chat
    has to wait for it (one message a second on Telegram) and she is erased or revoked by
    the operator meanwhile, in another process, it is not sent: nothing more goes to an
    erased person, and someone no longer staff is shown no more progress (nor a report)."""
    ria = await with_role(app, await person(app, "4242", platform="telegram"), Role.CIVIL_SERVANT)
    anna = await person(app, "1001", platform="telegram")
    author, anna_id = (await row(app, ria)).id, (await row(app, anna)).id
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            [anna_id],
            payload(),
            kind="broadcast",
            batch="broadcast:7",
            author_user_id=author,
            now=utcnow(),
        )
        await app.repos.outbox.hold_chat("telegram", "1001", utcnow() + timedelta(hours=1))
    # Her chat's turn (three seconds after her first count) comes only once the operator
    # is done, however long that takes: the pacing's clock stands still, and its wait for
    # her chat ends when the test says so.
    waiting, her_turn = asyncio.Event(), asyncio.Event()

    async def until_her_turn(_: float) -> None:
        waiting.set()
        await her_turn.wait()

    pacing = Pacing(0, chat_interval=3.0, clock=lambda: 1000.0, sleep=until_her_turn)
    adapter = FakeAdapter(name="telegram", pacing=pacing)
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05, progress=0.05)
    )
    await worker.start()
    try:
        await until(lambda: adapter.to("4242"))  # "0 van 1 verstuurd"
        async with app.db.transaction():
            await app.repos.outbox.release_chat("telegram", "1001", utcnow())
        await until(lambda: adapter.to("1001"))
        await until(waiting.is_set)  # the last count waits for her chat now
        if operator == "revoke":
            await revoke(app.settings, "telegram", "4242", "vertrokken")
        else:
            await run_erase_person(app.settings, "telegram", "4242", False)
        her_turn.set()
        await asyncio.sleep(0.5)
    finally:
        her_turn.set()
        await worker.stop()
    assert [sent.keys for sent in adapter.to("4242")] == [["delivery.progress"]]
    # Her report of it, queued as it finished, went with her erasure or was withdrawn.
    statuses = {r.status for r in await app.repos.outbox.for_user(author)}
    assert statuses <= {"cancelled"}


async def test_a_notice_held_for_an_erasure_that_rolled_back_goes_out_after_all(
    app: App,
) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await _idea_withdrawn_for_a_supporter(app, anna, bob)
    erased = await row(app, anna)
    with pytest.raises(RuntimeError):
        async with app.db.transaction():
            await app.repos.personal.erase(
                erased.id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=utcnow()
            )
            raise RuntimeError("the disk is full")
    adapter = FakeAdapter()
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:
        await until(lambda: adapter.to("bob"), timeout=15)
    finally:
        await worker.stop()
    [told] = adapter.to("bob")
    assert told.keys == ["ideas.withdrawn_notice"]


async def test_a_notice_quoting_what_another_process_is_erasing_waits_for_that_erasure_to_end(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator erases someone from another process, whose last steps (which remove
    what quotes her from the outbox) take a while: the bot learns from the database which
    words to hold back meanwhile, as it does after a restart with such steps unfinished."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await _idea_withdrawn_for_a_supporter(app, anna, bob)
    erased = await row(app, anna)
    other = await open_repositories(app.settings)
    steps = asyncio.Event()
    scrub = other.personal.scrub

    async def later(scrub_id: int) -> None:
        await steps.wait()
        await scrub(scrub_id)

    monkeypatch.setattr(other.personal, "scrub", later)
    adapter = FakeAdapter()
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    try:
        async with other.db.transaction():
            await other.personal.erase(
                erased.id, content=ContentChoice.DELETE, cause=Cause.ADMIN, now=utcnow()
            )
        await worker.start()
        await asyncio.sleep(0.5)
        assert adapter.to("bob") == [], "the title of an erased idea reaches nobody"
        steps.set()
        await other.db.settled()
        await asyncio.sleep(0.3)
    finally:
        steps.set()
        await worker.stop()
        await other.db.close()
    assert adapter.to("bob") == [], "the title of an erased idea reaches nobody"
    assert await app.repos.outbox.for_user((await row(app, bob)).id) == []
