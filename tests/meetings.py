"""Helpers for the meeting journeys: a meeting organised with the buttons, its calendar file
read back, and the reminder job run the way the running bot's scheduler runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from bot.app import App
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from tests.support import Chat, Seen

ZONE = ZoneInfo("Europe/Amsterdam")
TITLE = "Buurtavond Zeewijk"
DESCRIPTION = "We praten over de nieuwe speeltuin. Koffie staat klaar."
ADDRESS = "Zeewijkplein 1, IJmuiden"


def evening(now: datetime, days: int = 3) -> datetime:
    """19:30 local time, ``days`` days after ``now``."""
    local = now.astimezone(ZONE) + timedelta(days=days)
    return local.replace(hour=19, minute=30, second=0, microsecond=0)


async def organise(
    ria: Chat,
    starts: datetime,
    *,
    capacity: int = 2,
    audience: tuple[str, ...] = ("Ja, nodig", "Iedereen"),
    title: str = TITLE,
) -> list[Seen]:
    """Fill in a meeting with the buttons up to the preview (an address in IJmuiden, two
    hours, about a theme)."""
    await ria.send("/nieuwebijeenkomst")
    assert ria.keys == ["meetings.compose_intro"], ria.keys
    await ria.send(title)
    await ria.send(DESCRIPTION)
    await ria.press("Op een adres")
    await ria.send(ADDRESS)
    await ria.press("IJmuiden")
    await ria.press("Geen kaart")
    assert ria.keys == ["meetings.ask_starts"], ria.keys
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.ask_ends"], ria.keys
    await ria.press("2 uur")
    await ria.send(str(capacity))
    await ria.press("Bij een thema")
    await ria.press("doet iedereen mee")
    for label in audience:
        await ria.press(label)
    assert ria.keys[0] == "meetings.preview_intro", ria.keys
    return ria.last


def calendar_of(messages: list[Seen]) -> Calendar:
    """The calendar file among these messages, parsed."""
    [document] = [m.reply.document for m in messages if m.reply.document is not None]
    assert document.filename.endswith(".ics") and document.mime_type == "text/calendar"
    return Calendar.from_ical(document.data)


@dataclass
class Reminders:
    """The scheduler's meeting job, run with the runtime's own runner and pending list."""

    runtime: Runtime

    @classmethod
    def of(cls, app: App) -> Reminders:
        return cls(Runtime(app, adapters=[]))

    async def run(self, meeting_id: int) -> None:
        await self.runtime.scheduler.kinds["meeting"].runner(str(meeting_id))

    async def pending(self) -> list[tuple[object, datetime]]:
        return list(await self.runtime.scheduler.kinds["meeting"].pending())


@asynccontextmanager
async def running_scheduler(app: App) -> AsyncIterator[Scheduler]:
    """The running bot's scheduler, started the way start-up starts it: every pending job
    armed from the database, and the router arming the timers handlers return. It fires
    nothing by itself (the test's clock is not the wall clock): the test reads when each
    job is armed for (``scheduled()``) and runs it then with the kind's own runner."""
    runtime = Runtime(app, adapters=[])
    scheduler = runtime.scheduler
    app.router.arm_timers = scheduler.arm
    await scheduler.start()
    assert scheduler._aps is not None
    scheduler._aps.pause()
    try:
        yield scheduler
    finally:
        app.router.arm_timers = None
        await scheduler.stop()
