"""Benchmark: a broadcast to 10,000 residents through the real Telegram adapter.

The loopback Bot API server (``tests/e2e/botapi.py``) runs in a process of its own, so it
does not take the bot's event loop. One run prints two figures:

1. Rate limiter off: the outbox's messages per second (fan-out committed → every row
   recorded as sent) as a ratio to a bare loop of python-telegram-bot ``send_message`` calls
   with the same concurrency, the same text and the same server. Target: at least 0.8.
2. Rate limiter at 30 messages/s over 3,000 messages: achieved rate / configured rate.
   Target: at least 0.95. (This part takes about 100 seconds.) Only the 3,000 broadcast
   messages are counted; the author's progress message, edited every few seconds, takes
   its slots from the same budget (about 1%).
3. For comparison, the same limited delivery sent through the bot that direct replies use
   (whose limiter, ``PacedReplies``, waits in the same pacing again): what
   "limited twice" would cost, and why delivery has a bot of its own.

Rounds of the first figure alternate the bare loop and the outbox, so that a machine that
is busy with something else for a while slows both alike.

Usage::

    .venv/bin/python -m bench.broadcast
    .venv/bin/python -m bench.broadcast --recipients 10000 --concurrency 16 \\
        --limited 3000 --rate 30 --compare-direct 300
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot
from telegram.constants import ParseMode
from telegram.request import HTTPXRequest

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import NEWS, payload, residents
from tests.e2e.botapi import BotApiServer, free_port

TOKEN = "123456:BENCH-token"
FIRST_CHAT = 1_000_001
AUTHOR_CHAT = 999


def _serve(port: int, ready: Any) -> None:
    """The loopback Bot API server, in its own process until it is terminated."""

    async def main() -> None:
        server = BotApiServer(token=TOKEN, port=port)
        await server.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def start_server() -> tuple[Any, str]:
    """Start the server process; returns it and the Bot API base URL."""
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_serve, args=(port, ready), daemon=True)
    process.start()
    if not ready.wait(30):
        raise RuntimeError("the loopback Bot API server did not start")
    return process, f"http://127.0.0.1:{port}/bot"


async def bare_loop(base_url: str, text: str, chats: range, concurrency: int) -> float:
    """Messages per second of plain PTB send_message calls, ``concurrency`` at a time."""
    bot = Bot(
        TOKEN,
        base_url=base_url,
        request=HTTPXRequest(connection_pool_size=concurrency + 2, pool_timeout=10.0),
    )
    await bot.initialize()
    pending = iter(chats)

    async def sender() -> None:
        for chat in pending:
            await bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
            )

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await bot.shutdown()
    return len(chats) / elapsed


async def _until(check: Callable[[], Awaitable[bool]], every: float = 0.1) -> None:
    while not await check():  # noqa: ASYNC110 - the database is polled, nothing to await
        await asyncio.sleep(every)


async def outbox_run(
    settings: Settings, chats: range, batch: str, *, via_direct_bot: bool = False
) -> tuple[float, dict[str, int]]:
    """Fan a broadcast out to ``chats`` with the bot running; seconds until all recorded."""
    app = await App.open(settings)
    runtime = Runtime(app)
    await runtime.start()
    if via_direct_bot:
        for adapter in runtime.adapters:
            adapter.delivery_bot = adapter.application.bot  # type: ignore[attr-defined]
    try:
        ids = await residents(app.db, chats)
        (author,) = await residents(app.db, [AUTHOR_CHAT + len(chats)], role=Role.CIVIL_SERVANT)
        async with app.db.transaction():
            await app.repos.outbox.fan_out(
                ids, payload(), kind="broadcast", batch=batch, author_user_id=author, now=utcnow()
            )
            # The clock starts as the fan-out commits (the worker is woken and waits for it).
            started = time.perf_counter()

        async def finished() -> bool:
            done = await app.repos.outbox.batch(batch)
            return done is not None and done.finished_at is not None

        await _until(finished)
        elapsed = time.perf_counter() - started
        counts = await app.repos.outbox.batch_counts(batch)
    finally:
        await runtime.stop()
        await app.close()
    return elapsed, counts


def settings_for(base_url: str, db: Path, rate: float, concurrency: int) -> Settings:
    return Settings(
        _env_file=None,
        db=db,
        telegram_token=TOKEN,
        telegram_api_url=base_url,
        telegram_rate=rate,
        delivery_concurrency=concurrency,
    )


async def run(args: argparse.Namespace, base_url: str, workdir: Path) -> None:
    n, concurrency = args.recipients, args.concurrency
    app = await App.open(settings_for(base_url, workdir / "render.db", 0, concurrency))
    text = app.catalog.render("nl", NEWS[0], markup=True)
    await app.close()

    bare_rates, our_rates = [], []
    for round_ in range(args.rounds):
        first = FIRST_CHAT + round_ * 2 * n
        bare = await bare_loop(base_url, text, range(first, first + n), concurrency)
        settings = settings_for(base_url, workdir / f"off-{round_}.db", 0, concurrency)
        elapsed, counts = await outbox_run(settings, range(first + n, first + 2 * n), "off")
        assert counts == {"sent": n}, counts
        ours = n / elapsed
        bare_rates.append(bare)
        our_rates.append(ours)
        print(
            f"round {round_ + 1}: bare PTB loop {bare:,.0f} msg/s, outbox {ours:,.0f} msg/s "
            f"({n:,} messages, concurrency {concurrency})",
            flush=True,
        )
    ratio = sum(our_rates) / sum(bare_rates)
    print(f"limiter off: outbox / bare loop = {ratio:.3f} (target >= 0.8)", flush=True)

    m, rate = args.limited, args.rate
    first = FIRST_CHAT + args.rounds * 2 * n
    settings = settings_for(base_url, workdir / "limited.db", rate, concurrency)
    elapsed, counts = await outbox_run(settings, range(first, first + m), "limited")
    assert counts == {"sent": m}, counts
    achieved = m / elapsed
    print(
        f"limiter at {rate:g}/s: {m:,} messages in {elapsed:.1f} s = {achieved:.2f} msg/s, "
        f"achieved / configured = {achieved / rate:.3f} (target >= 0.95)",
        flush=True,
    )
    if args.compare_direct:
        k = args.compare_direct
        first += m
        settings = settings_for(base_url, workdir / "direct.db", rate, concurrency)
        elapsed, counts = await outbox_run(
            settings, range(first, first + k), "direct", via_direct_bot=True
        )
        assert counts == {"sent": k}, counts
        print(
            f"for comparison, through the direct replies' rate-limited bot: {k:,} messages "
            f"at {k / elapsed:.2f} msg/s = {k / elapsed / rate:.3f} of the configured rate",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="bare/outbox pairs (limiter off)")
    parser.add_argument("--limited", type=int, default=3_000, help="messages at the rate")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument(
        "--compare-direct", type=int, default=300, help="messages via the replies' bot (0: skip)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    command = [Path(sys.executable).name, "-m", "bench.broadcast", *sys.argv[1:]]
    print("command:", shlex.join(command), flush=True)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}", flush=True)
    process, base_url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args, base_url, Path(tmp)))
    finally:
        process.terminate()
        process.join(10)


if __name__ == "__main__":
    main()
