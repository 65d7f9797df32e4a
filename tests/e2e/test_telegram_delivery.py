"""Delivery through the real Telegram adapter to the loopback Bot API server.

A broadcast to 2,000 residents with some of them blocking the bot, some chats flooded (429)
and some failing for good; the author watching its progress; a message queued while the
bot runs; and the outbox-style error translation of the adapter.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.platforms.base import Blocked, RetryLater
from bot.platforms.telegram import Telegram
from bot.runtime import Runtime
from handlers.contract import Reply
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import payload, residents
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import running_bot, telegram_settings, texts

pytestmark = [pytest.mark.e2e, pytest.mark.botapi(strict_chats=True)]

AUTHOR = 900
FIRST = 100_001
RECIPIENTS = 2_000


async def _prepare_broadcast(
    app: App, chats: list[int], author_chat: int, batch: str = "broadcast:1"
) -> int:
    ids = await residents(app.db, chats)
    (author,) = await residents(app.db, [author_chat], role=Role.CIVIL_SERVANT)
    async with app.db.transaction():
        return await app.repos.outbox.fan_out(
            ids, payload(), kind="broadcast", batch=batch, author_user_id=author, now=utcnow()
        )


async def test_a_broadcast_reaches_every_reachable_resident_exactly_once(
    server: BotApiServer, tmp_path: Path
) -> None:
    chats = list(range(FIRST, FIRST + RECIPIENTS))
    blocked = set(chats[7::97])  # they blocked the bot: 403
    flooded = set(chats[11::89]) - blocked  # Telegram asks these chats to wait: 429
    gone = {chats[3], chats[1500]}  # chat not found, every time: fails for good
    reachable = [chat for chat in chats if chat not in blocked | gone]
    for chat in [AUTHOR, *chats]:
        if chat not in gone:
            server.user(chat)
    for chat in blocked:
        server.block(chat)
    for chat in flooded:
        server.flood(chat, retry_after=1)
    settings = telegram_settings(
        server,
        tmp_path / "bot.db",
        telegram_rate=5000,  # raised for the loopback server
        delivery_concurrency=8,
        delivery_backoff=0.05,
        delivery_progress=0.2,
    )
    app = await App.open(settings)
    total = await _prepare_broadcast(app, chats, AUTHOR)
    await app.close()
    assert total == RECIPIENTS

    async with running_bot(settings) as app:
        # A few plain server errors on the way: retried with backoff.
        await server.wait_for_messages(AUTHOR, 1)
        server.fail_next("sendMessage", times=3, error_code=502, description="Bad Gateway")

        async def reported() -> bool:
            batch = await app.repos.outbox.batch("broadcast:1")
            return batch is not None and batch.finished_at is not None

        # Every reachable resident, and the author's progress message.
        await server.wait_for(lambda: server.total_delivered >= len(reachable) + 1, timeout=120)
        await server.wait_for(reported, timeout=60)
        await server.wait_for_messages(AUTHOR, 2, timeout=30)
        progress = server.messages(AUTHOR)[0]
        await server.wait_for(lambda: progress["text"].startswith("✅"), timeout=30)
        batch = await app.repos.outbox.batch("broadcast:1")
        counts = await app.repos.outbox.batch_counts("broadcast:1")

    assert [chat for chat in reachable if server.delivered_count(chat) != 1] == []
    assert all(server.delivered_count(chat) == 0 for chat in blocked | gone)
    assert batch is not None
    assert (batch.delivered, batch.unreachable, batch.failed) == (
        len(reachable),
        len(blocked),
        len(gone),
    )
    assert batch.delivered + batch.unreachable + batch.failed == batch.total == RECIPIENTS
    assert counts == {"sent": len(reachable), "unreachable": len(blocked), "failed": len(gone)}

    # The author saw one progress message counting up in place, then the report.
    report = server.messages(AUTHOR)[1]
    assert progress["edit_history"], "the progress message was edited in place"
    assert progress["text"] == "✅ Klaar: 2.000 van 2.000 verstuurd."
    assert "van 2.000 verstuurd" in progress["edit_history"][0]["text"]
    assert f"Aangekomen: {len(reachable):,}".replace(",", ".") in report["text"]
    assert f"Niet bereikbaar (bot geblokkeerd): {len(blocked)}" in report["text"]
    assert f"Niet gelukt: {len(gone)}" in report["text"]
    assert len(server.messages(AUTHOR)) == 2


async def test_blocked_flooded_and_failing_chats_are_recorded_per_chat(
    server: BotApiServer, tmp_path: Path
) -> None:
    chats = list(range(FIRST, FIRST + 40))
    for chat in chats[1:]:
        server.user(chat)
    server.block(chats[1])
    server.flood(chats[2], retry_after=1)
    settings = telegram_settings(
        server, tmp_path / "bot.db", telegram_rate=1000, delivery_backoff=0.05
    )
    app = await App.open(settings)
    ids = await residents(app.db, chats)
    async with app.db.transaction():
        await app.repos.outbox.fan_out(ids, payload(), kind="broadcast", now=utcnow())
    await app.close()

    async with running_bot(settings) as app:

        async def settled() -> bool:
            return "pending" not in await app.repos.outbox.status_counts()

        await server.wait_for(settled, timeout=60)
        gone, blocked, flooded = [(await app.repos.outbox.for_user(i))[0] for i in ids[:3]]
        blocker = await app.repos.users.get(ids[1])

    assert (gone.status, gone.attempts) == ("failed", 5)
    assert gone.last_error is not None and "chat not found" in gone.last_error.lower()
    assert blocked.status == "unreachable"
    assert blocker is not None and blocker.unreachable_at is not None
    # A 429 is the platform pacing us, not a failed attempt.
    assert (flooded.status, flooded.attempts) == ("sent", 1)
    assert server.delivered_count(chats[2]) == 1


async def test_a_message_queued_while_running_is_sent_at_once(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1001)
    settings = telegram_settings(server, tmp_path / "bot.db", delivery_poll=60)
    async with running_bot(settings) as app:
        (anna_id,) = await residents(app.db, [anna.chat_id], language="en")
        async with app.db.transaction():
            await app.repos.outbox.enqueue(
                anna_id,
                payload(Reply(key="delivery.progress", params={"done": 1, "total": 2})),
                kind="notification",
                now=utcnow(),
            )
        # Well before the next poll (a minute away): the queueing woke the worker.
        await server.wait_for_messages(anna.chat_id, 1, timeout=20)
    assert texts(server, anna.chat_id) == ["📤 Sending your message: 1 of 2 sent."]


async def test_outbox_style_sends_translate_platform_errors(
    server: BotApiServer, tmp_path: Path
) -> None:
    app = await App.open(telegram_settings(server, tmp_path / "bot.db"))
    adapter = Telegram(app)
    await adapter.start()
    try:
        server.user(2001)
        server.block(2001)
        with pytest.raises(Blocked):
            await adapter.send("2001", "nl", [Reply(key="menu.title")])
        server.user(2002)
        server.flood(2002, retry_after=3)
        with pytest.raises(RetryLater) as waited:
            await adapter.send("2002", "nl", [Reply(key="menu.title")])
        assert waited.value.seconds == 3
        message_id = await adapter.send("2002", "nl", [Reply(key="menu.title")])
        assert message_id is not None
        await adapter.edit("2002", message_id, "en", Reply(key="menu.title"))
        await adapter.edit("2002", message_id, "en", Reply(key="menu.title"))  # unchanged
        edited = server.message(2002, int(message_id))
        assert edited is not None and edited["text"].startswith("What would you like to do?")
        assert len(edited["edit_history"]) == 1
        # Delivery's sends do not go through the direct replies' limiter.
        assert adapter.pacing.replied == 0
    finally:
        await adapter.stop()
        await app.close()


async def test_direct_replies_take_their_slots_from_the_pacing_delivery_uses(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(1001)
    app = await App.open(telegram_settings(server, tmp_path / "bot.db", telegram_rate=1))
    runtime = Runtime(app)
    await runtime.start()
    try:
        pacing = runtime.adapters[0].pacing
        await anna.send_text("/help")
        await anna.send_text("/menu")
        await server.wait_for_messages(anna.chat_id, 2)
        # Every reply booked an overall slot through the pacing delivery books from.
        sent = server.delivered_count(anna.chat_id)
        assert pacing.replied == sent >= 2
        assert pacing.taken == 0
    finally:
        await runtime.stop()
        await app.close()


async def test_a_broadcast_finishes_when_its_author_blocked_the_bot_and_her_copy_was_last(
    server: BotApiServer, tmp_path: Path
) -> None:
    # The civil servant follows "Wist je dat" herself and blocked the bot since; her chat
    # waits (Telegram asked it to), so her own copy is the last one pending when her
    # progress message meets the block.
    chats = [FIRST, FIRST + 1]
    for chat in [AUTHOR, *chats]:
        server.user(chat)
    server.block(AUTHOR)
    settings = telegram_settings(
        server, tmp_path / "bot.db", delivery_progress=0.2, delivery_poll=0.1
    )
    app = await App.open(settings)
    ids = await residents(app.db, chats)
    (author,) = await residents(app.db, [AUTHOR], role=Role.CIVIL_SERVANT)
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            [*ids, author],
            payload(),
            kind="broadcast",
            batch="broadcast:7",
            author_user_id=author,
            now=utcnow(),
        )
        await app.repos.outbox.hold_chat("telegram", str(AUTHOR), utcnow() + timedelta(hours=1))
    await app.close()

    async with running_bot(settings) as app:

        async def finished() -> bool:
            batch = await app.repos.outbox.batch("broadcast:7")
            return batch is not None and batch.finished_at is not None

        await server.wait_for(lambda: all(server.delivered_count(c) == 1 for c in chats))
        await server.wait_for(finished, timeout=20)
        batch = await app.repos.outbox.batch("broadcast:7")
        author_row = await app.repos.users.get(author)

    assert batch is not None and (batch.total, batch.delivered, batch.unreachable) == (3, 2, 1)
    assert author_row is not None and author_row.unreachable_at is not None
    assert server.delivered_count(AUTHOR) == 0
