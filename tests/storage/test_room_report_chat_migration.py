"""A reported message is known by its group as well as its number: the migration that says
so keeps every report, its reporters and its decisions, gives each the group its room is
linked to, and gives out no report number again."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.clock import utcnow
from storage.db import Database
from storage.experiments.rooms import Rooms
from tests.storage.migrating import STAMP, all_shipped, opened_before, resident_and_room


async def test_reports_from_before_keep_their_number_reporters_and_decisions_in_their_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.db"
    db = await opened_before(path, monkeypatch, "_room_report_chat.sql")
    try:
        anna, room = await resident_and_room(db)
        async with db.transaction():
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

    all_shipped(monkeypatch)
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
