"""Storage faults made with SQLite's own error paths, for tests of what residents then hear.

* :func:`disk_full`: ``PRAGMA max_page_count`` pinned to the file's current size, so a write
  that needs a new page fails with SQLITE_FULL, as it does when the disk is full;
* :func:`read_only_file`: the bot's connection reopened with ``mode=ro``, so the file is
  opened for reading only and every write fails with SQLITE_READONLY (file permissions would
  not do: the tests run as root, who may write any file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from bot.app import App


@contextmanager
def disk_full(app: App) -> Iterator[None]:
    """No new page can be added to the file until the block ends."""
    conn = app.db.conn
    before = conn.execute("PRAGMA max_page_count").fetchone()[0]
    conn.execute("PRAGMA max_page_count = 1")  # SQLite keeps it at the current size
    try:
        yield
    finally:
        conn.execute(f"PRAGMA max_page_count = {before}")


@contextmanager
def read_only_file(app: App) -> Iterator[None]:
    """The bot's connection opened for reading only until the block ends."""
    writable = app.db.conn
    reader = sqlite3.connect(f"file:{app.db.path}?mode=ro", uri=True, isolation_level=None)
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA busy_timeout = 0")
    app.db.conn = reader
    try:
        yield
    finally:
        app.db.conn = writable
        reader.close()
