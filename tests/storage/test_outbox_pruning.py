"""Pruning the outbox: messages sent (or given up on) long enough ago go, a little at a time;
what is still on its way, and the rows of a batch still counted, stay."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import App
from storage.clock import iso, utcnow
from storage.outbox import PRUNE_CHUNK


async def _row(
    app: App, user: int, status: str, queued: datetime, *, batch: str | None = None
) -> int:
    sent = iso(queued + timedelta(minutes=1)) if status == "sent" else None
    return await app.db.execute(
        "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, batch, status,"
        " not_before, created_at, sent_at)"
        " VALUES (?, 'telegram', '1', '[]', 'test', ?, ?, ?, ?, ?)",
        (user, batch, status, iso(queued), iso(queued), sent),
    )


async def test_rows_done_before_the_cutoff_go_and_the_rest_stays(app: App) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=40), now - timedelta(days=10)
    async with app.db.transaction():
        user = (await app.repos.users.seen("telegram", "1", now)).id
        many = [await _row(app, user, "sent", old) for _ in range(PRUNE_CHUNK * 2 + 5)]
        failed = await _row(app, user, "failed", old)
        held = await _row(app, user, "pending", old)
        running = await _row(app, user, "sent", old, batch="broadcast:1")
        done = await _row(app, user, "sent", old, batch="broadcast:2")
        fresh = await _row(app, user, "sent", recent)
        for batch, finished in (("broadcast:1", None), ("broadcast:2", iso(old))):
            await app.db.execute(
                "INSERT INTO outbox_batches (batch, total, created_at, finished_at)"
                " VALUES (?, 1, ?, ?)",
                (batch, iso(old), finished),
            )

    pruned = await app.repos.outbox.prune(now - timedelta(days=30))

    assert pruned == len(many) + 2
    left = {int(row[0]) for row in await app.db.fetchall("SELECT id FROM outbox")}
    assert left == {held, running, fresh}
    assert failed not in left and done not in left
    assert await app.repos.outbox.prune(now - timedelta(days=30)) == 0


async def test_the_newest_row_stays_so_no_row_id_is_given_out_twice(app: App) -> None:
    now = utcnow()
    old = now - timedelta(days=40)
    async with app.db.transaction():
        user = (await app.repos.users.seen("telegram", "1", now)).id
        await _row(app, user, "sent", old)
        last = await _row(app, user, "sent", old)
    assert await app.repos.outbox.prune(now - timedelta(days=30)) == 1
    async with app.db.transaction():
        following = await _row(app, user, "pending", now)
    assert following == last + 1
