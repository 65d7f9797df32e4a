"""Residents tapping at the same moment: their steps share commits (group commit), and each
answer goes out only once what it says is saved."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing

from bot.app import App
from bot.router import Deliver
from handlers.contract import Event, Reply, Role
from tests.support import Chat, with_broken_step
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


async def test_a_step_failing_in_a_group_drops_only_its_own_writes_and_says_so_once_saved(
    app: App,
) -> None:
    with_broken_step(app)
    anna, bob = Chat(app, "anna"), Chat(app, "bob", name="Bob")
    await anna.send("/breek")
    await bob.send("/start")
    yes = next(payload for label, payload in bob.buttons() if "Ja" in label)
    answered: dict[str, tuple[list[str], bool]] = {}

    def deliver_for(person: Chat, saved: Callable[[], bool]) -> Deliver:
        async def deliver(_: Event, __: str, replies: list[Reply]) -> None:
            answered[person.user_id] = ([r.key for r in replies], saved())

        return deliver

    def anna_dropped() -> bool:
        with closing(sqlite3.connect(app.db.path)) as other:
            return not other.execute(
                "SELECT COUNT(*) FROM dialogs JOIN users ON users.id = dialogs.user_id"
                " WHERE users.platform_user_id = 'anna'"
            ).fetchone()[0]

    statements: list[str] = []
    app.db.conn.set_trace_callback(statements.append)
    # Bob's step first, anna's failing step right behind it: they share a group.
    async with app.db.committed():
        both = asyncio.gather(
            app.router.handle(
                bob.event(button=yes), deliver_for(bob, lambda: _consented(app, "bob"))
            ),
            app.router.handle(anna.event(text="iets"), deliver_for(anna, anna_dropped)),
        )
        await until(lambda: waiting_for(app.db._write_lock) == 2)
    try:
        await both
    finally:
        app.db.conn.set_trace_callback(None)
    # One commit for both; anna's failed step was undone within it.
    assert [sql for sql in statements if sql in ("COMMIT", "ROLLBACK TO unit")] == [
        "ROLLBACK TO unit",
        "COMMIT",
    ]
    assert answered["anna"] == (["general.dialog_dropped", "general.typed_not_kept"], True)
    assert answered["bob"][0] and answered["bob"][1]
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.RESIDENT
    assert app.db.conn.isolation_level is None and not app.db.conn.in_transaction
