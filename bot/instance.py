"""One running bot per database file.

Two bots on one file would each send whatever the outbox holds (every broadcast and notice
twice) and, on Telegram, take each other's updates; nothing in the database says another
process is sending. So ``samenspel run`` holds an exclusive lock on ``<db>.lock`` beside the
file for as long as it runs, and a second one refuses to start. The operator's tools (a
backup, a grant, the doctor) take no lock: they are made to run beside the bot.

The lock is the kernel's (``flock``), not a process id written to a file: it is released
when the process ends however it ends, so a killed bot never keeps the next one out. The
file stays behind, empty; removing it while a bot runs would let a second one in.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DatabaseInUse(Exception):
    """Another bot runs on this database, or its lock cannot be taken; one line."""


def lock_path(db: Path) -> Path:
    """Where the lock of the database at ``db`` lives: beside the file itself, whatever
    path (a link, ``..``) leads to it, so two bots reaching it by two names still meet."""
    real = db.resolve()
    return real.with_name(real.name + ".lock")


@contextmanager
def only_bot_on(db: Path) -> Iterator[None]:
    """Hold the database's lock while the block runs; raise :class:`DatabaseInUse` when
    another process holds it."""
    if str(db) == ":memory:":
        yield
        return
    path = lock_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseInUse(f"cannot write beside {db}: {exc}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"another samenspel runs on {db}; stop it first (or give this one a database"
                " of its own)"
            ) from None
        yield
    finally:
        os.close(handle)  # closing releases the lock
