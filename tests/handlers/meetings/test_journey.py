"""A meeting from start to end through the router, on a real database: organised, the
invitation in "Wist je dat", people register until it is full, the next one waits, a
cancellation moves them up, the calendar file read back, both reminders sent after a
restart, and the meeting moved: everyone registered or waiting told."""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Calendar

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.settings import Settings
from handlers.when import day
from tests.bot.delivery_support import FakeAdapter
from tests.consultations import Clock
from tests.meetings import (
    ADDRESS,
    DESCRIPTION,
    TITLE,
    Reminders,
    calendar_of,
    evening,
    organise,
)
from tests.people import audit_actions, civil_servant, for_user, subscribe
from tests.people import person as resident
from tests.waiting import until


async def _last_meeting(app: App) -> int:
    return int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))


async def test_a_meeting_goes_from_invitation_to_reminders_and_a_move_that_reaches_everyone(
    settings: Settings, clock: Clock
) -> None:
    app = await App.open(settings, clock=clock)
    anna, bob, carl, dina = [await resident(app, n) for n in ("anna", "bob", "carl", "dina")]
    for person in (anna, bob, carl):
        await subscribe(person)
    ria = await civil_servant(app)
    starts = evening(clock.now)

    preview = await organise(ria, starts, capacity=2)
    assert "Uitnodigingen: 3" in preview[0].text
    assert TITLE in preview[1].text and ADDRESS in preview[1].text
    assert f"{day(starts, 'nl')}, 19:30–21:30" in preview[1].text
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"] and "verstuurd: 3" in ria.text
    meeting = await _last_meeting(app)
    assert "meeting.publish" in await audit_actions(app)

    # The invitation is a "Wist je dat" with an "Ik kom" button.
    [invitation] = await for_user(app, anna, "broadcast")
    assert TITLE in invitation.text(app, "nl") and DESCRIPTION in invitation.text(app, "nl")
    # Stored once for everyone, its time is written in each reader's language when sent.
    assert f"{day(starts, 'nl')}, 19:30–21:30" in invitation.text(app, "nl")
    assert f"{day(starts, 'en')}, 19:30–21:30" in invitation.text(app, "en")
    assert f"mt.go:{meeting}" in invitation.payloads()
    assert await for_user(app, dina, "broadcast") == [], "not subscribed, not invited"

    # Anna and Bob register: the meeting is full; Carl waits, Dina after him.
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]
    ics = calendar_of(anna.last)
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys[0] == "meetings.registered"
    await carl.press_payload(f"mt.go:{meeting}")
    assert carl.keys == ["meetings.waitlisted"] and "nummer 1" in carl.text
    await dina.send("/bijeenkomsten")
    assert "vol, wachtlijst: 1" in dina.text
    await dina.press(TITLE)
    assert "Plaatsen: 2 van 2 bezet · wachtlijst: 1" in dina.text
    await dina.press("Ik kom")
    assert dina.keys == ["meetings.waitlisted"] and "nummer 2" in dina.text
    assert all(r.reply.document is None for r in carl.last + dina.last), "no file while waiting"

    # The calendar file: the right moment in Amsterdam's time zone, with its VTIMEZONE.
    [event] = ics.events
    assert event.start == starts and event.end == starts + timedelta(hours=2)
    assert str(event.start.tzinfo) == "Europe/Amsterdam"
    assert event.start.astimezone(UTC) == starts.astimezone(UTC)
    assert str(event["summary"]) == TITLE and str(event["location"]) == ADDRESS
    assert str(event["uid"]).startswith(f"meeting-{meeting}@")
    assert event["dtstamp"].dt.replace(microsecond=0) == clock.now.replace(microsecond=0)
    [zone] = ics.timezones
    assert str(zone["tzid"]) == "Europe/Amsterdam"

    # Bob cannot come after all: Carl moves up and is told, with the calendar file.
    await bob.press("Ik kom toch niet")
    assert bob.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    [moved] = await for_user(app, carl, "meeting")
    assert [r.key for r in moved.replies] == ["meetings.moved_up", "meetings.calendar"]
    assert moved.replies[1].document is not None
    assert f"{day(starts, 'nl')}, 19:30–21:30" in moved.text(app, "nl")
    await carl.send("/bijeenkomsten")
    assert "je komt" in carl.text
    await carl.press(TITLE)
    assert "Je komt" in carl.text and "wachtlijst: 1" in carl.text

    # The bot restarts; the reminders are still due, a day and an hour before.
    await app.close()
    app = await App.open(settings, clock=clock)
    reminders = Reminders.of(app)
    day_before = (starts - timedelta(days=1)).astimezone(UTC)  # its clock time, the day before
    assert await reminders.pending() == [(meeting, day_before)]
    clock.now = day_before + timedelta(minutes=1)
    await reminders.run(meeting)
    await reminders.run(meeting)  # the job running twice sends nothing twice
    for person in (anna, bob, carl, dina):
        person.app = app
    got = {
        p.user_id: [r.replies[0].key for r in await for_user(app, p, "meeting")]
        for p in (anna, carl)
    }
    assert got == {
        "anna": ["meetings.reminder_day"],
        "carl": ["meetings.moved_up", "meetings.reminder_day"],
    }
    assert await for_user(app, dina, "meeting") == [], "waiting: no reminder"
    assert await reminders.pending() == [(meeting, starts.astimezone(UTC) - timedelta(hours=1))]

    await app.close()
    app = await App.open(settings, clock=clock)
    reminders = Reminders.of(app)
    clock.now = starts.astimezone(UTC) - timedelta(minutes=59)
    await reminders.run(meeting)
    [last] = (await for_user(app, anna, "meeting"))[-1:]
    assert last.replies[0].key == "meetings.reminder_hour"
    assert "Over een uur begint" in last.text(app, "nl")
    assert f"{day(starts, 'nl')}, 19:30–21:30" in last.text(app, "nl")
    assert f"{day(starts, 'tr')} 19:30–21:30" in last.text(app, "tr")
    assert await reminders.pending() == []

    # Ria moves it a week on: everyone with a place or waiting is told.
    clock.now -= timedelta(hours=2)
    for person in (anna, bob, carl, dina, ria):
        person.app = app
    later = starts + timedelta(days=7)
    await ria.send("/bijeenkomsten")
    await ria.press(TITLE)
    await ria.press("Beheren")
    assert ria.keys == ["meetings.staff_options"]
    await ria.press("Verplaatsen")
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.moved_done"] and "3 mensen" in ria.text
    for person in (anna, carl, dina):
        told = (await for_user(app, person, "meeting"))[-1]
        assert told.replies[0].key == "meetings.moved"
        assert f"{day(later, 'nl')}, 19:30–21:30" in told.text(app, "nl")
    assert await for_user(app, bob, "meeting") == [], "Bob cancelled: not told"
    anna_told = (await for_user(app, anna, "meeting"))[-1]
    document = anna_told.replies[1].document
    assert document is not None
    [event] = Calendar.from_ical(document.data).events
    assert event.start == later and int(event["sequence"]) == 1
    # The reminders start over for the new time.
    assert await reminders.pending() == [(meeting, (later - timedelta(days=1)).astimezone(UTC))]
    await app.close()


async def test_an_hour_reminder_left_in_the_outbox_by_a_stop_is_not_sent_after_the_meeting(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    await subscribe(anna)
    ria = await civil_servant(app)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5)
    await ria.press("Publiceren")
    meeting = await _last_meeting(app)
    await anna.press_payload(f"mt.go:{meeting}")
    # The hour reminder is queued; the bot stops before delivery sends it ...
    clock.now = starts.astimezone(UTC) - timedelta(minutes=59)
    await Reminders.of(app).run(meeting)
    [last] = (await for_user(app, anna, "meeting"))[-1:]
    assert last.replies[0].key == "meetings.reminder_hour"
    # ... and starts again three hours later, when the meeting is over.
    clock.now = starts.astimezone(UTC) + timedelta(hours=3)
    adapter = FakeAdapter()
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05), clock=clock
    )
    await worker.start()
    try:

        async def settled() -> bool:
            counts = await app.repos.outbox.status_counts()
            return counts.get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    sent = [key for s in adapter.sent for key in s.keys]
    assert "meetings.reminder_hour" not in sent
    assert "meetings.invitation" not in sent, "its invitation expired with it"
    expired = await app.db.fetchall(
        "SELECT kind, last_error FROM outbox WHERE status = 'cancelled' ORDER BY id"
    )
    assert [tuple(r) for r in expired] == [("broadcast", "expired"), ("meeting", "expired")]
    # The invitation went out as a broadcast: its author's report counts it as cancelled.
    batch = await app.repos.outbox.batch(f"broadcast:{await _broadcast(app)}")
    assert batch is not None and batch.finished_at is not None
    assert (batch.delivered, batch.cancelled) == (0, batch.total)


async def _broadcast(app: App) -> int:
    return int(await app.db.fetchval("SELECT MAX(id) FROM broadcasts"))


async def test_the_reminder_that_says_tomorrow_is_not_sent_after_midnight_before_the_meeting(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = await _last_meeting(app)
    await anna.press_payload(f"mt.go:{meeting}")
    # The day's reminder is queued in the evening before, and held back (a stop, a 429)
    # until after midnight: then "tomorrow" is untrue, and it is not sent.
    clock.now = (starts - timedelta(days=1)).astimezone(UTC) + timedelta(minutes=1)
    await Reminders.of(app).run(meeting)
    [queued] = await for_user(app, anna, "meeting")
    assert "Morgen is de bijeenkomst" in queued.text(app, "nl")
    clock.now = starts.replace(hour=0, minute=5).astimezone(UTC)
    adapter = FakeAdapter()
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05), clock=clock
    )
    await worker.start()
    try:

        async def settled() -> bool:
            counts = await app.repos.outbox.status_counts()
            return counts.get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()
    assert [key for s in adapter.sent for key in s.keys] == []


async def test_a_bot_down_until_the_meetings_own_day_does_not_say_tomorrow_there(
    app: App, clock: Clock
) -> None:
    anna = await resident(app, "anna")
    ria = await civil_servant(app)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = await _last_meeting(app)
    await anna.press_payload(f"mt.go:{meeting}")
    # Down from before the day's reminder until the afternoon of the meeting.
    clock.now = starts.replace(hour=15).astimezone(UTC)
    reminders = Reminders.of(app)
    await reminders.run(meeting)
    assert await for_user(app, anna, "meeting") == []
    assert await reminders.pending() == [(meeting, starts.astimezone(UTC) - timedelta(hours=1))]
    clock.now = starts.astimezone(UTC) - timedelta(minutes=59)
    await reminders.run(meeting)
    assert [q.replies[0].key for q in await for_user(app, anna, "meeting")] == [
        "meetings.reminder_hour"
    ]
