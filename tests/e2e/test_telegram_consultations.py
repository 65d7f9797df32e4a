"""A poll through the real Telegram adapter on the loopback Bot API server: composed with
inline buttons, the invitation delivered by the outbox, answered by pressing, closed early,
and the results arriving as a message and a chart per question (sendPhoto)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.consultations.shown import shown_time
from handlers.contract import Role
from handlers.profile import DEFAULT_PROFILE
from tests.e2e.botapi import BotApiServer, FakeUser
from tests.e2e.telegram_support import onboard, running_bot, telegram_settings, wait_for_text

pytestmark = pytest.mark.e2e


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as started:
        yield started


def _profile(folder: Path) -> Path:
    """Velsen, with results shown from two respondents on (the test has two)."""
    path = folder / "profile.toml"
    path.write_text(
        DEFAULT_PROFILE.read_text(encoding="utf-8").replace(
            "suppression_threshold = 5", "suppression_threshold = 2"
        ),
        encoding="utf-8",
    )
    return path


#: A two-question poll composed and published with the buttons: (how, what, answer shown).
PUBLISH = [
    ("send", "/nieuwepeiling", "Typ eerst de titel"),
    ("send", "Bankjes in het park", "korte uitleg"),
    ("send", "We zetten nieuwe bankjes neer.", "Wat voor vraag"),
    ("press", "Eén keuze", "Typ de vraag"),
    ("send", "Welke kleur?", "Typ de keuzes"),
    ("send", "Groen\nBlauw", "Wat nu?"),
    ("press", "Nog een vraag", "Wat voor vraag"),
    ("press", "Schaal van 1 tot 5", "Typ de vraag"),
    ("send", "Hoe vaak zit je in het park?", "wat 5 betekent"),
    ("send", "nooit\nelke dag", "Wat nu?"),
    ("press", "Klaar met de vragen", "Wat doet de gemeente"),
    ("send", "We plaatsen de bankjes in april.", "Wie krijgt de peiling"),
    ("press", "👥 Iedereen", "Wanneer gaat de peiling open"),
    ("press", "Meteen", "Wanneer sluit hij"),
    ("press", "Na 7 dagen", "Klopt alles?"),
    ("press", "Publiceren", "Gepubliceerd!"),
]


async def _publish(server: BotApiServer, staff: FakeUser) -> None:
    for how, what, expected in PUBLISH:
        before = len(server.messages(staff.chat_id))
        if how == "send":
            await staff.send_text(what)
        else:
            await staff.press(what)
        await wait_for_text(server, staff.chat_id, expected, after=before)


async def test_a_poll_is_answered_with_buttons_and_its_results_arrive_with_charts(
    server: BotApiServer, tmp_path: Path
) -> None:
    ria, anna, bob = server.user(6001), server.user(6002), server.user(6003)
    settings = telegram_settings(
        server, tmp_path / "bot.db", telegram_rate=5000, profile=_profile(tmp_path)
    )
    async with running_bot(settings) as app:
        for person in (ria, anna, bob):
            await onboard(server, person)
        staff = await app.repos.users.find("telegram", str(ria.id))
        assert staff is not None
        async with app.db.transaction():
            await app.repos.users.set_role(staff.id, Role.CIVIL_SERVANT)

        chat = ria.chat_id
        await _publish(server, ria)

        # The invitation arrives through the outbox with the first question's buttons.
        for person, colour, often in ((anna, "Groen", "4"), (bob, "Blauw", "2")):
            await wait_for_text(server, person.chat_id, "Vraag 1 van 2")
            before = len(server.messages(person.chat_id))
            await person.press(colour)
            await wait_for_text(server, person.chat_id, "Vraag 2 van 2", after=before)
            before = len(server.messages(person.chat_id))
            await person.press(often)
            await wait_for_text(server, person.chat_id, "Bedankt!", after=before)
        for message in server.messages(anna.chat_id):
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    assert len(button["callback_data"].encode()) <= 64

        # Ria closes it early; the scheduler closes it at once and the results go out.
        before = len(server.messages(chat))
        await ria.send_text("/peilingen")
        await wait_for_text(server, chat, "ingevuld: 2 van 3", after=before)
        await ria.press("Bankjes in het park")
        await wait_for_text(server, chat, "Gevraagd: 3 · begonnen: 2 · klaar: 2", after=before)
        await ria.press("Nu sluiten")
        await wait_for_text(server, chat, "nu sluiten?", after=before)
        await ria.press("Ja, nu sluiten")
        await wait_for_text(server, chat, "is gesloten", after=before)

        summary = await wait_for_text(server, anna.chat_id, "Uitslag van Velsen vraagt")
        assert "Meegedaan: 2 mensen" in summary and "• Groen: 1 (50%)" in summary
        assert "We plaatsen de bankjes in april." in summary

        def charts() -> list[dict[str, object]]:
            return [m for m in server.messages(anna.chat_id) if m.get("method") == "sendPhoto"]

        await server.wait_for(lambda: len(charts()) == 2, 30, description="two charts")
        first, second = charts()
        assert "Vraag 1: Welke kleur?" in str(first["caption"])
        assert "Vraag 2: Hoe vaak zit je in het park?" in str(second["caption"])
        assert first["photo"] and second["photo"]

        # An old button after closing changes nothing.
        before = len(server.messages(anna.chat_id))
        await anna.press("Blauw")
        await wait_for_text(server, anna.chat_id, "is gesloten", after=before)
        answers = await app.db.fetchall(
            "SELECT a.choices FROM consultation_answers a JOIN consultation_responses r"
            " ON r.id = a.response_id JOIN users u ON u.id = r.user_id"
            " WHERE u.platform_user_id = ? ORDER BY a.question",
            (str(anna.id),),
        )
        assert [row[0] for row in answers] == ["[1]", "[4]"]


async def test_an_invitation_telegram_held_back_says_the_closing_time_moved_meanwhile(
    server: BotApiServer, tmp_path: Path
) -> None:
    ria, anna = server.user(6101), server.user(6102)
    settings = telegram_settings(server, tmp_path / "bot.db", telegram_rate=5000)
    async with running_bot(settings) as app:
        for person in (ria, anna):
            await onboard(server, person)
        staff = await app.repos.users.find("telegram", str(ria.id))
        assert staff is not None
        async with app.db.transaction():
            await app.repos.users.set_role(staff.id, Role.CIVIL_SERVANT)
        # Telegram asks Anna's chat to wait, again and again, while the time is moved.
        server.flood(anna.chat_id, retry_after=1, times=1_000_000)
        seen = len(server.messages(anna.chat_id))
        await _publish(server, ria)

        def refused() -> bool:
            return any(
                error.error_code == 429 and str(params.get("chat_id")) == str(anna.chat_id)
                for _, params, error in server.errors
            )

        await server.wait_for(refused, 20, description="the invitation to Anna refused (429)")
        poll = await app.db.fetchval("SELECT MAX(id) FROM consultations")
        opened = await app.repos.consultations.get(int(poll))
        assert opened is not None and opened.closes_at is not None
        timezone = app.router.timezone
        typed = (opened.closes_at + timedelta(days=10)).astimezone(timezone)
        before = len(server.messages(ria.chat_id))
        await ria.send_text("/peilingen")
        await wait_for_text(server, ria.chat_id, "Bankjes in het park", after=before)
        await ria.press("Bankjes in het park")
        await wait_for_text(server, ria.chat_id, "Sluittijd", after=before)
        await ria.press("Sluittijd")
        await wait_for_text(server, ria.chat_id, "Wanneer moet hij sluiten?", after=before)
        before = len(server.messages(ria.chat_id))
        await ria.send_text(typed.strftime("%d-%m-%Y 17:00"))
        await wait_for_text(server, ria.chat_id, "🕑 De peiling sluit nu op", after=before)
        moved = await app.repos.consultations.get(int(poll))
        assert moved is not None and moved.closes_at is not None

        server.flood(anna.chat_id, retry_after=1, times=1)  # one more wait, then through
        text = await wait_for_text(server, anna.chat_id, "Je kunt meedoen tot", after=seen)
        assert shown_time(moved.closes_at, timezone, "nl") in text
        assert shown_time(opened.closes_at, timezone, "nl") not in text
        await wait_for_text(server, anna.chat_id, "Vraag 1 van 2", after=seen)
