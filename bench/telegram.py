"""Replies per second for the whole bot on Telegram, next to a bare python-telegram-bot echo bot.

The loopback Bot API server (``tests/e2e/botapi.py``, real HTTP) runs in a separate process
with the simulated residents, so it does not share the bots' event loop or core. Each
resident sends a message, waits for the answer, sends the next: a mix of ``/menu``,
``/ideeen`` (a page of the ideas), ``/help`` and a question the bot does not understand,
each answered with one message. The bots run one after the other in this process:

* **echo**: python-telegram-bot answering every text with the same text;
* **Samenspel**: the whole bot (Telegram adapter, router, handlers, SQLite file with 40
  ideas), its residents onboarded beforehand (not timed).

Both use python-telegram-bot the same way: long polling, concurrent updates, and no rate
limiter (the limiter holds a bot to Telegram's 30 messages/s, which would measure the
limiter, not the bot). The ratio of Samenspel's replies/s to the echo bot's is the figure.

Usage::

    .venv/bin/python -m bench.telegram [--residents 200] [--messages 20] [--rounds 2]

Target: ratio at least 0.7.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench._common import idea_description, idea_title, line, percentile, verdict

TOKEN = "123456:BENCH-token"
TARGET_RATIO = 0.7
TIMED = ["/menu", "/ideeen", "Hoe werkt dit eigenlijk?", "/help"]


# The server process ----------------------------------------------------------------------


def _serve(conn: Connection) -> None:
    """Run the Bot API server and the residents until told to stop."""
    asyncio.run(_server_main(conn))


async def _server_main(conn: Connection) -> None:
    from tests.e2e.botapi import BotApiServer, FakeUser, JSONDict, _Chat

    class CountingServer(BotApiServer):
        """Wakes the resident waiting for a message in a chat the moment it is stored."""

        def __init__(self) -> None:
            super().__init__(token=TOKEN, validate_html=False)
            self.waiting: dict[int, tuple[int, asyncio.Future[None]]] = {}

        def _store_bot_message(self, chat: _Chat, *args: Any, **kwargs: Any) -> JSONDict:
            stored = super()._store_bot_message(chat, *args, **kwargs)
            wait = self.waiting.get(chat.json["id"])
            if wait is not None and chat.delivered >= wait[0] and not wait[1].done():
                wait[1].set_result(None)
            return stored

        async def answered(self, user: FakeUser, act: Callable[[], Any], count: int = 1) -> None:
            """Do ``act`` as ``user`` and wait for ``count`` messages back."""
            target = self.delivered_count(user.chat_id) + count
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting[user.chat_id] = (target, future)
            act()
            if self.delivered_count(user.chat_id) < target:
                await asyncio.wait_for(future, 60)

        async def onboard(self, user: FakeUser) -> None:
            await self.answered(user, lambda: user.send_text("/start"), 2)
            for label in ("Ja, ik doe mee", "Nederlands", "IJmuiden"):
                await self.answered(user, partial(user.press, label))

        async def converse(self, user: FakeUser, count: int, latencies: list[float]) -> None:
            for n in range(count):
                text = TIMED[(user.id + n) % len(TIMED)]
                started = time.perf_counter()
                await self.answered(user, partial(user.send_text, text))
                latencies.append(time.perf_counter() - started)

    loop = asyncio.get_running_loop()
    server = CountingServer()
    await server.start()
    try:
        conn.send({"base_url": server.base_url, "file_url": server.base_file_url})
        while True:
            order: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
            if order["cmd"] == "stop":
                return
            first, residents = order["first"], order["residents"]
            users = [server.user(first + n, first_name=f"Inwoner{n}") for n in range(residents)]
            if order["cmd"] == "onboard":
                await asyncio.gather(*(server.onboard(user) for user in users))
                conn.send({"done": True})
                continue
            latencies: list[float] = []
            started = time.perf_counter()
            await asyncio.gather(
                *(server.converse(user, order["messages"], latencies) for user in users)
            )
            elapsed = time.perf_counter() - started
            conn.send({"answered": len(latencies), "elapsed": elapsed, "latencies": latencies})
    finally:
        await server.stop()


# The bots --------------------------------------------------------------------------------


async def _echo_bot(base_url: str, file_url: str) -> Any:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is not None and message.text:
            await message.chat.send_message(message.text)

    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(base_url)
        .base_file_url(file_url)
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling()
    return application


async def _stop_echo(application: Any) -> None:
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


async def _samenspel_bot(base_url: str, folder: str) -> tuple[Any, Any]:
    from bot.app import App
    from bot.platforms.telegram import Telegram
    from bot.settings import Settings
    from storage.clock import utcnow

    settings = Settings(
        _env_file=None,
        db=Path(folder) / "telegram-bench.db",
        telegram_token=TOKEN,
        telegram_api_url=base_url,
    )
    app = await App.open(settings)
    rng = random.Random(3)
    async with app.db.transaction():
        for _ in range(40):
            await app.repos.ideas.create(
                category="verkeer",
                title=idea_title(rng),
                description=idea_description(rng),
                neighbourhood="ijmuiden",
                photo_id=None,
                author_user_id=None,
                now=utcnow(),
            )
    adapter = Telegram(app, rate_limiter=False)
    await adapter.start()
    return app, adapter


# The run ---------------------------------------------------------------------------------


def _ask(conn: Connection, order: dict[str, Any]) -> dict[str, Any]:
    conn.send(order)
    answer: dict[str, Any] = conn.recv()
    return answer


async def _measure(
    conn: Connection, kind: str, first: int, residents: int, messages: int, urls: dict[str, str]
) -> dict[str, Any]:
    if kind == "echo":
        application = await _echo_bot(urls["base_url"], urls["file_url"])
        try:
            return await asyncio.to_thread(
                _ask,
                conn,
                {"cmd": "run", "first": first, "residents": residents, "messages": messages},
            )
        finally:
            await _stop_echo(application)
    with tempfile.TemporaryDirectory() as folder:
        app, adapter = await _samenspel_bot(urls["base_url"], folder)
        try:
            await asyncio.to_thread(
                _ask, conn, {"cmd": "onboard", "first": first, "residents": residents}
            )
            return await asyncio.to_thread(
                _ask,
                conn,
                {"cmd": "run", "first": first, "residents": residents, "messages": messages},
            )
        finally:
            await adapter.stop()
            await app.close()


def _report(title: str, result: dict[str, Any]) -> float:
    rate = result["answered"] / result["elapsed"]
    print(title)
    line("replies", f"{result['answered']:,}")
    line("time", f"{result['elapsed']:.2f} s")
    line("replies/s", f"{rate:,.0f}")
    line("latency p50", f"{percentile(result['latencies'], 50) * 1000:.1f} ms")
    line("latency p99", f"{percentile(result['latencies'], 99) * 1000:.1f} ms")
    return rate


async def main(residents: int, messages: int, rounds: int) -> bool:
    logging.basicConfig(level=logging.WARNING)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(theirs,), daemon=True)
    server.start()
    try:
        urls: dict[str, str] = await asyncio.to_thread(ours.recv)
        print(
            f"bench.telegram: {residents} residents at a time, {messages} messages each, "
            f"{rounds} round(s), server pid {server.pid}, bots pid {os.getpid()}"
        )
        rates: dict[str, list[float]] = {"echo": [], "samenspel": []}
        for round_ in range(rounds):
            for kind in ("echo", "samenspel"):
                first = 10_000 * (1 + 2 * round_ + (kind == "samenspel"))
                result = await _measure(ours, kind, first, residents, messages, urls)
                title = "python-telegram-bot echo bot" if kind == "echo" else "Samenspel"
                rates[kind].append(_report(f"Round {round_ + 1}: {title}", result))
        ours.send({"cmd": "stop"})
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    echo, samenspel = max(rates["echo"]), max(rates["samenspel"])
    ratio = samenspel / echo
    print("Result (best round of each)")
    line("echo replies/s", f"{echo:,.0f}")
    line("Samenspel replies/s", f"{samenspel:,.0f}")
    line("ratio (Samenspel / echo)", f"{ratio:.2f}")
    line(f"ratio >= {TARGET_RATIO}", verdict(ratio >= TARGET_RATIO))
    return ratio >= TARGET_RATIO


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    ok = asyncio.run(main(args.residents, args.messages, args.rounds))
    raise SystemExit(0 if ok else 1)
