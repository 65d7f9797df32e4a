"""The Telegram inbox: an update is kept once, however often it arrives, until it is done;
one that every start-up took up without finishing is given up after a few."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from storage import Arrived, Database, TelegramInbox

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_an_update_is_kept_once_and_forgotten_when_done(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "inbox.db")
    inbox = TelegramInbox(db)
    first = Arrived(update_id=7, sender="42", body='{"update_id": 7}')
    again = Arrived(update_id=7, sender="42", body='{"update_id": 7, "other": true}')
    async with db.transaction():
        await inbox.keep([first, Arrived(update_id=8, sender=None, body="{}")], NOW)
        await inbox.keep([again], NOW)
        waiting, given_up = await inbox.waiting(most_attempts=5)
    assert (waiting, given_up) == ([first, Arrived(update_id=8, sender=None, body="{}")], 0)
    async with db.transaction():
        await inbox.done([8])
        waiting, _ = await inbox.waiting(most_attempts=5)
    assert waiting == [first]
    await db.close()


async def test_an_update_no_start_up_could_finish_is_given_up(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "inbox.db")
    inbox = TelegramInbox(db)
    async with db.transaction():
        await inbox.keep([Arrived(update_id=7, sender="42", body="{}")], NOW)
    taken_up = 0
    for _ in range(4):
        async with db.transaction():
            waiting, given_up = await inbox.waiting(most_attempts=3)
        taken_up += len(waiting)
    assert taken_up == 3
    assert given_up == 1 and waiting == []
    await db.close()
