"""The Telegram webhook: who may post updates, what a post must look like, and /healthz.

Without a secret anyone who can reach the webhook's URL can post an update "from" any
resident and read the replies, so webhook mode refuses to start without one. A private chat
is always the sender's own chat on Telegram: an update that says otherwise is forged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import App
from bot.platforms._telegram_polling import TOKEN_REFUSED
from bot.platforms.base import StartError
from bot.platforms.telegram import Telegram
from bot.runtime import Runtime
from bot.settings import Settings
from tests.e2e.botapi import BotApiServer, FakeUser, free_port
from tests.e2e.telegram_support import running_bot, telegram_settings, texts

pytestmark = pytest.mark.e2e

SECRET = "Webhook-secret-of-forty-two-characters-0042"


def webhook_settings(
    server: BotApiServer, db: Path, *, secret: str | None = SECRET, **overrides: Any
) -> Settings:
    port = free_port()
    return telegram_settings(
        server,
        db,
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook/telegram",
        telegram_webhook_listen=f"127.0.0.1:{port}",
        telegram_webhook_secret=secret,
        **overrides,
    )


def _base(settings: Settings) -> str:
    host, port = settings.webhook_host_port
    return f"http://{host}:{port}"


def forged_message(sender: int, chat: int, text: str = "/mijngegevens") -> dict[str, Any]:
    """A private-chat message whose chat is not the sender's own chat."""
    return {
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": chat, "type": "private", "first_name": "Mallory"},
            "from": {"id": sender, "is_bot": False, "first_name": "Anna"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        }
    }


@pytest.mark.parametrize("secret", [None, "short-secret-of-31-characters-0"])
async def test_webhook_mode_refuses_to_start_without_a_long_secret(
    server: BotApiServer, tmp_path: Path, secret: str | None
) -> None:
    settings = webhook_settings(server, tmp_path / "bot.db", secret=secret)
    app = await App.open(settings)
    try:
        with pytest.raises(StartError) as refused:
            await Runtime(app).start()
    finally:
        await app.close()
    message = str(refused.value)
    assert message.startswith("SAMENSPEL_TELEGRAM_WEBHOOK_SECRET:")
    assert "32" in message and "secrets.token_urlsafe(32)" in message
    # Nothing was registered with Telegram: no webhook that anyone could post to.
    assert server.webhook.set_count == 0 and not server.calls_to("setWebhook")


async def test_webhook_mode_serves_updates_and_checks_the_secret(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = webhook_settings(server, tmp_path / "bot.db")
    anna = server.user(1006)
    async with running_bot(settings):
        assert server.webhook.url == f"{_base(settings)}/hook/telegram"
        assert server.webhook.secret_token == SECRET
        await anna.send_text("/help")
        await server.wait_for_messages(anna.chat_id, 1)
        assert "Samenspel" in texts(server, anna.chat_id)[0]
        help_update = {"update_id": 999, **forged_message(1006, 1006, "/help")}
        assert await server.post_raw_update(help_update, secret="wrong") == 403
        assert await server.post_raw_update(help_update, secret=None) == 403
        assert await server.post_raw_update(help_update, secret=SECRET[:-1]) == 403
    assert len(server.messages(anna.chat_id)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"x"',
        b"null",
        b"42",
        b"{not json",
        b"",
        b'{"update_id": 7, "message": "x"}',
        b'{"update_id": 7, "message": {}}',
        b'{"update_id": 7, "callback_query": []}',
    ],
)
async def test_a_webhook_body_that_is_not_an_update_gets_400(
    server: BotApiServer, tmp_path: Path, body: bytes
) -> None:
    settings = webhook_settings(server, tmp_path / "bot.db")
    anna = server.user(1007)
    async with running_bot(settings):
        assert await server.post_raw_update(body) == 400
        # The bot goes on serving.
        await anna.send_text("/help")
        await server.wait_for_messages(anna.chat_id, 1)


async def test_a_private_chat_update_from_someone_else_is_dropped_and_logged(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    victim = server.user(2001)
    mallory = server.user(2002)
    caplog.set_level(logging.WARNING, logger="bot.platforms.telegram")
    async with running_bot(webhook_settings(server, tmp_path / "bot.db")) as app:
        # "From" the victim, into the attacker's chat: through the webhook (with the secret,
        # as a leaked secret or a bug would allow) and through the queue.
        forged = {"update_id": 5000, **forged_message(victim.id, mallory.chat_id)}
        assert await server.post_raw_update(forged) == 200
        server.enqueue_update(forged_message(victim.id, mallory.chat_id, "/start"))
        query = {
            "callback_query": {
                "id": "forged-1",
                "from": victim.json,
                "chat_instance": "1",
                "data": "menu",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": mallory.chat_id, "type": "private", "first_name": "M"},
                },
            }
        }
        server.enqueue_update(query)
        await server.wait_until_consumed()
        # A real message afterwards is answered: the forged ones came before it.
        await mallory.send_text("/help")
        await server.wait_for_messages(mallory.chat_id, 1)
        assert await app.repos.users.find("telegram", str(victim.id)) is None
    assert len(server.messages(mallory.chat_id)) == 1
    assert server.messages(victim.chat_id) == []
    dropped = [r for r in caplog.records if "not the sender's own chat" in r.getMessage()]
    assert len(dropped) == 3
    for record in dropped:
        assert str(victim.id) not in record.getMessage()
        assert str(mallory.chat_id) not in record.getMessage()


async def test_an_edit_forged_into_someone_elses_chat_gets_no_word_there(
    server: BotApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An edited message "from" a resident in another person's private chat is forged as
    a message is: the word that edits are not read (in the resident's language) does not go
    to that chat."""
    victim = server.user(2003)
    mallory = server.user(2004)
    caplog.set_level(logging.WARNING, logger="bot.platforms.telegram")
    async with running_bot(webhook_settings(server, tmp_path / "bot.db")):
        edited = forged_message(victim.id, mallory.chat_id, "Mijn adres is Dorpsstraat 1")
        edited["edited_message"] = {**edited.pop("message"), "edit_date": 2}
        assert await server.post_raw_update({"update_id": 5001, **edited}) == 200
        await mallory.send_text("/help")
        await server.wait_for_messages(mallory.chat_id, 1)
        await asyncio.sleep(0.5)
    assert len(server.messages(mallory.chat_id)) == 1
    assert server.messages(victim.chat_id) == []
    assert any("not the sender's own chat" in r.getMessage() for r in caplog.records)


async def test_healthz_answers_503_when_the_database_is_gone(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = webhook_settings(server, tmp_path / "bot.db")
    app = await App.open(settings)
    adapter = Telegram(app)
    await adapter.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{_base(settings)}/healthz") as answer:
                assert (answer.status, await answer.json()) == (200, {"status": "ok"})
            await app.db.close()
            async with session.get(f"{_base(settings)}/healthz") as answer:
                assert answer.status == 503
                assert await answer.json() == {"status": "database unavailable"}
    finally:
        await adapter.stop()


@asynccontextmanager
async def _webhook_bot(settings: Settings) -> AsyncIterator[Runtime]:
    """A webhook bot whose runtime the test holds (to wait until it is lost)."""
    app = await App.open(settings)
    runtime = Runtime(app)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()
        await app.close()


async def _lost(runtime: Runtime) -> str | None:
    """Why the runtime stopped by itself (it is never asked to stop)."""
    return await asyncio.wait_for(runtime.run_until(asyncio.Event()), 60)


async def _refused_after_one_answer(server: BotApiServer, anna: FakeUser) -> None:
    """Anna is answered once; then Telegram refuses the token and she writes again."""
    await anna.send_text("/help")
    await server.wait_for_messages(anna.chat_id, 1)
    server.token = "4242:revoked"
    await anna.send_text("/help")


async def test_a_token_refused_on_a_reply_stops_a_webhook_bot_with_the_reason(
    server: BotApiServer, tmp_path: Path
) -> None:
    # A webhook bot does not poll: it learns that Telegram refuses its token when it sends.
    anna = server.user(1008)
    async with _webhook_bot(webhook_settings(server, tmp_path / "bot.db")) as runtime:
        await _refused_after_one_answer(server, anna)
        assert await _lost(runtime) == TOKEN_REFUSED
    assert len(server.messages(anna.chat_id)) == 1


async def test_a_message_answered_while_the_token_is_refused_is_answered_after_the_restart(
    server: BotApiServer, tmp_path: Path
) -> None:
    # Telegram took it (the webhook said 200) and the bot handled it, but its answer was
    # refused with the token: kept, it is answered once the bot runs with a token again.
    settings = webhook_settings(server, tmp_path / "bot.db")
    accepted = server.token
    anna = server.user(1009)
    async with _webhook_bot(settings) as runtime:
        await _refused_after_one_answer(server, anna)
        assert await _lost(runtime) == TOKEN_REFUSED
    assert len(server.messages(anna.chat_id)) == 1
    server.token = accepted
    async with running_bot(settings):
        await server.wait_for_messages(anna.chat_id, 2)


async def test_a_token_refused_for_the_apology_of_a_failed_reply_stops_the_bot_too(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1009)
    async with _webhook_bot(webhook_settings(server, tmp_path / "bot.db")) as runtime:
        # The answer is refused for its content; the note that it could not be shown is
        # refused with the token.
        server.fail_next("sendMessage", 1, 400, "Bad Request: message is too long")
        server.fail_next("sendMessage", 2, 401, "Unauthorized")
        await anna.send_text("/help")
        assert await _lost(runtime) == TOKEN_REFUSED
