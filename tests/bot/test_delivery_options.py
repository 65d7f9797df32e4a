"""On a platform with numbered options, a message from the outbox with buttons is answered by
typing a number too: delivery remembers the options it showed (unless the chat was offered
newer ones meanwhile)."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import pytest

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.console import Console
from handlers.contract import Button, Platform, Reply
from storage.clock import utcnow
from tests.bot.delivery_support import FakeAdapter, residents
from tests.meetings import evening, organise
from tests.people import civil_servant, row, subscribe
from tests.privacy import traces
from tests.support import Chat
from tests.waiting import until

FAST = DeliveryPolicy(concurrency=2, attempts=3, backoff=0.02, poll=0.05, progress=0.05)
ASKING = [
    Reply(key="raw", params={"text": "Doe je mee?"}),
    Reply(
        key="raw",
        params={"text": "Kies"},
        buttons=[[Button.raw("Ja", "cs.a:1:0:1:1"), Button.raw("Nee", "cs.a:1:0:1:2")]],
    ),
]


async def _deliver(app: App, adapter: FakeAdapter, ids: list[int]) -> None:
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids, [r.model_dump(mode="json") for r in ASKING], kind="consultation", now=utcnow()
        )
    worker = DeliveryWorker(app.repos, app.catalog, adapter, FAST)
    await worker.start()
    try:
        await until(lambda: len(adapter.sent) == len(ids))
    finally:
        await worker.stop()


async def test_the_options_an_outbox_message_showed_are_remembered_for_its_chat(
    app: App,
) -> None:
    ids = await residents(app.db, ["anna"], platform="test")
    await _deliver(app, FakeAdapter(platform=Platform(name="test", numbered_options=True)), ids)
    assert await app.repos.chat_options.load("test", "anna") == [
        ("Ja", "cs.a:1:0:1:1", True),
        ("Nee", "cs.a:1:0:1:2", True),
    ]


async def test_newer_options_in_the_chat_are_kept_and_native_buttons_store_none(
    app: App,
) -> None:
    ids = await residents(app.db, ["anna", "bob"], platform="test")
    later = utcnow() + timedelta(minutes=5)
    async with app.db.transaction():
        await app.repos.chat_options.save("test", "anna", [("Menu", "menu", True)], later)
    await _deliver(app, FakeAdapter(platform=Platform(name="test", numbered_options=True)), ids)
    assert await app.repos.chat_options.load("test", "anna") == [("Menu", "menu", True)]
    assert len(await app.repos.chat_options.load("test", "bob")) == 2

    others = await residents(app.db, ["carl"], platform="test")
    await _deliver(app, FakeAdapter(), others)  # buttons of its own: nothing to remember
    assert await app.repos.chat_options.load("test", "carl") == []


async def test_a_message_that_comes_mid_dialog_leaves_the_dialogs_numbers_to_the_dialog(
    app: App,
) -> None:
    # Anna and Bob, at the console, are choosing a category for an idea ("2" is a category)
    # when an invitation to a meeting comes in with buttons of its own.
    people = [Chat(app, "anna", platform="console"), Chat(app, "bob", platform="console")]
    for person in people:
        await person.onboard()
        await subscribe(person)
        await person.send("/idee")
        assert person.keys == ["ideas.ask_category"]
    anna, bob = people
    second_category = anna.buttons()[1][1]
    ria = await civil_servant(app)
    await organise(ria, evening(utcnow()))
    await ria.press("Publiceren")

    screens = {}
    for person in people:
        screens[person.user_id] = io.StringIO()
        console = Console(app, person.user_id, io.StringIO(), screens[person.user_id])
        worker = DeliveryWorker(app.repos, app.catalog, console, FAST)
        await worker.start()
        try:
            await until(lambda p=person: "Ik kom" in screens[p.user_id].getvalue())
        finally:
            await worker.stop()
        # Its options are shown by name, not by a number that the dialog already uses.
        shown = screens[person.user_id].getvalue()
        assert "[✅ Ik kom]" in shown and "[1]" not in shown

    # A number past the question's options is no answer to anything shown with a number.
    categories = len(anna.buttons())
    await anna.send(str(categories + 1))
    assert "meetings.registered" not in anna.keys
    assert await app.repos.meetings.registration(1, (await row(app, anna)).id) is None

    # "2" still answers the question Anna was asked.
    await anna.send("2")
    assert anna.keys == ["ideas.ask_title"]
    stored = await app.repos.dialogs.load((await row(app, anna)).id)
    assert stored is not None and stored.data["category"] == second_category.split(":")[-1]

    # Bob chooses the invitation's own option by typing its name; his idea waits for him.
    await bob.send("Ik kom")
    assert "meetings.registered" in bob.keys


@pytest.mark.stored_before_a_change
async def test_a_message_stored_before_its_text_changed_still_goes_out(app: App) -> None:
    # Queued before the thanks for a report named the connector: the row has no name.
    anna = Chat(app, "anna", platform="console")
    await anna.onboard()
    async with app.db.transaction():
        await app.repos.outbox.enqueue(
            (await row(app, anna)).id,
            [Reply(key="rooms.reported").model_dump(mode="json")],
            kind="moderation",
            now=utcnow(),
        )
    screen = io.StringIO()
    worker = DeliveryWorker(
        app.repos, app.catalog, Console(app, "anna", io.StringIO(), screen), FAST
    )
    await worker.start()
    try:
        await until(lambda: "kijkt ernaar" in screen.getvalue())
    finally:
        await worker.stop()
    assert "… kijkt ernaar" in screen.getvalue()
    assert await app.db.fetchval("SELECT status FROM outbox") == "sent"


async def test_a_message_taken_for_sending_before_its_person_was_erased_leaves_nothing(
    app: App,
) -> None:
    """The worker took Anna's message, then she erased herself: it is neither sent nor
    remembered as the options of her chat (which would outlive her)."""
    anna, bob = Chat(app, "anna"), Chat(app, "bob")
    for person in (anna, bob):
        await person.onboard()
    ids = [(await row(app, anna)).id, (await row(app, bob)).id]
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids, [r.model_dump(mode="json") for r in ASKING], kind="consultation", now=utcnow()
        )
    taken, erased = asyncio.Event(), asyncio.Event()

    async def held(_: str | None, __: str, replies: list[Reply]) -> list[Reply]:
        if not taken.is_set():
            taken.set()
            await erased.wait()
        return replies

    adapter = FakeAdapter(platform=Platform(name="test", numbered_options=True))
    one_by_one = DeliveryPolicy(concurrency=1, attempts=3, backoff=0.02, poll=0.05)
    worker = DeliveryWorker(app.repos, app.catalog, adapter, one_by_one, sign=held)
    await worker.start()
    try:
        await until(taken.is_set)
        await anna.send("/vergeetmij")
        await anna.press("Ja")
        assert anna.keys == ["privacy.forget.done"]
        erased.set()
        # One sender, in order: once Bob has his, Anna's row was dealt with.
        await until(lambda: len(adapter.sent) >= 1)
    finally:
        await worker.stop()
    assert [sent.chat_id for sent in adapter.sent] == ["bob"]
    assert await app.repos.chat_options.load("test", "anna") == []
    assert await traces(app.db, ["anna"]) == []
