"""A flood of encrypted messages nobody can decrypt, through the Matrix adapter's sync path.

Anyone can open a direct chat with the bot and send events of type ``m.room.encrypted``
whose keys never come (made-up session ids, random ciphertext). The adapter keeps such a
message until its key arrives or it gives up and asks the sender to send it again. This
measures what a flood of them costs everyone else:

* **bytes written per sync**: every SQL statement the database runs while an idle sync (no
  new events) is handled, measured with SQLite's trace callback (parameters expanded);
* **longest block of the event loop** while that idle sync is handled: a task that wakes
  every millisecond records how late it woke;
* **notices** ("send it again") sent when the messages are given up, after a restart with
  no patience left, and how long that sync took.

The homeserver is a small loopback HTTP server, in this process, that answers what the
adapter asks as a homeserver would (login, keys, to-device, room sends, which it counts) and
serves the syncs made up here; the adapter runs as in production (``start``, its sync loop,
``stop``), so the same script measures any version of it.

Usage::

    .venv/bin/python -m bench.matrix_flood [--events 3000] [--ciphertext 20000] [--syncs 5]

Target: at most 100 kB written and 50 ms blocked per idle sync, and one notice per room.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bench._common import line, verdict
from bot.app import App
from bot.platforms.matrix import Matrix
from bot.settings import Settings

BOT = "@samenspel:bench.local"
MALLORY = "@mallory:bench.local"
ROOM = "!flood:bench.local"
TARGET_BYTES = 100_000
TARGET_BLOCK_S = 0.05


class Homeserver:
    """Answers the client API the adapter uses, serves the syncs it is given, and counts
    the messages sent into rooms."""

    def __init__(self) -> None:
        self.room_sends = 0
        self.to_device = 0
        self.syncs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        #: The batch tokens the adapter asked to continue from (it handled what came before).
        self.asked: dict[str, asyncio.Event] = {}
        self.batch = "s0"
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.answer)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def next_sync(self, events: list[dict[str, Any]]) -> None:
        """Hand the adapter a sync with these events; return once it asks for the next."""
        batch = f"s{int(self.batch[1:]) + 1}"
        asked = self.asked.setdefault(batch, asyncio.Event())
        await self.syncs.put(sync_body(batch, events))
        await asked.wait()

    async def answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        await request.read()
        if path.endswith("/sync"):
            return await self._sync(request)
        if path.endswith("/login"):
            return web.json_response(
                {"user_id": BOT, "access_token": "bench-token", "device_id": "BENCHDEVICE"}
            )
        if path.endswith("/account/whoami"):
            return web.json_response({"user_id": BOT, "device_id": "BENCHDEVICE"})
        if "/keys/upload" in path:
            return web.json_response({"one_time_key_counts": {"signed_curve25519": 50}})
        if "/keys/query" in path:
            return web.json_response({"device_keys": {}, "failures": {}})
        if "/keys/claim" in path:
            return web.json_response({"one_time_keys": {}, "failures": {}})
        if "/sendToDevice/" in path:
            self.to_device += 1
            return web.json_response({})
        if "/send/" in path:
            self.room_sends += 1
            return web.json_response({"event_id": f"$sent{self.room_sends}"})
        if path.endswith("/joined_members"):
            return web.json_response({"joined": {BOT: {}, MALLORY: {}}})
        if path.endswith("/displayname"):
            return web.json_response({"displayname": "Samenspel"})
        return web.json_response({})

    async def _sync(self, request: web.Request) -> web.StreamResponse:
        self.asked.setdefault(request.query.get("since", ""), asyncio.Event()).set()
        if request.query.get("full_state") == "true":
            # A start: the room as it is, nothing new.
            return web.json_response(sync_body(self.batch, []))
        wait = int(request.query.get("timeout", "0")) / 1000
        try:
            body = await asyncio.wait_for(self.syncs.get(), max(wait, 0.001))
        except TimeoutError:
            body = sync_body(self.batch, [])
        self.batch = body["next_batch"]
        return web.json_response(body)


def _member(user: str) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "state_key": user,
        "sender": user,
        "event_id": f"$member-{user}",
        "origin_server_ts": 1,
        "content": {"membership": "join"},
    }


def _bogus(index: int, ciphertext: int) -> dict[str, Any]:
    """An encrypted event under a session nobody will ever share a key for."""
    noise = base64.b64encode(os.urandom(ciphertext * 3 // 4)).decode()
    return {
        "type": "m.room.encrypted",
        "sender": MALLORY,
        "event_id": f"$bogus{index}",
        "origin_server_ts": 1_700_000_000_000 + index,
        "content": {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": base64.b64encode(os.urandom(32)).decode().rstrip("="),
            "session_id": base64.b64encode(os.urandom(32)).decode().rstrip("="),
            "device_id": "MALLORYPHONE",
            "ciphertext": noise,
        },
    }


def sync_body(batch: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """A sync with the flood's room (the bot and Mallory in it) and these new events."""
    return {
        "next_batch": batch,
        "rooms": {
            "join": {
                ROOM: {
                    "state": {"events": [_member(BOT), _member(MALLORY)]},
                    "timeline": {"events": events, "limited": False},
                    "summary": {"m.joined_member_count": 2},
                }
            }
        },
    }


class Traced:
    """Every statement the database connection runs, with its parameters, while on."""

    def __init__(self, app: App) -> None:
        self.bytes = 0
        self.statements = 0
        app.db.conn.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        self.bytes += len(sql.encode())
        self.statements += 1


async def _longest_block(work: Any) -> tuple[float, float]:
    """Run ``work`` while watching the loop; (longest late wake-up, duration) in seconds."""
    worst = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.001)
            worst = max(worst, loop.time() - before - 0.001)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    try:
        await work
    finally:
        took = time.perf_counter() - started
        done.set()
        await watcher
    return worst, took


async def run(args: argparse.Namespace, workdir: Path) -> None:
    server = Homeserver()
    await server.start()
    settings = Settings(
        _env_file=None,
        db=workdir / "bench.db",
        matrix_homeserver=server.url,
        matrix_user=BOT,
        matrix_password="bench",
    )
    app = await App.open(settings)
    try:
        adapter = Matrix(app, key_patience=timedelta(hours=1))
        await adapter.start()
        flood = [_bogus(i, args.ciphertext) for i in range(args.events)]
        started = time.perf_counter()
        await server.next_sync(flood)
        arrived = time.perf_counter() - started
        print(f"A flood of {args.events:,} undecryptable events of {args.ciphertext:,} bytes")
        line("handling the sync that brought them", f"{arrived:.2f} s")
        line("key requests sent (to-device)", f"{server.to_device:,}")

        written: list[int] = []
        blocked: list[float] = []
        for _ in range(args.syncs):
            traced = Traced(app)
            worst, _took = await _longest_block(server.next_sync([]))
            app.db.conn.set_trace_callback(None)
            written.append(traced.bytes)
            blocked.append(worst)
        line(f"written per idle sync (max of {args.syncs})", f"{max(written) / 1e3:,.1f} kB")
        line("longest loop block per idle sync (max)", f"{max(blocked) * 1000:.1f} ms")
        await adapter.stop()

        # A restart after the patience ran out: everything waiting is given up at once.
        server.room_sends = 0
        later = Matrix(app, key_patience=timedelta(0))
        worst, took = await _longest_block(later.start())
        await later.stop()  # and the notices on their way
        line("notices sent when they are given up", f"{server.room_sends:,} (1 room)")
        line("that start took / blocked the loop", f"{took:.2f} s / {worst * 1000:.0f} ms")
        ok = (
            max(written) <= TARGET_BYTES
            and max(blocked) <= TARGET_BLOCK_S
            and server.room_sends <= 1
        )
        print(
            f"  {verdict(ok)}: at most {TARGET_BYTES // 1000} kB written and"
            f" {TARGET_BLOCK_S * 1000:.0f} ms blocked per idle sync, one notice per room"
        )
    finally:
        await app.close()
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--ciphertext", type=int, default=20_000)
    parser.add_argument("--syncs", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("bot", "nio"):  # nio warns twice about each undecryptable event
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
