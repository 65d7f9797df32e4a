"""Consistent copies of the database while the bot runs (SQLite's online backup).

The erasure ledger beside the database (``samenspel.db.erased``) is not part of a backup on
purpose: it is what restoring one must not take back (see :mod:`storage.privacy.ledger`).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from storage.privacy.ledger import SUFFIX as LEDGER


class BackupError(Exception):
    """The backup could not be written or did not verify."""


@dataclass(frozen=True)
class BackupReport:
    """What was written."""

    path: Path
    pages: int
    schema_version: int


def backup(source: Path, target: Path) -> BackupReport:
    """Copy ``source`` to ``target`` page by page, then check the copy's integrity.

    The online backup API copies a consistent snapshot even while another process writes
    (WAL mode), so the bot does not have to stop. ``target`` is replaced atomically, and
    the copy and its name are flushed to the disk before it is reported written.

    The file is copied in one step, under one read transaction: the bot's writes go on
    meanwhile (into the write-ahead log) and the copy is the moment the step began. Copied
    in parts instead, every write of the bot between two parts would start the copy over,
    and a bot that writes every few hundred milliseconds (a broadcast) would never let it
    finish.
    """
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.is_dir():
        raise BackupError(
            f"{target} is a folder; give the file to write, such as {target / source.name}"
        )
    if target.exists() and target.samefile(source):
        # Replacing the file the bot has open would lose what it writes from then on.
        raise BackupError(f"{target} is the database itself; give another file")
    if _belongs_to(target, source):
        # Its write-ahead log, shared memory, lock or erasure ledger: replacing one breaks
        # the database, or forgets who was erased.
        raise BackupError(f"{target} is one of the database's own files; give another file")
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        # Everything stored about everyone: readable by its owner only, as a person's
        # export is (SQLite gives its journal the same rights as the file).
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc}") from exc
    try:
        # closing(): a connection's own ``with`` only ends its transaction, and one left
        # open on the database keeps SQLite's view of its shared memory in this process.
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            src.execute("PRAGMA busy_timeout = 10000")
            dst = sqlite3.connect(partial)
            try:
                if src.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
                    # An empty file (the doctor passes it as a new database): nothing yet.
                    raise BackupError(
                        f"{source} is empty: a new database, set up when the bot first"
                        " starts; nothing to back up yet"
                    )
                src.backup(dst, pages=-1)
                dst.execute("PRAGMA journal_mode = DELETE")
                result = dst.execute("PRAGMA integrity_check").fetchone()[0]
                pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
                version = dst.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            finally:
                dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} to {target} failed: {exc}") from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    if result != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy did not verify: {result}")
    try:
        _fsync(partial)
        partial.replace(target)
        # The rename on the disk too: a power cut after "backup written" must not bring
        # back the folder without it (or with the previous copy under that name).
        _fsync(target.parent, folder=True)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {target}: {exc}") from exc
    return BackupReport(target, pages, int(version or 0))


def _fsync(path: Path, *, folder: bool = False) -> None:
    """Flush a file's contents, or a folder's entries, to the disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if folder else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def database_file(target: Path, database: Path) -> bool:
    """Whether writing ``target`` would overwrite the database or one of its own files
    (however the path is written, through links too): what no command may write to."""
    try:
        if target.exists() and database.exists() and target.samefile(database):
            return True
    except OSError:
        pass
    return target.resolve() == database.resolve() or _belongs_to(target, database)


def _belongs_to(target: Path, source: Path) -> bool:
    """Whether ``target`` is one of the files SQLite and the bot keep beside the database
    (``-wal``, ``-shm``, ``-journal``, ``.lock``, the erasure ledger ``.erased``), however
    the paths are written."""
    database = source.resolve()
    place = target.resolve()
    ends = ("-wal", "-shm", "-journal", ".lock", LEDGER, LEDGER + ".partial")
    own = {database.with_name(database.name + end) for end in ends}
    return place in own
