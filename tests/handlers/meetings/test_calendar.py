"""Every calendar file a person gets for a meeting counts higher than the one before it: a
calendar ignores a file with a lower SEQUENCE than one it already read (RFC 5546 2.1.5), so
after the file that took the meeting out (they gave up their place) the one that puts it
back must count higher, and so must every file after it, whatever staff changed meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from icalendar import Calendar

from bot.app import App
from bot.settings import Settings
from handlers.contract import Document
from tests.consultations import Clock
from tests.meetings import ZONE, calendar_of, evening, organise
from tests.people import civil_servant, for_user
from tests.people import person as resident
from tests.support import Chat


def _file(document: Document | None) -> tuple[str, str, int]:
    """(METHOD, UID, SEQUENCE) of a calendar file."""
    assert document is not None
    calendar = Calendar.from_ical(document.data)
    [event] = calendar.events
    return str(calendar["method"]), str(event["uid"]), int(event["sequence"])


def _in_chat(chat: Chat) -> tuple[str, str, int]:
    """The calendar file in a chat's last answer."""
    [document] = [seen.reply.document for seen in chat.last if seen.reply.document is not None]
    return _file(document)


async def _queued(app: App, chat: Chat) -> tuple[str, str, int]:
    """The calendar file in the newest message queued for a chat's person."""
    newest = (await for_user(app, chat, "meeting"))[-1]
    [document] = [reply.document for reply in newest.replies if reply.document is not None]
    return _file(document)


async def test_every_file_a_person_gets_counts_higher_than_the_one_before(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    bob, carl = await resident(app, "bob"), await resident(app, "carl")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    files = []

    await bob.press_payload(f"mt.go:{meeting}")
    files.append(_in_chat(bob))
    await bob.press("Ik kom toch niet")
    files.append(_in_chat(bob))
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.registered", "meetings.calendar"]
    files.append(_in_chat(bob))
    # The same file again: nothing changed, so it counts as high as the last one.
    await bob.press_payload(f"mt.ics:{meeting}")
    assert _in_chat(bob) == files[-1]

    # Staff move it.
    later = starts + timedelta(days=2)
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.moved_done"]
    files.append(await _queued(app, bob))
    # He gives up again, Carl gets the place; Carl gives it up, and Bob moves up from the
    # waitlist.
    await carl.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.no:{meeting}")
    files.append(_in_chat(bob))
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.waitlisted"]
    await carl.press("Ik kom toch niet")
    assert carl.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    files.append(await _queued(app, bob))
    # Staff cancel it.
    await ria.press_payload(f"mt.end:{meeting}")
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.cancelled_done"]
    files.append(await _queued(app, bob))

    methods = [method for method, _, _ in files]
    assert methods == ["PUBLISH", "CANCEL", "PUBLISH", "PUBLISH", "CANCEL", "PUBLISH", "CANCEL"]
    assert len({uid for _, uid, _ in files}) == 1, "one entry in the calendar, always"
    numbers = [number for _, _, number in files]
    assert all(a < b for a, b in pairwise(numbers)), numbers


async def test_a_file_waiting_in_the_outbox_when_the_meeting_moves_counts_the_give_ups(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    bob, carl = await resident(app, "bob"), await resident(app, "carl")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await bob.press_payload(f"mt.go:{meeting}")
    await carl.press_payload(f"mt.go:{meeting}")  # waits
    await bob.press("Ik kom toch niet")  # Carl moves up
    _, _, taken_out = _in_chat(bob)
    await bob.press_payload(f"mt.go:{meeting}")  # waits
    await carl.press("Ik kom toch niet")  # Bob moves up: told, not sent yet
    [placed] = await for_user(app, bob, "meeting")
    assert placed.replies[0].key == "meetings.moved_up"

    # Before it went out, staff move the meeting: the waiting message says the new time,
    # with a file that still counts higher than the one that took it out of his calendar.
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send((starts + timedelta(days=2)).strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    [rewritten, moved] = await for_user(app, bob, "meeting")
    assert rewritten.replies[0].key == "meetings.moved_up"
    assert moved.replies[0].key == "meetings.moved"
    for told in (rewritten, moved):
        [document] = [reply.document for reply in told.replies if reply.document is not None]
        assert _file(document)[2] > taken_out


async def test_a_place_left_by_an_erasure_comes_with_a_file_that_counts_the_give_ups(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    bob, carl = await resident(app, "bob"), await resident(app, "carl")
    await organise(ria, evening(clock.now), capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await bob.press_payload(f"mt.go:{meeting}")
    await bob.press("Ik kom toch niet")
    _, _, taken_out = _in_chat(bob)
    await carl.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")  # waits
    await carl.send("/vergeetmij")
    await carl.press("Ja, wis mijn gegevens")

    [placed] = await for_user(app, bob, "meeting")
    assert placed.replies[0].key == "meetings.moved_up"
    method, _, number = await _queued(app, bob)
    assert method == "PUBLISH" and number > taken_out


async def test_a_meeting_that_ends_in_the_hour_the_clocks_go_back_ends_then_in_the_calendar(
    settings: Settings, clock: Clock
) -> None:
    """31 October 2027: at 03:00 the clocks go back to 02:00, so 02:30 comes twice. A
    meeting from 01:30 for two hours ends at the second 02:30; a calendar reads a local time
    that comes twice as the first one, so the file gives that end in UTC, not as a one-hour
    meeting. A time that comes once keeps the municipality's time zone."""
    starts = datetime(2027, 10, 31, 1, 30, tzinfo=ZONE)
    clock.now = starts.astimezone(UTC) - timedelta(days=10)
    app = await App.open(settings, clock=clock)
    try:
        ria, anna = await civil_servant(app), await resident(app, "anna")
        await organise(ria, starts, audience=("Geen uitnodiging",))
        await ria.press("Publiceren")
        meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
        await anna.press_payload(f"mt.go:{meeting}")
        [event] = calendar_of(anna.last).events
        assert event["dtstart"].dt == starts and event["dtstart"].params["TZID"]
        assert event["dtend"].dt.astimezone(UTC) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    finally:
        await app.close()
