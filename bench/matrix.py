"""Benchmark: from a resident's message to the bot's reply in an encrypted direct chat.

Everything real: the Synapse the end-to-end tests run (``SAMENSPEL_SYNAPSE_PYTHON``), the
bot's Matrix adapter with its database and router, and residents on matrix-nio clients
with encryption. The anchor is a bare matrix-nio echo bot (encryption on, ``sync_forever``,
one ``room_send`` per message) on the same server in the same run. One resident talks to
each bot in an encrypted direct chat; rounds alternate between the two, so a busy moment of
the machine slows both alike. A round is the time from just before the resident sends
``/menu`` (Samenspel) or a word (echo) until the resident's client has the reply decrypted.
Rounds start 2.5 s apart: faster, a resident would pass the flood limit of 30 messages a
minute and Samenspel would rightly stop answering.

Printed: median and p95 of both, and Samenspel's as a ratio to the echo bot's.
Target: at most 1.5.

Usage::

    SAMENSPEL_SYNAPSE_PYTHON=/path/to/synapse-venv/bin/python \\
        .venv/bin/python -m bench.matrix [--rounds 40] [--warmup 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomMessageText,
    WhoamiError,
)

from bench._common import percentile
from tests.e2e.matrix_support import PASSWORD, MatrixBot, MatrixResident, bot_settings, unique
from tests.e2e.synapse import SynapseServer, find_synapse_python

WELCOME = "Welkom bij Samenspel"


class EchoBot:
    """The anchor: a bare matrix-nio bot that answers every text with the same text."""

    def __init__(self, server: SynapseServer, store: Path):
        self.server = server
        self.store = store
        self.client: AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        _, token = await self.server.register_user_async(unique("echo"), PASSWORD)
        self.store.mkdir(parents=True)
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
        client = AsyncClient(self.server.base_url, store_path=str(self.store), config=config)
        client.access_token = token
        whoami = await client.whoami()
        assert not isinstance(whoami, WhoamiError), whoami
        client.restore_login(whoami.user_id, whoami.device_id, token)
        self.client = client

        async def invited(room: MatrixRoom, event: InviteMemberEvent) -> None:
            if event.state_key == client.user_id and event.membership == "invite":
                await client.join(room.room_id)

        async def message(room: MatrixRoom, event: RoomMessageText) -> None:
            if event.sender == client.user_id:
                return
            await client.room_send(
                room.room_id,
                "m.room.message",
                {"msgtype": "m.notice", "body": event.body},
                ignore_unverified_devices=True,
            )

        client.add_event_callback(invited, InviteMemberEvent)
        client.add_event_callback(message, RoomMessageText)
        self._task = asyncio.create_task(client.sync_forever(timeout=30_000))
        return str(client.user_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None:
            await self.client.close()


#: Seconds a round waits for its reply before it counts as lost.
PATIENCE = 30.0
#: Seconds a round takes at least: a resident who writes more than 30 messages a minute
#: (the profile's ``messages_per_minute``) is told once to slow down and then not answered.
ROUND_SECONDS = 2.5


async def _round(resident: MatrixResident, text: str) -> float | None:
    """Seconds from sending ``text`` until the bot's first reply after it is decrypted;
    None when it did not come within ``PATIENCE`` (what arrived is printed)."""
    started = time.perf_counter()
    sent = await resident.send(text)
    try:
        await asyncio.wait_for(resident.wait_for_reply(after=sent), PATIENCE)
    except TimeoutError:
        undecrypted = len(resident._undecrypted)
        print(
            f"  {resident.user_id}: no reply to {text!r} within {PATIENCE:.0f} s; "
            f"events it cannot decrypt: {undecrypted}",
            flush=True,
        )
        return None
    return time.perf_counter() - started


async def run(args: argparse.Namespace, server: SynapseServer, workdir: Path) -> None:
    bot = MatrixBot(await bot_settings(server, workdir / "bot"))
    await bot.start()
    echo = EchoBot(server, workdir / "echo")
    echo_id = await echo.start()
    anna = await MatrixResident.register(server, workdir / "residents", "anna")
    bob = await MatrixResident.register(server, workdir / "residents", "bob")
    try:
        await anna.open_chat(bot.user_id, encrypted=True)
        await anna.wait_for_reply(lambda m: WELCOME in m.body)
        for answer in ("1", "Nederlands", "IJmuiden"):  # onboarding
            await _round(anna, answer)
        await bob.open_chat(echo_id, encrypted=True)
        ours: list[float] = []
        theirs: list[float] = []
        lost = {"Samenspel": 0, "echo bot": 0}
        for number in range(args.warmup + args.rounds):
            begun = time.perf_counter()
            samenspel = await _round(anna, "/menu")
            bare = await _round(bob, f"hallo {number}")
            lost["Samenspel"] += samenspel is None
            lost["echo bot"] += bare is None
            if number >= args.warmup and samenspel is not None and bare is not None:
                ours.append(samenspel)
                theirs.append(bare)
            await asyncio.sleep(max(0.0, ROUND_SECONDS - (time.perf_counter() - begun)))
        print(f"replies lost (not decrypted or not sent within {PATIENCE:.0f} s): {lost}")
        for name, values in (("Samenspel", ours), ("echo bot", theirs)):
            print(
                f"{name:>9}: median {statistics.median(values) * 1000:.0f} ms, "
                f"p95 {percentile(values, 95) * 1000:.0f} ms, "
                f"min {min(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
                f"({len(values)} rounds)",
                flush=True,
            )
        median = statistics.median(ours) / statistics.median(theirs)
        p95 = percentile(ours, 95) / percentile(theirs, 95)
        print(
            f"ratio Samenspel / echo: median {median:.2f}, p95 {p95:.2f} (target <= 1.5)",
            flush=True,
        )
    finally:
        await anna.close()
        await bob.close()
        await echo.stop()
        await bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    python = find_synapse_python()
    if python is None:
        raise SystemExit("Synapse is not installed: set SAMENSPEL_SYNAPSE_PYTHON")
    command = [Path(sys.executable).name, "-m", "bench.matrix", *sys.argv[1:]]
    print("command:", shlex.join(command), flush=True)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}",
        flush=True,
    )
    server = SynapseServer(python)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args, server, Path(tmp)))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
