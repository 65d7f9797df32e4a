"""However many meetings are planned, the list is one message a page and every meeting is a
tap or two away: for residents to come, for staff to manage it."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from bot.platforms._telegram_text import CALLBACK_DATA_LIMIT, TEXT_LIMIT, pack
from storage.experiments.experiments import NewExperiment
from storage.localized import Localized
from storage.meetings.meetings import MeetingDraft
from tests.consultations import Clock
from tests.people import civil_servant, row
from tests.people import person as resident
from tests.support import Chat

#: A long title, with emoji and markup characters, as staff may type one (80 at most).
LONG = "Buurtavond <Zeewijk> & 🌊 de pier: praat mee over bankjes, bomen en de nieuwe haven"[:80]


async def _meetings(
    app: App, clock: Clock, count: int, *, theme: str | None = None, experiments: int = 0
) -> list[int]:
    """``count`` meetings a day apart, in the whole town; with ``experiments`` they are
    spread over that many running experiments."""
    author = (await row(app, await civil_servant(app, "organiser"))).id
    about: list[int | None] = [None]
    if experiments:
        about = [
            await app.repos.experiments.create(
                NewExperiment(
                    title=Localized(nl=f"Proef {n}", en=f"Trial {n}"),
                    summary=Localized(nl="Samen proberen", en="Trying together"),
                    place=Localized(nl="Buurthuis", en="Community centre"),
                    organiser=Localized(nl="Stichting Buurtkracht", en="Buurtkracht"),
                    theme="samenspel",
                ),
                clock.now,
            )
            for n in range(experiments)
        ]
    made = []
    for n in range(count):
        starts = clock.now + timedelta(days=1 + n, hours=2)
        made.append(
            await app.repos.meetings.create(
                MeetingDraft(
                    title=f"{n + 1}. {LONG}",
                    description="Kom langs!",
                    address="Plein 1945 nr. 1, IJmuiden",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    capacity=40,
                    theme=theme,
                    experiment_id=about[n % len(about)],
                ),
                author,
                clock.now,
            )
        )
    return made


def _telegram_messages(chat: Chat) -> int:
    """How many Telegram messages the last answer takes (a long text may need more)."""
    catalog = chat.app.catalog
    return sum(
        len(pack(catalog.blocks("nl", seen.reply, markup=True), TEXT_LIMIT, markup=True))
        for seen in chat.last
    )


async def _walk(chat: Chat) -> list[str]:
    """Every page of the list on screen, "Volgende" after "Volgende": the payloads of the
    meetings' buttons, each page checked to be one Telegram message."""
    opened: list[str] = []
    while True:
        assert _telegram_messages(chat) == 1, chat.keys
        assert all(len(p.encode()) <= CALLBACK_DATA_LIMIT for _, p in chat.buttons())
        opened += [p for _, p in chat.buttons() if p.startswith("mt.open:")]
        if not any("Volgende" in label for label, _ in chat.buttons()):
            return opened
        await chat.press("Volgende")


def _meeting_id(payload: str) -> int:
    found = re.fullmatch(r"mt\.open:(\d+)(?::.*)?", payload)
    assert found is not None, payload
    return int(found.group(1))


async def test_every_one_of_thirty_meetings_can_be_opened_and_signed_up_for(
    app: App, clock: Clock
) -> None:
    made = await _meetings(app, clock, 30)
    anna = await resident(app, "anna")
    await anna.send("/bijeenkomsten")
    assert anna.keys == ["meetings.list_title"]
    assert "Bijeenkomsten (30)" in anna.text and "Pagina 1 van 4" in anna.text
    assert "nog 40 plekken vrij" in anna.text
    payloads = await _walk(anna)
    assert "Pagina 4 van 4" in anna.text
    assert [_meeting_id(p) for p in payloads] == made, "each once, soonest first"

    # The last one: its card, "Ik kom", and the list says so.
    await anna.press_payload(payloads[-1])
    assert anna.keys == ["meetings.card"] and "30. Buurtavond <Zeewijk>" in anna.text
    await anna.press("Ik kom")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]
    await anna.send("/bijeenkomsten")
    await anna.press("Volgende")
    await anna.press("Volgende")
    await anna.press("Volgende")
    assert "✅ je komt" in anna.text


async def test_a_card_leads_back_to_the_page_it_was_opened_from(app: App, clock: Clock) -> None:
    await _meetings(app, clock, 12)
    anna = await resident(app, "anna")
    await anna.send("/bijeenkomsten")
    await anna.press("Volgende")
    await anna.press("10. Buurtavond")
    assert anna.keys == ["meetings.card"]
    await anna.press("Terug naar de lijst")
    assert anna.keys == ["meetings.list_title"] and "Pagina 2 van 2" in anna.text


async def test_staff_manage_a_meeting_far_down_the_list(app: App, clock: Clock) -> None:
    made = await _meetings(app, clock, 30)
    ria = await civil_servant(app)
    await ria.send("/bijeenkomsten")
    payloads = await _walk(ria)
    await ria.press_payload(payloads[-1])
    await ria.press("Beheren")
    assert ria.keys == ["meetings.staff_options"]
    await ria.press("Afzeggen")
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.cancelled_done"]
    cancelled = await app.repos.meetings.get(made[-1])
    assert cancelled is not None and cancelled.cancelled
    # A resident sees no "Beheren" on a card.
    anna = await resident(app, "anna")
    await anna.press_payload(payloads[0])
    assert "Beheren" not in " ".join(label for label, _ in anna.buttons())


async def test_a_theme_filter_pages_too_and_reaches_every_meeting(app: App, clock: Clock) -> None:
    made = await _meetings(app, clock, 20, theme="samenspel")
    anna = await resident(app, "anna")
    await anna.send("/bijeenkomsten")
    await anna.press("Per experiment, thema, wijk")
    await anna.press("Velsen is samenspel")
    assert anna.keys == ["meetings.list_title_of"]
    assert "(20)" in anna.text and "Pagina 1 van 3" in anna.text
    assert [_meeting_id(p) for p in await _walk(anna)] == made


async def test_the_experiments_to_filter_by_are_paged_and_each_lists_its_meetings(
    app: App, clock: Clock
) -> None:
    made = await _meetings(app, clock, 20, experiments=10)
    anna = await resident(app, "anna")
    await anna.send("/bijeenkomsten")
    await anna.press("Per experiment, thema, wijk")
    await anna.press("Per experiment (10)")
    assert anna.keys == ["meetings.ask_experiment_filter"] and "Pagina 1 van 2" in anna.text
    first = [label for label, p in anna.buttons() if p.startswith("mt.list:e:")]
    await anna.press("Volgende")
    second = [label for label, p in anna.buttons() if p.startswith("mt.list:e:")]
    assert sorted(first + second) == sorted(f"Proef {n}" for n in range(10))
    await anna.press("Proef 9")
    assert anna.keys == ["meetings.list_title_of"] and "Proef 9 (2)" in anna.text
    assert [_meeting_id(p) for p in await _walk(anna)] == [made[9], made[19]]


async def test_an_old_filter_button_still_works_and_a_forged_one_changes_nothing(
    app: App, clock: Clock
) -> None:
    await _meetings(app, clock, 3, theme="samenspel")
    anna = await resident(app, "anna")
    await anna.press_payload("mt.list:t:samenspel")
    assert anna.keys == ["meetings.list_title_of"] and "(3)" in anna.text
    for forged in ("mt.list:t:nergens:1", "mt.list:x::1", "mt.list:a::0", "mt.open:1:a::"):
        await anna.press_payload(forged)
        assert anna.keys == ["general.stale_button"], forged
    await anna.press_payload("mt.list:a::99")
    assert "Pagina 1 van 1" in anna.text, "past the end: the last page"


async def test_a_card_opened_from_an_old_list_once_the_meeting_began_offers_no_sign_up(
    app: App, clock: Clock
) -> None:
    made = await _meetings(app, clock, 2)
    meeting = await app.repos.meetings.get(made[0])
    assert meeting is not None
    anna, bob, ria = (
        await resident(app, "anna"),
        await resident(app, "bob"),
        await civil_servant(app),
    )
    openers = {}
    for chat in (anna, bob, ria):
        await chat.send("/bijeenkomsten")
        cards = [p for _, p in chat.buttons() if p.startswith("mt.open:")]
        [openers[chat.user_id]] = [p for p in cards if _meeting_id(p) == made[0]]
    await anna.press_payload(openers[anna.user_id])
    await anna.press("Ik kom")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]

    def offered(chat: Chat) -> str:
        return " ".join(label for label, _ in chat.buttons())

    # Under way: still on the list, but its card has nothing to sign up for or give up.
    clock.now = meeting.starts_at + timedelta(minutes=30)
    for chat in (anna, bob, ria):
        await chat.press_payload(openers[chat.user_id])
        assert chat.keys == ["meetings.card"], chat.keys
        assert "al begonnen" in chat.text and "Je komt" not in chat.text
        assert "Ik kom" not in offered(chat) and "Agendabestand" not in offered(chat)
        assert "Terug naar de lijst" in offered(chat)
    assert "Beheren" in offered(ria) and "Beheren" not in offered(bob)
    # And the list says it is going on, not how many places are free.
    await bob.send("/bijeenkomsten")
    assert "is nu bezig" in bob.text and bob.text.count("plekken vrij") == 1

    # Over: the card says so, and the way back leads to the list as it is now.
    clock.now = meeting.ends_at + timedelta(hours=1)
    await bob.press_payload(openers[bob.user_id])
    assert bob.keys == ["meetings.card"] and "al voorbij" in bob.text
    assert "Ik kom" not in offered(bob)
    await bob.press("Terug naar de lijst")
    assert bob.keys == ["meetings.list_title"] and "Bijeenkomsten (1)" in bob.text


async def test_an_old_per_experiment_button_with_no_experiment_left_offers_the_other_filters(
    app: App, clock: Clock
) -> None:
    """Their experiments ended since the filter was shown: not "which experiment?" with
    nothing to choose, but the filters there still are."""
    await _meetings(app, clock, 2, theme="samenspel", experiments=2)
    anna = await resident(app, "anna")
    await anna.send("/bijeenkomsten")
    await anna.press("Per experiment, thema, wijk")
    old = next(p for label, p in anna.buttons() if "Per experiment" in label)
    async with app.db.transaction():
        for experiment in await app.repos.experiments.running():
            await app.repos.experiments.end(experiment.id)
    await anna.press_payload(old)
    assert anna.keys == ["meetings.ask_filter"]
    assert "Velsen is samenspel" in [label for label, _ in anna.buttons()]
    assert not any(p.startswith("mt.filter:e") for _, p in anna.buttons())


async def test_a_card_of_a_meeting_that_is_over_leads_back_to_the_page_of_past_meetings(
    app: App, clock: Clock
) -> None:
    await _meetings(app, clock, 12)
    clock.now += timedelta(days=20)
    ria = await civil_servant(app)
    await ria.send("/bijeenkomsten")
    await ria.press("Afgelopen")
    assert ria.keys == ["meetings.past_title"] and "Pagina 1 van 2" in ria.text
    await ria.press("Volgende")
    assert "Pagina 2 van 2" in ria.text
    assert all(len(p.encode()) <= CALLBACK_DATA_LIMIT for _, p in ria.buttons())
    await ria.press("1. Buurtavond")
    assert ria.keys == ["meetings.card"] and "al voorbij" in ria.text
    await ria.press("Terug naar de lijst")
    assert ria.keys == ["meetings.past_title"] and "Pagina 2 van 2" in ria.text
    # A forged view of the past in the residents' list is no list of the past.
    anna = await resident(app, "anna")
    await anna.press_payload("mt.list:p::2")
    assert "1. Buurtavond" not in anna.text
