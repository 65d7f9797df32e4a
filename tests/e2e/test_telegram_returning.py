"""A resident who blocked the bot on Telegram and comes back hears what she missed.

The connector's answer meets the block (the Bot API answers 403), so the resident is marked
unreachable and her "Wist je dat" stops; the connector closes the question meanwhile. When
she unblocks the bot and taps Restart (which sends /start), the welcome back comes first,
with the question and a button to turn the news on again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from handlers.contract import Role
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import (
    labels,
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)

pytestmark = pytest.mark.e2e

QUESTION = "Wanneer wordt het gras in het Velserbeekpark gemaaid?"
ANSWER = "Volgende week dinsdag, <b>als</b> het droog is."


async def _unreachable(app: App, telegram_id: int) -> bool:
    user = await app.repos.users.find("telegram", str(telegram_id))
    return user is not None and user.unreachable_at is not None


async def test_a_resident_back_after_blocking_the_bot_hears_what_she_missed_and_gets_news_again(
    server: BotApiServer, tmp_path: Path
) -> None:
    ria = server.user(5101, first_name="Ria")
    anna = server.user(5102, first_name="Anna")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, ria)
        await onboard(server, anna)
        connector = await app.repos.users.find("telegram", str(ria.id))
        assert connector is not None
        async with app.db.transaction():
            await app.repos.users.set_role(connector.id, Role.CONNECTOR)

        anna.send_text("/wistjedat")
        await wait_for_text(server, anna.chat_id, "Aanmelden")
        anna.press("Aanmelden")
        await wait_for_text(server, anna.chat_id, "Gelukt!")
        anna.send_text(f"/vraag {QUESTION}")
        await wait_for_text(server, anna.chat_id, "is verstuurd")
        before = server.delivered_count(anna.chat_id)

        # She blocks the bot; the connector's answer meets the block.
        server.block(anna.chat_id)
        ria.send_text("/inbox")
        await wait_for_text(server, ria.chat_id, "Bekijk vraag #1")
        ria.press("Bekijk vraag #1")
        await wait_for_text(server, ria.chat_id, "Beantwoorden")
        ria.press("Beantwoorden")
        await wait_for_text(server, ria.chat_id, "Typ je antwoord")
        ria.send_text(ANSWER)
        await wait_for_text(server, ria.chat_id, "is verstuurd")
        await server.wait_for(
            lambda: _unreachable(app, anna.id), 20, description="Anna marked unreachable"
        )
        away = await app.repos.users.find("telegram", str(anna.id))
        assert away is not None and await app.repos.subscriptions.get(away.id) is None
        count = len(server.messages(ria.chat_id))
        ria.press("Bekijk vraag #1")
        await wait_for_text(server, ria.chat_id, "Afsluiten", after=count)
        ria.press("Afsluiten")
        await wait_for_text(server, ria.chat_id, "kan nu geen berichten krijgen", after=count)
        assert server.delivered_count(anna.chat_id) == before

        # She unblocks the bot and taps Restart.
        server.unblock(anna.chat_id)
        anna.send_text("/start")
        await wait_for_text(server, anna.chat_id, "Welkom terug!", after=before)
        await server.wait_for_messages(anna.chat_id, before + 2)
        welcome, answer = server.messages(anna.chat_id)[before : before + 2]
        assert "Welkom terug!" in welcome["text"]
        assert "heeft je vraag #1 beantwoord en afgesloten" in welcome["text"]
        assert QUESTION[:30] in welcome["text"]
        assert "Wist je dat" in welcome["text"]
        assert labels(welcome) == [
            "💬 Bekijk vraag #1",
            "📨 Mijn vragen",
            "🔔 Wist je dat weer aanzetten",
        ]
        assert "Welkom terug!" not in answer.get("text", "")

        # The news comes back with one tap, and a second tap changes nothing.
        count = len(server.messages(anna.chat_id))
        anna.press("🔔 Wist je dat weer aanzetten", welcome)
        await wait_for_text(server, anna.chat_id, "weer, met dezelfde keuzes", after=count)
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None and user.unreachable_at is None
        assert await app.repos.subscriptions.get(user.id) is not None
        count = len(server.messages(anna.chat_id))
        anna.press("🔔 Wist je dat weer aanzetten", welcome)
        await wait_for_text(server, anna.chat_id, 'Je krijgt "Wist je dat" al.', after=count)

        # The answer itself; the connector's markup stays literal text.
        count = len(server.messages(anna.chat_id))
        anna.press("💬 Bekijk vraag #1", welcome)
        shown = await wait_for_text(server, anna.chat_id, "Volgende week dinsdag", after=count)
        assert "&lt;b&gt;als&lt;/b&gt;" in shown

        # Once per return.
        count = len(server.messages(anna.chat_id))
        anna.send_text("/help")
        await server.wait_for_messages(anna.chat_id, count + 1)
        assert not any("Welkom terug!" in text for text in texts(server, anna.chat_id)[count:])
