"""A reported message is known by its group as well as its number: the migration that says
so keeps every report, its reporters and its decisions, gives each the group its room is
linked to, and gives out no report number again."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from storage.clock import utcnow
from storage.db import Database
from storage.experiments.rooms import Rooms

STAMP = "2025-01-01T00:00:00Z"


async def test_reports_from_before_keep_their_number_reporters_and_decisions_in_their_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_room_report_chat.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
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
            for message in ("55", "56", "57"):
                report = await db.execute(
                    "INSERT INTO room_reports (room_id, message_id, author_platform_id, body,"
                    " created_at) VALUES (?, ?, 'bob', 'Sukkels', ?)",
                    (room, message, STAMP),
                )
                await db.execute(
                    "INSERT INTO room_reporters (report_id, reporter_user_id, reported_at)"
                    " VALUES (?, ?, ?)",
                    (report, anna, STAMP),
                )
            await db.execute(
                "INSERT INTO room_sanctions (room_id, report_id, kind, reason, created_at,"
                " target) VALUES (?, 2, 'ban', 'Schelden.', ?, 'bob')",
                (room, STAMP),
            )
            # The newest report went (kept no longer): its number is not given out again.
            await db.execute("DELETE FROM room_reports WHERE id = 3")
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        rooms = Rooms(db)
        first = await rooms.get_report(1)
        assert first is not None
        assert (first.chat_id, first.message_id, first.reporters) == ("-100", "55", [anna])
        assert not first.elsewhere
        assert await db.fetchval("SELECT report_id FROM room_sanctions") == 2
        async with db.transaction():
            fresh, new = await rooms.report(
                room,
                message_id="58",
                author_platform_id="bob",
                author_user_id=None,
                body="Nog eens",
                link=None,
                reporter_user_id=anna,
                now=utcnow(),
            )
            assert new and fresh == 4  # not the number of the report that went
            again, new = await rooms.report(
                room,
                message_id="55",
                author_platform_id="bob",
                author_user_id=None,
                body="Sukkels!",
                link=None,
                reporter_user_id=anna,
                now=utcnow(),
            )
            assert (again, new) == (1, False)
        assert await db.fetchval("PRAGMA foreign_key_check") is None
    finally:
        await db.close()
