"""What the feed needs to blank the entries of an idea taken out of view: kept by the
database for every writer, outliving the idea's deletion, and recovered for ideas already
out of view when the database was written before it was kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from storage.db import Database

SENT = "2025-01-01T00:00:00.000000Z"
HIDDEN = "2025-01-02T00:00:00.000000Z"
AGAIN = "2025-01-03T00:00:00.000000Z"


async def _idea(db: Database, removed_at: str | None) -> tuple[int, int]:
    idea = int(
        await db.execute(
            "INSERT INTO ideas (category, title, description, created_at, updated_at,"
            " removed_at) VALUES ('wonen', 'Bel 06-12345678', 'uitleg', ?, ?, ?)",
            (SENT, SENT, removed_at),
        )
    )
    change = int(
        await db.execute(
            "INSERT INTO idea_status_history (idea_id, status, at) VALUES (?, 'ingediend', ?)",
            (idea, SENT),
        )
    )
    return idea, change


async def _removals(db: Database) -> list[tuple[object, ...]]:
    rows = await db.fetchall(
        "SELECT entry, idea, published_at, removed_at FROM feed_removals ORDER BY entry"
    )
    return [tuple(row) for row in rows]


async def test_ideas_out_of_view_before_the_migration_get_their_entries_blanked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_feed_removed_entries.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        async with db.transaction():
            hidden, hidden_change = await _idea(db, HIDDEN)
            await _idea(db, None)
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        assert await _removals(db) == [(hidden_change, hidden, SENT, HIDDEN)]
    finally:
        await db.close()


async def test_any_writer_taking_an_idea_away_or_back_is_recorded_and_deletion_keeps_it(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "s.db")
    try:
        async with db.transaction():
            idea, change = await _idea(db, None)
            await db.execute("UPDATE ideas SET removed_at = ? WHERE id = ?", (HIDDEN, idea))
        assert await _removals(db) == [(change, idea, SENT, HIDDEN)]

        # Hidden again by someone else (reports, then the connector): the same moment.
        async with db.transaction():
            await db.execute(
                "UPDATE ideas SET removed_at = COALESCE(removed_at, ?), removal = 'hidden'"
                " WHERE id = ?",
                (AGAIN, idea),
            )
        assert await _removals(db) == [(change, idea, SENT, HIDDEN)]

        # Shown again without saying when: the database stamps it.
        async with db.transaction():
            await db.execute("UPDATE ideas SET removed_at = NULL WHERE id = ?", (idea,))
        assert await _removals(db) == []
        assert await db.fetchval("SELECT restored_at IS NOT NULL FROM ideas WHERE id = ?", (idea,))

        # Deleted, taken away first or not: the blanked entries outlive the idea.
        async with db.transaction():
            await db.execute("UPDATE ideas SET removed_at = ? WHERE id = ?", (AGAIN, idea))
            other, other_change = await _idea(db, None)
        async with db.transaction():
            await db.execute("DELETE FROM ideas")
        assert await db.fetchval("SELECT COUNT(*) FROM idea_status_history") == 0
        kept = await _removals(db)
        assert kept[0] == (change, idea, SENT, AGAIN)
        assert kept[1][:3] == (other_change, other, SENT) and kept[1][3] is not None
    finally:
        await db.close()
