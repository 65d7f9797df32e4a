"""A bot whose Telegram token is refused stops and says why, without showing the token.

Before, polling ended with a log line and the process ran on: it looked up to a supervisor
while it heard nobody. ``samenspel run`` runs as its own process against the loopback Bot
API server; the server then refuses the token (401), as Telegram does once BotFather
revoked it. What a resident sent meanwhile stays with Telegram, unconfirmed, and is
answered once the bot runs again with a token Telegram accepts.
"""

from __future__ import annotations

import asyncio
import os
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest

from bot.platforms._telegram_polling import TOKEN_REFUSED, TOKEN_REFUSED_AT_START
from tests.e2e.botapi import BotApiServer
from tests.e2e.telegram_support import onboard, texts
from tests.reliability.bot_process import SAMENSPEL, START_WAIT, BotProcess

pytestmark = pytest.mark.e2e


async def test_a_token_refused_while_running_stops_the_bot_with_the_reason(
    server: BotApiServer, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    bot = BotProcess(server, db)
    anna = server.user(8201, first_name="Anna")
    accepted = server.token
    try:
        await bot.start()
        await onboard(server, anna)
        server.token = "4242:revoked"
        assert bot.process is not None
        status = await asyncio.wait_for(bot.process.wait(), START_WAIT)
        log = bot.log.read_text(errors="replace")
        assert status == 2, log
        assert f"samenspel: {TOKEN_REFUSED}" in log
        assert "Traceback" not in log
        # Anna writes while no bot runs: Telegram keeps it until a bot confirms it.
        helped = len(_help(server, anna.chat_id))
        await anna.send_text("/help")
        server.token = accepted
        await bot.start()  # returns once what Telegram kept is handled
        assert len(_help(server, anna.chat_id)) == helped + 1
    finally:
        await bot.end()


def _help(server: BotApiServer, chat_id: int) -> list[str]:
    return [text for text in texts(server, chat_id) if "Met Samenspel praat je mee" in text]


@pytest.mark.parametrize("command", ["run", "doctor"])
async def test_a_token_refused_at_start_is_one_line_that_does_not_show_the_token(
    server: BotApiServer, tmp_path: Path, command: str
) -> None:
    wrong = "4242:the-wrong-token"
    env = {
        **os.environ,
        "SAMENSPEL_DB": str(tmp_path / "bot.db"),
        "SAMENSPEL_TELEGRAM_TOKEN": wrong,
        "SAMENSPEL_TELEGRAM_API_URL": server.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        str(SAMENSPEL), command, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), START_WAIT)
    said = (out + err).decode()
    assert wrong not in said and "the-wrong-token" not in said
    assert "Traceback" not in said
    if command == "run":
        assert process.returncode == 2
        assert said.rstrip().splitlines()[-1] == f"samenspel: {TOKEN_REFUSED_AT_START}"
    else:
        assert process.returncode == 1
        assert f"getMe failed: {TOKEN_REFUSED_AT_START}" in said


@pytest.mark.parametrize("command", ["run", "doctor"])
async def test_a_bot_api_address_that_is_no_bot_api_is_not_blamed_on_the_token_alone(
    server: BotApiServer, tmp_path: Path, command: str
) -> None:
    # Any 404 is "invalid token" to PTB: a local Bot API server's address with a wrong path
    # then reads as a refused token, and the operator copies a good token again in vain.
    wrong = f"http://{server.host}:{server.port}/nothing-here/bot"
    env = {
        **os.environ,
        "SAMENSPEL_DB": str(tmp_path / "bot.db"),
        "SAMENSPEL_TELEGRAM_TOKEN": server.token,
        "SAMENSPEL_TELEGRAM_API_URL": wrong,
    }
    process = await asyncio.create_subprocess_exec(
        str(SAMENSPEL), command, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), START_WAIT)
    said = (out + err).decode()
    assert server.token.partition(":")[2] not in said
    assert process.returncode == (2 if command == "run" else 1)
    assert f"SAMENSPEL_TELEGRAM_API_URL ({wrong})" in said, said
