"""Groups on Telegram, through the real adapter: a group is never a person's chat.

In a group the bot answers a command with one short message and its ``t.me`` start link
(the bot's name comes from getMe); it onboards nobody there, a button pressed in a group
does nothing personal, and personal messages (replies, the outbox) go to the private chat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.clock import utcnow
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import (
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)
from tests.waiting import until

pytestmark = pytest.mark.e2e

GROUP = -5001
LINK = "https://t.me/test_bot?start=group"


async def test_a_command_in_a_group_points_to_a_private_chat_and_stores_nobody(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Buurtgroep Zeewijk")
    anna = server.user(1001, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start", chat_id=GROUP)
        await anna.send_text("/mijngegevens@test_bot", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 2)
        for message in server.messages(GROUP):
            assert LINK in (message["text"] or "")
            assert not (message.get("reply_markup") or {}).get("inline_keyboard")
        assert server.messages(anna.chat_id) == []
        assert await app.repos.users.find("telegram", "1001") is None
        # The link opens the private chat, where onboarding begins.
        await anna.send_text("/start group")
        await wait_for_text(server, anna.chat_id, "Ga je akkoord?")


async def test_a_button_pressed_in_a_group_gives_no_consent_and_the_private_chat_goes_on(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Buurtgroep Zeewijk")
    anna = server.user(1002, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start")
        await wait_for_text(server, anna.chat_id, "Ga je akkoord?")
        consent = server.last_message(anna.chat_id)
        assert consent is not None
        yes = next(
            button["callback_data"]
            for row in consent["reply_markup"]["inline_keyboard"]
            for button in row
            if "Ja" in button["text"]
        )
        await anna.send_text("/help", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 1)
        await anna.press_data(yes, chat_id=GROUP)
        await server.wait_for_messages(GROUP, 2)
        assert LINK in texts(server, GROUP)[1]
        user = await app.repos.users.find("telegram", "1002")
        assert user is not None and not user.consented and user.chat_id is None

        await anna.press("Ja, ik doe mee")
        await wait_for_text(server, anna.chat_id, "In welke taal")
        user = await app.repos.users.find("telegram", "1002")
        assert user is not None and user.chat_id == "1002"


async def test_personal_messages_go_to_the_private_chat_never_to_the_group(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Buurtgroep Zeewijk")
    anna = server.user(1003, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        user = await app.repos.users.find("telegram", "1003")
        assert user is not None
        # A group stored as her chat by older code: the outbox sends nothing there, ...
        async with app.db.transaction():
            await app.db.execute(
                "UPDATE users SET chat_id = ? WHERE id = ?", (str(GROUP), user.id)
            )
            await app.repos.outbox.enqueue(
                user.id,
                [{"key": "raw", "params": {"text": "Voor Anna alleen"}}],
                kind="test",
                now=utcnow(),
            )

        async def refused() -> bool:
            row = await app.db.fetchone(
                "SELECT status FROM outbox WHERE user_id = ? ORDER BY id DESC", (user.id,)
            )
            return row is not None and row[0] != "pending"

        await until(refused)
        assert server.messages(GROUP) == []
        # ... and it is replaced by her private chat when she writes there.
        await anna.send_text("/vraag@test_bot Wanneer wordt het gras gemaaid?", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 1)
        assert await app.repos.questions.of_user(user.id, limit=5) == []
        sent = len(server.messages(anna.chat_id))
        await anna.send_text("/menu")
        await wait_for_text(server, anna.chat_id, "Wat wil je doen?", after=sent)
        async with app.db.transaction():
            await app.repos.outbox.enqueue(
                user.id,
                [{"key": "raw", "params": {"text": "Persoonlijk bericht"}}],
                kind="test",
                now=utcnow(),
            )
        await wait_for_text(server, anna.chat_id, "Persoonlijk bericht")
        assert all("Persoonlijk" not in text for text in texts(server, GROUP))
        assert len(server.messages(GROUP)) == 1


async def test_a_command_typed_in_a_forum_topic_is_answered_in_that_topic(
    server: BotApiServer, tmp_path: Path
) -> None:
    """In a group with topics a message sent without its topic lands in General, where
    whoever asked in "Speeltuin" never looks: every answer goes to the topic it answers,
    a button pressed there included. A command typed in General is answered there."""
    forum = -1005002
    server.group(forum, title="Buurt Zeewijk", chat_type="supergroup", forum=True)
    anna = server.user(1003, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        opened = anna.create_topic("Speeltuin", chat_id=forum)
        assert opened.message is not None
        topic = opened.message["message_id"]
        await anna.send_text("/start", chat_id=forum, topic=topic)
        (answer,) = await server.wait_for_messages(forum, 1)
        assert LINK in (answer["text"] or "")
        assert answer["topic"] == topic
        await anna.press_data("onboarding.consent:yes", answer["message_id"], chat_id=forum)
        await server.wait_for_messages(forum, 2)
        await anna.send_text("/help", chat_id=forum)
        await server.wait_for_messages(forum, 3)
        assert [m["topic"] for m in server.messages(forum)] == [topic, topic, None]


async def test_a_command_from_an_anonymous_admin_is_told_to_come_as_themselves(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Telegram sends every anonymous admin of every group as the same GroupAnonymousBot:
    nobody to onboard, answer in private or keep data about. The group hears once, in
    short, that the command needs them to write as themselves."""
    server.group(GROUP, title="Buurtgroep Zeewijk")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        server.send_as_anonymous_admin(GROUP, "Welkom allemaal!")
        server.send_as_anonymous_admin(GROUP, "/idee@other_bot")
        server.send_as_anonymous_admin(GROUP, "/start")
        await server.wait_for_messages(GROUP, 1)
        [answer] = texts(server, GROUP)
        assert "als jezelf" in answer and "yourself" not in answer
        assert LINK not in answer
        # Another command right after: the group is not filled with the same answer.
        server.send_as_anonymous_admin(GROUP, "/mijngegevens@test_bot")
        await server.wait_for(lambda: server.pending_update_count == 0, 10)
        await asyncio.sleep(1.5)
        assert len(texts(server, GROUP)) == 1
        assert await app.repos.users.find("telegram", "1087968824") is None
        assert await app.db.fetchall("SELECT id FROM users") == []
        assert await app.db.fetchall("SELECT * FROM handled_events") == []


async def test_a_slash_before_a_word_that_names_no_command_is_text_a_group_leaves_alone(
    server: BotApiServer, tmp_path: Path
) -> None:
    """ "/één keer nog" is no command (Telegram sends it as plain text): in a group it is
    text like any other, which the bot leaves alone, from a person or an anonymous admin;
    a command of ours with such letters (``/ideeën``) is still answered as one."""
    server.group(GROUP, title="Buurtgroep Zeewijk")
    anna = server.user(1004, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        for text in ("/één keer nog", "/é", "/ça@test_bot va?", "/مرحبا", "Hallo allemaal"):
            await anna.send_text(text, chat_id=GROUP)
        server.send_as_anonymous_admin(GROUP, "/één keer nog")
        await anna.send_text("/ideeën", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 1)
        await server.wait_for(lambda: server.pending_update_count == 0, 10)
        await asyncio.sleep(1.0)
        [answer] = texts(server, GROUP)
        assert LINK in answer
        assert server.messages(anna.chat_id) == []
        assert await app.repos.users.find("telegram", "1004") is None
