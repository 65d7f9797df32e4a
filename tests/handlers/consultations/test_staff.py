"""Staff: composing with its checks, who may compose, live counts, closing early, editing,
reading typed answers, scheduling, and the audit log of every change."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.admin.cli import revoke
from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.runtime import Runtime
from handlers.consultations import jobs as jobs_module
from handlers.contract import Reply, Role, Timer
from storage.consultations.model import Consultation, ConsultationStatus
from tests.bot.delivery_support import FakeAdapter
from tests.consultations import (
    FOLLOW_UP,
    INTRO,
    TITLE,
    Clock,
    Jobs,
    compose_poll,
    last_consultation,
    outbox_of,
    seen,
)
from tests.people import TimerLog, civil_servant, refused_as_unknown, with_role
from tests.people import person as resident
from tests.people import row as stored
from tests.support import Chat
from tests.waiting import WAIT, until


async def _actions(app: App, poll: int) -> list[tuple[str, object]]:
    return [(e.action, e.detail) for e in await app.repos.audit.about(f"consultation:{poll}")]


async def test_residents_cannot_compose_or_manage(app: App) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await anna.send("/nieuwepeiling")
    refused_as_unknown(app, anna)
    for payload in (f"cs.endok:{poll}", f"cs.res:{poll}:0", f"cs.fu:{poll}", "cs.staff"):
        await anna.press_payload(payload)
        assert anna.keys == ["general.stale_button"], payload
    await anna.send("/peilingen")
    assert anna.keys == ["consultations.list"]  # her own list, not the staff's
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.takes_answers(app.router.clock())


async def test_the_connector_may_compose_and_a_revoked_civil_servant_cannot_go_on(
    app: App,
) -> None:
    await resident(app, "anna")
    vera = await resident(app, "vera")
    async with app.db.transaction():
        await app.repos.users.set_role((await stored(app, "vera")).id, Role.CONNECTOR)
    await compose_poll(vera)
    await vera.press("Publiceren")
    assert vera.keys == ["consultations.published"]

    ria = await civil_servant(app)
    await compose_poll(ria, title="Tweede peiling")
    async with app.db.transaction():
        await app.repos.users.set_role((await stored(app, "ria")).id, Role.RESIDENT)
    await ria.press("Publiceren")
    assert "consultations.published" not in ria.keys
    published = await app.db.fetchval(
        "SELECT COUNT(*) FROM consultations WHERE kind = 'poll' AND status = 'open'"
    )
    assert published == 1


async def test_a_poll_being_written_when_the_role_goes_is_given_back(
    app: App, clock: Clock
) -> None:
    """Its title, introduction, every question with its options and the follow-up come
    with the word that it stopped, not lost unseen; so does a question half typed."""
    await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("Publiceren")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    for written in (TITLE, INTRO, "Wat moet er zeker komen?", "Klimrek", "nooit", FOLLOW_UP):
        assert written in ria.text
    await with_role(app, ria, Role.CIVIL_SERVANT)
    clock.advance(minutes=2)
    await ria.send("/nieuwepeiling")
    await ria.send("Bankjes")
    await ria.send("Waar wil jij een bankje?")
    await ria.press("Eén keuze")
    await ria.send("Welke plek?")
    await ria.send("Bij de vijver")
    await with_role(app, ria, Role.RESIDENT)
    clock.advance(minutes=2)  # as a resident she counts towards the flood limit again
    await ria.send("Bij de speeltuin")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    for written in ("Bankjes", "Welke plek?", "Bij de vijver", "Bij de speeltuin"):
        assert written in ria.text


async def test_the_composer_refuses_what_does_not_fit_and_asks_again(app: App) -> None:
    await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("x" * 81)
    assert ria.keys == ["answers.too_long", "consultations.ask_title"]
    await ria.send("Titel")
    await ria.send("Uitleg")
    await ria.send("een getypte keuze")
    assert ria.keys == ["answers.use_buttons", "consultations.ask_kind"]
    await ria.press("Eén keuze")
    await ria.send("Wat kiest u?")
    await ria.send("alleen één")
    assert ria.keys == ["consultations.options_so_far"]
    await ria.press("Laatste keuze weghalen")
    assert ria.keys == ["consultations.ask_options"]
    await ria.send("\n".join(f"keuze {n}" for n in range(9)))
    assert ria.keys == ["consultations.options_too_many", "consultations.ask_options"]
    await ria.send("kort\n" + "lang " * 10)
    assert ria.keys[0] == "consultations.option_too_long"
    await ria.send("Ja\nja")
    assert ria.keys[0] == "consultations.options_twice"
    await ria.send("- Ja\n- Nee\n\n")
    assert ria.keys == ["consultations.ask_more"]
    for number in range(2, 11):
        await ria.press("Nog een vraag")
        await ria.press("Schaal")
        await ria.send(f"Vraag {number}?")
        await ria.send("alleen een regel")
        assert ria.keys[0] == "consultations.ends_two"
        await ria.send("laag; hoog" if number % 2 else "laag\nhoog")
    assert "10 vragen (hoogstens 10)" in ria.text
    assert not any("Nog een vraag" in label for label, _ in ria.buttons())
    await ria.press("Laatste vraag weghalen")
    assert "9 vragen" in ria.text
    await ria.press("Klaar met de vragen")
    await ria.send("We gebruiken het.")
    await ria.press("Deelnemers experiment")
    assert "Geveltuintjes (0)" in ria.buttons()[1][0]
    await ria.press("Geveltuintjes")
    assert ria.keys == ["consultations.audience_empty", "consultations.ask_audience"]
    await ria.press("👥 Iedereen")
    await ria.press("Later")
    await ria.send("01-01-2020 9:00")
    assert ria.keys[0] == "consultations.when_too_soon"
    await ria.send("morgen 9:00")
    assert ria.keys == ["consultations.ask_closes"]
    await ria.send("morgen 9:30")  # less than an hour after opening
    assert ria.keys[0] == "consultations.when_too_soon"
    await ria.send("31-12-2099 9:00")
    assert ria.keys[0] == "composer.when_too_far"
    await ria.send("gisteren")
    assert ria.keys[0] == "composer.when_invalid"
    await ria.press("Na 14 dagen")
    assert ria.keys[0] == "consultations.preview_intro"
    assert ria.keys.count("consultations.question_scale") == 8
    assert await app.db.fetchval("SELECT COUNT(*) FROM consultations WHERE status = 'draft'") == 1


async def test_a_choice_or_scale_word_that_shows_nothing_is_refused(app: App) -> None:
    await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Speelplek")
    await ria.send("Uitleg")
    await ria.press("Eén keuze")
    await ria.send("Wat moet er komen?")
    await ria.send("Schommel\n\u200b\u200e")  # the second line shows nothing
    assert ria.keys == ["consultations.options_so_far"]
    assert "1. Schommel" in ria.text and "2." not in ria.text
    await ria.send("-\n•\n\u2060")  # nothing but bullets and an invisible mark
    assert ria.keys == ["consultations.option_empty", "consultations.options_so_far"]
    await ria.send("schom\u200bmel")  # looks the same as the first
    assert ria.keys[0] == "consultations.options_twice"
    await ria.send("Klimrek\nＳＣＨＯＭＭＥＬ")  # the same in full-width letters
    assert ria.keys[0] == "consultations.options_twice"
    assert "2." not in ria.text, "a message with a repeated choice adds none of its choices"
    await ria.send("Klimrek")
    await ria.press("Klaar")
    assert ria.keys == ["consultations.ask_more"]
    await ria.press("Nog een vraag")
    await ria.press("Schaal")
    await ria.send("Hoe vaak ga je erheen?")
    await ria.send("nooit\n\u2060\u200d")  # no word at 5
    assert ria.keys[0] == "consultations.ends_two"
    await ria.send("nooit\nelke dag")
    assert ria.keys == ["consultations.ask_more"]


async def _answered_by_anna(app: App) -> tuple[Chat, Chat, int]:
    """Ria's poll, published to everyone, and Anna's first answer: (Anna, Ria, the poll)."""
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:2")
    return anna, ria, poll


async def test_someone_who_came_after_the_poll_went_out_and_answers_counts_as_asked(
    app: App,
) -> None:
    """Dirk signed up after the invitations went out: not invited, he may answer all the
    same, and once he does the staff's counts take him in (nothing was withdrawn)."""
    _, ria, poll = await _answered_by_anna(app)
    dirk = await resident(app, "dirk")
    await dirk.send("/peilingen")
    await dirk.press("Nieuwe speelplek")
    await dirk.press_payload(f"cs.a:{poll}:0:1:1")
    await ria.send("/peilingen")
    assert "ingevuld: 0 van 3" in ria.text
    await ria.press(f"#{poll} ")
    card = next(m for m in ria.last if m.key == "consultations.card_open")
    assert "Gevraagd: 3 · begonnen: 2 · klaar: 0" in card.text


async def test_staff_close_early_and_the_results_go_out_at_once(app: App) -> None:
    timers = TimerLog(app)
    anna, ria, poll = await _answered_by_anna(app)
    await ria.send("/peilingen")
    await ria.press(f"#{poll} ")
    card = next(m for m in ria.last if m.key == "consultations.card_open")
    assert "Gevraagd: 2 · begonnen: 1 · klaar: 0" in card.text
    await ria.press("Nu sluiten")
    assert ria.keys == ["consultations.close_confirm"]
    await ria.press("Ja, nu sluiten")
    assert ria.keys == ["consultations.closing"]
    now = app.router.clock()
    assert timers.armed[-1] == Timer(job=f"consultation:{poll}", at=now)
    await anna.press_payload(f"cs.a:{poll}:0:2:3")
    assert anna.keys == ["consultations.closed"]
    await Jobs.of(app).consultation(poll)
    closed = await app.repos.consultations.get(poll)
    assert closed is not None and closed.status is ConsultationStatus.CLOSED
    [*_, results] = await outbox_of(app, anna)
    assert seen(app, results)[0].key == "consultations.results"
    assert [action for action, _ in await _actions(app, poll)] == [
        "consultation.publish",
        "consultation.close",
        "consultation.closed",
    ]
    await ria.press_payload(f"cs.endok:{poll}")  # again, from the old message
    assert ria.keys == ["consultations.staff_gone"]


async def test_staff_edit_what_happens_next_and_the_closing_time(app: App, clock: Clock) -> None:
    timers = TimerLog(app)
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await ria.press_payload(f"cs.fu:{poll}")
    assert FOLLOW_UP in ria.text
    await ria.send("x" * 601)
    assert ria.keys[0] == "answers.too_long"
    await ria.send("We bouwen de schommel in mei.")
    assert ria.keys == ["consultations.follow_up_saved"]
    await ria.press_payload(f"cs.mv:{poll}")
    await ria.send("volgende week")
    assert ria.keys[0] == "composer.when_invalid"
    later = clock.now + timedelta(days=20)
    await ria.send(later.astimezone(app.router.timezone).strftime("%d-%m-%Y 17:00"))
    assert ria.keys == ["consultations.moved"]
    moved = await app.repos.consultations.get(poll)
    assert moved is not None and moved.closes_at is not None
    assert moved.closes_at.astimezone(app.router.timezone).hour == 17
    assert timers.armed[-1] == Timer(
        job=f"consultation:{poll}", at=moved.closes_at - timedelta(days=1)
    )
    assert [(a, d.get("field")) for a, d in await _actions(app, poll)][1:] == [  # type: ignore[attr-defined]
        ("consultation.edit", "follow_up"),
        ("consultation.edit", "closes_at"),
    ]
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    clock.now = moved.closes_at
    await Jobs.of(app).consultation(poll)
    [*_, results] = await outbox_of(app, anna)
    assert "We bouwen de schommel in mei." in seen(app, results)[0].text
    assert FOLLOW_UP not in seen(app, results)[0].text


async def _answered_a_minute_before_closing(
    app: App, clock: Clock
) -> tuple[Chat, Chat, int, Consultation]:
    """Ria's poll, published and answered by Anna; the clock a minute before it closes."""
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(minutes=1)
    return anna, ria, poll, consultation


async def test_a_follow_up_typed_after_the_closing_time_is_given_back_not_lost(
    app: App, clock: Clock
) -> None:
    anna, ria, poll, consultation = await _answered_a_minute_before_closing(app, clock)
    await ria.press_payload(f"cs.fu:{poll}")
    assert ria.keys == ["consultations.ask_follow_up_edit"]
    clock.now = consultation.closes_at  # closing time: the results are on their way
    await ria.send("We bouwen de schommel in mei.")
    assert ria.keys == ["consultations.follow_up_too_late"]
    assert "niet bewaard" in ria.text and "We bouwen de schommel in mei." in ria.text
    await ria.press_payload(f"cs.fu:{poll}")
    assert ria.keys == ["consultations.staff_gone"]
    await Jobs.of(app).consultation(poll)
    [*_, results] = await outbox_of(app, anna)
    assert FOLLOW_UP in seen(app, results)[0].text
    assert not any(a == "consultation.edit" for a, _ in await _actions(app, poll))


def _typed_time(app: App, at: datetime) -> str:
    return at.astimezone(app.router.timezone).strftime("%d-%m-%Y 17:00")


async def test_a_closing_time_typed_as_the_poll_closes_comes_back_with_why(
    app: App, clock: Clock
) -> None:
    anna, ria, poll, consultation = await _answered_a_minute_before_closing(app, clock)
    await ria.press_payload(f"cs.mv:{poll}")
    assert ria.keys == ["consultations.ask_move"]
    clock.now = consultation.closes_at  # its time passed while Ria typed
    typed = _typed_time(app, clock.now + timedelta(days=10))
    await ria.send(typed)
    assert ria.keys == ["consultations.move_too_late"]
    assert "al gesloten" in ria.text and typed in ria.text
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.closes_at == consultation.closes_at
    assert not any(a == "consultation.edit" for a, _ in await _actions(app, poll))
    # The dialog ended: what she types next is not read as a closing time.
    await ria.send(typed)
    assert "consultations.move_too_late" not in ria.keys
    assert "consultations.moved" not in ria.keys
    await Jobs.of(app).consultation(poll)
    [*_, results] = await outbox_of(app, anna)
    assert seen(app, results)[0].key == "consultations.results"


async def test_a_closing_time_typed_while_a_colleague_closes_the_poll_comes_back(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    sam = await civil_servant(app, "sam")
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await ria.press_payload(f"cs.mv:{poll}")
    await sam.press_payload(f"cs.end:{poll}")
    await sam.press("Ja, nu sluiten")
    assert sam.keys == ["consultations.closing"]
    closed_at = clock.now
    clock.advance(minutes=2)
    typed = _typed_time(app, clock.now + timedelta(days=10))
    await ria.send(typed)
    assert ria.keys == ["consultations.move_too_late"]
    assert typed in ria.text
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.closes_at == closed_at
    assert [a for a, _ in await _actions(app, poll)][-1] == "consultation.close"


async def _cancelled_while_typing(app: App, action: str, asked: str) -> tuple[Chat, Chat, int]:
    """Ria's scheduled poll; she presses ``action`` on it (its dialog asks ``asked``) and her
    colleague Sam cancels it while she types. Returns Ria, Sam and the poll."""
    ria = await civil_servant(app)
    sam = await civil_servant(app, "sam")
    await _schedule_poll(ria)
    poll = await last_consultation(app)
    await ria.press_payload(f"{action}:{poll}")
    assert ria.keys == [asked]
    await sam.press_payload(f"cs.stopok:{poll}")
    assert sam.keys == ["consultations.cancelled"]
    return ria, sam, poll


async def test_a_closing_time_typed_for_a_poll_a_colleague_cancelled_comes_back(
    app: App, clock: Clock
) -> None:
    ria, sam, poll = await _cancelled_while_typing(app, "cs.mv", "consultations.ask_move")
    typed = _typed_time(app, clock.now + timedelta(days=12))
    await ria.send(typed)
    assert ria.keys == ["consultations.move_cancelled"]
    assert "geannuleerd" in ria.text and typed in ria.text
    # Markup and right-to-left words come back as typed, as data.
    await _schedule_poll(sam)
    other = await last_consultation(app)
    await ria.press_payload(f"cs.mv:{other}")
    await sam.press_payload(f"cs.stopok:{other}")
    typed = "<b>غدا</b> & <script>17:00</script>"
    await ria.send(typed)
    assert ria.keys == ["consultations.move_cancelled"]
    rendered = app.catalog.render("nl", ria.last[0].reply, markup=True)
    assert "&lt;b&gt;غدا&lt;/b&gt; &amp; &lt;script&gt;" in rendered
    await ria.press_payload(f"cs.mv:{poll}")
    assert ria.keys == ["consultations.staff_gone"]
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.status is ConsultationStatus.CANCELLED


async def test_a_follow_up_typed_for_a_poll_a_colleague_cancelled_comes_back_with_why(
    app: App,
) -> None:
    ria, _, poll = await _cancelled_while_typing(app, "cs.fu", "consultations.ask_follow_up_edit")
    await ria.send("We tellen het samen met de wijkraad.")
    assert ria.keys == ["consultations.follow_up_cancelled"]
    assert "geannuleerd" in ria.text and "uitslag" not in ria.text
    assert "We tellen het samen met de wijkraad." in ria.text
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.follow_up["nl"] == "We tellen het."


async def test_words_too_long_for_a_closing_time_come_back_whole_when_the_poll_closed(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await ria.press_payload(f"cs.mv:{poll}")
    await ria.press_payload(f"cs.endok:{poll}")
    clock.advance(minutes=1)
    words = "<b>volgende week</b> " + "graag een week langer open, " * 5 + "🙂"
    await ria.send(words)
    assert ria.keys == ["consultations.staff_gone", "general.typed_not_kept"]
    assert words in ria.text


async def test_a_follow_up_stored_while_the_results_are_drawn_is_the_one_sent(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [await resident(app, name) for name in ("anna", "bob", "carl", "dina", "eve")]
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for person in people:
        await person.press_payload(f"cs.a:{poll}:0:1:1")
    drawing, go_on = threading.Event(), threading.Event()
    draw = jobs_module.shown_results.chart

    def held(*args: Any, **kwargs: Any) -> bytes | None:
        drawing.set()
        go_on.wait(WAIT)
        return draw(*args, **kwargs)

    monkeypatch.setattr(jobs_module.shown_results, "chart", held)
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(minutes=1)
    await ria.press_payload(f"cs.fu:{poll}")
    clock.now = consultation.closes_at
    closing = asyncio.create_task(Jobs.of(app).consultation(poll))
    try:
        await until(drawing.is_set)
        # Her message came in a moment before the closing time; it is stored while the
        # job, which read the poll at the closing time, draws the charts.
        clock.now = consultation.closes_at - timedelta(seconds=1)
        await ria.send("We bouwen de schommel in mei.")
        assert ria.keys == ["consultations.follow_up_saved"]
    finally:
        go_on.set()
        await closing
    [*_, results] = await outbox_of(app, people[0])
    assert "We bouwen de schommel in mei." in seen(app, results)[0].text
    assert FOLLOW_UP not in seen(app, results)[0].text


async def test_an_edit_replaces_the_text_it_was_shown_whatever_language_staff_read(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")  # reads Dutch
    ria = await civil_servant(app)
    await compose_poll(ria)  # in Dutch
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    tom = await with_role(app, await resident(app, "tom", language="English"), Role.CIVIL_SERVANT)
    await tom.press_payload(f"cs.fu:{poll}")
    assert FOLLOW_UP in tom.text  # the Dutch text is the one he sees, so the one he changes
    await tom.send("De schommel komt er in mei.")
    assert tom.keys == ["consultations.follow_up_saved"]
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    assert consultation.follow_up == {"nl": "De schommel komt er in mei."}
    assert [d for a, d in await _actions(app, poll) if a == "consultation.edit"] == [
        {"field": "follow_up", "language": "nl"}
    ]
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    clock.now = consultation.closes_at
    await Jobs.of(app).consultation(poll)
    [*_, results] = await outbox_of(app, anna)
    assert "De schommel komt er in mei." in seen(app, results)[0].text


async def test_a_poll_composed_in_another_interface_language_is_in_the_municipalitys(
    app: App,
) -> None:
    anna = await resident(app, "anna")
    tom = await with_role(app, await resident(app, "tom", language="English"), Role.CIVIL_SERVANT)
    await tom.send("/newpoll")
    await tom.send("Speelplek Zeewijk")
    await tom.send("Wat vind jij belangrijk?")
    await tom.press("One choice")
    await tom.send("Wat moet er komen?")
    await tom.send("Schommel\nKlimrek")
    await tom.press("Done with the questions")
    await tom.send("De gemeenteraad besluit in juni.")
    await tom.press("Everyone")
    await tom.press("Right away")
    await tom.press("After 7 days")
    await tom.press("Publish")
    assert tom.keys == ["consultations.published"], tom.keys
    consultation = await app.repos.consultations.get(await last_consultation(app))
    assert consultation is not None
    assert consultation.title == {"nl": "Speelplek Zeewijk"}
    assert consultation.follow_up == {"nl": "De gemeenteraad besluit in juni."}
    assert consultation.questions[0].options == [{"nl": "Schommel"}, {"nl": "Klimrek"}]
    [invitation] = await outbox_of(app, anna)
    assert not any(Reply.model_validate(raw).original for raw in invitation.payload)


async def test_typed_answers_are_shown_only_after_staff_approved_them(
    app: App, clock: Clock
) -> None:
    people = [await resident(app, name) for name in ("anna", "bob", "carl", "dina", "eve")]
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for person, text in zip(
        people, ["Meer bomen", "Bel 06-12345678", "Een waterpomp", "Stom", "Schaduw"], strict=True
    ):
        await person.press_payload(f"cs.w:{poll}:0:4")
        await person.send(text)
    await ria.send("/peilingen")
    assert "Eigen antwoorden die je nog moet bekijken: 5" in ria.text
    await ria.press(f"#{poll} ")
    assert "Eigen antwoorden (5)" in " ".join(label for label, _ in ria.buttons())
    await ria.press("Eigen antwoorden")
    decisions = {"Meer bomen": "Mag getoond", "Een waterpomp": "Mag getoond"}
    for _ in range(5):
        assert ria.keys == ["consultations.review_item"]
        text = next(
            t
            for t in ("Meer bomen", "Bel 06", "Een waterpomp", "Stom", "Schaduw")
            if t in ria.text
        )
        await ria.press(decisions.get(text, "Niet tonen"))
    assert ria.keys == ["consultations.reviews_done"]
    await ria.press_payload("cs.ok:1:4")  # decided already (or someone else's)
    assert ria.keys == ["consultations.review_gone"]
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at
    await Jobs.of(app).consultation(poll)
    summary = seen(app, (await outbox_of(app, people[0]))[-1])[0].text
    assert "• Eigen antwoorden: 5" in summary
    assert "“Meer bomen”" in summary and "“Een waterpomp”" in summary
    for hidden in ("06-12345678", "Stom", "Schaduw"):
        assert hidden not in summary
    assert sum(1 for a, _ in await _actions(app, poll) if a == "consultation.review") == 5


async def test_a_decision_counts_only_for_the_words_staff_read(app: App, clock: Clock) -> None:
    people = [await resident(app, name) for name in ("anna", "bob", "carl", "dina", "eve")]
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for person in people:
        await person.press_payload(f"cs.w:{poll}:0:4")
        await person.send("Meer bomen graag")
    anna = people[0]
    await ria.press_payload(f"cs.mod:{poll}")
    assert ria.keys == ["consultations.review_item"]
    read = {payload[:5]: payload for _, payload in ria.buttons()}
    assert all(len(payload.encode()) <= 40 for payload in read.values())
    # While ria reads, anna changes her answer into something ria never saw.
    await anna.press_payload(f"cs.w:{poll}:0:4")
    await anna.send("Bel Piet de Vries 06-12345678, hij is een oplichter")
    for stale in (read["cs.ok"], read["cs.no"]):
        await ria.press_payload(stale)
        assert ria.keys == ["consultations.review_changed", "consultations.review_item"]
        assert "Dit antwoord is veranderd" in ria.text and "06-12345678" in ria.text
    assert not any(a == "consultation.review" for a, _ in await _actions(app, poll))
    await ria.press("Niet tonen")  # the fresh button decides about the words now shown
    for _ in range(4):
        assert "Meer bomen graag" in ria.text
        await ria.press("Mag getoond")
    assert ria.keys == ["consultations.reviews_done"]
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at
    await Jobs.of(app).consultation(poll)
    summary = seen(app, (await outbox_of(app, people[1]))[-1])[0].text
    assert "“Meer bomen graag”" in summary
    assert "06-12345678" not in summary


async def test_on_a_sunday_the_opening_offers_tomorrow_once(app: App, clock: Clock) -> None:
    ria = await civil_servant(app)
    for day, quick in ((6, ["Morgen"]), (4, ["Morgen", "Maandag"])):
        # Sunday 6 and Friday 4 December 2026, 10:00 in Velsen.
        clock.now = datetime(2026, 12, day, 9, 0, tzinfo=UTC)
        await ria.send("/nieuwepeiling")
        for text in ("Later open", "Uitleg"):
            await ria.send(text)
        await ria.press("Eén keuze")
        await ria.send("Ja of nee?")
        await ria.send("Ja\nNee")
        await ria.press("Klaar met de vragen")
        await ria.send("We tellen het.")
        await ria.press("👥 Iedereen")
        await ria.press("Later")
        labels = ria.last[-1].labels()
        shown = [label for label in labels if label.startswith(("Morgen", "Maandag"))]
        assert [label.split()[0] for label in shown] == quick, labels
        await ria.send("/annuleer")


async def test_a_scheduled_poll_opens_at_its_time_and_its_job_survives_a_restart(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    for text in ("Later open", "Uitleg"):
        await ria.send(text)
    await ria.press("Eén keuze")
    await ria.send("Ja of nee?")
    await ria.send("Ja\nNee")
    await ria.press("Klaar met de vragen")
    await ria.send("We tellen het.")
    await ria.press("👥 Iedereen")
    await ria.press("Later")
    await ria.press("Morgen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.scheduled"]
    poll = await last_consultation(app)
    assert await outbox_of(app, anna) == []
    scheduled = await app.repos.consultations.get(poll)
    assert scheduled is not None and scheduled.opens_at is not None

    # A new process arms the job again from the database.
    runtime = Runtime(app, adapters=[])
    await runtime.start()
    try:
        assert runtime.scheduler.scheduled().get(f"consultation:{poll}") == scheduled.opens_at
    finally:
        await runtime.stop()

    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    assert anna.keys == ["consultations.not_open"]  # not open yet
    clock.now = scheduled.opens_at
    await Jobs.of(app).consultation(poll)
    [invitation] = await outbox_of(app, anna)
    assert "Later open" in seen(app, invitation)[0].text
    assert "consultation.open" in [a for a, _ in await _actions(app, poll)]


async def _scheduled(app: App) -> tuple[Chat, Chat, Consultation]:
    """Anna, a resident; Ria, a civil servant, who scheduled a poll (:func:`_schedule_poll`)."""
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await _schedule_poll(ria)
    scheduled = await app.repos.consultations.get(await last_consultation(app))
    assert scheduled is not None
    assert scheduled.opens_at is not None and scheduled.closes_at is not None
    return anna, ria, scheduled


async def _schedule_poll(ria: Chat) -> None:
    """Compose a poll for everyone that opens tomorrow and closes seven days later."""
    await ria.send("/nieuwepeiling")
    for text in ("Later open", "Uitleg"):
        await ria.send(text)
    await ria.press("Eén keuze")
    await ria.send("Ja of nee?")
    await ria.send("Ja\nNee")
    await ria.press("Klaar met de vragen")
    await ria.send("We tellen het.")
    await ria.press("👥 Iedereen")
    await ria.press("Later")
    await ria.press("Morgen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.scheduled"]


async def test_a_poll_whose_whole_time_passed_while_the_bot_was_down_asks_nobody(
    app: App, clock: Clock
) -> None:
    anna, ria, scheduled = await _scheduled(app)
    poll = scheduled.id

    # The bot is down from now until a day after the poll should have closed.
    clock.now = scheduled.closes_at + timedelta(days=1)
    await Jobs.of(app).consultation(poll)

    assert await outbox_of(app, anna) == []
    closed = await app.repos.consultations.get(poll)
    assert closed is not None and closed.status is ConsultationStatus.CLOSED
    assert closed.invited == 0
    # Its author hears it went out to nobody, in plain words, with the way to the polls.
    [note] = seen(app, (await outbox_of(app, ria))[-1])
    assert note.key == "consultations.missed"
    assert "Later open" in note.text and "Niemand heeft hem gekregen" in note.text
    assert [label for label, _ in note.buttons] == ["📋 Peilingen volgen"]
    actions = await _actions(app, poll)
    assert [a for a, _ in actions][-2:] == ["consultation.open", "consultation.closed"]
    assert actions[-2][1] == {"invited": 0, "missed": True}
    # Running the job again changes nothing and tells nobody twice.
    await Jobs.of(app).consultation(poll)
    assert len(await outbox_of(app, ria)) == 1


async def test_a_poll_the_bot_missed_the_opening_of_still_asks_while_it_is_open(
    app: App, clock: Clock
) -> None:
    anna, ria, scheduled = await _scheduled(app)
    poll = scheduled.id

    clock.now = scheduled.closes_at - timedelta(hours=1)
    await Jobs.of(app).consultation(poll)
    [invitation] = await outbox_of(app, anna)
    assert seen(app, invitation)[0].key == "consultations.invitation"
    assert [row.kind for row in await outbox_of(app, ria)] == ["consultation"]


async def test_a_scheduled_poll_whose_author_is_no_longer_staff_never_asks_anyone(
    app: App, clock: Clock
) -> None:
    anna, ria, scheduled = await _scheduled(app)
    poll = scheduled.id
    # Ria's role is taken away some other way than ``samenspel revoke`` (an invite
    # redeemed for another role, the database changed by hand).
    await with_role(app, ria, Role.RESIDENT)

    clock.now = scheduled.opens_at
    await Jobs.of(app).consultation(poll)
    assert await outbox_of(app, anna) == []
    cancelled = await app.repos.consultations.get(poll)
    assert cancelled is not None and cancelled.status is ConsultationStatus.CANCELLED
    assert await app.repos.responses.find(poll, 0, (await stored(app, "anna")).id) is None
    assert (await _actions(app, poll))[-1] == (
        "consultation.cancel",
        {"why": "author_role", "role": "inwoner"},
    )
    # The invitation cannot be forged into it either, and the job does nothing more.
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    assert anna.keys == ["consultations.not_found"]
    assert await Jobs.of(app).pending("consultation") == []


async def test_a_poll_whose_author_lost_the_role_and_was_then_erased_never_asks_anyone(
    app: App, clock: Clock
) -> None:
    anna, ria, scheduled = await _scheduled(app)
    poll = scheduled.id
    # Her role goes some other way than ``samenspel revoke``; then she has herself erased.
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # Kept without her name, and it will not open: nobody left may ask it.
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.author_user_id is None
    assert kept.status is ConsultationStatus.CANCELLED

    clock.now = scheduled.opens_at
    await Jobs.of(app).consultation(poll)
    assert await outbox_of(app, anna) == []
    await anna.press_payload(f"cs.a:{poll}:0:1:1")
    assert anna.keys == ["consultations.not_found"]


async def test_a_civil_servant_erased_while_she_holds_the_role_leaves_her_poll_to_open(
    app: App, clock: Clock
) -> None:
    anna, ria, scheduled = await _scheduled(app)
    await ria.send("/vergeetmij")
    await ria.press("Ja, wis mijn gegevens")
    assert ria.keys == ["privacy.forget.done"]
    # The poll is the municipality's, set up while she could: it opens, unsigned.
    clock.now = scheduled.opens_at
    await Jobs.of(app).consultation(scheduled.id)
    [invitation] = await outbox_of(app, anna)
    assert seen(app, invitation)[0].key == "consultations.invitation"


async def test_revoking_a_civil_servant_cancels_their_scheduled_polls_at_once(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app, "4242")
    await _schedule_poll(ria)
    poll = await last_consultation(app)
    ria_id = (await stored(app, "4242")).id
    async with app.db.transaction():
        await app.db.execute("UPDATE users SET platform = 'telegram' WHERE id = ?", (ria_id,))

    sam = await civil_servant(app, "sam")
    await sam.send("/peilingen")
    assert "Later open" in sam.text

    said = await revoke(app.settings, "telegram", "4242", "vertrokken")
    assert (
        said
        == f"telegram 4242 is now inwoner (was ambtenaar); 1 scheduled poll cancelled (#{poll})"
    )
    cancelled = await app.repos.consultations.get(poll)
    assert cancelled is not None and cancelled.status is ConsultationStatus.CANCELLED
    entry = (await app.repos.audit.about_user(ria_id))[-1]
    assert (entry.action, entry.detail["polls_cancelled"]) == ("role.revoke", [poll])
    # Colleagues no longer see it coming; when its moment comes nobody is asked.
    await sam.send("/peilingen")
    assert "Later open" not in sam.text
    assert cancelled.opens_at is not None
    clock.now = cancelled.opens_at
    await Jobs.of(app).consultation(poll)
    assert await outbox_of(app, anna) == []


async def test_a_scheduled_poll_can_be_cancelled(app: App) -> None:
    timers = TimerLog(app)
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    for text in ("Gaat niet door", "Uitleg"):
        await ria.send(text)
    await ria.press("Kort eigen antwoord")
    await ria.send("Wat denk je?")
    await ria.press("Klaar met de vragen")
    await ria.send("Niets.")
    await ria.press("👥 Iedereen")
    await ria.press("Later")
    await ria.press("Morgen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await ria.send("/peilingen")
    await ria.press(f"#{poll} ")
    await ria.press("Annuleren")  # a tap to leave the card, perhaps: it asks first
    assert ria.keys == ["consultations.cancel_confirm"]
    assert "Gaat niet door" in ria.text
    await ria.press("Nee, laat staan")
    assert ria.keys == ["consultations.card_scheduled"]
    kept = await app.repos.consultations.get(poll)
    assert kept is not None and kept.status is ConsultationStatus.SCHEDULED
    assert Timer(job=f"consultation:{poll}", at=None) not in timers.armed
    await ria.press("Annuleren")
    await ria.press("Ja, annuleren")
    assert ria.keys == ["consultations.cancelled"]
    assert timers.armed[-1] == Timer(job=f"consultation:{poll}", at=None)
    await Jobs.of(app).consultation(poll)
    assert await outbox_of(app, anna) == []
    cancelled = await app.repos.consultations.get(poll)
    assert cancelled is not None and cancelled.status is ConsultationStatus.CANCELLED
    assert Chat(app, "anna") is not None


@pytest.mark.parametrize(
    "payload",
    [
        "cs.res:{poll}:²",
        "cs.res:{poll}:9",
        "cs.res:{poll}:" + "9" * 30,
        "cs.res:abc:0",
        "cs.res:{poll}",
        "cs.endok:999",
        "cs.endok:-1",
        "cs.end:{poll}:extra",
        "cs.stop:{poll}",  # open, not scheduled
        "cs.stopok:{poll}",
        "cs.fu:999",
        "cs.mv:0",
        "cs.mod:999",
        "cs.ok:1",
        "cs.ok:x:y",
        "cs.no:999:1",
        "cs.ok:1:99",
    ],
)
async def test_a_forged_staff_button_changes_nothing(app: App, payload: str) -> None:
    await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    before = await app.db.fetchall("SELECT * FROM consultations ORDER BY id")
    logged = await _actions(app, poll)
    await ria.press_payload(payload.format(poll=poll))
    assert ria.keys[0] in (
        "consultations.staff_gone",
        "consultations.review_gone",
        "consultations.reviews_done",
        "general.stale_button",
    ), ria.keys
    after = await app.db.fetchall("SELECT * FROM consultations ORDER BY id")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert await _actions(app, poll) == logged


async def test_a_polls_results_name_no_moment(app: App) -> None:
    # A poll is asked once: "(moment 0)" in its title told staff nothing.
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await ria.press_payload(f"cs.res:{poll}:0")
    assert ria.keys[0] == "consultations.staff_results"
    first_line = ria.last[0].text.splitlines()[0]
    assert first_line.endswith(", tot nu toe") and "moment" not in first_line


async def test_an_invitation_still_waiting_when_the_poll_closes_is_never_sent(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    opened = await app.repos.consultations.get(poll)
    assert opened is not None and opened.closes_at is not None
    [invitation] = await outbox_of(app, anna)
    assert seen(app, invitation)[0].key == "consultations.invitation"
    # Held back (Telegram asked Anna's chat to wait, the bot was down) past the closing.
    clock.now = opened.closes_at
    adapter = FakeAdapter()
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
    assert [s.keys for s in adapter.sent if s.chat_id == "anna"] == []
    [row] = await outbox_of(app, anna)
    assert (row.status, row.last_error) == ("cancelled", "expired")


async def test_the_same_words_sent_again_keep_the_decision_about_them(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await anna.press_payload(f"cs.w:{poll}:0:4")
    await anna.send("Meer bomen graag")
    await ria.press_payload(f"cs.mod:{poll}")
    await ria.press("Mag getoond")
    assert ria.keys == ["consultations.reviews_done"]
    # Anna looks at her answer again and sends the same words: nothing new to read.
    await anna.press_payload(f"cs.q:{poll}:0:4")
    assert "Meer bomen graag" in anna.text
    await anna.send("Meer bomen graag")
    assert anna.keys[0] == "consultations.text_saved"
    await ria.press_payload(f"cs.mod:{poll}")
    assert ria.keys == ["consultations.reviews_done"]
    assert await app.repos.responses.approved_texts(poll, 0, 4, 3) == ["Meer bomen graag"]
    # Other words are read again.
    await anna.press_payload(f"cs.q:{poll}:0:4")
    await anna.send("Meer bomen en bankjes")
    await ria.press_payload(f"cs.mod:{poll}")
    assert ria.keys == ["consultations.review_item"]
    assert await app.repos.responses.approved_texts(poll, 0, 4, 3) == []


async def test_a_long_follow_up_typed_after_the_closing_time_is_given_back_too(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    consultation = await app.repos.consultations.get(poll)
    assert consultation is not None and consultation.closes_at is not None
    clock.now = consultation.closes_at - timedelta(minutes=1)
    await ria.press_payload(f"cs.fu:{poll}")
    clock.now = consultation.closes_at
    long = "We bouwen de schommel in mei 🛝 <b>echt</b>. " * 20
    assert len(long) > 600
    await ria.send(long)
    assert ria.keys == ["consultations.staff_gone", "general.typed_not_kept"]
    assert long.strip() in ria.text
    assert not any(a == "consultation.edit" for a, _ in await _actions(app, poll))
