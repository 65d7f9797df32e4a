"""A broadcast survives ``kill -9``: the next start resumes it and loses no one.

The bot runs as ``samenspel run`` in a subprocess against the loopback Bot API server of this
test. It is killed with SIGKILL in the middle of a broadcast and started again. Only messages
that were in flight at the moment of the kill (sent, their confirmation not yet recorded: at
most ``delivery_window``) may arrive twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.app import App
from storage import Database
from storage.clock import utcnow
from tests.bot.delivery_support import payload, residents
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import telegram_settings

pytestmark = pytest.mark.e2e

RECIPIENTS = 1_200
CONCURRENCY = 4
IN_FLIGHT = 10  # the worker's window
FIRST = 500_001


async def _bot(server: BotApiServer, db: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env.update(
        SAMENSPEL_DB=str(db),
        SAMENSPEL_TELEGRAM_TOKEN=server.token,
        SAMENSPEL_TELEGRAM_API_URL=server.base_url,
        SAMENSPEL_TELEGRAM_RATE="300",
        SAMENSPEL_DELIVERY_CONCURRENCY=str(CONCURRENCY),
        SAMENSPEL_DELIVERY_WINDOW=str(IN_FLIGHT),
        SAMENSPEL_LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.admin.cli",
        "run",
        env=env,
        cwd=db.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _pending(db: Path) -> int:
    opened = await Database.open(db)
    try:
        return int(await opened.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'pending'"))
    finally:
        await opened.close()


async def test_a_broadcast_killed_midway_resumes_and_reaches_everyone(
    server: BotApiServer, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    chats = list(range(FIRST, FIRST + RECIPIENTS))
    app = await App.open(telegram_settings(server, db))
    ids = await residents(app.db, chats)
    async with app.db.transaction():
        await app.repos.outbox.fan_out(
            ids, payload(), kind="broadcast", batch="broadcast:7", now=utcnow()
        )
    await app.close()

    first = await _bot(server, db)
    try:
        await server.wait_for(lambda: server.total_delivered >= RECIPIENTS // 4, timeout=60)
    finally:
        first.kill()  # SIGKILL: no clean shutdown, no last flush
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    before_restart = server.total_delivered
    assert before_restart < RECIPIENTS, "killed midway"
    assert await _pending(db) > 0

    second = await _bot(server, db)
    try:
        await server.wait_for(
            lambda: all(server.delivered_count(chat) for chat in chats), timeout=120
        )

        async def recorded() -> bool:
            return await _pending(db) == 0

        await server.wait_for(recorded, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = await second.communicate()
    assert second.returncode == 0, stderr.decode()

    assert all(server.delivered_count(chat) >= 1 for chat in chats)
    twice = sum(server.delivered_count(chat) - 1 for chat in chats)
    assert twice <= IN_FLIGHT, f"{twice} messages arrived twice"
    assert server.total_delivered == RECIPIENTS + twice
