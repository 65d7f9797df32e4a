"""Residents tapping at the same moment: their steps share commits (group commit), and each
answer goes out only once what it says is saved."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing

from bot.app import App
from handlers.contract import Event, Reply
from tests.support import Chat
from tests.waiting import until, waiting_for


def _consented(app: App, person: str) -> bool:
    """Whether another connection (only what is committed) sees ``person``'s consent."""
    with closing(sqlite3.connect(app.db.path)) as other:
        row = other.execute(
            "SELECT consent_at FROM users WHERE platform_user_id = ?", (person,)
        ).fetchone()
    return row is not None and row[0] is not None


async def test_residents_saying_yes_at_once_share_commits_and_hear_back_once_it_is_saved(
    app: App, chat: Callable[..., Chat]
) -> None:
    people = [chat(f"inwoner{n}", name=f"Inwoner {n}") for n in range(12)]
    for person in people:
        await person.send("/start")
    commits: list[str] = []
    app.db.conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    answered: dict[str, tuple[list[str], bool]] = {}

    async def say_yes(person: Chat) -> None:
        yes = next(payload for label, payload in person.buttons() if "Ja" in label)

        async def deliver(_: Event, __: str, replies: list[Reply]) -> None:
            # The moment the answer would go out: is the consent it confirms saved?
            answered[person.user_id] = ([r.key for r in replies], _consented(app, person.user_id))

        await app.router.handle(person.event(button=yes), deliver)

    try:
        # They queue up behind something holding the database (as behind the copying of
        # the log into the file), then go one after another.
        async with app.db.committed():
            tapping = asyncio.gather(*(say_yes(person) for person in people))
            await until(lambda: waiting_for(app.db._write_lock) == len(people))
        await tapping
    finally:
        app.db.conn.set_trace_callback(None)
    assert sorted(answered) == sorted(person.user_id for person in people)
    for person, (keys, saved) in answered.items():
        assert keys and saved, (person, keys)
    # Twelve steps, each a write: fewer commits than that.
    assert 1 <= len(commits) < len(people)
    # Every one of them goes on from the saved step.
    for person in people:
        assert await app.repos.dialogs.load(
            (await app.repos.users.find("test", person.user_id)).id  # type: ignore[union-attr]
        )
