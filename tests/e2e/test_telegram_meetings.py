"""A meeting through the real Telegram adapter on the loopback Bot API server: organised
with inline buttons, the invitation delivered by the outbox, registering until it is full,
the waitlist, a cancellation that moves someone up, the calendar file as a document read
back, both reminders after restarts (on the same database, the clock moved), and the meeting
moved: everyone registered or waiting told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.contract import Role
from handlers.when import day
from storage.clock import utcnow
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import onboard, telegram_settings, wait_for_text
from tests.meetings import ADDRESS, TITLE, evening

pytestmark = pytest.mark.e2e


class MovedClock:
    """Real time, moved on by the test: delivery paces each chat by the clock, so it must
    keep running (a stopped clock would hold every second message to a chat forever)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, moment: datetime) -> None:
        self.offset = moment - utcnow()


@asynccontextmanager
async def running_bot(settings: Settings, clock: MovedClock) -> AsyncIterator[tuple[App, Runtime]]:
    """The whole bot on a clock the test moves."""
    app = await App.open(settings, clock=clock)
    try:
        runtime = Runtime(app)
        await runtime.start()
        try:
            yield app, runtime
        finally:
            await runtime.stop()
    finally:
        await app.close()


def _documents(server: BotApiServer, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in server.messages(chat_id) if m.get("document")]


async def _step(server: BotApiServer, who: Any, how: str, what: str, expected: str) -> None:
    before = len(server.messages(who.chat_id))
    if how == "send":
        await who.send_text(what)
    else:
        await who.press(what)
    await wait_for_text(server, who.chat_id, expected, after=before)


async def test_a_meeting_is_organised_joined_reminded_and_moved_in_telegram(
    server: BotApiServer, tmp_path: Path
) -> None:
    ria, anna, bob, carl, dina = (server.user(7001 + i) for i in range(5))
    settings = telegram_settings(server, tmp_path / "bot.db", telegram_rate=5000)
    clock = MovedClock()
    starts = evening(clock.now)
    async with running_bot(settings, clock) as (app, _):
        for person in (ria, anna, bob, carl, dina):
            await onboard(server, person)
        async with app.db.transaction():
            staff = await app.repos.users.find("telegram", str(ria.id))
            assert staff is not None
            await app.repos.users.set_role(staff.id, Role.CIVIL_SERVANT)
            for person in (anna, bob, carl):
                user = await app.repos.users.find("telegram", str(person.id))
                assert user is not None
                await app.repos.subscriptions.subscribe(user.id, clock.now)

        for how, what, expected in [
            ("send", "/nieuwebijeenkomst", "Typ eerst de titel"),
            ("send", TITLE, "korte uitleg"),
            ("send", "We praten over de speeltuin.", "Waar is het?"),
            ("press", "Op een adres", "Typ het adres"),
            ("send", ADDRESS, "In welke wijk"),
            ("press", "IJmuiden", "link naar de kaart"),
            ("send", "https://kaart.velsen.nl/zeewijkplein", "Wanneer begint het?"),
            ("send", starts.strftime("%d-%m-%Y %H:%M"), "Hoe lang duurt het?"),
            ("press", "2 uur", "Hoeveel mensen"),
            ("send", "0", "Typ een getal van 1 tot"),
            ("send", "2", "experiment of een thema"),
            ("press", "Nee", "Wil je mensen uitnodigen"),
            ("press", "Ja, nodig mensen uit", "Wie krijgt een uitnodiging"),
            ("press", "Iedereen", "Klopt alles?"),
            ("press", "Publiceren", "Uitnodigingen verstuurd: 3"),
        ]:
            await _step(server, ria, how, what, expected)
        meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))

        # The invitation arrives as a "Wist je dat"; Anna and Bob fill the two places.
        for person in (anna, bob):
            await wait_for_text(server, person.chat_id, "Kom ook!")
            await _step(server, person, "press", "Ik kom", "Je bent aangemeld")
            await server.wait_for(lambda p=person: _documents(server, p.chat_id), 20)
        await wait_for_text(server, carl.chat_id, "Kom ook!")
        await _step(server, carl, "press", "Ik kom", "Je staat op de wachtlijst: nummer 1")
        assert _documents(server, carl.chat_id) == []
        for message in server.messages(anna.chat_id):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                assert all(len(b["callback_data"].encode()) <= 64 for b in row)

        # Anna's calendar file, read back.
        [sent] = _documents(server, anna.chat_id)
        assert sent["document"]["file_name"] == f"bijeenkomst-{meeting}.ics"
        ics = Calendar.from_ical(server.file(sent["document"]["file_id"]).data)
        [event] = ics.events
        assert event.start == starts and event.end == starts + timedelta(hours=2)
        assert str(event.start.tzinfo) == "Europe/Amsterdam"
        assert str(event["summary"]) == TITLE and str(event["location"]) == ADDRESS
        assert [str(tz["tzid"]) for tz in ics.timezones] == ["Europe/Amsterdam"]

        # Bob cannot come: Carl moves up, told in his chat with the file; Dina waits.
        await _step(server, bob, "press", "Ik kom toch niet", "Oké, je bent afgemeld")
        await wait_for_text(server, carl.chat_id, "Er is een plek vrij!")
        await server.wait_for(lambda: _documents(server, carl.chat_id), 20)
        await _step(server, dina, "send", "/bijeenkomsten", "vol, wachtlijst: 0")
        await _step(server, dina, "press", TITLE, "Plaatsen: 2 van 2 bezet")
        await _step(server, dina, "press", "Ik kom", "nummer 1")

    # Restarted a day before the meeting: the reminder job is armed again and sends.
    clock.now = starts.astimezone(UTC) - timedelta(days=1) + timedelta(minutes=1)
    async with running_bot(settings, clock) as (app, runtime):
        assert f"meeting:{meeting}" in runtime.scheduler.scheduled()
        await runtime.scheduler.kinds["meeting"].runner(str(meeting))
        for person in (anna, carl):
            await wait_for_text(server, person.chat_id, "Morgen is de bijeenkomst")
    clock.now = starts.astimezone(UTC) - timedelta(minutes=59)
    async with running_bot(settings, clock) as (app, runtime):
        assert f"meeting:{meeting}" in runtime.scheduler.scheduled()
        await runtime.scheduler.kinds["meeting"].runner(str(meeting))
        for person in (anna, carl):
            await wait_for_text(server, person.chat_id, "Over een uur begint")
        for person in (bob, dina):
            assert not any(
                "Morgen is de bijeenkomst" in (m.get("text") or "")
                for m in server.messages(person.chat_id)
            )

        # Ria moves it a week on: Anna, Carl and Dina (waiting) are told.
        later = starts + timedelta(days=7)
        await _step(server, ria, "send", "/bijeenkomsten", TITLE)
        for how, what, expected in [
            ("press", TITLE, "Plaatsen: 2 van 2 bezet"),
            ("press", "Beheren", "Komen: 2 van 2"),
            ("press", "Verplaatsen", "Typ de nieuwe datum"),
            ("send", later.strftime("%d-%m-%Y %H:%M"), "Hoe lang duurt het?"),
            ("press", "2 uur", "Bericht verstuurd aan 3 mensen"),
        ]:
            await _step(server, ria, how, what, expected)
        for person in (anna, carl, dina):
            told = await wait_for_text(server, person.chat_id, "is verplaatst")
            assert f"{day(later, 'nl')}, 19:30–21:30" in told
        await server.wait_for(lambda: len(_documents(server, anna.chat_id)) == 2, 20)
        updated = Calendar.from_ical(
            server.file(_documents(server, anna.chat_id)[-1]["document"]["file_id"]).data
        )
        assert updated.events[0].start == later and int(updated.events[0]["sequence"]) == 1
        assert not any("verplaatst" in (m.get("text") or "") for m in server.messages(bob.chat_id))
