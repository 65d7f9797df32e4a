"""What a careless organiser or resident may do to a meeting, and what an attacker may try:
each gets a friendly answer and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import App
from handlers.contract import Role
from storage.meetings.meetings import Meeting
from tests.consultations import Clock
from tests.meetings import evening, organise
from tests.people import civil_servant, for_user, subscribe, with_role
from tests.people import person as resident
from tests.support import Chat


async def _count(app: App, table: str) -> int:
    return int(await app.db.fetchval(f"SELECT COUNT(*) FROM {table}"))


async def _published(app: App, ria: Chat, clock: Clock, capacity: int = 1) -> int:
    await organise(ria, evening(clock.now), capacity=capacity, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"]
    return int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))


async def _finish(app: App, ria: Chat) -> Meeting | None:
    """From the question about the meeting on: no more about it, nobody invited, published;
    the meeting as stored."""
    await ria.press("Nee")
    await ria.press("Geen uitnodiging")
    await ria.press("Publiceren")
    return await app.repos.meetings.get(int(await app.db.fetchval("SELECT MAX(id) FROM meetings")))


async def _to_step(ria: Chat, step: str) -> None:
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    await ria.send("Praat mee over de buurt.")
    if step == "link":
        await ria.press("Online")
        return
    await ria.press("Op een adres")
    await ria.send("Dorpsstraat 1")
    await ria.press("Niet in één wijk")
    await ria.press("Geen kaart")


@pytest.mark.parametrize("typed", ["0", "-3", "abc", "10001", "99999999999999", "²", "2.5", ""])
async def test_a_capacity_that_is_not_a_number_of_people_is_asked_again(
    app: App, clock: Clock, typed: str
) -> None:
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("1 uur")
    assert ria.keys == ["meetings.ask_capacity"]
    await ria.send(typed) if typed else await ria.press_payload("~nope:1")
    assert ria.keys[-1] == "meetings.ask_capacity" or ria.keys == ["general.stale_button"]
    await ria.send("12")
    assert ria.keys == ["meetings.ask_about"], "the dialog went on from where it was"
    assert await _count(app, "meetings") == 0


@pytest.mark.parametrize(("typed", "places"), [("١٢", 12), ("۲۵", 25), ("１０", 10)])
async def test_a_capacity_in_the_digits_of_another_script_counts_as_that_number(
    app: App, clock: Clock, typed: str, places: int
) -> None:
    """Arabic, Persian or full-width digits, as a time or an amount may be typed too."""
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("1 uur")
    assert ria.keys == ["meetings.ask_capacity"]
    await ria.send(typed)
    assert ria.keys == ["meetings.ask_about"]
    await ria.press("Nee")
    await ria.press("Geen uitnodiging")
    await ria.press("Publiceren")
    assert await app.db.fetchval("SELECT capacity FROM meetings") == places


@pytest.mark.parametrize("comma", [",", "،"])
async def test_a_start_typed_on_an_arabic_keyboard_with_its_comma_is_read(
    app: App, clock: Clock, comma: str
) -> None:
    """Arabic digits, and the comma an Arabic keyboard types after the day ("،"), as the
    comma of a Latin one is read."""
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    starts = evening(clock.now)
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    await ria.send(f"{starts:%d-%m-%Y}{comma} {starts:%H:%M}".translate(arabic))
    assert ria.keys == ["meetings.ask_ends"]
    await ria.press("1 uur")
    await ria.send("5")
    stored = await _finish(app, ria)
    assert stored is not None and stored.starts_at == starts


@pytest.mark.parametrize(
    ("typed", "hours"), [("2 uur", 2), ("3 HOURS", 3), ("1 saat", 1), ("٣ ساعات", 3)]
)
async def test_a_length_typed_as_its_button_reads_is_that_length_not_a_clock_time(
    app: App, clock: Clock, typed: str, hours: int
) -> None:
    """ "Hoe lang duurt het?" answered by typing "2 uur" instead of pressing it: two hours,
    not "the end must come after the start" (as if it ended at 02:00)."""
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    starts = evening(clock.now)
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    await ria.send(typed)
    assert ria.keys == ["meetings.ask_capacity"]
    await ria.send("5")
    stored = await _finish(app, ria)
    assert stored is not None and stored.ends_at - stored.starts_at == timedelta(hours=hours)


async def test_an_end_after_midnight_typed_as_a_time_is_shown_how_to_type_it(
    app: App, clock: Clock
) -> None:
    """A night from 22:00, "00:30" typed as its end: not only "the end must come after the
    start", but that an end on the next day is typed with its date, and that date."""
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    starts = evening(clock.now).replace(hour=22, minute=0)
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    await ria.send("00:30")
    assert ria.keys == ["meetings.end_before_start", "meetings.ask_ends"]
    example = f"{starts + timedelta(days=1):%d-%m-%Y} 00:30"
    assert "na middernacht" in ria.text and example in ria.text
    # A whole moment before the start is just that.
    await ria.send(starts.strftime("%d-%m-%Y 21:00"))
    assert ria.keys == ["meetings.end_before_start", "meetings.ask_ends"]
    assert "middernacht" not in ria.text
    await ria.send(example)
    assert ria.keys == ["meetings.ask_capacity"]
    await ria.send("5")
    stored = await _finish(app, ria)
    assert stored is not None and stored.ends_at - stored.starts_at == timedelta(hours=2.5)


@pytest.mark.parametrize(
    ("typed", "places"),
    [("1.500", 1500), ("1,500", 1500), ("1 500", 1500), ("1\u202f500", 1500), ("١٬٥٠٠", 1500)],
)
async def test_a_capacity_with_its_thousands_grouped_counts_as_that_number(
    app: App, clock: Clock, typed: str, places: int
) -> None:
    """The question writes its maximum as "10.000" (Dutch), "10,000" (English), "10 000"
    (Polish): a number typed the same way counts. Not a number with a part of a person."""
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("1 uur")
    assert "10.000" in ria.text
    for wrong in ("1.50", "1.5000", "10.001", "0.500"):
        await ria.send(wrong)
        assert ria.keys == ["meetings.capacity_invalid", "meetings.ask_capacity"], wrong
    await ria.send(typed)
    assert ria.keys == ["meetings.ask_about"]
    await ria.press("Nee")
    await ria.press("Geen uitnodiging")
    await ria.press("Publiceren")
    assert await app.db.fetchval("SELECT capacity FROM meetings") == places


async def test_a_meeting_in_the_past_or_ending_before_it_starts_is_refused(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    yesterday = evening(clock.now, days=-1)
    await ria.send(yesterday.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.when_past", "meetings.ask_starts"]
    await ria.send("volgende week ergens")
    assert ria.keys == ["meetings.when_invalid", "meetings.ask_starts"]
    await ria.send(evening(clock.now, days=400).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.when_too_far", "meetings.ask_starts"]
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.ask_ends"]
    await ria.send("18:00")
    assert ria.keys == ["meetings.end_before_start", "meetings.ask_ends"]
    await ria.send("19:30")
    assert ria.keys == ["meetings.end_before_start", "meetings.ask_ends"]
    await ria.send((evening(clock.now) + timedelta(days=2)).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.too_long", "meetings.ask_ends"]
    await ria.send("21:15")
    assert ria.keys == ["meetings.ask_capacity"]
    assert await _count(app, "meetings") == 0


async def test_a_link_must_be_a_web_link(app: App) -> None:
    ria = await civil_servant(app)
    await _to_step(ria, "link")
    for typed in ("javascript:alert(1)", "www.velsen.nl", "https://velsen nl", "ftp://x.nl"):
        await ria.send(typed)
        assert ria.keys == ["meetings.link_invalid", "meetings.ask_link"], typed
    await ria.send("https://meet.velsen.nl/buurt")
    assert ria.keys == ["meetings.ask_starts"]


async def test_a_link_that_is_not_https_is_asked_again_as_the_question_says(app: App) -> None:
    ria = await civil_servant(app)
    await _to_step(ria, "link")
    for typed in ("http://meet.velsen.nl/buurt", "HTTP://meet.velsen.nl/buurt"):
        await ria.send(typed)
        assert ria.keys == ["meetings.link_invalid", "meetings.ask_link"], typed
    await ria.send("https://meet.velsen.nl/buurt")
    assert ria.keys == ["meetings.ask_starts"]
    await ria.send("/annuleer")
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    await ria.send("Praat mee over de buurt.")
    await ria.press("Op een adres")
    await ria.send("Dorpsstraat 1")
    await ria.press("Niet in één wijk")
    assert ria.keys == ["meetings.ask_map"]
    await ria.send("http://maps.velsen.nl/dorpsstraat")
    assert ria.keys == ["meetings.link_invalid", "meetings.ask_map"]
    await ria.send("https://maps.velsen.nl/dorpsstraat")
    assert ria.keys == ["meetings.ask_starts"]


async def test_huge_markup_and_emoji_text_is_refused_or_kept_literally(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("x" * 500)
    assert ria.keys == ["answers.too_long", "meetings.ask_title"]
    await ria.send("🎉" * 41)  # 82 UTF-16 units
    assert ria.keys == ["answers.too_long", "meetings.ask_title"]
    title = "<b>Feest</b> & 🎉 <a href='x'>"
    await ria.send(title)
    await ria.send("<i>Kom</i> 🎈")
    await ria.press("Online")
    await ria.send("https://meet.velsen.nl/feest?a=1&b=<2>")
    assert ria.keys == ["meetings.link_invalid", "meetings.ask_link"]
    await ria.send("https://meet.velsen.nl/feest?a=1&b=2")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("1 uur")
    await ria.send("5")
    await ria.press("Nee")
    await ria.press("Geen uitnodiging")
    card = ria.last[1].reply
    rendered = app.catalog.render("nl", card, markup=True)
    assert "&lt;b&gt;Feest&lt;/b&gt; &amp; 🎉 &lt;a href='x'&gt;" in rendered
    await ria.press("Publiceren")
    stored = await app.db.fetchval("SELECT title FROM meetings")
    assert stored == title


async def test_registering_twice_forged_ids_and_stale_buttons_change_nothing(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    meeting = await _published(app, ria, clock, capacity=1)

    await anna.press_payload(f"mt.go:{meeting}")
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys == ["meetings.already_going"]
    await bob.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.already_waiting"] and "nummer 1" in bob.text
    assert await _count(app, "meeting_registrations") == 2

    eve = await resident(app, "eve")
    for forged in ("999999", "abc", "-1", "", f"{meeting}:{meeting}", "٣"):
        for action in ("mt.go", "mt.no") if forged != "abc" else ("mt.go", "mt.no", "mt.ics"):
            await eve.press_payload(f"{action}:{forged}")
            assert eve.keys == ["meetings.gone"], (action, forged)
    # Bob cannot cancel Anna's place: only his own registration is his.
    await bob.press_payload(f"mt.no:{meeting}")
    assert bob.keys == ["meetings.cancelled_mine"]
    await bob.press_payload(f"mt.no:{meeting}")
    assert bob.keys == ["meetings.not_registered"]
    await bob.press_payload(f"mt.ics:{meeting}")
    assert bob.keys == ["meetings.not_registered"]
    assert await app.repos.meetings.people(meeting) == [
        (await app.repos.users.find("test", "anna")).id  # type: ignore[union-attr]
    ]


async def test_buttons_of_a_cancelled_meeting_change_nothing_and_everyone_is_told(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    await subscribe(carl)
    await organise(ria, evening(clock.now), capacity=1)
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    # Carl has the invitation open, and Ria opens the move dialog; then Ria cancels.
    await ria.press_payload(f"mt.move:{meeting}")
    assert ria.keys == ["meetings.ask_move"]
    await ria.press_payload(f"mt.end:{meeting}")
    assert "2 mensen" in ria.text
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.cancelled_done"] and "2 mensen" in ria.text
    for person in (anna, bob):
        [told] = await for_user(app, person, "meeting")
        assert told.replies[0].key == "meetings.cancelled_by_staff"
    [anna_told] = await for_user(app, anna, "meeting")
    assert anna_told.replies[1].document is not None
    assert b"STATUS:CANCELLED" in anna_told.replies[1].document.data
    assert await _count(app, "meeting_registrations") == 0

    await carl.press_payload(f"mt.go:{meeting}")
    assert carl.keys == ["meetings.was_cancelled"]
    await anna.press_payload(f"mt.no:{meeting}")
    assert anna.keys == ["meetings.was_cancelled"]
    await ria.press_payload(f"mt.endok:{meeting}")
    assert ria.keys == ["meetings.was_cancelled"]
    # The move dialog left open: its next step moves nothing, and says why.
    await ria.send(evening(clock.now, days=5).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.was_cancelled"]
    assert await _count(app, "meeting_registrations") == 0
    assert len(await for_user(app, anna, "meeting")) == 1, "told once"
    await carl.send("/bijeenkomsten")
    assert carl.keys == ["meetings.none"]
    # Nothing to choose among: no filter offered, the menu is.
    assert [label for label, _ in carl.buttons()] == ["⬅️ Menu"]


async def test_a_meeting_that_began_takes_no_registrations(app: App, clock: Clock) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    meeting = await _published(app, ria, clock, capacity=1)
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None
    clock.now = stored.starts_at + timedelta(minutes=5)
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.card"] and "al begonnen" in bob.text
    carl = await resident(app, "carl")
    await carl.press_payload(f"mt.go:{meeting}")
    assert carl.keys == ["meetings.card"] and "Aanmelden of afmelden kan niet meer" in carl.text
    # Anna leaves once it began: nobody moves up into a meeting already going on, and
    # she is not told that someone else gets her place, only shown the meeting as it is.
    await anna.press_payload(f"mt.no:{meeting}")
    assert anna.keys == ["meetings.card"]
    assert "Aanmelden of afmelden kan niet meer" in anna.text and "krijgt" not in anna.text
    assert await for_user(app, bob, "meeting") == []
    assert await _count(app, "meeting_registrations") == 2
    # Bob, on the waitlist, neither moves up nor leaves it.
    await bob.press_payload(f"mt.no:{meeting}")
    assert bob.keys == ["meetings.card"] and "al begonnen" in bob.text
    clock.now = stored.ends_at + timedelta(minutes=1)
    await anna.press_payload(f"mt.no:{meeting}")
    assert anna.keys == ["meetings.card"] and "al voorbij" in anna.text
    assert await for_user(app, bob, "meeting") == []
    assert await _count(app, "meeting_registrations") == 2


async def test_a_typed_number_is_the_answer_not_an_option_where_buttons_are_numbered(
    app: App, clock: Clock
) -> None:
    """On the console (and Matrix) options are numbered: "1" at the capacity step is one
    place, not the first option (Stoppen)."""
    rita = await with_role(
        app, await resident(app, "rita", platform="console"), Role.CIVIL_SERVANT
    )
    await _to_step(rita, "address")
    await rita.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await rita.send("1")  # read as 1:00, before the start; not the first option
    assert rita.keys == ["meetings.end_before_start", "meetings.ask_ends"]
    await rita.send("2 uur")
    assert rita.keys == ["meetings.ask_capacity"]
    await rita.send("1")
    assert rita.keys == ["meetings.ask_about"]


async def test_an_invitation_to_an_audience_with_nobody_in_it_is_asked_again(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await _to_step(ria, "address")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("1 uur")
    await ria.send("10")
    await ria.press("Nee")
    assert ria.keys == ["meetings.ask_invite"]
    await ria.press("Ja, nodig")
    await ria.press("Wijk")
    await ria.press("Velserbroek")
    assert ria.keys == ["meetings.audience_empty", "meetings.ask_invite"]
    await ria.press("Geen uitnodiging")
    assert ria.keys[0] == "meetings.preview_intro" and "Uitnodigingen: 0" in ria.text
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"]
    assert await _count(app, "broadcasts") == 0


async def test_the_calendar_file_asked_for_from_the_waitlist_says_they_wait_and_their_number(
    app: App, clock: Clock
) -> None:
    """An old card's "Agendabestand" pressed while waiting: not "you are not signed up",
    but where they are on the waitlist; the file comes once they have a place."""
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, name) for name in ("anna", "bob", "carl")]
    meeting = await _published(app, ria, clock, capacity=1)
    for chat in (anna, bob, carl):
        await chat.press_payload(f"mt.go:{meeting}")
    await carl.press_payload(f"mt.ics:{meeting}")
    assert carl.keys == ["meetings.calendar_waiting"]
    assert "wachtlijst" in carl.text and "nummer 2" in carl.text
    assert all(seen.reply.document is None for seen in carl.last)
    await anna.press("Ik kom toch niet")
    await carl.press_payload(f"mt.ics:{meeting}")
    assert carl.keys == ["meetings.calendar_waiting"] and "nummer 1" in carl.text
    await bob.press_payload(f"mt.ics:{meeting}")
    assert bob.keys == ["meetings.calendar"] and bob.last[0].reply.document is not None


async def test_the_title_typed_after_the_command_is_kept(app: App) -> None:
    """/nieuwebijeenkomst Buurtavond: the title is not asked again; one that cannot be a
    title is shown back with the reason, and the title is asked."""
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst Buurtavond\nIJmuiden")
    assert ria.keys == ["meetings.ask_description"]
    await ria.send("/annuleer")
    await ria.send("/newmeeting 🎉")
    assert ria.keys == ["general.typed_not_kept", "answers.too_short", "meetings.ask_title"]
    assert "🎉" in ria.text
    await ria.send("Buurtavond")
    assert ria.keys == ["meetings.ask_description"]
