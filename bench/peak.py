"""Benchmark: residents' taps answered while a broadcast goes out at Telegram's ceiling.

The bot runs whole (the real Telegram adapter, router, delivery) against the loopback Bot
API server, which runs in a process of its own and enforces Telegram's flood limits
(``tests.e2e.botapi.FloodLimits``: 30 messages a second overall, one a second in a chat
with three at once allowed, 20 a minute in a group; 429 with ``retry_after`` beyond). The
simulated residents live in the server's process and time each answer as the server
receives it::

    server process                               bot process
    residents ──update──► getUpdates ──────────► adapter ► router ► reply ─┐
      ▲  (time of the tap)                                  pacing ◄────────┤
      └── sendMessage / editMessageText ◄───────────────────────────────────┘
          (time of the answer)                   delivery ► outbox broadcast

Two phases, one run:

1. Replies alone: ``--burst`` residents each send ``/menu`` at the same moment. The
   replies' rate (answers / seconds from the taps to the last answer) as a ratio to the
   configured rate. Target: at least 0.9.
2. Peak: a broadcast to ``--subscribers`` starts; meanwhile ``--residents`` of them
   arrive as a Poisson process and each types ``/menu`` and, after reading it (an
   exponential pause, 1 s on average), taps one of its buttons: two actions each, at
   ``--actions-per-second`` together (20 by default). Printed: p50/p95/p99 from an action
   to its answer (the first message or edit in that chat after it); the broadcast's
   throughput while residents were active, as a ratio to the rate the replies left over
   (configured rate minus the replies' messages per second); and the 429s the server
   answered. Targets: p95 < 1.5 s, p99 < 3 s, ratio >= 0.9, no 429.

The broadcast is not waited for to the end (at 30 a second 10,000 take more than five
minutes, the peak is over after a minute); ``--complete`` waits for it.

Usage::

    .venv/bin/python -m bench.peak
    .venv/bin/python -m bench.peak --subscribers 10000 --residents 500 \\
        --actions-per-second 20 --burst 600 --rate 30
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import random
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import percentile
from bot.app import App
from bot.platforms.telegram import Telegram
from bot.runtime import Runtime
from bot.settings import Settings
from storage import Role
from storage.clock import utcnow
from tests.bot.delivery_support import NEWS, payload, residents
from tests.e2e.botapi import BotApiServer, FloodLimits, JSONDict, free_port

TOKEN = "123456:PEAK-bench-token"
FIRST_SUBSCRIBER = 1_000_001
FIRST_BURST = 3_000_001
AUTHOR_CHAT = 999
#: What the broadcast says: its messages are told apart from answers by it.
BROADCAST_MARK = str(NEWS[0].params["text"])


class TimedServer(BotApiServer):
    """The loopback server, noting when each message or edit arrives and what it was."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        #: ``(monotonic time, chat id, "broadcast" | "progress" | "answer")`` per message.
        self.arrivals: list[tuple[float, int, str]] = []
        self._answered: dict[int, asyncio.Future[float]] = {}

    def expect_answer(self, chat_id: int) -> asyncio.Future[float]:
        """A future that gets the time of the next answer in ``chat_id``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._answered[chat_id] = future
        return future

    def _note(self, chat_id: int, text: str | None) -> None:
        now = time.monotonic()
        text = text or ""
        if BROADCAST_MARK in text:
            kind = "broadcast"
        elif chat_id == AUTHOR_CHAT:
            kind = "progress"
        else:
            kind = "answer"
        self.arrivals.append((now, chat_id, kind))
        if kind == "answer":
            future = self._answered.pop(chat_id, None)
            if future is not None and not future.done():
                future.set_result(now)

    def _store_bot_message(self, chat: Any, method: str, params: JSONDict, **kw: Any) -> JSONDict:
        message = super()._store_bot_message(chat, method, params, **kw)
        self._note(int(chat.json["id"]), kw.get("text") or kw.get("caption"))
        return message

    def _apply_edit(self, record: JSONDict, changes: JSONDict) -> JSONDict:
        message = super()._apply_edit(record, changes)
        self._note(int(record["chat_id"]), record.get("text") or record.get("caption"))
        return message


async def _act(
    server: TimedServer, chat_id: int, action: Callable[[], object]
) -> tuple[float, float, JSONDict | None]:
    """Do one action; returns (time of it, seconds to its answer, the answer's message)."""
    answered = server.expect_answer(chat_id)
    started = time.monotonic()
    action()
    try:
        at = await asyncio.wait_for(answered, 60)
    except TimeoutError:
        return started, float("inf"), None
    return started, at - started, server.last_message(chat_id)


async def _burst(server: TimedServer, chats: list[int]) -> dict[str, Any]:
    """Every chat sends /menu at once; the replies' rate."""
    users = [server.user(chat) for chat in chats]
    started = time.monotonic()

    def typing(user: Any) -> Callable[[], object]:
        return lambda: user.send_text("/menu")

    results = await asyncio.gather(*(_act(server, user.chat_id, typing(user)) for user in users))
    last = max(start + wait for start, wait, _ in results)
    answers = sum(1 for kind in server.arrivals if kind[2] == "answer" and kind[0] >= started)
    return {"answers": answers, "seconds": last - started, "refusals": _refusals(server)}


async def _peak(
    server: TimedServer, chats: list[int], per_second: float, seed: int
) -> dict[str, Any]:
    """Residents arrive (Poisson), type /menu, read, tap a button; times of both."""
    rng = random.Random(seed)
    latencies: list[tuple[str, float]] = []
    refused_before = len(server.flood_refusals)

    async def resident(chat_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        user = server.user(chat_id)
        _, wait, menu = await _act(server, chat_id, lambda: user.send_text("/menu"))
        latencies.append(("type", wait))
        buttons = [
            b["callback_data"]
            for row in ((menu or {}).get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]
        if not buttons or menu is None:
            return
        await asyncio.sleep(rng.expovariate(1.0))  # reading it
        choice = rng.choice(buttons)
        _, wait, _ = await _act(server, chat_id, lambda: user.press(choice, menu))
        latencies.append(("tap", wait))

    # Two actions each: residents arrive at half the action rate.
    arrivals, at = [], 0.0
    for _ in chats:
        at += rng.expovariate(per_second / 2)
        arrivals.append(at)
    started = time.monotonic()
    await asyncio.gather(*(resident(c, d) for c, d in zip(chats, arrivals, strict=True)))
    ended = time.monotonic()
    window = [a for a in server.arrivals if started <= a[0] <= ended]
    kinds = Counter(kind for _, _, kind in window)
    return {
        "latencies": latencies,
        "seconds": ended - started,
        "kinds": dict(kinds),
        "refusals": _refusals(server, refused_before),
    }


def _refusals(server: BotApiServer, since: int = 0) -> dict[str, int]:
    return dict(Counter(which for _, _, which in server.flood_refusals[since:]))


def _serve(port: int, conn: Any, limits: FloodLimits) -> None:
    """The server and the residents, in their own process, answering commands on ``conn``."""

    async def main() -> None:
        server = TimedServer(token=TOKEN, port=port, limits=limits)
        await server.start()
        server.user(AUTHOR_CHAT)
        conn.send("ready")
        loop = asyncio.get_running_loop()
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            if command == "burst":
                conn.send(await _burst(server, *args))
            elif command == "peak":
                conn.send(await _peak(server, *args))
            elif command == "arrivals":
                conn.send(Counter(kind for _, _, kind in server.arrivals))
        await server.stop()

    asyncio.run(main())


async def _ask(conn: Any, *message: object) -> Any:
    """Send a command to the server's process and wait for its answer off the loop."""
    conn.send(message)
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


async def _until(check: Callable[[], Awaitable[bool]], every: float = 0.5) -> None:
    while not await check():  # noqa: ASYNC110 - the database is polled, nothing to await
        await asyncio.sleep(every)


async def run(args: argparse.Namespace, conn: Any, base_url: str, workdir: Path) -> None:
    rate = args.rate
    settings = Settings(
        _env_file=None,
        db=workdir / "peak.db",
        telegram_token=TOKEN,
        telegram_api_url=base_url,
        telegram_rate=rate,
    )
    app = await App.open(settings)
    runtime = Runtime(app)
    subscribers = list(range(FIRST_SUBSCRIBER, FIRST_SUBSCRIBER + args.subscribers))
    burst = list(range(FIRST_BURST, FIRST_BURST + args.burst))
    try:
        ids = await residents(app.db, subscribers)
        await residents(app.db, burst)
        (author,) = await residents(app.db, [AUTHOR_CHAT], role=Role.CIVIL_SERVANT)
        await runtime.start()
        (adapter,) = runtime.adapters
        assert isinstance(adapter, Telegram) and adapter.replies is not None

        if burst:
            result = await _ask(conn, "burst", burst)
            achieved = result["answers"] / result["seconds"]
            print(
                f"replies alone: {len(burst):,} residents send /menu at once: "
                f"{result['answers']:,} answers in {result['seconds']:.1f} s = "
                f"{achieved:.1f} msg/s = {achieved / rate:.3f} of the configured {rate:g}/s "
                f"(target >= 0.9); 429s: {result['refusals'] or 0}",
                flush=True,
            )

        async with app.db.transaction():
            await app.repos.outbox.fan_out(
                ids, payload(), kind="broadcast", batch="peak", author_user_id=author, now=utcnow()
            )
        chosen = random.Random(args.seed).sample(subscribers, args.residents)
        result = await _ask(conn, "peak", chosen, args.actions_per_second, args.seed)
        seconds, kinds = result["seconds"], result["kinds"]
        waits = [wait for _, wait in result["latencies"]]
        lost = sum(1 for wait in waits if wait == float("inf"))
        answers = kinds.get("answer", 0)
        outbox = kinds.get("broadcast", 0) + kinds.get("progress", 0)
        left_over = rate * seconds - answers
        print(
            f"peak: broadcast to {args.subscribers:,}; {args.residents} residents, "
            f"{len(waits):,} actions in {seconds:.1f} s "
            f"({len(waits) / seconds:.1f}/s offered), unanswered {lost}",
            flush=True,
        )
        print(
            f"  action -> answer: p50 {percentile(waits, 50) * 1000:.0f} ms, "
            f"p95 {percentile(waits, 95) * 1000:.0f} ms, p99 {percentile(waits, 99) * 1000:.0f} ms"
            f" (targets p95 < 1500, p99 < 3000)",
            flush=True,
        )
        for kind in ("type", "tap"):
            some = [wait for what, wait in result["latencies"] if what == kind]
            print(
                f"    {kind:>4}: {len(some)} p50 {percentile(some, 50) * 1000:.0f} ms, "
                f"p95 {percentile(some, 95) * 1000:.0f} ms",
                flush=True,
            )
        print(
            f"  meanwhile: {answers:,} answer messages ({answers / seconds:.1f}/s), "
            f"{outbox:,} outbox messages ({outbox / seconds:.1f}/s); left over by the replies "
            f"{left_over / seconds:.1f}/s: broadcast / left over = {outbox / left_over:.3f} "
            f"(target >= 0.9)",
            flush=True,
        )
        paced = [wait * 1000 for wait in list(adapter.replies.waits)[-answers:]]
        print(
            f"  of that, waiting in the pacing: p50 {percentile(paced, 50):.0f} ms, "
            f"p95 {percentile(paced, 95):.0f} ms, p99 {percentile(paced, 99):.0f} ms",
            flush=True,
        )
        print(
            f"  429s from the server: {result['refusals'] or 0} (target: none); "
            f"direct replies told to wait: {adapter.replies.refused}; "
            f"delivery: {dict(runtime.workers[0].counts)}",
            flush=True,
        )
        if args.complete:

            async def finished() -> bool:
                batch = await app.repos.outbox.batch("peak")
                return batch is not None and batch.finished_at is not None

            started = time.monotonic()
            await _until(finished)
            print(f"  the broadcast finished {time.monotonic() - started:.0f} s later", flush=True)
    finally:
        await runtime.stop()
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--actions-per-second", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=600, help="phase 1 (0: skip)")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--complete", action="store_true", help="wait for the broadcast")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    command = [Path(sys.executable).name, "-m", "bench.peak", *sys.argv[1:]]
    print("command:", shlex.join(command), flush=True)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}",
        flush=True,
    )
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    limits = FloodLimits(rate=args.rate, overall_burst=max(1, round(args.rate)))
    process = context.Process(target=_serve, args=(port, theirs, limits), daemon=True)
    process.start()
    try:
        if not ours.poll(30) or ours.recv() != "ready":
            raise RuntimeError("the loopback Bot API server did not start")
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(args, ours, f"http://127.0.0.1:{port}/bot", Path(tmp)))
        ours.send(("stop",))
        process.join(10)
    finally:
        process.terminate()
        process.join(10)


if __name__ == "__main__":
    main()
