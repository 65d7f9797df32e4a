"""A database as it was before one migration, for the tests that check what the migration
does to the rows of an installation that ran the one before."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from storage.db import Database

STAMP = "2025-01-01T00:00:00Z"
#: The real list of migrations, whatever a test put in its place.
_SHIPPED = dbmod.migrations


async def opened_before(path: Path, monkeypatch: pytest.MonkeyPatch, migration: str) -> Database:
    """The database at ``path`` made by every migration before the one whose file name ends
    with ``migration`` ("_room_remove.sql"); :func:`all_shipped` lets the next open run it."""
    shipped = _SHIPPED()
    [mine] = [number for number, name, _ in shipped if name.endswith(migration)]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    return await Database.open(path)


def all_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every migration again, for the next :meth:`Database.open`."""
    monkeypatch.setattr(dbmod, "migrations", _SHIPPED)


async def resident_and_room(db: Database) -> tuple[int, int]:
    """Anna, who agreed, and the room of an experiment linked to group -100 on the test
    platform, written as the rows were then: (her id, the room's id)."""
    async with db.transaction():
        anna = await db.execute(
            "INSERT INTO users (platform, platform_user_id, chat_id, consent_at,"
            " created_at, last_seen_at) VALUES ('test', 'anna', 'anna', ?, ?, ?)",
            (STAMP, STAMP, STAMP),
        )
        experiment = await db.execute(
            "INSERT INTO experiments (slug, created_at) VALUES ('speeltuin', ?)", (STAMP,)
        )
        room = await db.execute(
            "INSERT INTO experiment_rooms (experiment_id, platform, chat_id, linked_at)"
            " VALUES (?, 'test', '-100', ?)",
            (experiment, STAMP),
        )
    return anna, room
