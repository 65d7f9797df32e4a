"""The outbox: queued in the caller's transaction, only for people who can be reached."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow


async def test_fan_out_queues_one_row_per_reachable_person(app: App) -> None:
    repos, now = app.repos, utcnow()
    async with app.db.transaction():
        ids = []
        for n in range(5):
            user = await repos.users.seen("telegram", str(n), now)
            ids.append(user.id)
            if n != 3:  # person 3 never consented: nothing may be sent to them
                await repos.users.give_consent(user.id, str(n), None, now)
        await repos.users.mark_unreachable("telegram", "4", now)
        queued = await repos.outbox.fan_out(
            [*ids, ids[0]],
            [{"key": "raw", "params": {"text": "hi"}}],
            kind="broadcast",
            batch="broadcast:1",
            now=now,
        )
    assert queued == 3
    assert await repos.outbox.batch_counts("broadcast:1") == {"pending": 3}
    rows = await repos.outbox.for_user(ids[0])
    assert rows[0].payload == [{"key": "raw", "params": {"text": "hi"}}]
    assert rows[0].platform == "telegram" and rows[0].chat_id == "0"
