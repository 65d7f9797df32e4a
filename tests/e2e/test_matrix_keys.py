"""The bot's Matrix keys: never in the logs, pickled under a key of its own.

nio keeps the bot's identity and room keys in an SQLite store, pickled (encrypted) under a
passphrase; the store is written through peewee, which logs every statement with its
parameters at DEBUG. Both must hold for the keys to stay the bot's own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from nio.crypto import OlmAccount
from nio.store import MatrixStore

from bot.logs import OWN_LOGGERS, QUIET_LIBRARIES, TEXT_FORMAT, setup_logging
from bot.platforms._matrix_keys import MAX_PER_SENDER
from bot.platforms._matrix_store import NIO_DEFAULT_PICKLE_KEY
from storage import Database, PlatformState
from storage.clock import utcnow
from tests.e2e.matrix_support import (
    PASSWORD,
    WAIT_SECONDS,
    MatrixBot,
    Residents,
    bot_settings,
    containing,
)
from tests.e2e.synapse import SynapseServer
from tests.waiting import until

pytestmark = pytest.mark.e2e


class Collected(logging.Handler):
    """Every log record, formatted as the operator's log shows it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.loggers: set[str] = set()
        self.text = logging.Formatter(TEXT_FORMAT)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.text.format(record))
        self.loggers.add(record.name)


@pytest.fixture
def debug_logs() -> Iterator[Collected]:
    """The bot's logging set up at DEBUG (as an operator might, to find a fault)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    names = [*QUIET_LIBRARIES, *OWN_LOGGERS, "peewee"]
    levels = {name: logging.getLogger(name).level for name in names}
    setup_logging("DEBUG", "text")
    collected = Collected()
    root.addHandler(collected)
    try:
        yield collected
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _pickles(store: Path) -> list[str]:
    """Every pickled key in the bot's encryption store (identity, sessions, room keys)."""
    found: list[str] = []
    for path in store.glob("*.db"):
        with sqlite3.connect(path) as conn:
            for table, column in (
                ("accounts", "account"),
                ("olmsessions", "session"),
                ("megolminboundsessions", "session"),
            ):
                found += [
                    bytes(row[0]).decode() for row in conn.execute(f"SELECT {column} FROM {table}")
                ]
    return found


async def test_debug_logs_hold_no_key_and_the_store_is_pickled_under_its_own_key(
    matrix_bot: MatrixBot, residents: Residents, debug_logs: Collected
) -> None:
    # Restarted under DEBUG logging: the store is loaded (and written) with logging on.
    await matrix_bot.stop()
    await matrix_bot.start()
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    await anna.wait_for_reply(containing("Welkom bij Samenspel"))
    await anna.send("/help")
    await anna.wait_for_reply(containing("Met Samenspel praat je mee"))
    state = await matrix_bot.running.repos.platform_state.get_all("matrix")
    await matrix_bot.stop()

    pickles = _pickles(matrix_bot.settings.matrix_store_path)
    assert len(pickles) >= 3, "identity, an Olm session and Anna's room key were stored"
    everything = "\n".join(debug_logs.lines)
    assert "matrix logged in" in everything
    assert logging.getLogger("bot").getEffectiveLevel() == logging.DEBUG
    for secret in (*pickles, state["access_token"], PASSWORD):
        assert secret[:24] not in everything, f"a secret in the log: {secret[:12]}..."

    # The identity key opens with the installation's own passphrase, not nio's public one.
    account = pickles[0]
    key = state["pickle_key"]
    assert len(key) >= 43 and key != NIO_DEFAULT_PICKLE_KEY
    assert OlmAccount.from_pickle(account.encode(), key).identity_keys
    with pytest.raises(ValueError, match="couldn't be decrypted"):
        OlmAccount.from_pickle(account.encode(), NIO_DEFAULT_PICKLE_KEY)


def _pickle_under(store: Path, old: str, new: str) -> None:
    """Pickle a store's keys again, as the bot did before it had its own passphrase."""
    (path,) = store.glob("*.db")
    with sqlite3.connect(path) as conn:
        user_id, device_id = conn.execute("SELECT user_id, device_id FROM accounts").fetchone()
    keys = MatrixStore(user_id, device_id, str(store), pickle_key=old, database_name=path.name)
    account = keys.load_account()
    sessions = keys.load_sessions()
    room_keys = keys.load_inbound_group_sessions()
    keys.pickle_key = new
    keys.save_account(account)
    for sender_key, kept in sessions.items():
        for session in kept:
            keys.save_session(sender_key, session)
    for room_key in room_keys:
        keys.save_inbound_group_session(room_key)
    keys.database.close()


async def test_a_store_from_before_under_nios_public_passphrase_is_pickled_anew_on_the_same_device(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    await anna.wait_for_reply(containing("Welkom bij Samenspel"))
    device = matrix_bot.device_id
    state = matrix_bot.running.repos.platform_state
    key = await state.get("matrix", "pickle_key")
    assert key is not None
    await matrix_bot.stop()
    # As an installation upgraded from a version without a passphrase of its own has it.
    store = matrix_bot.settings.matrix_store_path
    _pickle_under(store, key, NIO_DEFAULT_PICKLE_KEY)
    db = await Database.open(matrix_bot.settings.db)
    async with db.transaction():
        await PlatformState(db).delete("matrix", "pickle_key")
    await db.close()

    await matrix_bot.start()
    assert matrix_bot.device_id == device, "the same device, so residents' apps still trust it"
    new_key = await matrix_bot.running.repos.platform_state.get("matrix", "pickle_key")
    assert new_key is not None and new_key != key
    account = _pickles(store)[0]
    assert OlmAccount.from_pickle(account.encode(), new_key).identity_keys
    await anna.send("/help")
    answer = await anna.wait_for_reply(containing("Met Samenspel praat je mee"))
    assert answer.decrypted


async def test_a_store_under_an_unknown_passphrase_is_set_aside_for_a_new_device(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    await anna.wait_for_reply(containing("Welkom bij Samenspel"))
    old_device = matrix_bot.device_id
    await matrix_bot.stop()
    # A database restored from a backup older than the store: its passphrase is another.
    db = await Database.open(matrix_bot.settings.db)
    async with db.transaction():
        await PlatformState(db).set("matrix", "pickle_key", "f" * 64, utcnow())
    await db.close()

    await matrix_bot.start()
    assert matrix_bot.device_id != old_device
    store = matrix_bot.settings.matrix_store_path
    assert [p.name for p in store.glob("*.unreadable")] == [
        f"{matrix_bot.user_id}_{old_device}.db.unreadable"
    ]
    await anna.sync_until(
        lambda: (
            matrix_bot.device_id
            in {d.id for d in anna.client.device_store.active_user_devices(matrix_bot.user_id)}
        ),
        "the bot's new device",
    )
    await anna.send("/help")
    answer = await anna.wait_for_reply(containing("Met Samenspel praat je mee"))
    assert answer.decrypted


#: A ciphertext nobody can decrypt, easy to find wherever it is written.
FLOOD_CIPHERTEXT = "Rmxvb2RGbG9vZEZsb29k" * 100


async def test_a_flood_of_undecryptable_messages_is_bounded_and_asked_about_once(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot = MatrixBot(settings, poll_ms=300, key_patience=timedelta(hours=1))
    await bot.start()
    mallory = await residents("mallory")
    try:
        await mallory.open_chat(bot.user_id, encrypted=True)
        await mallory.wait_for_reply(containing("Welkom bij Samenspel"))
        db = bot.running.db
        written: list[str] = []
        db.conn.set_trace_callback(
            lambda sql: written.append(sql) if FLOOD_CIPHERTEXT[:40] in sql else None
        )
        for number in range(MAX_PER_SENDER + 25):
            content = {
                "algorithm": "m.megolm.v1.aes-sha2",
                "sender_key": f"bogus-sender-key-{number:03d}-AAAAAAAAAAAAAAAAAAAAAAAAA",
                "session_id": f"bogus-session-{number:03d}-AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "device_id": "MALLORYPHONE",
                "ciphertext": FLOOD_CIPHERTEXT,
            }
            path = (
                f"/_matrix/client/v3/rooms/{quote(mallory.room_id)}"
                f"/send/m.room.encrypted/flood-{number}"
            )
            await asyncio.to_thread(
                synapse.request_json,
                "PUT",
                path,
                content,
                access_token=mallory.client.access_token,
            )
        mallory.last_sent = None

        async def kept() -> int:
            return int(await db.fetchval("SELECT COUNT(*) FROM undecrypted_messages"))

        await _until(kept, MAX_PER_SENDER)
        for _ in range(3):  # three more syncs, each with something to answer
            await mallory.send("/help")
            await mallory.wait_for_reply(containing("Met Samenspel praat je mee"))
        # Each kept message was written once, when it arrived; the syncs after that stored
        # their token without them.
        assert len(written) == MAX_PER_SENDER
        assert await kept() == MAX_PER_SENDER
        db.conn.set_trace_callback(None)
        await bot.stop()

        # Later (a restart after the patience ran out): all of them are given up at once.
        bot = MatrixBot(settings, poll_ms=300, key_patience=timedelta(0))
        await bot.start()
        await _until(lambda: kept_in(bot), 0)
        await mallory.wait_for_reply(containing("Ik kon een bericht van je niet lezen"))
        await mallory.send("/help")
        await mallory.wait_for_reply(containing("Met Samenspel praat je mee"))
        asked = [m for m in mallory.replies() if "Ik kon een bericht van je niet lezen" in m.body]
        assert len(asked) == 1, "her room is asked once, not once per message"
    finally:
        await bot.stop()


async def kept_in(bot: MatrixBot) -> int:
    return int(await bot.running.db.fetchval("SELECT COUNT(*) FROM undecrypted_messages"))


async def _until(count: Callable[[], Awaitable[int]], wanted: int) -> None:
    async def reached() -> bool:
        return await count() == wanted

    await until(reached, WAIT_SECONDS, what=f"{wanted} kept")
