""" "Peilingen volgen" stays one message however many polls and experiments there are: a line
and a button each, a page at a time, the evaluations of experiments in a list of their own."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from bot.platforms._telegram_text import CALLBACK_DATA_LIMIT, TEXT_LIMIT, pack
from handlers.consultations.jobs import seed_evaluations
from storage.consultations.model import Content, Question, QuestionKind
from storage.experiments.experiments import NewExperiment
from storage.localized import Localized
from storage.news.broadcasts import Audience, AudienceKind
from tests.consultations import Clock
from tests.people import civil_servant, person, row
from tests.support import Chat

#: A long title, with emoji and markup characters, as staff may type one.
LONG = "Speelplek <Zeewijk> & 🌊 de pier: wat vind jij van bankjes, bomen en de nieuwe haven?"


async def _experiments(app: App, clock: Clock, count: int) -> None:
    """``count`` experiments started in the chat, each with its evaluation."""
    async with app.db.transaction():
        for n in range(count):
            await app.repos.experiments.create(
                NewExperiment(
                    title=Localized(nl=f"Proef {n}: {LONG}"),
                    summary=Localized(nl="Samen proberen"),
                    place=Localized(nl="Buurthuis"),
                    organiser=Localized(nl="Stichting Buurtkracht"),
                ),
                clock.now,
            )
        await seed_evaluations(app.repos, app.profile, clock.now)


async def _polls(app: App, clock: Clock, ria: Chat, count: int) -> list[int]:
    author = (await row(app, ria)).id
    made = []
    for n in range(count):
        content = Content(
            title={"nl": f"Peiling {n + 1}: {LONG}"},
            intro={"nl": "Wat vind jij?"},
            follow_up={"nl": "De raad besluit in juni."},
            questions=[Question(kind=QuestionKind.TEXT, text={"nl": "Wat moet er komen?"})],
        )
        poll = await app.repos.consultations.save_draft(
            author,
            content,
            audience=Audience(kind=AudienceKind.ALL),
            opens_at=None,
            closes_at=clock.now + timedelta(days=14),
            now=clock.now,
        )
        await app.repos.consultations.open(poll, clock.now, ask=False)
        made.append(poll)
    return made


def _telegram_messages(chat: Chat) -> int:
    catalog = chat.app.catalog
    return sum(
        len(pack(catalog.blocks("nl", seen.reply, markup=True), TEXT_LIMIT, markup=True))
        for seen in chat.last
    )


async def _walk(chat: Chat) -> list[int]:
    """Every page on screen, "Volgende" after "Volgende": the consultations the buttons
    open, each page checked to be one Telegram message."""
    found: list[int] = []
    while True:
        assert _telegram_messages(chat) == 1, chat.keys
        assert all(len(p.encode()) <= CALLBACK_DATA_LIMIT for _, p in chat.buttons())
        for _, payload in chat.buttons():
            if matched := re.fullmatch(r"cs\.card:(\d+):\d+", payload):
                found.append(int(matched.group(1)))
        if not any("Volgende" in label for label, _ in chat.buttons()):
            return found
        await chat.press("Volgende")


async def test_forty_experiments_and_ten_polls_are_one_message_and_each_one_opens(
    app: App, clock: Clock
) -> None:
    await _experiments(app, clock, 40)
    ria = await civil_servant(app)
    polls = await _polls(app, clock, ria, 10)
    evaluations = [c.id for c in await app.repos.consultations.open_evaluations()]
    assert len(evaluations) == 43, "the profile's three and one per experiment"

    await ria.send("/menu")
    await ria.press("Peilingen volgen")
    assert ria.keys == ["consultations.staff_title"]
    assert "Peilingen (10)" in ria.text
    assert "Pagina 1 van 2" in ria.text and "Evaluaties van experimenten: 43" in ria.text
    assert await _walk(ria) == polls

    await ria.press("Evaluaties (43)")
    assert ria.keys == ["consultations.evaluations_title"] and "Pagina 1 van 6" in ria.text
    assert await _walk(ria) == evaluations

    # The last evaluation's card, and back to the page it came from.
    await ria.press(f"#{evaluations[-1]} ")
    assert ria.keys == ["consultations.card_evaluation"]
    assert "Experiment afgelopen" in " ".join(label for label, _ in ria.buttons())
    await ria.press("Alle evaluaties")
    assert ria.keys == ["consultations.evaluations_title"] and "Pagina 6 van 6" in ria.text

    # A poll on the second page: its card, closing it from there.
    await ria.press_payload("cs.staff:2")
    await ria.press(f"#{polls[-1]} ")
    assert ria.keys == ["consultations.card_open"]
    await ria.press("Nu sluiten")
    assert ria.keys == ["consultations.close_confirm"]


async def test_a_forged_page_or_card_changes_nothing(app: App, clock: Clock) -> None:
    ria = await civil_servant(app)
    [poll] = await _polls(app, clock, ria, 1)
    for forged in ("cs.staff:0", "cs.evals:x", f"cs.card:{poll}:-1"):
        await ria.press_payload(forged)
        assert ria.keys == ["general.stale_button"], forged
    await ria.press_payload("cs.card:999999:1")
    assert ria.keys == ["consultations.staff_gone"]
    await ria.press_payload("cs.staff:99")
    assert "Pagina 1 van 1" in ria.text, "past the end: the last page"


async def test_a_residents_thirty_open_polls_come_a_page_at_a_time_and_each_one_opens(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    polls = await _polls(app, clock, ria, 30)
    anna = await person(app, "anna")

    await anna.send("/peilingen")
    assert anna.keys == ["consultations.list"]
    assert "Pagina 1 van 4" in anna.text
    found: list[int] = []
    while True:
        assert _telegram_messages(anna) == 1, anna.keys
        assert len(anna.buttons()) <= 100
        assert all(len(p.encode()) <= CALLBACK_DATA_LIMIT for _, p in anna.buttons())
        for _, payload in anna.buttons():
            if matched := re.fullmatch(r"cs\.o:(\d+):0(?::\d+)?", payload):
                found.append(int(matched.group(1)))
        if not any("Volgende" in label for label, _ in anna.buttons()):
            break
        await anna.press("Volgende")
    assert sorted(found) == polls
    assert "Pagina 4 van 4" in anna.text
    assert any("Geen herinneringen" in label for label, _ in anna.buttons())

    # A page past the end shows the last one; a forged one changes nothing.
    await anna.press_payload("cs.list:99")
    assert "Pagina 4 van 4" in anna.text
    await anna.press_payload("cs.list:-1")
    assert anna.keys[0] == "general.stale_button"


async def test_back_from_a_poll_opened_from_a_later_page_goes_to_that_page(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await _polls(app, clock, ria, 30)
    anna = await person(app, "anna")
    await anna.send("/peilingen")
    await anna.press("Volgende")
    await anna.press("Volgende")
    assert "Pagina 3 van 4" in anna.text
    [poll, *_] = [
        int(m.group(1)) for _, p in anna.buttons() if (m := re.fullmatch(r"cs\.o:(\d+):0:3", p))
    ]
    await anna.press_payload(f"cs.o:{poll}:0:3")
    assert "Vraag 1 van 1" in anna.text
    await anna.press("Zeg ik liever niet")
    assert anna.keys == ["consultations.done"]

    # Done: on its page it opens the answers given, and back goes to that page.
    await anna.press_payload("cs.list:3")
    assert f"cs.r:{poll}:0:3" in [p for _, p in anna.buttons()]
    await anna.press_payload(f"cs.r:{poll}:0:3")
    assert anna.keys == ["consultations.review"]
    await anna.press("Mijn peilingen")
    assert "Pagina 3 van 4" in anna.text
    await anna.press_payload(f"cs.o:{poll}:0:3")
    assert anna.keys == ["consultations.done"]
    await anna.press("Mijn peilingen")
    assert "Pagina 3 van 4" in anna.text

    # Results asked for before it closed: nothing yet, and back to the same page.
    await anna.press_payload(f"cs.u:{poll}:0:3")
    assert anna.keys == ["consultations.not_found"]
    assert [p for _, p in anna.buttons()] == ["cs.list:3"]

    # A button from before pages were carried (none): the first page, as it always did.
    await anna.press_payload(f"cs.r:{poll}:0")
    assert anna.keys == ["consultations.review"]
    await anna.press("Mijn peilingen")
    assert "Pagina 1 van 4" in anna.text
    # A page we could not have sent changes nothing.
    for forged in (f"cs.r:{poll}:0:0", f"cs.r:{poll}:0:100000", f"cs.o:{poll}:0:3:1"):
        await anna.press_payload(forged)
        assert anna.keys == ["general.stale_button"], forged
    # Every button of a page fits Telegram's callback data.
    await anna.press_payload("cs.list:4")
    assert all(len(p.encode()) <= CALLBACK_DATA_LIMIT for _, p in anna.buttons())
