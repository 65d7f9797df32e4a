"""Encrypted messages waiting for their keys: bounded, one row each, one notice per room.

A real nio client (with its own Olm account) on a loopback homeserver that takes its key
requests, and the real database; the flood and a real late key are made here. Through
Synapse: ``tests/e2e/test_matrix_keys.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from nio import AsyncClient, MegolmEvent, RoomMessageText
from nio.crypto import InboundGroupSession, OlmAccount, OutboundGroupSession

from bot.app import App
from bot.platforms._matrix_keys import MAX_PER_ROOM, MAX_PER_SENDER, MAX_WAITING, KeyWaits
from bot.platforms._matrix_session import client_config
from storage.db import migrations

BOT = "@samenspel:example.org"
DEVICE = "BOTDEVICE"


@pytest.fixture
async def homeserver() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback homeserver that takes every request (key requests go to-device) and
    lists their paths."""
    paths: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        paths.append(request.path)
        return web.json_response({})

    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", paths
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(tmp_path: Path, homeserver: tuple[str, list[str]]) -> AsyncIterator[AsyncClient]:
    """The bot's client with its encryption store loaded, on the loopback homeserver."""
    store = tmp_path / "store"
    store.mkdir()
    made = AsyncClient(homeserver[0], BOT, store_path=str(store), config=client_config("test key"))
    made.restore_login(BOT, DEVICE, "token")
    try:
        yield made
    finally:
        await made.close()


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode().rstrip("=")


def bogus(number: int, sender: str, ciphertext: int = 2000) -> MegolmEvent:
    """An encrypted event under a session nobody will share a key for."""
    event = MegolmEvent.from_dict(
        {
            "type": "m.room.encrypted",
            "sender": sender,
            "event_id": f"$bogus-{sender}-{number}",
            "origin_server_ts": 1_700_000_000_000 + number,
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "sender_key": _b64(32),
                "session_id": _b64(32),
                "device_id": "PHONE",
                "ciphertext": _b64(ciphertext),
            },
        }
    )
    assert isinstance(event, MegolmEvent)
    return event


def _keys(app: App, patience: timedelta = timedelta(hours=1)) -> KeyWaits:
    return KeyWaits(app.db, app.repos.undecrypted, patience)


async def _rows(app: App) -> list[Any]:
    return await app.db.fetchall("SELECT room_id, sender FROM undecrypted_messages")


async def test_a_flood_is_bounded_per_sender_per_room_and_in_all(
    app: App, client: AsyncClient, homeserver: tuple[str, list[str]]
) -> None:
    keys = _keys(app)
    await keys.load(DEVICE)
    for number in range(MAX_PER_SENDER + 30):
        await keys.add(client, "!mallory:x", bogus(number, "@mallory:x"))
    assert len(await _rows(app)) == MAX_PER_SENDER
    requests = [path for path in homeserver[1] if "/sendToDevice/m.room_key_request/" in path]
    assert len(requests) == MAX_PER_SENDER, "keys are asked for only for what is kept"

    # Many senders in one room (a group): the room's bound.
    for sender in range(5):
        for number in range(MAX_PER_SENDER):
            await keys.add(client, "!group:x", bogus(number, f"@s{sender}:x", 200))
    in_group = [row for row in await _rows(app) if row["room_id"] == "!group:x"]
    assert len(in_group) == MAX_PER_ROOM

    # Many rooms: the bound in all.
    for room in range(MAX_WAITING // 10):
        for number in range(12):
            await keys.add(client, f"!r{room}:x", bogus(number, f"@p{room}:x", 100))
    assert len(await _rows(app)) == MAX_WAITING == len(keys.waiting)


async def test_each_room_is_asked_once_when_nothing_in_it_waits_any_more(
    app: App, client: AsyncClient
) -> None:
    keys = _keys(app, patience=timedelta(0))
    await keys.load(DEVICE)
    for number in range(MAX_PER_SENDER + 30):
        await keys.add(client, "!mallory:x", bogus(number, "@mallory:x"))
    await keys.add(client, "!anna:x", bogus(1, "@anna:x"))
    await keys.add(client, "!anna:x", bogus(2, "@anna:x"))

    ready, notices = await keys.retry(client)
    assert ready == []
    assert sorted((n.room_id, n.sender) for n in notices) == [
        ("!anna:x", "@anna:x"),
        ("!mallory:x", "@mallory:x"),
    ]
    assert await _rows(app) == []
    assert await keys.retry(client) == ([], []), "told once"


async def test_a_message_beyond_the_bounds_is_owed_its_notice_after_the_rest(
    app: App, client: AsyncClient
) -> None:
    keys = _keys(app)
    await keys.load(DEVICE)
    for number in range(MAX_PER_SENDER + 1):
        await keys.add(client, "!mallory:x", bogus(number, "@mallory:x"))
    assert await keys.retry(client) == ([], []), "her room still waits: no notice yet"
    keys.patience = timedelta(0)
    _ready, notices = await keys.retry(client)
    assert [n.room_id for n in notices] == ["!mallory:x"]


async def test_what_waits_survives_a_restart_for_the_same_device_only(
    app: App, client: AsyncClient
) -> None:
    keys = _keys(app)
    await keys.load(DEVICE)
    for number in range(3):
        await keys.add(client, "!anna:x", bogus(number, "@anna:x"))
    again = _keys(app)
    await again.load(DEVICE)
    assert sorted(again.waiting) == sorted(keys.waiting) and again.in_room("!anna:x")
    other = _keys(app)
    await other.load("NEWDEVICE")
    assert other.waiting == {} and await _rows(app) == []


async def test_a_late_key_decrypts_the_message_and_a_wrong_one_is_not_read_again(
    app: App, client: AsyncClient
) -> None:
    anna = OlmAccount()
    outbound = OutboundGroupSession()
    outbound.mark_as_shared()
    session_key = outbound.session_key  # from the first message on
    room = "!anna:x"

    def encrypted(number: int, body: str, ciphertext: str | None = None) -> MegolmEvent:
        plain = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}
        event = MegolmEvent.from_dict(
            {
                "type": "m.room.encrypted",
                "sender": "@anna:x",
                "event_id": f"$anna-{number}",
                "origin_server_ts": 1_700_000_000_000 + number,
                "content": {
                    "algorithm": "m.megolm.v1.aes-sha2",
                    "sender_key": anna.identity_keys["curve25519"],
                    "session_id": outbound.id,
                    "device_id": "PHONE",
                    "ciphertext": ciphertext
                    or outbound.encrypt(json.dumps({**plain, "room_id": room})),
                },
            }
        )
        assert isinstance(event, MegolmEvent)
        return event

    keys = _keys(app)
    await keys.load(DEVICE)
    await keys.add(client, room, encrypted(1, "hallo"))
    await keys.add(client, room, encrypted(2, "kapot", ciphertext=_b64(300)))
    assert await keys.retry(client) == ([], [])

    # Anna's app shares the key (as a to-device message would bring it).
    client.olm.inbound_group_store.add(
        InboundGroupSession(
            session_key,
            anna.identity_keys["ed25519"],
            anna.identity_keys["curve25519"],
            room,
        )
    )
    reads: list[str] = []
    source = app.repos.undecrypted.source

    async def counted(event_id: str) -> str | None:
        reads.append(event_id)
        return await source(event_id)

    app.repos.undecrypted.source = counted  # type: ignore[method-assign]
    ready, notices = await keys.retry(client)
    assert [(r, e.body) for r, e in ready] == [(room, "hallo")]
    assert isinstance(ready[0][1], RoomMessageText) and notices == []
    assert sorted(reads) == ["$anna-1", "$anna-2"]
    assert await keys.retry(client) == ([], [])
    assert sorted(reads) == ["$anna-1", "$anna-2"], "the broken one is not read again"
    assert [row["sender"] for row in await _rows(app)] == ["@anna:x"]


def test_an_upgrade_moves_the_old_list_of_waits_into_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    found = migrations()
    (mine,) = [number for number, name, _ in found if name.endswith("_undecrypted_messages.sql")]
    waiting = [
        {
            "room_id": "!anna:x",
            "since": "2025-01-02T03:04:05Z",
            "source": json.loads(json.dumps(bogus(1, "@anna:x").source)),
        },
        {"room_id": "!broken:x", "since": "2025-01-02T03:04:05Z", "source": {"no": "event"}},
    ]
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        )
        for number, name, script in found:
            if number < mine:
                conn.executescript(script)
                conn.execute("INSERT INTO schema_version VALUES (?, ?, 'x')", (number, name))
        conn.executemany(
            "INSERT INTO platform_state VALUES ('matrix', ?, ?, 'x')",
            [("device_id", DEVICE), ("undecrypted", json.dumps(waiting))],
        )
    with sqlite3.connect(path) as conn:
        conn.executescript(found[mine - 1][2])
        rows = conn.execute(
            "SELECT event_id, device_id, room_id, sender, since FROM undecrypted_messages"
        ).fetchall()
        left = conn.execute("SELECT key FROM platform_state ORDER BY key").fetchall()
    assert rows == [("$bogus-@anna:x-1", DEVICE, "!anna:x", "@anna:x", "2025-01-02T03:04:05Z")]
    assert left == [("device_id",)]


async def test_the_bounds_hold_when_senders_are_served_at_once(
    app: App, client: AsyncClient
) -> None:
    keys = _keys(app)
    await keys.load(DEVICE)
    for sender in range(MAX_PER_ROOM // MAX_PER_SENDER):
        for number in range(MAX_PER_SENDER):
            await keys.add(client, "!group:x", bogus(number, f"@s{sender}:x", 100))
    room_left = MAX_PER_ROOM - len(keys.waiting)
    assert room_left > 0
    # The adapter serves different senders at once: each must see what the others keep.
    await asyncio.gather(
        *(keys.add(client, "!group:x", bogus(1, f"@late{n}:x", 100)) for n in range(room_left + 5))
    )
    assert len(await _rows(app)) == MAX_PER_ROOM == len(keys.waiting)
