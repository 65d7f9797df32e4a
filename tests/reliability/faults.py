"""Storage faults made with SQLite's own error paths, for tests of what residents then hear.

* :func:`disk_full`: ``PRAGMA max_page_count`` pinned to the file's current size, so a write
  that needs a new page fails with SQLITE_FULL, as it does when the disk is full;
* :func:`read_only_file`: the bot's connection reopened with ``mode=ro``, so the file is
  opened for reading only and every write fails with SQLITE_READONLY (file permissions would
  not do: the tests run as root, who may write any file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.app import App
from storage.db import connect


@asynccontextmanager
async def disk_full(app: App) -> AsyncIterator[None]:
    """No new page can be added to the file until the block ends."""
    before = await app.db.fetchval("PRAGMA max_page_count")
    await app.db.execute("PRAGMA max_page_count = 1")  # SQLite keeps the current size
    try:
        yield
    finally:
        await app.db.execute(f"PRAGMA max_page_count = {before}")


@asynccontextmanager
async def read_only_file(app: App) -> AsyncIterator[None]:
    """The bot's connection opened for reading only until the block ends."""
    writable = app.db.conn, app.db.worker
    reader, worker = await connect(f"file:{app.db.path}?mode=ro", uri=True)
    reader.execute("PRAGMA busy_timeout = 0")
    app.db.conn, app.db.worker = reader, worker
    try:
        yield
    finally:
        app.db.conn, app.db.worker = writable
        await worker.close()
