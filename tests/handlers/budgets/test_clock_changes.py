"""A budget round's reminder around the changes of the clocks in 2027 (Europe/Amsterdam:
28 March 02:00 → 03:00, 31 October 03:00 → 02:00).

Unfinished ballots are reminded two calendar days before the round closes, at its closing
clock time in Velsen, not 48 hours before: across a change those differ by an hour. It runs
the way the running bot runs it: the router arms the timer setting up returned, start-up arms
it again from the database, and the scheduler's own runner sends the reminder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.settings import Settings
from tests.handlers.budgets.test_budget_round import Clock, payload, set_up_round
from tests.meetings import ZONE, running_scheduler
from tests.people import connector, outbox, person, row


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)  # type: ignore[misc]


ROUNDS = [
    # 48 hours before was 16:00 on Saturday's clock.
    pytest.param(_local(2027, 3, 29, 17, 0), _local(2027, 3, 27, 17, 0), id="spring"),
    # 48 hours before was 18:00 on Saturday's clock.
    pytest.param(_local(2027, 11, 1, 17, 0), _local(2027, 10, 30, 17, 0), id="autumn"),
]


@pytest.mark.parametrize(("closes", "reminded"), ROUNDS)
async def test_a_rounds_reminder_goes_two_days_before_closing_at_its_clock_time(
    settings: Settings, closes: datetime, reminded: datetime
) -> None:
    clock = Clock(now=closes.astimezone(UTC) - timedelta(days=20))
    app = await App.open(settings, clock=clock)
    try:
        ria, cees = await connector(app), await person(app, "cees")
        async with running_scheduler(app) as scheduler:
            await set_up_round(ria, closes=f"{closes:%d-%m-%Y %H:%M}")
            [found] = await app.repos.budgets.all()
            job = f"budget:{found.id}"
            assert found.closes_at == closes.astimezone(UTC)
            assert scheduler.scheduled()[job] == reminded.astimezone(UTC)
        await cees.send("/stemmen")
        await cees.press_payload(payload(cees, "bv.add", "Moestuin"))  # chosen, not voted

        # The bot restarts: start-up arms the same moment again from the database.
        await app.close()
        app = await App.open(settings, clock=clock)
        cees.app = app
        async with running_scheduler(app) as scheduler:
            at = scheduler.scheduled()[job]
            assert at == reminded.astimezone(UTC)
            run = scheduler.kinds["budget"].runner
            clock.now = at - timedelta(minutes=1)
            await run(str(found.id))
            assert await outbox(app, "budget_reminder") == [], "not before its moment"
            clock.now = at
            await run(str(found.id))
            await run(str(found.id))  # twice: sent once
            [reminder] = await outbox(app, "budget_reminder")
            assert reminder.user_id == (await row(app, cees)).id
            assert "17:00" in reminder.text(app, "nl")
            assert clock.now.astimezone(ZONE).time() == closes.time()
            assert scheduler.scheduled()[job] == closes.astimezone(UTC)
    finally:
        await app.close()
