"""The Matrix sync loop when the homeserver misbehaves: down for a while, answering with
something that is not a sync, or forgetting the bot's access token.

Synapse itself forgets the token (``/logout``); a loopback proxy in front of it
(``tests/e2e/matrix_proxy.py``) plays the homeserver that is down or answers garbage, which
Synapse will not do on request. Residents talk to Synapse directly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.matrix_proxy import SyncProxy
from tests.e2e.matrix_support import (
    WAIT_SECONDS,
    MatrixBot,
    MatrixResident,
    Residents,
    bot_settings,
    containing,
    unique,
)
from tests.e2e.synapse import SynapseServer
from tests.waiting import until

pytestmark = pytest.mark.e2e

HELP = "Met Samenspel praat je mee"
#: Short waits between retries, so the doubling is seen in a second (production: 1 s to 60 s).
RETRY = (0.05, 0.2)


@pytest.fixture
async def proxy(synapse: SynapseServer) -> AsyncIterator[SyncProxy]:
    async with SyncProxy(synapse.base_url) as started:
        yield started


@pytest.fixture
async def bot(
    synapse: SynapseServer, proxy: SyncProxy, tmp_path: Path
) -> AsyncIterator[MatrixBot]:
    """The bot, reaching Synapse through the proxy."""
    settings = await bot_settings(synapse, tmp_path / "bot")
    settings = settings.model_copy(update={"matrix_homeserver": proxy.url})
    running = MatrixBot(settings, poll_ms=200, retry=RETRY)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def _retries(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The pauses the sync loop chose, in order, from its warnings."""
    return [
        float(match.group(1))
        for record in caplog.records
        if record.name == "bot.platforms.matrix"
        and (match := re.search(r"retry in ([0-9.]+)s", record.getMessage()))
    ]


async def _retried(caplog: pytest.LogCaptureFixture, times: int) -> None:
    """Wait until the sync loop has chosen ``times`` pauses."""
    await until(lambda: len(_retries(caplog)) >= times, WAIT_SECONDS, what=f"{times} sync pauses")


async def test_while_the_homeserver_is_down_the_sync_backs_off_and_then_catches_up(
    bot: MatrixBot, proxy: SyncProxy, residents: Residents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.platforms.matrix")
    anna = await residents("anna")
    await anna.open_chat(bot.user_id)
    await anna.wait_for_reply(containing("Welkom"))

    proxy.cut()
    seen = len(proxy.syncs)
    await proxy.wait_for_syncs(seen + 1)
    await anna.send("/help")  # while the bot cannot see it
    await _retried(caplog, 6)
    assert _retries(caplog)[:6] == [0.05, 0.1, 0.2, 0.2, 0.2, 0.2], "doubling, up to a limit"
    cut = [since for since, passed in proxy.syncs[seen:] if not passed]
    assert len(set(cut)) == 1, "every retry asks for the same position"

    proxy.mend()
    await anna.wait_for_reply(containing(HELP))
    # Up again, a later failure starts from the shortest pause again.
    caplog.clear()
    proxy.cut()
    await _retried(caplog, 2)
    proxy.mend()
    assert _retries(caplog)[:2] == [0.05, 0.1]
    await anna.send("/help")
    await anna.wait_for_reply(containing(HELP))
    assert sum(HELP in m.body for m in anna.replies()) == 2, "each /help answered once"


async def test_a_sync_answer_that_is_not_a_sync_is_asked_for_again_and_nothing_is_lost(
    bot: MatrixBot, proxy: SyncProxy, residents: Residents, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.platforms.matrix")
    anna = await residents("anna")
    await anna.open_chat(bot.user_id)
    await anna.wait_for_reply(containing("Welkom"))

    proxy.cut()
    seen = len(proxy.syncs)
    await proxy.wait_for_syncs(seen + 1)
    await anna.send("/help")
    proxy.garble(
        (200, b"<html><body>502 Bad Gateway</body></html>"),
        (200, b'{"next_batch": 5, "rooms": "none"}'),
        (200, b'{"next_batch": "s9", "rooms": {"join": []}}'),
        (500, b'{"errcode": "M_UNKNOWN", "error": "Internal server error"}'),
    )
    proxy.mend()
    await anna.wait_for_reply(containing(HELP))

    after = proxy.syncs[seen:]
    garbled = [since for since, passed in after if not passed]
    first_real = next(since for since, passed in after if passed)
    assert len(garbled) >= 5 and set(garbled) == {first_real}, "the position never moved"
    refused = [r for r in caplog.records if "matrix sync refused" in r.getMessage()]
    assert len(refused) == 4
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await anna.send("/help")
    await anna.wait_for_reply(containing(HELP))
    assert sum(HELP in m.body for m in anna.replies()) == 2, "each /help answered once"


async def test_a_homeserver_that_asks_to_slow_down_is_given_the_time_it_asks_for(
    bot: MatrixBot, proxy: SyncProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.platforms.matrix")
    slow_down = b'{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": %d}'
    proxy.garble((429, slow_down % 150), (429, slow_down % 60_000))
    await _retried(caplog, 2)
    # 0.15 s as asked instead of the first pause (0.05 s); a minute asked is the longest
    # pause (0.2 s here, a minute in production).
    assert _retries(caplog)[:2] == [0.15, 0.2]


@asynccontextmanager
async def _bot_that_welcomed_anna(
    synapse: SynapseServer, residents: Residents, folder: Path
) -> AsyncIterator[tuple[MatrixBot, MatrixResident]]:
    """The bot, polling often, in an encrypted chat with Anna, who was welcomed."""
    bot = MatrixBot(await bot_settings(synapse, folder), poll_ms=300)
    await bot.start()
    try:
        anna = await residents("anna")
        await anna.open_chat(bot.user_id, encrypted=True)
        await anna.wait_for_reply(containing("Welkom"))
        # The welcome's last message too: one still on its way when a test signs the bot
        # out fails, goes to the outbox (no delivery worker runs beside this adapter) and
        # every later answer to Anna would wait behind it.
        await anna.wait_for_reply(containing("Ga je akkoord"))
        yield bot, anna
    finally:
        await bot.stop()


async def test_a_forgotten_access_token_means_a_new_login_on_the_same_device(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    async with _bot_that_welcomed_anna(synapse, residents, tmp_path / "bot") as (bot, anna):
        state = bot.running.repos.platform_state
        device = bot.device_id
        token = await state.get("matrix", "access_token")
        assert token is not None

        # The session is signed out (from Element's session list, say): the homeserver
        # forgets the token, and with it the device and its keys.
        synapse.request_json("POST", "/_matrix/client/v3/logout", {}, access_token=token)

        async def renewed() -> bool:
            return await state.get("matrix", "access_token") not in (None, token)

        await until(renewed, WAIT_SECONDS)
        renewed_token = await state.get("matrix", "access_token")
        whoami = synapse.request_json(
            "GET", "/_matrix/client/v3/account/whoami", access_token=renewed_token
        )
        assert whoami["device_id"] == device == bot.device_id
        await anna.send("/help")
        answer = await anna.wait_for_reply(containing(HELP))
        assert answer.decrypted


async def test_a_password_changed_while_running_means_the_bot_is_lost_with_the_reason(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    async with _bot_that_welcomed_anna(synapse, residents, tmp_path / "bot") as (bot, _):
        # An administrator sets a new password and signs every session out: the token is
        # forgotten, and the password the bot was given no longer logs in.
        _, admin = await synapse.register_user_async(unique("admin"), "admin-pw", admin=True)
        synapse.request_json(
            "POST",
            f"/_synapse/admin/v1/reset_password/{quote(bot.user_id)}",
            {"new_password": "a-new-password-42", "logout_devices": True},
            access_token=admin,
        )
        assert bot.adapter is not None
        why = await asyncio.wait_for(bot.adapter.lost.wait(), WAIT_SECONDS)
        assert why.startswith("matrix: SAMENSPEL_MATRIX_PASSWORD: login refused")
