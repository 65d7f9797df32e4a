"""Days in polls and evaluations around the changes of the clocks in 2027 (Europe/Amsterdam:
28 March 02:00 → 03:00, 31 October 03:00 → 02:00).

A person reads "a day before the poll closes", "four weeks after joining" and "two weeks to
answer" as calendar days on Amsterdam's clock, not as multiples of 24 hours: across a change
those differ by an hour. Everything runs the way the running bot runs it: the router arms the
timer a handler returns, start-up arms it again from the database, and the scheduler's own
runners send what is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.settings import Settings
from handlers.when import moment
from tests.consultations import Clock, button, compose_poll, last_consultation, outbox_of, seen
from tests.meetings import ZONE, running_scheduler
from tests.people import civil_servant
from tests.people import person as resident
from tests.support import Chat


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


#: (now, when a poll "Na 7 dagen" closes, when its reminder goes: all on Amsterdam's clock).
POLLS = [
    # 24 hours before closing was 16:00 on Saturday's clock.
    pytest.param(
        _local(2027, 3, 21, 10, 0),
        _local(2027, 3, 28, 17, 0),
        _local(2027, 3, 27, 17, 0),
        id="spring",
    ),
    # 24 hours before closing was 18:00 on Saturday's clock.
    pytest.param(
        _local(2027, 10, 24, 10, 0),
        _local(2027, 10, 31, 17, 0),
        _local(2027, 10, 30, 17, 0),
        id="autumn",
    ),
]


@pytest.mark.parametrize(("now", "closes", "reminded"), POLLS)
async def test_a_polls_reminder_goes_a_day_before_closing_at_its_clock_time(
    settings: Settings, clock: Clock, now: datetime, closes: datetime, reminded: datetime
) -> None:
    clock.now = now.astimezone(UTC)
    app = await App.open(settings, clock=clock)
    try:
        ria, anna = await civil_servant(app), await resident(app, "anna")
        async with running_scheduler(app) as scheduler:
            await compose_poll(ria, closes="Na 7 dagen")
            await ria.press("Publiceren")
            assert ria.keys == ["consultations.published"], ria.keys
            poll = await last_consultation(app)
            job = f"consultation:{poll}"
            # The router armed the timer publishing returned.
            assert scheduler.scheduled()[job] == reminded.astimezone(UTC)
        found = await app.repos.consultations.get(poll)
        assert found is not None and found.closes_at == closes.astimezone(UTC)
        [row] = await outbox_of(app, anna)
        await anna.press_payload(button(seen(app, row), "Schommel"))  # begun, not finished

        # The bot restarts: start-up arms the same moment again from the database.
        await app.close()
        app = await App.open(settings, clock=clock)
        anna.app = app
        async with running_scheduler(app) as scheduler:
            at = scheduler.scheduled()[job]
            assert at == reminded.astimezone(UTC)
            run = scheduler.kinds["consultation"].runner
            clock.now = at - timedelta(minutes=1)
            await run(str(poll))
            assert len(await outbox_of(app, anna)) == 1, "not before its moment"
            clock.now = at
            await run(str(poll))
            await run(str(poll))  # twice: sent once
            [_, reminder] = await outbox_of(app, anna)
            [reminding] = seen(app, reminder)
            assert reminding.key == "consultations.reminder"
            assert f"sluit op {moment(closes, 'nl')}" in reminding.text
            assert clock.now.astimezone(ZONE).time() == closes.time()
            assert scheduler.scheduled()[job] == closes.astimezone(UTC)
    finally:
        await app.close()


#: (joined, asked four weeks later, reminded, the deadline two weeks after asking: on
#: Amsterdam's clock). The seeded evaluation asks 28 days after joining, 14 days to answer.
EVALUATIONS = [
    # Asked across the spring change: 24-hour days asked at 11:00 on the Monday.
    pytest.param(
        _local(2027, 3, 1, 10, 0),
        _local(2027, 3, 29, 10, 0),
        _local(2027, 4, 11, 10, 0),
        _local(2027, 4, 12, 10, 0),
        id="spring-asked",
    ),
    # The two weeks to answer cross the autumn change: 24-hour days ended at 09:00.
    pytest.param(
        _local(2027, 9, 20, 10, 0),
        _local(2027, 10, 18, 10, 0),
        _local(2027, 10, 31, 10, 0),
        _local(2027, 11, 1, 10, 0),
        id="autumn-deadline",
    ),
    # Asked across the autumn change (24-hour days: 09:00), the deadline across none.
    pytest.param(
        _local(2027, 10, 4, 10, 0),
        _local(2027, 11, 1, 10, 0),
        _local(2027, 11, 14, 10, 0),
        _local(2027, 11, 15, 10, 0),
        id="autumn-asked",
    ),
    # The two weeks to answer cross the spring change: 24-hour days ended at 11:00.
    pytest.param(
        _local(2027, 2, 18, 10, 0),
        _local(2027, 3, 18, 10, 0),
        _local(2027, 3, 31, 10, 0),
        _local(2027, 4, 1, 10, 0),
        id="spring-deadline",
    ),
]


async def _playground(app: App) -> tuple[int, int]:
    [playground, *_] = await app.repos.experiments.running()
    [evaluation] = [
        c
        for c in await app.repos.consultations.open_evaluations()
        if c.experiment_id == playground.id
    ]
    return playground.id, evaluation.id


async def _evaluations(app: App) -> None:
    async with running_scheduler(app) as scheduler:
        await scheduler.kinds["evaluations"].runner("every")


@pytest.mark.parametrize(("joined", "asked", "reminded", "deadline"), EVALUATIONS)
async def test_an_evaluation_counts_its_weeks_in_calendar_days_across_a_clock_change(
    settings: Settings,
    clock: Clock,
    joined: datetime,
    asked: datetime,
    reminded: datetime,
    deadline: datetime,
) -> None:
    clock.now = joined.astimezone(UTC)
    app = await App.open(settings, clock=clock)
    try:
        experiment, evaluation = await _playground(app)
        anna = await resident(app, "anna")
        await anna.press_payload(f"exp.join:{experiment}")

        clock.now = asked.astimezone(UTC) - timedelta(minutes=1)
        await _evaluations(app)
        assert await outbox_of(app, anna) == [], "not before four weeks on the calendar"
        clock.now = asked.astimezone(UTC)
        await _evaluations(app)
        [invitation] = await outbox_of(app, anna)
        shown = seen(app, invitation)
        assert shown[0].key == "consultations.invitation_evaluation"
        assert f"Je kunt antwoorden tot {moment(deadline, 'nl')}." in shown[0].text
        await anna.press_payload(button(shown, "4"))  # begun, not finished

        # A restart in between changes nothing.
        await app.close()
        app = await App.open(settings, clock=clock)
        anna = Chat(app, anna.user_id, name=anna.name)
        clock.now = reminded.astimezone(UTC) - timedelta(minutes=1)
        await _evaluations(app)
        assert len(await outbox_of(app, anna)) == 1, "not before the day before"
        clock.now = reminded.astimezone(UTC)
        await _evaluations(app)
        [_, reminder] = await outbox_of(app, anna)
        assert seen(app, reminder)[0].key == "consultations.reminder"
        assert f"sluit op {moment(deadline, 'nl')}" in seen(app, reminder)[0].text

        # Her answers are taken until the deadline's clock time, not an hour off.
        clock.now = deadline.astimezone(UTC) - timedelta(minutes=1)
        await anna.press_payload(f"cs.a:{evaluation}:1:2:1")
        assert anna.keys != ["consultations.closed"]
        clock.now = deadline.astimezone(UTC)
        await anna.press_payload(f"cs.a:{evaluation}:1:3:1")
        assert anna.keys == ["consultations.closed"]
    finally:
        await app.close()


async def test_someone_who_joined_in_the_repeated_hour_is_asked_four_weeks_on_once(
    settings: Settings, clock: Clock
) -> None:
    """Joined at 02:30 the second time that night (the clocks went back at 03:00): four
    weeks on, at 02:30, she is asked, and the next look is not at that same moment again
    (the bot would look again and again for an hour without asking her)."""
    joined = datetime(2027, 10, 31, 1, 30, tzinfo=UTC)  # 02:30 CET, after 02:30 CEST
    assert joined.astimezone(ZONE).fold == 1
    asked = _local(2027, 11, 28, 2, 30)
    clock.now = joined
    app = await App.open(settings, clock=clock)
    try:
        experiment, _ = await _playground(app)
        anna = await resident(app, "anna")
        await anna.press_payload(f"exp.join:{experiment}")

        clock.now = asked.astimezone(UTC)
        async with running_scheduler(app) as scheduler:
            await scheduler.kinds["evaluations"].runner("every")
            next_look = scheduler.scheduled()["evaluations:every"]
        assert next_look > clock.now, next_look
        [invitation] = await outbox_of(app, anna)
        assert seen(app, invitation)[0].key == "consultations.invitation_evaluation"
    finally:
        await app.close()
