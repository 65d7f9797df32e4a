"""Transactions of concurrent tasks on the one connection: serialised, never joined."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import App
from storage.clock import utcnow
from tests.waiting import until, waiting_for


async def test_one_task_rolling_back_does_not_take_another_tasks_writes_along(app: App) -> None:
    db, now = app.db, utcnow()
    inside = asyncio.Event()

    async def failing() -> None:
        async with db.transaction():
            await app.repos.users.seen("test", "anna", now)
            inside.set()
            # Another task wants to write meanwhile: it waits for this one.
            await until(lambda: waiting_for(db._write_lock) == 1)
            raise RuntimeError("handler bug")

    async def writing() -> None:
        await inside.wait()
        async with db.transaction():
            await app.repos.users.seen("test", "bob", now)

    results = await asyncio.gather(failing(), writing(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert await app.repos.users.find("test", "anna") is None
    assert await app.repos.users.find("test", "bob") is not None


async def test_nested_use_in_the_same_task_joins_the_outer_transaction(app: App) -> None:
    now = utcnow()
    with pytest.raises(RuntimeError):
        async with app.db.transaction():
            async with app.db.transaction():
                await app.repos.users.seen("test", "anna", now)
            raise RuntimeError("the outer unit of work fails")
    assert await app.repos.users.find("test", "anna") is None
