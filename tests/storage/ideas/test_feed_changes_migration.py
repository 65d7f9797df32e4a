"""When the words a feed entry shows last changed (an idea's title, a status change's reason):
kept by the writers, by the database for any other writer, and recovered where it can be for
a database written before it was kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from storage.db import Database

SENT = "2025-01-01T00:00:00.000000Z"
EDITED = "2025-01-02T00:00:00.000000Z"


async def _idea(db: Database, title: str, status: str, updated_at: str) -> int:
    idea = int(
        await db.execute(
            "INSERT INTO ideas (category, title, description, status, created_at, updated_at)"
            " VALUES ('wonen', ?, 'uitleg', ?, ?, ?)",
            (title, status, SENT, updated_at),
        )
    )
    await db.execute(
        "INSERT INTO idea_status_history (idea_id, status, reason, at) VALUES (?, ?, ?, ?)",
        (idea, status, "Gesproken met Annabel", SENT),
    )
    return idea


async def test_an_idea_still_new_that_changed_after_its_status_counts_as_edited_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_feed_entry_changes.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        async with db.transaction():
            edited = await _idea(db, "Bel 06-12345678", "ingediend", EDITED)
            untouched = await _idea(db, "Meer bankjes", "ingediend", SENT)
            decided = await _idea(db, "Een speeltuin", "in_behandeling", SENT)
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        rows = await db.fetchall("SELECT id, title_changed_at FROM ideas ORDER BY id")
        assert [tuple(r) for r in rows] == [(edited, EDITED), (untouched, None), (decided, None)]
        assert await db.fetchval("SELECT COUNT(*) FROM idea_status_history") == 3
        assert (
            await db.fetchval(
                "SELECT COUNT(*) FROM idea_status_history WHERE reason_changed_at IS NULL"
            )
            == 3
        )

        # Another writer changes a title or empties a reason: the database stamps it.
        async with db.transaction():
            await db.execute("UPDATE ideas SET title = 'Meer bankjes!' WHERE id = ?", (untouched,))
            await db.execute("UPDATE ideas SET supporters = 5 WHERE id = ?", (decided,))
            await db.execute(
                "UPDATE idea_status_history SET reason = NULL WHERE idea_id = ?", (decided,)
            )
        stamped = await db.fetchall(
            "SELECT i.id, i.title_changed_at IS NOT NULL, h.reason_changed_at IS NOT NULL"
            " FROM ideas i JOIN idea_status_history h ON h.idea_id = i.id ORDER BY i.id"
        )
        assert [tuple(r) for r in stamped] == [
            (edited, 1, 0),
            (untouched, 1, 0),
            (decided, 0, 1),
        ]
        # A writer that stamps the moment itself keeps its own.
        async with db.transaction():
            await db.execute(
                "UPDATE ideas SET title = 'Bel mij', title_changed_at = ? WHERE id = ?",
                ("2025-03-01T00:00:00.000000Z", edited),
            )
        assert (
            await db.fetchval("SELECT title_changed_at FROM ideas WHERE id = ?", (edited,))
            == "2025-03-01T00:00:00.000000Z"
        )
    finally:
        await db.close()
