"""The passphrase the bot's encryption store is pickled under: this installation's own.

nio keeps the bot's identity key, its Olm sessions and the room keys residents shared in an
SQLite store, each pickled (encrypted) under a passphrase. nio's default passphrase is
written in its source, so under it anyone with a copy of the store (or of a log that shows
its SQL) holds the bot's keys. The passphrase here is random, made once and kept in the
database (``platform_state``), beside the device id and access token it belongs with.

A store pickled under nio's default (made before the bot had its own passphrase) is pickled
again under the new one at start-up, in one transaction per store file, so a crash midway
leaves it as it was. A store that opens under neither (say, a database restored from an
older backup than the store) cannot be used: it is moved aside, and the bot logs in on a new
device as when the store is lost.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from nio.crypto import OlmAccount
from nio.store import MatrixStore

from storage import Database, PlatformState
from storage.clock import utcnow

log = logging.getLogger(__name__)

PLATFORM = "matrix"
STATE_KEY = "pickle_key"
#: The passphrase nio uses when none is given (``AsyncClientConfig.pickle_key``).
NIO_DEFAULT_PICKLE_KEY = "DEFAULT_KEY"


async def pickle_key(db: Database, state: PlatformState, store: Path) -> str:
    """This installation's passphrase, with every store in ``store`` pickled under it."""
    async with db.transaction():
        key = await state.kept_secret(PLATFORM, STATE_KEY, utcnow())
    await asyncio.to_thread(_repickle_all, store, key)
    return key


def _repickle_all(store: Path, key: str) -> None:
    for path in sorted(store.glob("*.db")):
        try:
            _repickle(path, key)
        except Exception:
            log.exception("matrix encryption store %s could not be checked", path.name)


def _owner(path: Path) -> tuple[str, str] | None:
    """The (user, device) whose account a store file holds, or None when it holds none."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT user_id, device_id, account FROM accounts").fetchone()
        except sqlite3.DatabaseError:
            return None  # not (yet) a store with an account
    return None if row is None else (str(row[0]), str(row[1]))


def _opens(path: Path, key: str) -> bool:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT account, shared FROM accounts").fetchone()
    try:
        OlmAccount.from_pickle(bytes(row[0]), key, bool(row[1]))
    except ValueError:  # vodozemac's pickle errors: a wrong passphrase
        return False
    return True


def _repickle(path: Path, key: str) -> None:
    owner = _owner(path)
    if owner is None or _opens(path, key):
        return
    if not _opens(path, NIO_DEFAULT_PICKLE_KEY):
        aside = path.with_name(f"{path.name}.unreadable")
        path.replace(aside)
        log.warning(
            "matrix encryption store %s opens under no known passphrase; moved to %s",
            path.name,
            aside.name,
        )
        return
    user_id, device_id = owner
    old = MatrixStore(
        user_id,
        device_id,
        str(path.parent),
        pickle_key=NIO_DEFAULT_PICKLE_KEY,
        database_name=path.name,
    )
    try:
        account = old.load_account()
        sessions = old.load_sessions()
        room_keys = old.load_inbound_group_sessions()
        old.pickle_key = key
        with old.database.atomic():
            old.save_account(account)
            for sender_key, kept in sessions.items():
                for session in kept:
                    old.save_session(sender_key, session)
            for room_key in room_keys:
                old.save_inbound_group_session(room_key)
    finally:
        old.database.close()
    log.info("matrix encryption store pickled under this installation's own passphrase")
