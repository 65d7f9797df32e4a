"""The erasure ledger file: appends from several writers at once lose nothing, also while
old entries are dropped; an erasure stopped before its line was written writes it after a
restart."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import Settings
from storage.privacy.ledger import LedgerEntry, append_entry, drop_entries, read_ledger
from storage.privacy.personal import PersonalStore
from tests.people import person


def entry(n: int) -> LedgerEntry:
    return LedgerEntry(
        account=f"{n:064x}",
        at=f"2025-{1 + n % 12:02d}-01T00:00:00.000000Z",
        content="kept",
        key="0" * 16,
    )


def test_writers_at_once_lose_no_line_while_old_ones_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "samenspel.db.erased"
    per_writer, writers = 60, 4

    def write(first: int) -> None:
        for n in range(first, first + per_writer):
            append_entry(path, entry(n))

    def drop() -> None:
        for _ in range(30):
            drop_entries(path, lambda e: e.at < "2025-02-01")

    threads = [threading.Thread(target=write, args=(w * 1000,)) for w in range(writers)]
    threads.append(threading.Thread(target=drop))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drop_entries(path, lambda e: e.at < "2025-02-01")
    contents = read_ledger(path)
    assert contents.unreadable == 0
    expected = {
        entry(w * 1000 + i)
        for w in range(writers)
        for i in range(per_writer)
        if entry(w * 1000 + i).at >= "2025-02-01"
    }
    assert set(contents.entries) == expected
    assert len(contents.entries) == len(expected), "each line once"


async def test_an_erasure_stopped_before_its_line_was_written_writes_it_after_a_restart(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        with monkeypatch.context() as stopped:
            # The process ends right after the erasure's commit: its last steps never run.
            async def never(_: PersonalStore, __: int) -> None:
                return None

            stopped.setattr(PersonalStore, "scrub", never)
            await anna.send("/vergeetmij")
            await anna.press("Ja")
            await app.db.settled()
    finally:
        await app.close()
    path = Path(f"{settings.db}.erased")
    assert not read_ledger(path).exists

    app = await App.open(settings)
    try:
        await app.db.settled()
    finally:
        await app.close()
    [written] = read_ledger(path).entries
    [erased_at] = [row[0] for row in _erasures(settings)]
    assert written.at == erased_at


def _erasures(settings: Settings) -> list[tuple[str]]:
    with closing(sqlite3.connect(settings.db)) as conn:
        return list(conn.execute("SELECT erased_at FROM erasures"))
