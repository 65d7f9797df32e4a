"""A poll's closing time changes while its invitations still wait in the outbox (a large
round is sent at Telegram's pace, a chat was told to wait, the bot was down): what residents
get from delivery says the time that holds then, or nothing once the poll closed. And the
results button, for whoever holds one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.base import RetryLater
from handlers.consultations.shown import shown_time
from handlers.contract import Reply
from storage.consultations.model import ConsultationStatus
from tests.bot.delivery_support import FakeAdapter, Sent
from tests.consultations import Clock, Jobs, compose_poll, last_consultation, outbox_of
from tests.markup import assert_user_text_literal, parse_html
from tests.people import civil_servant
from tests.people import person as resident
from tests.support import Chat
from tests.waiting import until

#: A title with markup, an ampersand, emoji and right-to-left text: it stays text.
TITLE = '<b>Speel & "plek"</b> 🛝 שלום'


async def _deliver(app: App, clock: Clock) -> FakeAdapter:
    """Run delivery as the bot runs it until nothing is pending; what the adapter got
    (as the HTML the platform is sent)."""

    def render(reply: Reply, lang: str) -> str:
        return app.catalog.render(lang, reply, markup=True)

    adapter = FakeAdapter(render=render)
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05), clock=clock
    )
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    return adapter


def _texts(sent: list[Sent]) -> list[str]:
    return [parse_html(text).text for message in sent for text in message.texts]


def _typed(app: App, moment: datetime) -> str:
    """A moment as staff type it."""
    return moment.astimezone(app.router.timezone).strftime("%d-%m-%Y %H:%M")


async def _published(app: App) -> tuple[Chat, int, datetime]:
    ria = await civil_servant(app)
    await compose_poll(ria, title=TITLE)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    opened = await app.repos.consultations.get(poll)
    assert opened is not None and opened.closes_at is not None
    return ria, poll, opened.closes_at


async def _move(app: App, ria: Chat, poll: int, to: datetime) -> datetime:
    await ria.press_payload(f"cs.mv:{poll}")
    await ria.send(_typed(app, to))
    assert ria.keys == ["consultations.moved"], ria.keys
    moved = await app.repos.consultations.get(poll)
    assert moved is not None and moved.closes_at is not None
    return moved.closes_at


async def test_invitations_still_waiting_say_the_moved_closing_time_in_each_language(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    tom = await resident(app, "tom", language="English")
    ria, poll, old = await _published(app)
    assert len(await outbox_of(app, anna)) == len(await outbox_of(app, tom)) == 1
    # Not in the past, not within the hour: refused, and nothing waiting changes.
    await ria.press_payload(f"cs.mv:{poll}")
    await ria.send(_typed(app, clock.now - timedelta(days=1)))
    assert ria.keys[0] == "consultations.when_too_soon"
    await ria.press("Stoppen")
    new = await _move(app, ria, poll, old + timedelta(days=13, hours=2))

    adapter = await _deliver(app, clock)
    for chat, lang in ((anna, "nl"), (tom, "en")):
        [invitation] = adapter.to(chat.user_id)
        assert invitation.keys == ["consultations.invitation", "consultations.question"]
        [text, _] = _texts([invitation])
        assert shown_time(new, app.router.timezone, lang) in text, text
        assert shown_time(old, app.router.timezone, lang) not in text
        assert_user_text_literal(invitation.texts[0], [TITLE])
        assert len(invitation.texts[0].encode("utf-16-le")) // 2 <= 4096


async def test_an_invitation_held_past_the_old_closing_time_goes_out_when_it_was_moved_later(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria, poll, old = await _published(app)
    new = await _move(app, ria, poll, old + timedelta(days=7))
    # Her chat was told to wait (or the bot was down) until after the old closing time.
    clock.now = old + timedelta(hours=1)
    adapter = await _deliver(app, clock)
    [invitation] = adapter.to("anna")
    assert shown_time(new, app.router.timezone, "nl") in _texts([invitation])[0]
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    assert anna.keys == ["consultations.question_scale"]


async def test_a_reminder_still_waiting_says_the_moved_closing_time(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria, poll, old = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")  # begun, not finished
    await _deliver(app, clock)  # her invitation went out before
    clock.now = old - timedelta(hours=23)
    await Jobs.of(app).consultation(poll)
    [*_, reminder] = await outbox_of(app, anna)
    assert (reminder.status, reminder.payload[0]["key"]) == ("pending", "consultations.reminder")
    new = await _move(app, ria, poll, old + timedelta(days=2))
    adapter = await _deliver(app, clock)
    [sent] = adapter.to("anna")
    assert sent.keys == ["consultations.reminder"]
    [text] = _texts([sent])
    assert shown_time(new, app.router.timezone, "nl") in text
    assert shown_time(old, app.router.timezone, "nl") not in text


async def test_closing_now_withdraws_the_invitations_still_waiting(app: App, clock: Clock) -> None:
    anna = await resident(app, "anna")
    bob = await resident(app, "bob")
    ria, poll, _ = await _published(app)
    await bob.press_payload(f"cs.a:{poll}:0:1:2")  # from /peilingen, before his invitation
    await ria.press_payload(f"cs.endok:{poll}")
    assert ria.keys == ["consultations.closing"]
    # Delivery runs before the closing job does: nothing asks for answers no longer taken.
    adapter = await _deliver(app, clock)
    assert adapter.to("anna") == [] and adapter.to("bob") == []
    [row] = await outbox_of(app, anna)
    assert (row.status, row.last_error) == ("cancelled", "withdrawn")
    await Jobs.of(app).consultation(poll)
    closed = await app.repos.consultations.get(poll)
    assert closed is not None and closed.status is ConsultationStatus.CLOSED
    adapter = await _deliver(app, clock)
    assert [s.keys[0] for s in adapter.to("bob")] == ["consultations.results"]
    assert adapter.to("anna") == []


async def test_the_results_are_for_those_who_answered_whatever_button_is_pressed(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")  # asked, answers
    bob = await resident(app, "bob")  # asked, never answers
    _, poll, old = await _published(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    carl = await resident(app, "carl")  # joined after it opened: never asked
    clock.now = old
    await Jobs.of(app).consultation(poll)

    await anna.press_payload(f"cs.u:{poll}:0")
    assert anna.keys == ["consultations.results"]
    # Bob's old invitation offers no results; the button forged anyway tells him why.
    await bob.press_payload(f"cs.a:{poll}:0:1:1")
    assert bob.keys == ["consultations.closed"]
    assert not any(payload.startswith("cs.u") for _, payload in bob.buttons())
    await bob.press_payload(f"cs.u:{poll}:0")
    assert bob.keys == ["consultations.results_not_answered"]
    assert "Schommel" not in bob.text and "Meegedaan" not in bob.text
    await bob.send("/peilingen")
    assert f"cs.u:{poll}:0" not in [payload for _, payload in bob.buttons()]
    await carl.press_payload(f"cs.u:{poll}:0")
    assert carl.keys == ["consultations.not_found"]
    for forged in (f"cs.u:{poll}:1", f"cs.u:{poll}", "cs.u:x:0", f"cs.u:{poll}:0:0"):
        await bob.press_payload(forged)
        assert bob.keys[0] in ("consultations.not_found", "general.stale_button"), forged
    assert await app.db.fetchval("SELECT COUNT(*) FROM consultation_answers") == 1


async def test_an_invitation_cut_off_between_its_messages_says_the_moved_time_in_what_is_to_come(
    app: App, clock: Clock
) -> None:
    """The invitation with the closing time went out; Telegram asked the chat to wait before
    its first question. Moved meanwhile: what comes next starts with the new time."""
    anna = await resident(app, "anna")
    ria, poll, old = await _published(app)
    cut = FakeAdapter(script={anna.user_id: [RetryLater(0.05, delivered=1)]})
    worker = DeliveryWorker(app.repos, app.catalog, cut, DeliveryPolicy(poll=0.05), clock=clock)
    await worker.start()
    try:

        async def cut_off() -> bool:
            [row] = await outbox_of(app, anna)
            sent = await app.db.fetchval("SELECT parts_sent FROM outbox WHERE id = ?", (row.id,))
            return bool(sent == 1)

        await until(cut_off)
    finally:
        await worker.stop()
    first = await _move(app, ria, poll, old - timedelta(days=4))
    new = await _move(app, ria, poll, old - timedelta(days=5))  # moved twice: one line
    assert first != new
    clock.advance(seconds=1)  # past the wait Telegram asked for
    adapter = await _deliver(app, clock)
    [sent] = adapter.to(anna.user_id)
    already, *to_come = _texts([sent])  # the platform is sent what follows the first
    assert shown_time(old, app.router.timezone, "nl") in already
    timezone = app.router.timezone
    assert (
        to_come[0]
        == f"⏰ De sluittijd is veranderd: je kunt meedoen tot {shown_time(new, timezone, 'nl')}."
    )
    assert len(to_come) == 2 and to_come[1].startswith("Vraag 1 van 4")
    assert not any(shown_time(first, timezone, "nl") in text for text in to_come)


# Evaluations: each person is told their own deadline, and staff may close sooner ---------------


async def _evaluation_asked(app: App, clock: Clock, *names: str) -> tuple[int, list[Chat]]:
    """The playground's evaluation, and residents who joined its experiment four weeks ago
    and whose invitation (its first moment) now waits in the outbox."""
    [playground, *_] = await app.repos.experiments.running()
    [evaluation] = [
        c.id
        for c in await app.repos.consultations.open_evaluations()
        if c.experiment_id == playground.id
    ]
    people = [await resident(app, name) for name in names]
    for chat in people:
        await chat.press_payload(f"exp.join:{playground.id}")
    clock.advance(days=28, minutes=1)
    await Jobs.of(app).evaluations()
    for chat in people:
        [row] = await outbox_of(app, chat)
        assert row.status == "pending"
    return evaluation, people


async def test_an_evaluation_closed_sooner_says_the_new_time_in_what_still_waits(
    app: App, clock: Clock
) -> None:
    evaluation, [anna, bob] = await _evaluation_asked(app, clock, "anna", "bob")
    deadline = clock.now + timedelta(days=14)  # their own two weeks
    timezone = app.router.timezone
    await bob.press_payload(f"cs.a:{evaluation}:1:1:4")  # begun, not finished
    ria = await civil_servant(app)
    closes = await _move(app, ria, evaluation, clock.now + timedelta(days=3))

    adapter = await _deliver(app, clock)
    for chat in (anna, bob):
        [invitation] = adapter.to(chat.user_id)
        assert invitation.keys[0] == "consultations.invitation_evaluation"
        [text, _] = _texts([invitation])
        assert shown_time(closes, timezone, "nl") in text, text
        assert shown_time(deadline, timezone, "nl") not in text
    # Bob is reminded a day before it closes (not a day before his own deadline), with
    # the time it closes.
    clock.now = closes - timedelta(hours=23)
    await Jobs.of(app).evaluations()
    [_, reminder] = await outbox_of(app, bob)
    assert reminder.payload[0]["key"] == "consultations.reminder"
    [sent] = (await _deliver(app, clock)).to(bob.user_id)
    [text] = _texts([sent])
    assert shown_time(closes, timezone, "nl") in text, text
    await bob.send("/peilingen")
    assert shown_time(closes, timezone, "nl") in bob.text


async def test_an_evaluations_invitation_still_waiting_at_its_new_closing_time_is_not_sent(
    app: App, clock: Clock
) -> None:
    evaluation, [anna] = await _evaluation_asked(app, clock, "anna")
    ria = await civil_servant(app)
    closes = await _move(app, ria, evaluation, clock.now + timedelta(days=2))
    # Her chat was told to wait (or the bot was down) until after it closed; delivery runs
    # before the closing job does.
    clock.now = closes + timedelta(minutes=1)
    await Jobs.of(app).evaluations()  # nobody more is asked either
    adapter = await _deliver(app, clock)
    assert adapter.to(anna.user_id) == []
    [row] = await outbox_of(app, anna)
    assert row.status == "cancelled"


# A move while delivery has the invitation in hand ----------------------------------------------


class Phone(FakeAdapter):
    """A platform that shows a person each message as it arrives: a chat in ``cut`` gets
    that many calls of its next send before the platform asks it to wait; every send first
    waits for the chat's gate (so the test decides when it goes on)."""

    def __init__(self, render: Callable[[Reply, str], str], cut: dict[str, int]):
        super().__init__(render=render)
        self.cut = cut
        #: What each chat saw, message by message.
        self.seen: dict[str, list[str]] = {}

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        if chat_id in self.gates:
            await self.gates[chat_id].wait()
        arrived = self.cut.pop(chat_id, len(replies))
        shown = self.seen.setdefault(chat_id, [])
        shown += [parse_html(self.render(reply, lang)).text for reply in replies[skip:arrived]]
        if arrived < len(replies):
            raise RetryLater(0.05, delivered=arrived)
        return str(len(shown))


async def test_a_move_while_delivery_sends_an_invitation_that_gets_cut_off_is_said_after_it(
    app: App, clock: Clock
) -> None:
    """Delivery took Anna's invitation and is sending it when the closing time moves; its
    first message (with the old time) arrives, then Telegram asks her chat to wait. What
    comes after it says the new time."""
    await resident(app, "anna")
    ria, poll, old = await _published(app)
    phone = Phone(
        lambda reply, lang: app.catalog.render(lang, reply, markup=True), cut={"anna": 1}
    )
    phone.gates["anna"] = asyncio.Event()
    worker = DeliveryWorker(app.repos, app.catalog, phone, DeliveryPolicy(poll=0.05), clock=clock)
    await worker.start()
    try:
        await until(lambda: worker.in_flight == 1)  # taken, on its way
        new = await _move(app, ria, poll, old - timedelta(days=3))
        phone.gates["anna"].set()

        async def cut_off() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 1 and not (
                worker.in_flight
            )

        await until(cut_off)
        clock.advance(seconds=1)  # past the wait Telegram asked for
        worker.wake()

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    timezone = app.router.timezone
    # The invitation comes again, whole, as it reads now: a part twice rather than none.
    first, again, question = phone.seen["anna"]
    assert shown_time(old, timezone, "nl") in first
    assert shown_time(new, timezone, "nl") in again, again
    assert question.startswith("Vraag 1 van 4"), question
