"""A draft over the real Telegram adapter: never dropped without asking, always a way back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import (
    IDEA_DESCRIPTION,
    IDEA_TITLE,
    idea_until,
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)

pytestmark = pytest.mark.e2e


async def test_a_draft_is_kept_asked_about_and_thrown_away_only_on_request(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(3301)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Woningbeleid")
        await anna.press("Woningbeleid")
        await wait_for_text(server, anna.chat_id, "korte titel")
        await anna.send_text("Tiny houses aan de rand van Velserbroek")
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")

        before = len(server.messages(anna.chat_id))
        await anna.send_text("/menu")
        await wait_for_text(server, anna.chat_id, "nog bezig met je idee", after=before)
        await anna.press("▶️ Verder met je idee")
        await wait_for_text(server, anna.chat_id, "Vertel wat je idee is", after=before + 1)

        before = len(server.messages(anna.chat_id))
        await anna.send_text("/ideeen")
        await wait_for_text(server, anna.chat_id, "▶️ Verder met je idee", after=before)

        before = len(server.messages(anna.chat_id))
        await anna.send_text("stop")
        await wait_for_text(server, anna.chat_id, "Wil je stoppen met je idee?", after=before)
        await anna.press("Nee, ga verder")
        await wait_for_text(server, anna.chat_id, "Vertel wat je idee is", after=before + 1)

        before = len(server.messages(anna.chat_id))
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "nog bezig met je idee", after=before)
        await anna.press("🗑 Weggooien")
        await wait_for_text(server, anna.chat_id, "Weggegooid: je idee", after=before + 1)
        await wait_for_text(server, anna.chat_id, "Waar gaat je idee over?", after=before + 1)
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None
        stored = await app.repos.dialogs.load(user.id)
        assert stored is not None and (stored.step, stored.data) == ("category", {})


async def test_a_command_with_dutch_letters_is_a_command_not_an_answer(
    server: BotApiServer, tmp_path: Path
) -> None:
    # Telegram marks /ideeen as a command but sends /ideeën as plain text (a command of
    # other than ASCII letters has no bot_command entity); the menus name the latter.
    anna = server.user(3302)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await idea_until(server, anna, "description")

        before = len(server.messages(anna.chat_id))
        await anna.send_text("/ideeën")
        await wait_for_text(server, anna.chat_id, "▶️ Verder met je idee", after=before)
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None
        stored = await app.repos.dialogs.load(user.id)
        assert stored is not None and stored.step == "description"
        assert "/ideeën" not in str(stored.data)

        before = len(server.messages(anna.chat_id))
        await anna.send_text("/mijnideeën")
        await wait_for_text(server, anna.chat_id, "nog geen ideeën", after=before)

        # A slash before a word of other letters that names no command is typed text:
        # the answer to the question asked, not "I don't know that command".
        before = len(server.messages(anna.chat_id))
        described = "/één ding nog: er staan te weinig bankjes in het park voor ouderen."
        await anna.send_text(described)
        await wait_for_text(server, anna.chat_id, "wijk", after=before)
        stored = await app.repos.dialogs.load(user.id)
        assert stored is not None and stored.data.get("description") == described


async def test_an_edited_answer_changes_nothing_and_the_resident_hears_why(
    server: BotApiServer, tmp_path: Path
) -> None:
    # Telegram sends an edit as its own update, of a kind the bot asks for: it is never
    # read as a new answer (it may answer a question asked long ago), but not ignored either.
    anna = server.user(3303)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        title = await idea_until(server, anna, "description")

        before = len(server.messages(anna.chat_id))
        assert title.message is not None
        anna.edit_text(title.message["message_id"], "Meer bomen in het Velserbeekpark")
        await wait_for_text(server, anna.chat_id, "Aanpassingen lees ik niet", after=before)
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None
        stored = await app.repos.dialogs.load(user.id)
        assert stored is not None and stored.step == "description"
        assert stored.data["title"] == IDEA_TITLE

        # Changed again, and another message changed within the minute: no more words.
        anna.edit_text(title.message["message_id"], "Meer bomen bij de vijver")
        # A live location moves on as edits of its message, every few seconds: no words.
        anna.share_live_location(52.46, 4.61, moves=5)
        # The dialog goes on where it was.
        await anna.send_text(IDEA_DESCRIPTION)
        await wait_for_text(server, anna.chat_id, "Over welke wijk", after=before)
        notices = [t for t in texts(server, anna.chat_id) if "Aanpassingen lees ik niet" in t]
        assert len(notices) == 1
