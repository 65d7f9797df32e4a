"""A reporter hears once a report that their /melden was left in the room: the migration
that notes it keeps the tasks and reporters from before (a waiting hide of a /melden names
no report, so its reporter is told as before), and a hide queued after it names its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.clock import utcnow
from storage.db import Database
from storage.experiments.rooms import RoomOp, Rooms
from tests.storage.migrating import STAMP, all_shipped, opened_before, resident_and_room


async def test_the_hides_and_reporters_from_before_stay_and_a_reporter_is_told_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.db"
    db = await opened_before(path, monkeypatch, "_room_report_told_once.sql")
    try:
        anna, room = await resident_and_room(db)
        async with db.transaction():
            report = await db.execute(
                "INSERT INTO room_reports (room_id, chat_id, message_id, author_platform_id,"
                " body, created_at) VALUES (?, '-100', '55', 'bob', 'Sukkels', ?)",
                (room, STAMP),
            )
            await db.execute(
                "INSERT INTO room_reporters (report_id, reporter_user_id, reported_at)"
                " VALUES (?, ?, ?)",
                (report, anna, STAMP),
            )
            await db.execute(
                "INSERT INTO room_tasks (room_id, op, target, user_id, due_at, created_at)"
                " VALUES (?, 'hide', '77', ?, ?, ?)",
                (room, anna, STAMP, STAMP),
            )
    finally:
        await db.close()

    all_shipped(monkeypatch)
    db = await Database.open(path)
    try:
        rooms = Rooms(db)
        now = utcnow()
        [task] = await rooms.due("test", now)
        assert (task.op, task.target, task.user_id, task.report_id) == (
            RoomOp.HIDE,
            "77",
            anna,
            None,
        )
        [linked] = await rooms.all()
        async with db.transaction():
            queued = await rooms.queue(
                linked, RoomOp.HIDE, "78", now, user_id=anna, report_id=report
            )
            assert await rooms.tell_left_once(report, anna, now)
            assert not await rooms.tell_left_once(report, anna, now)
        [again] = [t for t in await rooms.due("test", now) if t.id == queued]
        assert again.report_id == report
        assert await db.fetchval("SELECT COUNT(*) FROM room_reporters") == 1
    finally:
        await db.close()
