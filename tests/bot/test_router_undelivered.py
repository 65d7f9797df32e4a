"""Replies a platform could not take for a moment wait in the person's outbox.

The router recorded the event and moved the person's dialog on before it answered; a reply
lost to a brief outage would leave them at a question they never saw. So the adapter raises
``Undelivered`` and the router hands those replies to delivery, which retries them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.pacing import Pacing
from bot.platforms.base import DeliveryError
from bot.platforms.matrix import MATRIX_ROOM_INTERVAL
from bot.router import Undelivered
from handlers import FEATURES
from handlers.contract import Button, Document, Event, Reply, Response, Role, respond
from handlers.feature import Context, Feature, Registry
from storage.clock import utcnow
from tests.bot.delivery_support import FakeAdapter
from tests.support import PLATFORMS, Chat
from tests.waiting import until


async def _outage(
    app: App, event: Event, *, first: int = 0, delivered: int = 0, key: str | None = None
) -> None:
    """Handle an event whose replies the platform fails to take from the ``first`` on."""

    async def failing(_: Event, lang: str, replies: list[Reply]) -> None:
        raise Undelivered(replies[first:], "502 Bad Gateway", delivered=delivered, dedupe_key=key)

    await app.router.handle(event, failing)


def _matrix_pacing() -> Pacing:
    """Matrix's spacing of messages to one room (the rate does not matter here)."""
    return Pacing(0, chat_interval=MATRIX_ROOM_INTERVAL)


async def _delivered(app: App) -> FakeAdapter:
    """What a delivery worker sends of the outbox, once nothing is pending any more."""
    adapter = FakeAdapter()
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    return adapter


async def test_a_reply_lost_to_an_outage_is_sent_from_the_outbox(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.onboard()
    event = anna.event(command="idee", event_id="$idee")
    await _outage(app, event, delivered=1, key="$idee")

    user = await app.repos.users.find("test", "anna")
    assert user is not None
    (row,) = await app.repos.outbox.for_user(user.id)
    assert (row.kind, row.chat_id) == ("reply", "anna")
    assert [reply["key"] for reply in row.payload] == ["ideas.ask_category"]
    # The outbox has them now: seen again, the event sends nothing more.
    handled = await app.repos.handled.find("test", "$idee")
    assert handled is not None and handled.pending is None
    assert await app.db.fetchval("SELECT parts_sent FROM outbox WHERE id = ?", (row.id,)) == 1

    adapter = await _delivered(app)
    assert [(sent.chat_id, sent.keys) for sent in adapter.sent] == [
        ("anna", ["ideas.ask_category"])
    ]
    # Sent under the first try's key: a platform that knows it posts nothing twice.
    assert adapter.dedupe_keys["anna"] == ["$idee"]
    # The question that came late is the one the dialog waits on.
    (payload,) = [
        button.payload
        for reply in adapter.sent[0].replies
        for line in reply.buttons
        for button in line
        if "Woningbeleid" in app.catalog.label("nl", button)
    ]
    await anna.press_payload(payload)
    assert anna.keys == ["ideas.ask_title"]


async def test_a_newcomer_who_has_not_consented_yet_still_gets_the_question(app: App) -> None:
    bob = Chat(app, "bob")
    # The welcome arrived; the consent question after it did not.
    await _outage(app, bob.event(command="start", event_id="$start"), first=1)

    adapter = await _delivered(app)
    assert [sent.keys for sent in adapter.sent] == [["onboarding.consent_question"]]


async def test_a_file_that_waited_in_the_outbox_arrives_whole(app: App) -> None:
    feature = Feature("export")
    data = bytes(range(256))

    @feature.command("export", consent=False, role=Role.RESIDENT)
    async def export(ctx: Context) -> Response:
        return respond(
            Reply(key="raw", params={"text": "vooraf"}),
            Reply(key="raw", params={"text": "hier"}, document=Document(filename="x", data=data)),
        )

    app.router.registry = Registry([*FEATURES, feature])
    anna = Chat(app, "anna")
    await anna.onboard()
    await _outage(app, anna.event(command="export", event_id="$export"), first=1)

    (sent,) = (await _delivered(app)).sent
    assert sent.replies[0].document is not None and sent.replies[0].document.data == data


async def test_nothing_lost_in_a_group_is_sent_to_the_persons_private_chat(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.onboard()
    group = Chat(app, "anna", chat_id="-100")
    await _outage(app, group.event(command="help", is_group=True, event_id="$group"))
    user = await app.repos.users.find("test", "anna")
    assert user is not None
    assert await app.repos.outbox.for_user(user.id) == []


async def test_a_reply_that_waited_comes_in_the_language_chosen_before_consent(app: App) -> None:
    amal = Chat(app, "amal", language_hint="nl")
    await amal.send("/start")
    await amal.press("English")  # kept in the onboarding dialog: nothing stored before consent
    assert "Welcome to" in amal.text
    (payload,) = [p for label, p in amal.buttons() if "🔒" in label]
    # The privacy statement meets a 502: it waits in the outbox.
    await _outage(app, amal.event(button=payload, event_id="$privacy"))

    sent = (await _delivered(app)).sent
    assert sent and [s.lang for s in sent] == ["en"] * len(sent)


async def test_a_reply_that_waited_comes_in_the_language_of_a_newcomers_phone(app: App) -> None:
    olek = Chat(app, "olek", language_hint="pl")
    await _outage(app, olek.event(command="start", event_id="$start"))

    sent = (await _delivered(app)).sent
    assert sent and [s.lang for s in sent] == ["pl"] * len(sent)


async def test_replies_after_one_that_waits_come_after_it(app: App) -> None:
    """On Matrix "2" chooses from what the chat was shown last. A reply that waits in the
    outbox arrives later, so newer replies wait behind it: sent at once, they would come
    before it, and its question would be on screen while "2" chose from theirs."""
    mara = Chat(app, "@mara:hs", platform="matrix", chat_id="!dm")
    await mara.onboard()
    # The homeserver hiccups on the answer to /idee: the category question waits.
    await _outage(app, mara.event(command="idee", event_id="$idee"))
    # Nothing came, so she asks for the menu: its answer waits behind the question.
    await mara.send("/menu")
    assert mara.keys == []

    adapter = FakeAdapter(name="matrix", platform=PLATFORMS["matrix"], pacing=_matrix_pacing())
    worker = DeliveryWorker(app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05))
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    assert [s.keys for s in adapter.sent] == [["ideas.ask_category"], ["drafts.open"]]
    # The numbers she sees last are the ones "2" chooses from.
    shown = [b.payload for r in adapter.sent[-1].replies for line in r.buttons for b in line]
    stored = await app.repos.chat_options.load("matrix", "!dm")
    assert [payload for _, payload, _ in stored] == shown

    # Once nothing waits any more, answers are sent straight away again.
    await mara.send("1")
    assert mara.keys == ["ideas.ask_category"]


async def test_numbers_of_a_reply_that_waited_win_over_a_notification_sent_before_it(
    app: App,
) -> None:
    """A notification with options may reach the chat while a waiting reply is retried;
    the reply, arriving later, is what the person sees last, so "2" chooses from it."""
    mara = Chat(app, "@mara:hs", platform="matrix", chat_id="!dm")
    await mara.onboard()
    await _outage(app, mara.event(command="menu", event_id="$menu"))
    user = await app.repos.users.find("matrix", "@mara:hs")
    assert user is not None
    (menu,) = await app.repos.outbox.for_user(user.id)
    news = Reply(
        key="raw",
        params={"text": "Nieuws"},
        buttons=[[Button(label="raw", payload="x", params={"text": "Lezen"})]],
    )
    async with app.db.transaction():
        await app.repos.outbox.enqueue(
            user.id, [news.model_dump(mode="json")], kind="notification", now=app.router.clock()
        )

    # The homeserver fails the menu once more; the notification goes on meanwhile, while
    # the menu waits a minute to be tried again (on delivery's clock, moved on once the
    # notification is out: however slow the machine, the menu is not tried before it).
    adapter = FakeAdapter(
        name="matrix",
        platform=PLATFORMS["matrix"],
        pacing=_matrix_pacing(),
        script={"!dm": [DeliveryError("502")]},
    )
    later = timedelta(0)
    worker = DeliveryWorker(
        app.repos,
        app.catalog,
        adapter,
        DeliveryPolicy(poll=0.05, backoff=60),
        clock=lambda: utcnow() + later,
    )
    await worker.start()
    try:
        await until(lambda: adapter.sent)
        later = timedelta(minutes=2)
        worker.wake()

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    assert [s.keys for s in adapter.sent] == [["raw"], [r["key"] for r in menu.payload]]
    shown = [b.payload for r in adapter.sent[-1].replies for line in r.buttons for b in line]
    assert shown
    stored = await app.repos.chat_options.load("matrix", "!dm")
    assert [payload for _, payload, _ in stored] == shown


async def _sent_in_the_end(app: App, adapter: FakeAdapter, policy: DeliveryPolicy) -> None:
    """Run a delivery worker until nothing is pending any more."""
    worker = DeliveryWorker(app.repos, app.catalog, adapter, policy)
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()


async def test_a_reply_that_waits_is_not_overtaken_by_the_next_while_it_is_tried_again(
    app: App,
) -> None:
    """The question of /idee waits in the outbox; her /menu's answer waits behind it. The
    platform fails the question once more: the menu must still come after it, not before
    (she would read an answer to /menu, then the question to a dialog she left)."""
    anna = Chat(app, "anna")
    await anna.onboard()
    await _outage(app, anna.event(command="idee", event_id="$idee"))
    await anna.send("/menu")
    assert anna.keys == []

    adapter = FakeAdapter(script={"anna": [DeliveryError("502 Bad Gateway")]})
    await _sent_in_the_end(app, adapter, DeliveryPolicy(poll=0.05, backoff=0.2))
    assert [s.keys for s in adapter.sent] == [["ideas.ask_category"], ["drafts.open"]]


@dataclass
class _SlowFirst(FakeAdapter):
    """An adapter whose first send takes a while (a slow request), the others not."""

    slowed: bool = False

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        if not self.slowed:
            self.slowed = True
            await asyncio.sleep(0.3)
        return await super().send(chat_id, lang, replies, dedupe_key=dedupe_key, skip=skip)


async def test_two_messages_for_one_chat_arrive_in_the_order_they_were_queued(app: App) -> None:
    """Telegram lets a chat take two messages at once; sent side by side, the second can
    arrive first. One chat's messages go one after the other."""
    anna = Chat(app, "anna")
    await anna.onboard()
    user = await app.repos.users.find("test", "anna")
    assert user is not None
    async with app.db.transaction():
        for text in ("eerst", "daarna"):
            reply = Reply(key="raw", params={"text": text})
            await app.repos.outbox.enqueue(
                user.id, [reply.model_dump(mode="json")], kind="status", now=app.router.clock()
            )

    adapter = _SlowFirst(pacing=Pacing(0, chat_interval=1.0, burst=2))
    await _sent_in_the_end(app, adapter, DeliveryPolicy(poll=0.05))
    assert [s.replies[0].params["text"] for s in adapter.sent] == ["eerst", "daarna"]
