"""One pacing for direct replies and the outbox, against a server enforcing Telegram's limits.

The loopback Bot API server refuses with 429 whatever goes beyond about 30 messages a second
overall, one a second in a chat (three at once allowed) or 20 a minute in a group. The bot
must never be refused: replies go before the broadcast, the broadcast takes what is left,
and one chat never gets more than its share.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.platforms.telegram import Telegram
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import payload, residents
from tests.e2e.botapi import BotApiServer, FloodLimits
from tests.e2e.telegram_support import running_bot, telegram_settings

pytestmark = [pytest.mark.e2e, pytest.mark.botapi(limits=FloodLimits(rate=10, overall_burst=10))]

AUTHOR = 900
ANNA = 1001
GROUP = -5001
FIRST = 100_001
RECIPIENTS = 80


def _replies_limiter(app_adapters: list[object]) -> Telegram:
    (adapter,) = app_adapters
    assert isinstance(adapter, Telegram)
    return adapter


async def test_a_residents_answer_overtakes_a_running_broadcast_and_nothing_is_refused(
    server: BotApiServer, tmp_path: Path
) -> None:
    chats = range(FIRST, FIRST + RECIPIENTS)
    for chat in chats:
        server.user(chat)
    anna = server.user(ANNA)
    server.user(AUTHOR)
    settings = telegram_settings(server, tmp_path / "bot.db", telegram_rate=10)
    async with running_bot(settings) as app:
        ids = await residents(app.db, chats)
        await residents(app.db, [ANNA])
        (author,) = await residents(app.db, [AUTHOR], role=Role.CIVIL_SERVANT)
        async with app.db.transaction():
            await app.repos.outbox.fan_out(
                ids, payload(), kind="broadcast", batch="b1", author_user_id=author, now=utcnow()
            )
        await server.wait_for(lambda: any(server.delivered_count(c) for c in chats))
        # The broadcast is going out (eight seconds at ten a second): Anna asks for the menu.
        await anna.send_text("/menu")
        await server.wait_for_messages(anna.chat_id, 1, timeout=20)
        broadcast_so_far = sum(server.delivered_count(c) for c in chats)
        assert broadcast_so_far < RECIPIENTS  # she did not wait for the broadcast

        async def finished() -> bool:
            batch = await app.repos.outbox.batch("b1")
            return batch is not None and batch.finished_at is not None

        await server.wait_for(finished, 60)
        assert all(server.delivered_count(chat) == 1 for chat in chats)
        assert server.flood_refusals == []


async def test_a_resident_typing_fast_gets_every_answer_within_the_chat_limit(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(ANNA)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await residents(app.db, [ANNA])
        for _ in range(6):
            await anna.send_text("/menu")
        # Two answers at once (a short burst), then one a second: none refused.
        await server.wait_for_messages(anna.chat_id, 6, timeout=30)
        assert server.flood_refusals == []


async def test_a_group_gets_at_most_its_twenty_a_minute(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP)
    anna = server.user(ANNA)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        for _ in range(4):
            await anna.send_text("/start", chat_id=GROUP)
        # The third answer waits three seconds, the fourth six: none refused.
        await server.wait_for_messages(GROUP, 4, timeout=30)
        assert server.flood_refusals == []
