"""A chat nobody can be reached in any more: one path, the same on every platform.

Whether a resident blocked the bot on Telegram (the Bot API answers 403) or left the direct
chat on Matrix, the adapter reports it to the runtime, which marks the person unreachable,
cancels what was queued for them and unsubscribes them from "Wist je dat".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from handlers.contract import Reply
from storage.clock import utcnow
from storage.outbox import OutboxRow
from tests.e2e.botapi import BotApiServer
from tests.e2e.matrix_support import MatrixBot, Residents, containing
from tests.e2e.telegram_support import running_bot, telegram_settings, texts
from tests.waiting import until

pytestmark = pytest.mark.e2e

NEWS = [Reply(key="raw", params={"text": "Nieuws uit je wijk"}).model_dump(mode="json")]


async def _queued_and_held(app: App, platform: str, user_id: str, chat_id: str) -> OutboxRow:
    """A message queued for this person that waits (delivery holds the chat for a day)."""
    user = await app.repos.users.find(platform, user_id)
    assert user is not None
    async with app.db.transaction():
        assert await app.repos.outbox.enqueue(user.id, NEWS, kind="status", now=utcnow()) == 1
        await app.repos.outbox.hold_chat(platform, chat_id, utcnow() + timedelta(days=1))
    [row] = await app.repos.outbox.for_user(user.id)
    assert row.status == "pending"
    return row


async def _gone(app: App, platform: str, user_id: str) -> bool:
    """Marked unreachable, nothing left waiting, and no longer subscribed."""
    user = await app.repos.users.find(platform, user_id)
    if user is None or user.unreachable_at is None:
        return False
    rows = await app.repos.outbox.for_user(user.id)
    subscribed = await app.repos.subscriptions.get(user.id)
    return all(row.status == "unreachable" for row in rows) and subscribed is None


async def test_a_resident_who_blocked_the_bot_on_telegram_is_unsubscribed_and_nothing_waits(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1011, first_name="Anna", language_code="nl")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await anna.send_text("/start")
        await server.wait_for_messages(anna.chat_id, 2)
        for label, seen in (("Ja, ik doe mee", 3), ("Nederlands", 4), ("IJmuiden", 5)):
            await anna.press(label)
            await server.wait_for_messages(anna.chat_id, seen)
        await anna.send_text("/wistjedat")
        await server.wait_for_messages(anna.chat_id, 6)
        await anna.press("Aanmelden")
        await server.wait_for_messages(anna.chat_id, 7)
        assert "Gelukt!" in texts(server, anna.chat_id)[-1]
        row = await _queued_and_held(app, "telegram", "1011", str(anna.chat_id))

        server.block(anna.chat_id)
        await anna.send_text("/help")  # the answer meets the 403
        await server.wait_for(lambda: _gone(app, "telegram", "1011"))
        [after] = await app.repos.outbox.for_user(row.user_id)
        assert after.id == row.id and after.status == "unreachable"
        assert server.delivered_count(anna.chat_id) == 7


async def test_a_resident_who_left_the_direct_chat_on_matrix_is_unsubscribed_and_nothing_waits(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id)
    await anna.wait_for_reply(containing("Welkom bij Samenspel"))
    for answer, question in (("1", "In welke taal"), ("Nederlands", "In welke wijk")):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    await anna.send("IJmuiden")
    await anna.wait_for_reply(containing("Klaar, welkom!"))
    await anna.send("/wistjedat")
    await anna.wait_for_reply(containing("Aanmelden"))
    await anna.send("Aanmelden")
    await anna.wait_for_reply(containing("Gelukt!"))
    app = matrix_bot.running
    await _queued_and_held(app, "matrix", anna.user_id, anna.room_id)

    await anna.client.room_leave(anna.room_id)
    await until(lambda: _gone(app, "matrix", anna.user_id), what="the bot learns Anna left")
