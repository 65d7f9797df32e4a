"""One running bot per database file.

Two ``samenspel run`` processes on one file (a second container on the same volume, a
service started twice) would each send everything the outbox holds, so every resident
would get every broadcast and notice twice, and on Telegram they would take each other's
updates. The second one refuses to start, in one line; the first runs on undisturbed, and
once it is gone (even killed) a new one starts.
"""

from __future__ import annotations

import asyncio
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import onboard
from tests.reliability.bot_process import SAMENSPEL, START_WAIT, BotProcess

pytestmark = pytest.mark.e2e


async def test_a_second_bot_on_the_same_database_refuses_to_start(
    server: BotApiServer, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    first = BotProcess(server, db)
    try:
        await first.start()
        second = await asyncio.create_subprocess_exec(
            str(SAMENSPEL), "run", env=first.env, stdout=PIPE, stderr=PIPE
        )
        try:
            out, err = await asyncio.wait_for(second.communicate(), START_WAIT)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
        assert second.returncode == 2
        assert out == b""
        assert err.decode() == (
            f"samenspel: SAMENSPEL_DB: another samenspel runs on {db}; stop it first (or"
            " give this one a database of its own)\n"
        )
        # Nor does the console chat, which runs the scheduler and delivery too.
        chat = await asyncio.create_subprocess_exec(
            str(SAMENSPEL), "chat", env=first.env, stdin=PIPE, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(chat.communicate(b"/start\n"), START_WAIT)
        assert chat.returncode == 2 and b"another samenspel runs on" in err
        # The first one still answers.
        await onboard(server, server.user(8301, first_name="Anna"))
        # Killed, it leaves nothing behind that would keep the next one out.
        await first.kill()
        await first.start()
        await onboard(server, server.user(8302, first_name="Bram"))
    finally:
        await first.end()
