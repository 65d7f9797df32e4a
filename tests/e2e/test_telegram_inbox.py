"""Telegram updates wait in the inbox from their arrival until they are answered: an update
sent again (Telegram retries a webhook post it got no answer to in time) is handled once,
and what waits there about a resident is in their export and goes with their erasure.

Crashes at the worst moments are in ``tests/reliability/test_telegram_inbox.py``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from bot.app import App
from tests.e2e.botapi import BotApiServer, free_port
from tests.e2e.telegram_support import onboard, running_bot, telegram_settings, wait_for_text
from tests.waiting import until

pytestmark = pytest.mark.e2e

SECRET = "Inbox-webhook-secret-of-forty-two-chars-42"
TITLE = "Een bankje bij de haven van IJmuiden"
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(64)


async def _inbox(app: App) -> list[tuple[int, str | None]]:
    rows = await app.db.fetchall("SELECT update_id, sender FROM telegram_inbox")
    return [(row[0], row[1]) for row in rows]


async def test_an_update_posted_again_is_handled_once(
    server: BotApiServer, tmp_path: Path
) -> None:
    port = free_port()
    settings = telegram_settings(
        server,
        tmp_path / "bot.db",
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook/telegram",
        telegram_webhook_listen=f"127.0.0.1:{port}",
        telegram_webhook_secret=SECRET,
    )
    anna = server.user(8301, first_name="Anna")
    async with running_bot(settings) as app:
        await onboard(server, anna)
        await anna.send_text("/idee")
        await wait_for_text(server, anna.chat_id, "Woningbeleid")
        await anna.press("Woningbeleid")
        await wait_for_text(server, anna.chat_id, "korte titel")
        title = anna.send_text(TITLE)
        await wait_for_text(server, anna.chat_id, "20 tot 2.000 tekens")
        await until(lambda: server.updates_consumed(), what="the title delivered")
        answered = len(server.messages(anna.chat_id))

        # Telegram posts the title again, twice at once, and once more afterwards.
        again = dict(title)
        statuses = await asyncio.gather(*(server.post_raw_update(again) for _ in range(2)))
        statuses.append(await server.post_raw_update(again))
        assert statuses == [200, 200, 200]

        async def emptied() -> bool:
            return not await _inbox(app)

        await until(emptied, what="the inbox emptied")
        assert len(server.messages(anna.chat_id)) == answered, "no second answer"

        # The dialog is one step on, not two: the description is asked for still.
        await anna.send_text("Zodat ouderen onderweg even kunnen uitrusten bij het water.")
        await wait_for_text(server, anna.chat_id, "Over welke wijk", after=answered)
        handled = await app.db.fetchval(
            "SELECT count(*) FROM handled_events WHERE platform = 'telegram' AND event_id = ?",
            (f"{server.bot_id}:{title.update_id}",),
        )
        assert handled == 1


async def test_what_waits_in_the_inbox_is_exported_and_goes_with_the_erasure(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A photo waits in the inbox while the bot downloads it (held here; PTB gives up after
    a few seconds, so each part runs while one is held)."""
    anna = server.user(8201, first_name="Anna")
    bert = server.user(8202, first_name="Bert")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        await onboard(server, bert)
        await anna.send_text("/vergeetmij")
        await wait_for_text(server, anna.chat_id, "Weet je het zeker?")

        server.hold("getFile")
        photo = anna.send_photo(PICTURE, caption="Mijn bankje")
        others = bert.send_photo(PICTURE, caption="Van Bert")
        await server.wait_for(lambda: len(server.held) == 2, 30, description="downloads held")
        count = len(server.messages(anna.chat_id))
        await anna.press("Ja, wis mijn gegevens")
        await wait_for_text(server, anna.chat_id, "Je gegevens zijn gewist", after=count)
        waiting = await _inbox(app)
        server.release()
        assert len(server.messages(anna.chat_id)) == count + 1, "erased while it waited"
        assert photo.update_id not in {u for u, _ in waiting}, "her photo went with her"
        assert (others.update_id, str(bert.id)) in waiting, "Bert's stays"

        server.hold("getFile")
        photo = bert.send_photo(PICTURE, caption="Mijn bankje")
        await server.wait_for(lambda: len(server.held) == 3, 30, description="download held")
        count = len(server.messages(bert.chat_id))
        await bert.send_text("/mijngegevens")
        await wait_for_text(server, bert.chat_id, "Je gegevens op", after=count)
        server.release()
        [message] = [m for m in server.messages(bert.chat_id) if m.get("document")]
        data = json.loads(server.file(message["document"]["file_id"]).data)
        rows = data["sections"]["telegram_inbox"]["rows"]
        assert {"update_id": photo.update_id, "sent": "Mijn bankje"}.items() <= next(
            r for r in rows if r["update_id"] == photo.update_id
        ).items()


async def test_another_bot_on_the_same_database_is_not_taken_for_a_repeat(
    tmp_path: Path,
) -> None:
    # Update ids count per bot: a municipality that moves to a new bot account (a new
    # token) gets update 1, 2, ... again, and those must not look like updates handled.
    db = tmp_path / "bot.db"
    for token in ("111111:first-bot-token", "222222:second-bot-token"):
        async with BotApiServer(token=token) as server:
            anna = server.user(1001, first_name="Anna")
            async with running_bot(telegram_settings(server, db)):
                await anna.send_text("/help")  # update 1 on both servers
                await server.wait_for_messages(anna.chat_id, 1)
    with sqlite3.connect(db) as stored:
        rows = stored.execute(
            "SELECT event_id FROM handled_events WHERE platform = 'telegram' ORDER BY event_id"
        ).fetchall()
    assert [row[0] for row in rows] == ["111111:1", "222222:1"]
