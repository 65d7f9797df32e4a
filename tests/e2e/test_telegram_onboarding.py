"""Onboarding through the real Telegram adapter (python-telegram-bot over loopback HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Role
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import labels, running_bot, telegram_settings, texts

pytestmark = pytest.mark.e2e


async def test_a_resident_onboards_by_pressing_buttons(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1001, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start")
        await server.wait_for_messages(anna.chat_id, 2)
        assert "Welkom bij <b>Samenspel</b>" in texts(server, anna.chat_id)[0]
        assert server.last_message(anna.chat_id)["parse_mode"] == "HTML"

        await anna.press("Ja, ik doe mee")
        await server.wait_for_messages(anna.chat_id, 3)
        assert server.callback_answers, "the button press is answered"
        await anna.press("English")
        await server.wait_for_messages(anna.chat_id, 4)
        await anna.press("Santpoort-Noord")
        await server.wait_for_messages(anna.chat_id, 5)

        menu = server.last_message(anna.chat_id)
        assert menu["text"].startswith("All set, welcome!")
        assert "❓ Help" in labels(menu)
        user = await app.repos.users.find("telegram", "1001")
        assert user is not None
        assert (user.language, user.neighbourhood, user.display_name) == (
            "en",
            "santpoort-noord",
            "Anna",
        )
        assert user.chat_id == "1001"


async def test_a_resident_onboards_by_typing_the_answers(
    server: BotApiServer, tmp_path: Path
) -> None:
    # "Ga je akkoord?" is answered "Ja" more often than by the button under it.
    bram = server.user(1002, first_name="Bram", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await bram.send_text("Hallo")
        await server.wait_for_messages(bram.chat_id, 2)
        await bram.send_text("Ja")
        await server.wait_for_messages(bram.chat_id, 3)
        assert "In welke taal" in texts(server, bram.chat_id)[-1]
        await bram.send_text("Nederlands")
        await server.wait_for_messages(bram.chat_id, 4)
        await bram.send_text("santpoort zuid")
        await server.wait_for_messages(bram.chat_id, 5)
        assert texts(server, bram.chat_id)[-1].startswith("Klaar, welkom!")
        user = await app.repos.users.find("telegram", "1002")
        assert user is not None and user.consent_at is not None
        assert (user.language, user.neighbourhood) == ("nl", "santpoort-zuid")


async def test_onboarding_continues_after_the_bot_restarts(
    server: BotApiServer, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    anna = server.user(1003)
    async with running_bot(telegram_settings(server, db)):
        await anna.send_text("/start")
        await server.wait_for_messages(anna.chat_id, 2)
        await anna.press("Ja")
        await server.wait_for_messages(anna.chat_id, 3)
    # The bot process stopped in the middle of onboarding; the resident presses the
    # language button that is still on their screen, then starts it again.
    await anna.press("Nederlands")
    async with running_bot(telegram_settings(server, db)) as app:
        await server.wait_for_messages(anna.chat_id, 4)
        assert "In welke wijk" in texts(server, anna.chat_id)[-1]
        await anna.press("Velserbroek")
        await server.wait_for_messages(anna.chat_id, 5)
        assert texts(server, anna.chat_id)[-1].startswith("Klaar, welkom!")
        user = await app.repos.users.find("telegram", "1003")
        assert user is not None and user.neighbourhood == "velserbroek"


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1004, first_name="<b>Anna</b> & Co")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start")
        await server.wait_for_messages(anna.chat_id, 2)
        await anna.press("Ja")
        await server.wait_for_messages(anna.chat_id, 3)
        count = 3
        for bad in ("x" * 10_000, "<b>vet</b> & zo", "/bestaatniet"):
            await anna.send_text(bad[:4096])
            count += 1 if bad.startswith("/") else 2
            await server.wait_for_messages(anna.chat_id, count)
        await anna.send_sticker()
        count += 2
        await server.wait_for_messages(anna.chat_id, count)
        sent = texts(server, anna.chat_id)
        assert "Kies een van de knoppen" in sent[3]
        assert "/bestaatniet ken ik niet" in sent[7]
        # A button from an old message (a stale dialog token) and made-up button data.
        await anna.press_data("~000000:yes")
        await anna.press_data("made.up:99999999")
        await server.wait_for_messages(anna.chat_id, count + 2)
        assert all("ouder bericht" in text for text in texts(server, anna.chat_id)[-2:])

        user = await app.repos.users.find("telegram", "1004")
        assert user is not None
        assert user.display_name == "<b>Anna</b> & Co"  # stored literally
        assert user.language is None and user.onboarded_at is None
    # Every message was valid HTML for Telegram (polling hand-overs aside).
    refused = [error for error in server.errors if error[0] != "getUpdates"]
    assert not refused, refused


async def test_a_blocked_resident_is_marked_unreachable(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1005)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start")
        await server.wait_for_messages(anna.chat_id, 2)
        await anna.press("Ja")
        await server.wait_for_messages(anna.chat_id, 3)
        server.block(anna.chat_id)
        await anna.send_text("/help")
        await server.wait_for(lambda: len(server.errors) == 1)
        await server.wait_for_messages(anna.chat_id, 3)
        user = await app.repos.users.find("telegram", "1005")

        async def marked() -> bool:
            found = await app.repos.users.find("telegram", "1005")
            return found is not None and found.unreachable_at is not None

        await server.wait_for(marked)
        assert user is not None


def test_a_role_is_not_a_telegram_concept() -> None:
    assert Role.RESIDENT.allows(Role.RESIDENT) and not Role.RESIDENT.allows(Role.ADMIN)


async def test_posters_link_to_the_bot_on_telegram(server: BotApiServer, tmp_path: Path) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        assert app.router.installation.start_link == "https://t.me/test_bot?start="
