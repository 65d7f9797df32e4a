"""A status change's number (published as its id, and in its feed entry's id) is never given
out twice, also on a database written before the numbers were kept: its rows, indices,
links and the open-data count come through the migration."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from storage.db import Database

STAMP = "2025-01-01T00:00:00Z"
#: The columns a status change had before the migration (later ones add more).
COLUMNS = "id, idea_id, status, reason, theme, department, merged_into, by_user_id, at"


async def _idea(db: Database, title: str) -> int:
    return int(
        await db.execute(
            "INSERT INTO ideas (category, title, description, created_at, updated_at)"
            " VALUES ('wonen', ?, 'uitleg', ?, ?)",
            (title, STAMP, STAMP),
        )
    )


async def _change(db: Database, idea: int, reason: str) -> int:
    return int(
        await db.execute(
            "INSERT INTO idea_status_history (idea_id, status, reason, merged_into, at)"
            " VALUES (?, 'in_behandeling', ?, ?, ?)",
            (idea, reason, idea, STAMP),
        )
    )


async def test_the_migration_keeps_every_change_and_never_hands_out_a_number_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_open_data_refresh.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        async with db.transaction():
            kept, gone = await _idea(db, "blijft"), await _idea(db, "gaat")
            first = await _change(db, kept, "eerste")
            last = await _change(db, gone, "laatste")
        before = [
            tuple(r) for r in await db.fetchall(f"SELECT {COLUMNS} FROM idea_status_history")
        ]
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        after = [tuple(r) for r in await db.fetchall(f"SELECT {COLUMNS} FROM idea_status_history")]
        assert after == before
        indices = await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND name NOT LIKE 'sqlite_%'",
            ("idea_status_history",),
        )
        assert sorted(r[0] for r in indices) == [
            "idea_status_history_by",
            "idea_status_history_idea",
            "idea_status_history_merged",
        ]
        assert await db.fetchval("PRAGMA foreign_key_check") is None
        # Deleting the idea of the newest change takes the change with it (the links held);
        # the next change still gets a new number.
        async with db.transaction():
            await db.execute("DELETE FROM ideas WHERE id = ?", (gone,))
        assert (
            await db.fetchval("SELECT COUNT(*) FROM idea_status_history WHERE id = ?", (last,))
            == 0
        )
        async with db.transaction():
            number = await _change(db, kept, "na het wissen")
        assert number > last > first
        # Content left view: the published folder is due again.
        assert await db.fetchval("SELECT changes > published FROM open_data_state") == 1
    finally:
        await db.close()
