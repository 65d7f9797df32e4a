"""The erasure ledger: who was erased, kept outside the database so a restore cannot undo it.

A backup holds everyone who was in the database when it was made. Copied back over the
database, it would bring back every resident who erased their data since, and the database
itself could not tell: it *is* the backup. So every erasure, once committed, is also written
as one line in a file beside the database (``samenspel.db.erased``), which a restore leaves
alone. A line names nobody:

    {"account": "<64 hex>", "at": "2025-03-01T09:30:00.123456Z", "content": "kept",
     "key": "<16 hex>"}

- ``account``: the keyed hash mutes and bans outlive an erasure by (HMAC-SHA256 of platform
  and id under the installation's key in ``sanction_key``); without the database nobody can
  tell whose it is.
- ``at``: the erasure's moment, as ``erasures.erased_at`` keeps it.
- ``content``: what happened to what they sent in, ``kept`` anonymously or ``deleted``.
- ``key``: which key made the hash (a hash of the key, not the key): a database restored from
  another installation has another key, and nobody in it can be matched.

Lines are only ever appended (under the kernel's lock on the file, then flushed to the disk);
the file is replaced only by an atomic rename, when retention drops lines older than the keep
period. A line a crash cut short is skipped.

Applying it again (:meth:`ErasureLedger.due`, at every start and retention run) is cheap when
nothing was restored: an erasure the database knows (an ``erasures`` row of that moment and
content) needs nothing. Only for the others are the accounts of all users hashed; which of
those were checked is noted in the database (``platform_state``), so the next start does not
hash them again, while a restore, which takes that note back too, does:

    ledger ──► entries under this key ──► not in erasures ──► checked already? ──► done
                                                               └── no ──► hash every user
                      rows made before an entry's moment ◄──────────────────┘
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.clock import iso, parse
from storage.community.moderation import Sanctions, account_hash
from storage.db import Database

log = logging.getLogger(__name__)

#: The ledger's name beside the database: ``samenspel.db`` keeps ``samenspel.db.erased``.
SUFFIX = ".erased"
#: How long an erasure stays in the ledger: longer than a backup made before it is kept
#: (``SAMENSPEL_ERASURE_LEDGER_KEEP_DAYS``).
DEFAULT_KEEP_DAYS = 180
#: Where the database notes which erasures it was checked against (see the module's text).
CHECKED = ("samenspel", "erasure_ledger_checked")
#: Users hashed per read while matching (their rows are read a slice at a time).
USERS_PER_READ = 5000
#: The erasure modes a line may name (``storage.privacy.personal.ContentChoice``).
MODES = frozenset({"kept", "deleted"})

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


def ledger_path(database: str | Path) -> Path | None:
    """Where the ledger of the database at ``database`` lives: beside the file itself,
    whatever path leads to it (as its lock does); None for a database in memory."""
    if str(database) == ":memory:":
        return None
    real = Path(database).resolve()
    return real.with_name(real.name + SUFFIX)


def key_id(key: bytes) -> str:
    """Which key a line was written under, without giving the key away."""
    return hmac.new(key, b"samenspel erasure ledger", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure: whose account (its keyed hash), when, and what happened to their content."""

    account: str
    at: str
    content: str
    key: str

    def line(self) -> bytes:
        fields = {"account": self.account, "at": self.at, "content": self.content, "key": self.key}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    def to_json(self) -> dict[str, str]:
        return {"account": self.account, "at": self.at, "content": self.content, "key": self.key}

    @classmethod
    def from_json(cls, value: Any) -> LedgerEntry | None:
        """The entry these fields describe; None when they are not one."""
        if not isinstance(value, dict):
            return None
        account, at, content, key = (value.get(k) for k in ("account", "at", "content", "key"))
        if not (isinstance(account, str) and _HEX64.match(account)):
            return None
        if not (isinstance(key, str) and _HEX16.match(key)) or content not in MODES:
            return None
        try:
            moment = parse(at) if isinstance(at, str) else None
        except ValueError:
            return None
        if moment is None or iso(moment) != at:
            return None
        return cls(account=account, at=at, content=str(content), key=key)


@dataclass(frozen=True)
class LedgerContents:
    """What the ledger file holds."""

    entries: tuple[LedgerEntry, ...] = ()
    #: Lines that are no entry: cut short by a crash while they were written.
    unreadable: int = 0
    #: Whether there is a file at all.
    exists: bool = False
    #: Why the file could not be read, if it could not.
    problem: str | None = None


def read_ledger(path: Path) -> LedgerContents:
    """Every entry in the file, in the order written; a missing file holds none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LedgerContents()
    except OSError as exc:
        return LedgerContents(exists=True, problem=f"{path}: {exc.strerror or exc}")
    entries, unreadable = _parse(data)
    return LedgerContents(entries=tuple(entries), unreadable=unreadable, exists=True)


def _parse(data: bytes) -> tuple[list[LedgerEntry], int]:
    lines = data.split(b"\n")
    # What follows the last newline was being written when the writer stopped (or is
    # being written now): not an entry yet.
    torn = 1 if lines[-1].strip() else 0
    entries, unreadable = [], torn
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            entry = LedgerEntry.from_json(json.loads(raw))
        except ValueError:
            entry = None
        if entry is None:
            unreadable += 1
        else:
            entries.append(entry)
    return entries, unreadable


def append_entry(path: Path, entry: LedgerEntry) -> None:
    """Add one line at the end and flush it to the disk before returning.

    A line a crash cut short is ended first, so the new one stays a line of its own.
    """
    with _locked(path, create=True) as fd:
        size = os.fstat(fd).st_size
        prefix = b""
        if size and os.pread(fd, 1, size - 1) != b"\n":
            prefix = b"\n"
        _write_all(fd, prefix + entry.line())
        os.fsync(fd)
    if size == 0:
        # A new file: its name in the folder must survive a power loss as well.
        _fsync_folder(path)


def drop_entries(path: Path, drop: Callable[[LedgerEntry], bool]) -> int:
    """Rewrite the file without the entries ``drop`` picks (and without lines that are no
    entry): a new file written beside it, flushed, then renamed over it in one step.
    Returns how many entries went; nothing is written when none does."""
    if not path.exists():
        return 0
    with _locked(path, create=False) as fd:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0)
        entries, unreadable = _parse(data)
        kept = [entry for entry in entries if not drop(entry)]
        dropped = len(entries) - len(kept)
        if not dropped and not unreadable:
            return 0
        partial = path.with_name(path.name + ".partial")
        out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(out, b"".join(entry.line() for entry in kept))
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(partial, path)
        _fsync_folder(path)
    return dropped


@contextlib.contextmanager
def _locked(path: Path, *, create: bool) -> Any:
    """The file open and locked against every other writer: the one now at ``path`` (a
    writer that waited while another renamed a new file over it tries again on that one)."""
    while True:
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            here = os.fstat(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                continue
            if (here.st_dev, here.st_ino) != (now.st_dev, now.st_ino):
                continue
            yield fd
            return
        finally:
            os.close(fd)  # closing releases the lock


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_folder(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Redo:
    """What applying the ledger again found."""

    #: Users to erase again, each with the erasure they were made before.
    people: list[tuple[int, LedgerEntry]] = field(default_factory=list)
    #: Entries written under another key than this database's (another installation's).
    foreign: int = 0
    #: Lines that are no entry (a crash cut them short).
    unreadable: int = 0
    #: Why the ledger could not be read, if it could not.
    problem: str | None = None
    #: What to note once ``people`` are erased (:meth:`ErasureLedger.checked`).
    checked: str | None = None


@dataclass(frozen=True)
class LastErasures:
    """When each account in the ledger was last erased (under this database's key): to tell
    a message someone sent before their erasure, which a chat platform may hand over again
    after a backup was restored (Matrix syncs again from the position the backup kept)."""

    key: bytes | None = None
    #: The keyed hash of each account, with the moment of its latest erasure.
    latest: dict[str, str] = field(default_factory=dict)

    def sent_before(self, platform: str, platform_user_id: str, sent_at: datetime) -> bool:
        """Whether this account was erased after ``sent_at``."""
        if self.key is None or not self.latest:
            return False
        erased_at = self.latest.get(account_hash(self.key, platform, platform_user_id))
        return erased_at is not None and iso(sent_at) < erased_at


class ErasureLedger:
    """The ledger of the database ``db``, and matching it against the users table."""

    def __init__(self, db: Database):
        self.db = db
        self.path = ledger_path(db.path)

    async def entry(
        self, platform: str, platform_user_id: str, content: str, now: datetime
    ) -> LedgerEntry:
        """The line for erasing this account now (in the erasure's transaction: the key is
        made here if the installation has none yet)."""
        key = await Sanctions(self.db).account_key(create=True)
        assert key is not None
        return LedgerEntry(
            account=account_hash(key, platform, platform_user_id),
            at=iso(now),
            content=content,
            key=key_id(key),
        )

    async def write(self, entry: LedgerEntry) -> bool:
        """Append the entry (after its erasure was committed); whether that worked. A
        ledger that cannot be written does not stop the erasure: it is logged loudly."""
        if self.path is None:
            return True
        try:
            await asyncio.to_thread(append_entry, self.path, entry)
        except OSError as exc:
            log.error(
                "the erasure ledger cannot be written; this erasure would not be redone"
                " after restoring a backup path=%s error=%s",
                self.path,
                exc.strerror or exc,
            )
            return False
        return True

    async def read(self) -> LedgerContents:
        if self.path is None:
            return LedgerContents()
        return await asyncio.to_thread(read_ledger, self.path)

    async def last_erasures(self) -> LastErasures:
        """The latest erasure of each account in the ledger (nothing when it cannot be
        read: :meth:`due` says so in the log)."""
        key = await Sanctions(self.db).account_key(create=False)
        if key is None:
            return LastErasures()
        mine = key_id(key)
        latest: dict[str, str] = {}
        for entry in (await self.read()).entries:
            if entry.key == mine and entry.at > latest.get(entry.account, ""):
                latest[entry.account] = entry.at
        return LastErasures(key=key, latest=latest)

    async def due(self) -> Redo:
        """The users to erase again: a user row whose account is in the ledger and that was
        made before that erasure (a person who came back later has a newer row)."""
        contents = await self.read()
        key = await Sanctions(self.db).account_key(create=False)
        mine = key_id(key) if key is not None else None
        ours = {entry for entry in contents.entries if entry.key == mine}
        foreign = sum(1 for entry in contents.entries if entry.key != mine)
        found = Redo(foreign=foreign, unreadable=contents.unreadable, problem=contents.problem)
        unknown = await self._unknown(ours)
        if key is None or not unknown:
            return found
        lines = sorted(entry.line() for entry in unknown)
        checked = hashlib.sha256(b"".join(lines)).hexdigest()
        if (
            await self.db.fetchval(
                "SELECT value FROM platform_state WHERE platform = ? AND key = ?", CHECKED
            )
            == checked
        ):
            return found
        people = await self._matching(key, unknown)
        return Redo(
            people=people,
            foreign=foreign,
            unreadable=contents.unreadable,
            problem=contents.problem,
            checked=checked,
        )

    async def _unknown(self, entries: set[LedgerEntry]) -> list[LedgerEntry]:
        """The entries the database has no erasure for (at that moment, with that content):
        it was restored from before them. Where it has fewer than the ledger for one moment
        (retention erases many at once), all of that moment's count as unknown."""
        if not entries:
            return []
        earliest = min(entry.at for entry in entries)
        rows = await self.db.fetchall(
            "SELECT erased_at, content, COUNT(*) FROM erasures WHERE erased_at >= ?"
            " GROUP BY erased_at, content",
            (earliest,),
            long=True,
        )
        known = {(row[0], row[1]): int(row[2]) for row in rows}
        wanted = Counter((entry.at, entry.content) for entry in entries)
        return sorted(
            (e for e in entries if wanted[(e.at, e.content)] > known.get((e.at, e.content), 0)),
            key=lambda e: (e.at, e.account),
        )

    async def _matching(
        self, key: bytes, entries: list[LedgerEntry]
    ) -> list[tuple[int, LedgerEntry]]:
        by_account: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            by_account[entry.account].append(entry)
        latest = max(entry.at for entry in entries)
        people: list[tuple[int, LedgerEntry]] = []
        after = 0
        while True:
            rows = await self.db.fetchall(
                "SELECT id, platform, platform_user_id, created_at FROM users"
                " WHERE id > ? AND created_at < ? ORDER BY id LIMIT ?",
                (after, latest, USERS_PER_READ),
                long=True,
            )
            if not rows:
                return people
            users = [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
            people += await asyncio.to_thread(_match, key, users, by_account)
            after = users[-1][0]

    async def still_due(self, user_id: int, entry: LedgerEntry) -> bool:
        """Whether this user row is still there and older than the erasure (checked again
        in the transaction that erases it)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM users WHERE id = ? AND created_at < ?", (user_id, entry.at)
        )
        return found is not None

    async def checked(self, value: str, now: datetime) -> None:
        """Note that the database was matched against these erasures (see :meth:`due`)."""
        await self.db.execute(
            "INSERT INTO platform_state (platform, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (*CHECKED, value, iso(now)),
        )

    async def drop_before(self, before: datetime) -> int:
        """Drop the entries of erasures before then (with lines a crash cut short)."""
        if self.path is None:
            return 0
        moment = iso(before)
        return await asyncio.to_thread(drop_entries, self.path, lambda e: e.at < moment)


def _match(
    key: bytes,
    users: list[tuple[int, str, str, str]],
    by_account: dict[str, list[LedgerEntry]],
) -> list[tuple[int, LedgerEntry]]:
    """Of these users, those erased after their row was made, each with the erasure that
    took that row (the first one after it: its mode is what the person chose for it)."""
    found = []
    for user_id, platform, platform_user_id, created_at in users:
        erasures = by_account.get(account_hash(key, platform, platform_user_id))
        if not erasures:
            continue
        later = [entry for entry in erasures if entry.at > created_at]
        if later:
            found.append((user_id, min(later, key=lambda entry: entry.at)))
    return found
