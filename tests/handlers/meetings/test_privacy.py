"""A resident's meetings are in /mijngegevens and gone after /vergeetmij; a place they leave
that way goes to whoever waited first, who is told at once."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from bot.admin.cli import run_erase_person
from bot.app import App
from bot.settings import Settings
from tests.consultations import Clock
from tests.meetings import TITLE, Reminders, evening, organise
from tests.people import civil_servant, for_user, row
from tests.people import person as resident
from tests.privacy import traces
from tests.support import Chat


async def test_my_data_shows_my_meetings_and_forget_me_erases_them(app: App, clock: Clock) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "annabel-zwartkruis")
    bob, carl = await resident(app, "bob"), await resident(app, "carl")
    await organise(ria, evening(clock.now), capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    anna_id = (await row(app, anna)).id

    await anna.send("/mijngegevens")
    assert "Bijeenkomsten waarvoor je bent aangemeld: 1" in anna.text
    [file] = [s.reply.document for s in anna.last if s.reply.document is not None]
    exported = json.loads(file.data)
    text = json.dumps(exported, ensure_ascii=False)
    assert "meeting_registrations" in text and "Buurtavond Zeewijk" in text

    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert (
        await app.db.fetchval(
            "SELECT COUNT(*) FROM meeting_registrations WHERE user_id = ?", (anna_id,)
        )
        == 0
    )
    assert await traces(app.db, ["annabel-zwartkruis", "Annabel-Zwartkruis"]) == []

    # Her place is free: the next one to register finds Bob already moved up ahead of them.
    await carl.press_payload(f"mt.go:{meeting}")
    assert carl.keys == ["meetings.waitlisted"]
    [moved] = await for_user(app, bob, "meeting")
    assert moved.replies[0].key == "meetings.moved_up"
    await ria.press_payload(f"mt.who:{meeting}")
    assert "1. Bob" in ria.text and "2. Carl (wachtlijst)" in ria.text


async def test_how_often_i_gave_up_a_place_is_in_my_data_and_goes_when_i_am_forgotten(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    await organise(ria, evening(clock.now), capacity=2, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await anna.press("Ik kom toch niet")
    await anna.press_payload(f"mt.go:{meeting}")

    await anna.send("/mijngegevens")
    assert "Keren dat je je plek bij een bijeenkomst opgaf: 1" in anna.text
    [file] = [s.reply.document for s in anna.last if s.reply.document is not None]
    [given_up] = json.loads(file.data)["sections"]["meeting_places_given_up"]["rows"]
    assert (given_up["meeting"], given_up["title"], given_up["times"]) == (meeting, TITLE, 1)

    anna_id = (await row(app, anna)).id
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert (
        await app.db.fetchval(
            "SELECT COUNT(*) FROM meeting_places_given_up WHERE user_id = ?", (anna_id,)
        )
        == 0
    )


async def test_a_place_left_by_an_erasure_goes_to_the_first_waiting_at_once(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")

    # Bob is told straight away, as when someone says they cannot come after all.
    [moved] = await for_user(app, bob, "meeting")
    assert [r.key for r in moved.replies] == ["meetings.moved_up", "meetings.calendar"]
    await bob.send("/bijeenkomsten")
    await bob.press(TITLE)
    assert "Je komt" in bob.text and "1 van 1 bezet · wachtlijst: 0" in bob.text
    await ria.press_payload(f"mt.who:{meeting}")
    assert "1. Bob" in ria.text and "(wachtlijst)" not in ria.text

    # The reminders are his as well.
    clock.now = starts.astimezone(UTC) - timedelta(hours=23)
    await Reminders.of(app).run(meeting)
    assert [r.replies[0].key for r in await for_user(app, bob, "meeting")] == [
        "meetings.moved_up",
        "meetings.reminder_day",
    ]


async def test_an_erasure_by_the_operator_passes_the_place_on_too(
    app: App, settings: Settings, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    await organise(ria, evening(clock.now), capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    who = await row(app, anna)

    # `samenspel erase-person`, with the bot's own database open beside it.
    await run_erase_person(settings, who.platform, who.platform_user_id, False)

    [moved] = await for_user(app, bob, "meeting")
    assert moved.replies[0].key == "meetings.moved_up"
    await ria.press_payload(f"mt.who:{meeting}")
    assert "1. Bob" in ria.text and "(wachtlijst)" not in ria.text


async def test_my_data_keeps_when_i_got_my_place_after_the_meeting_moved(
    app: App, clock: Clock
) -> None:
    """A move starts the reminders over, but the place is still the one got back then: the
    export says when that was, not when the meeting moved."""
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    clock.advance(hours=2)
    await anna.press("Ik kom toch niet")  # Bob gets the place now, two hours later

    async def placed(chat: Chat) -> list[str]:
        await chat.send("/mijngegevens")
        [file] = [s.reply.document for s in chat.last if s.reply.document is not None]
        rows = json.loads(file.data)["sections"]["meeting_registrations"]["rows"]
        return [r["placed_at"] for r in rows]

    before = await placed(bob)
    assert len(before) == 1 and before[0] is not None
    clock.advance(hours=3)
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send((starts + timedelta(days=7)).strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.moved_done"]
    assert await placed(bob) == before
    # The reminders did start over, for the new time.
    day_before = (starts + timedelta(days=7) - timedelta(days=1)).astimezone(UTC)
    assert await Reminders.of(app).pending() == [(meeting, day_before)]
