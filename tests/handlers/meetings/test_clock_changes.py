"""The day's reminder ("Morgen is de bijeenkomst") around the changes of the clocks in 2027
(Europe/Amsterdam: 28 March 02:00 → 03:00, 31 October 03:00 → 02:00).

It goes at the meeting's own clock time on the calendar day before, where the meeting takes
place, not 24 hours before: across a change those differ by an hour, and for a meeting
around midnight 24 hours lands two days before or on the meeting's own day. Everything runs
the way the running bot runs it: the router arms the timer a handler returns, start-up arms
it again from the database, and the scheduler's own runner sends the reminder when it is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.app import App
from bot.settings import Settings
from handlers.when import day
from tests.consultations import Clock
from tests.meetings import ZONE, organise, running_scheduler
from tests.people import civil_servant, for_user, row
from tests.people import person as resident
from tests.support import Chat


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


#: (the meeting's start, when its day reminder goes: both on Amsterdam's clock).
DAY_REMINDERS = [
    # 24 hours before was Saturday 23:30: "tomorrow" two days early.
    pytest.param(_local(2027, 3, 29, 0, 30), _local(2027, 3, 28, 0, 30), id="spring-monday-0030"),
    # 24 hours before was 18:30 on Saturday's clock.
    pytest.param(_local(2027, 3, 28, 19, 30), _local(2027, 3, 27, 19, 30), id="spring-sunday"),
    # 02:30 does not exist on the Sunday: the hour after the skipped one, still on Sunday.
    pytest.param(_local(2027, 3, 29, 2, 30), _local(2027, 3, 28, 3, 30), id="spring-skipped-hour"),
    # 24 hours before was 00:30 on the Sunday itself: "tomorrow" was never sent.
    pytest.param(_local(2027, 10, 31, 23, 30), _local(2027, 10, 30, 23, 30), id="autumn-sunday"),
    # 24 hours before was 01:30 on the Sunday's clock.
    pytest.param(_local(2027, 11, 1, 0, 30), _local(2027, 10, 31, 0, 30), id="autumn-monday-0030"),
]


async def _meeting(app: App, ria: Chat, starts: datetime) -> int:
    await organise(ria, starts, capacity=5, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"]
    return int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))


async def _day_reminders(app: App, chat: Chat) -> list[tuple[str, str]]:
    """(text, expires_at) of every day reminder queued for a chat's person."""
    user = await row(app, chat)
    queued = await for_user(app, chat, "meeting")
    expiries = await app.db.fetchall(
        "SELECT expires_at FROM outbox WHERE user_id = ? AND kind = 'meeting' ORDER BY id",
        (user.id,),
    )
    return [
        (q.text(app, "nl"), str(e["expires_at"]))
        for q, e in zip(queued, expiries, strict=True)
        if q.replies[0].key == "meetings.reminder_day"
    ]


def _midnight(starts: datetime) -> str:
    """The stored moment the meeting's own day begins (when "tomorrow" stops being true)."""
    begins = datetime.combine(starts.date(), time(0), tzinfo=ZONE).astimezone(UTC)
    return begins.isoformat(timespec="microseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(("starts", "reminded"), DAY_REMINDERS)
async def test_the_day_reminder_goes_at_its_clock_time_on_the_day_before_across_a_clock_change(
    settings: Settings, clock: Clock, starts: datetime, reminded: datetime
) -> None:
    clock.now = starts.astimezone(UTC) - timedelta(days=12)
    app = await App.open(settings, clock=clock)
    try:
        ria, anna = await civil_servant(app), await resident(app, "anna")
        meeting = await _meeting(app, ria, starts)
        job = f"meeting:{meeting}"
        async with running_scheduler(app) as scheduler:
            await anna.press_payload(f"mt.go:{meeting}")
            assert anna.keys == ["meetings.registered", "meetings.calendar"]
            # The router armed the timer the registration returned.
            assert scheduler.scheduled()[job] == reminded.astimezone(UTC)
        assert reminded.date() == starts.date() - timedelta(days=1)

        # The bot restarts: start-up arms the same moment again from the database.
        await app.close()
        app = await App.open(settings, clock=clock)
        anna.app = app
        async with running_scheduler(app) as scheduler:
            at = scheduler.scheduled()[job]
            assert at == reminded.astimezone(UTC)
            run = scheduler.kinds["meeting"].runner
            clock.now = at - timedelta(minutes=1)
            await run(str(meeting))
            assert await _day_reminders(app, anna) == [], "not before its moment"
            assert scheduler.scheduled()[job] == at
            clock.now = at
            await run(str(meeting))
            await run(str(meeting))  # twice: sent once
            [(text, expires)] = await _day_reminders(app, anna)
            assert text.startswith("⏰ Morgen is de bijeenkomst")
            assert f"{day(starts, 'nl')}, {starts:%H:%M}–" in text
            # "Morgen" is true where it is read until the meeting's own day begins there.
            assert clock.now.astimezone(ZONE).date() + timedelta(days=1) == starts.date()
            assert expires == _midnight(starts)
            # Next: the hour's reminder, an hour before (an hour is an hour, in any zone).
            assert scheduler.scheduled()[job] == starts.astimezone(UTC) - timedelta(hours=1)
    finally:
        await app.close()


MOVES = [
    # From a Thursday evening to just after midnight on the Monday after the spring change.
    pytest.param(
        _local(2027, 3, 25, 19, 30),
        _local(2027, 3, 29, 0, 30),
        _local(2027, 3, 28, 0, 30),
        id="spring",
    ),
    # From a Thursday evening to late on the Sunday the clocks go back.
    pytest.param(
        _local(2027, 10, 28, 19, 30),
        _local(2027, 10, 31, 23, 30),
        _local(2027, 10, 30, 23, 30),
        id="autumn",
    ),
]


@pytest.mark.parametrize(("starts", "later", "reminded"), MOVES)
async def test_a_meeting_moved_across_a_clock_change_is_reminded_the_local_day_before_its_new_time(
    app: App, clock: Clock, starts: datetime, later: datetime, reminded: datetime
) -> None:
    clock.now = starts.astimezone(UTC) - timedelta(days=9)
    ria, anna = await civil_servant(app), await resident(app, "anna")
    meeting = await _meeting(app, ria, starts)
    job = f"meeting:{meeting}"
    async with running_scheduler(app) as scheduler:
        await anna.press_payload(f"mt.go:{meeting}")
        assert scheduler.scheduled()[job] == (starts - timedelta(days=1)).astimezone(UTC)

        await ria.press_payload(f"mt.move:{meeting}")
        await ria.send(later.strftime("%d-%m-%Y %H:%M"))
        await ria.press("2 uur")
        assert ria.keys == ["meetings.moved_done"]
        assert scheduler.scheduled()[job] == reminded.astimezone(UTC)

        clock.now = reminded.astimezone(UTC)
        await scheduler.kinds["meeting"].runner(str(meeting))
        [(text, expires)] = await _day_reminders(app, anna)
        assert f"{day(later, 'nl')}, {later:%H:%M}–" in text
        assert expires == _midnight(later)


async def test_back_only_on_the_meetings_own_day_it_sends_no_tomorrow_but_the_hour_reminder(
    app: App, clock: Clock
) -> None:
    # Late on the Sunday the clocks go back: 24 hours before it is that same Sunday.
    starts = _local(2027, 10, 31, 23, 30)
    clock.now = starts.astimezone(UTC) - timedelta(days=5)
    ria, anna = await civil_servant(app), await resident(app, "anna")
    meeting = await _meeting(app, ria, starts)
    await anna.press_payload(f"mt.go:{meeting}")
    # The bot was down from Saturday afternoon until Sunday morning.
    clock.now = _local(2027, 10, 31, 0, 5).astimezone(UTC)
    async with running_scheduler(app) as scheduler:
        await scheduler.kinds["meeting"].runner(str(meeting))
        assert await _day_reminders(app, anna) == []
        assert scheduler.scheduled()[f"meeting:{meeting}"] == starts.astimezone(UTC) - timedelta(
            hours=1
        )


async def test_a_time_in_the_hour_the_clocks_skip_is_asked_again_not_moved_an_hour(
    settings: Settings, clock: Clock
) -> None:
    """28 March 2027 the clocks go from 02:00 to 03:00: "02:30" that night does not exist.
    It is said so and asked again, as a start and as an end, instead of becoming 03:30
    without a word."""
    clock.now = datetime(2027, 3, 20, 12, tzinfo=UTC)
    app = await App.open(settings, clock=clock)
    try:
        ria = await civil_servant(app)
        await ria.send("/nieuwebijeenkomst")
        await ria.send("Nachtwandeling")
        await ria.send("We lopen door de duinen.")
        await ria.press("Online")
        await ria.send("https://meet.velsen.nl/duinen")
        await ria.send("28-03-2027 02:30")
        assert ria.keys == ["meetings.when_skipped", "meetings.ask_starts"]
        assert "„28-03-2027 02:30” bestaat niet" in ria.text
        await ria.send("28-03-2027 01:30")
        assert ria.keys == ["meetings.ask_ends"]
        await ria.send("02:30")
        assert ria.keys == ["meetings.when_skipped", "meetings.ask_ends"]
        await ria.send("03:30")
        assert ria.keys == ["meetings.ask_capacity"]
        await ria.send("5")
        await ria.press("Nee")
        await ria.press("Geen uitnodiging")
        await ria.press("Publiceren")
        stored = await app.repos.meetings.get(1)
        assert stored is not None
        assert stored.starts_at == _local(2027, 3, 28, 1, 30)
        assert stored.ends_at == _local(2027, 3, 28, 3, 30)
    finally:
        await app.close()
