"""What the Telegram and the Matrix room tests share: letting time pass for a room mute."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage.clock import iso, utcnow
from tests.waiting import until


async def mutes_end_now(app: App, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """As if a week went by: every room mute is over in the bot's records and its end is
    due; returns once the room worker has carried those ends out (or skipped them)."""
    past = iso(utcnow() - timedelta(seconds=1))
    async with app.db.transaction():
        await app.db.execute("UPDATE room_sanctions SET ends_at = ? WHERE kind = 'mute'", (past,))
        await app.db.execute("UPDATE room_tasks SET due_at = ? WHERE op = 'unmute'", (past,))

    async def over() -> bool:
        return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

    await until(over, timeout, what="the mutes' ends carried out")
