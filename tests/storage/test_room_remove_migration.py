"""Taking someone out of a room is a room task of its own ('remove'): the migration that
allows it keeps the tasks waiting from before, and the room repository queues one removal
per account and room, which letting them in again drops."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.clock import utcnow
from storage.db import Database
from storage.experiments.rooms import RoomOp, Rooms
from tests.storage.migrating import STAMP, all_shipped, opened_before, resident_and_room


async def test_the_tasks_waiting_before_the_migration_stay_and_a_removal_can_be_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.db"
    db = await opened_before(path, monkeypatch, "_room_remove.sql")
    try:
        user, room = await resident_and_room(db)
        async with db.transaction():
            await db.execute(
                "INSERT INTO room_tasks (room_id, op, target, user_id, due_at, attempts,"
                " last_error, created_at) VALUES (?, 'invite', 'anna', ?, ?, 2, 'busy', ?)",
                (room, user, STAMP, STAMP),
            )
        with pytest.raises(Exception, match="CHECK"):
            async with db.transaction():
                await db.execute(
                    "INSERT INTO room_tasks (room_id, op, target, due_at, created_at)"
                    " VALUES (?, 'remove', 'anna', ?, ?)",
                    (room, STAMP, STAMP),
                )
    finally:
        await db.close()

    all_shipped(monkeypatch)
    db = await Database.open(path)
    try:
        rows = await db.fetchall(
            "SELECT op, target, user_id, attempts, last_error FROM room_tasks"
        )
        assert [tuple(r) for r in rows] == [("invite", "anna", user, 2, "busy")]
        rooms = Rooms(db)
        [linked] = await rooms.all()
        now = utcnow()
        async with db.transaction():
            assert await rooms.take_out(linked, "anna", now, user_id=user)
            # Once per account and room, whoever asks again.
            assert not await rooms.take_out(linked, "anna", now, user_id=None)
        [task] = [t for t in await rooms.due("test", now) if t.op is RoomOp.REMOVE]
        assert (task.target, task.user_id) == ("anna", user)
        # The person goes: the task stays, by the account alone.
        async with db.transaction():
            await db.execute(
                "UPDATE room_tasks SET user_id = NULL WHERE user_id = ? AND op = 'remove'",
                (user,),
            )
            await db.execute("DELETE FROM users WHERE id = ?", (user,))
        assert [t.op for t in await rooms.due("test", now)] == [RoomOp.REMOVE]
        async with db.transaction():
            assert await rooms.drop_removal(linked.id, "anna") == 1
            assert await rooms.drop_removal(linked.id, "anna") == 0
        assert await rooms.due("test", now) == []
    finally:
        await db.close()
