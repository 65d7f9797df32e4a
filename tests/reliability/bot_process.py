"""``samenspel run`` as a separate process against the loopback Bot API server in the test's
process, started and killed (SIGKILL: no chance to finish or clean up) by the test."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from tests.e2e.botapi import BotApiServer, JSONDict

SAMENSPEL = Path(sys.executable).with_name("samenspel")
#: How long to wait for the bot's start and what it finishes from before (generous: a
#: busy machine is slow, not broken).
START_WAIT = 180.0


class BotProcess:
    """The bot in its own process, on a database file that outlives it."""

    def __init__(self, server: BotApiServer, db: Path):
        self.server = server
        self.db = db
        self.env = {
            **os.environ,
            "SAMENSPEL_DB": str(db),
            "SAMENSPEL_TELEGRAM_TOKEN": server.token,
            "SAMENSPEL_TELEGRAM_API_URL": server.base_url,
            "SAMENSPEL_LOG_LEVEL": "WARNING",
        }
        self.process: asyncio.subprocess.Process | None = None
        #: What the bot processes wrote to stderr (a file: a full pipe would block them).
        self.log = db.with_name("bot.log")
        self.polls = 0
        name, handler = server._methods["getupdates"]

        async def counted(params: JSONDict, uploads: dict[str, Any]) -> Any:
            self.polls += 1
            return await handler(params, uploads)

        server._methods["getupdates"] = (name, counted)

    async def start(self) -> None:
        """Start the bot; return once it handled what the last one left behind.

        That is what it stored and had not finished (its inbox), and what Telegram delivers
        again because the killed process had not confirmed it yet (the router recognises
        what was handled already, and sends only answers that never arrived). Waited for
        here, so that no resident takes such an answer for the answer to a new step.
        """
        server = self.server
        unconfirmed = list(server._updates)
        polls = self.polls
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(SAMENSPEL), "run", env=self.env, stderr=log
            )
        await server.wait_for(lambda: self.polls > polls, START_WAIT, description="polling")
        await server.wait_for(
            lambda: all(map(server.is_confirmed, unconfirmed)) and not self.inbox(),
            START_WAIT,
            description="the updates left from before handled",
        )

    def inbox(self) -> list[int]:
        """The update ids in the bot's inbox: stored, not yet handled and answered."""
        with sqlite3.connect(self.db) as db:
            return [row[0] for row in db.execute("SELECT update_id FROM telegram_inbox")]

    async def end(self) -> None:
        """Kill the bot if it still runs (after a failed test too)."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is not None:
            log = self.log.read_text(errors="replace")[-2000:]
            raise AssertionError(f"the bot stopped by itself: {log}")
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
