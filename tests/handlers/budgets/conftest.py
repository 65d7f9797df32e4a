"""An app whose clock the budget tests move by hand (rounds open and close at set times)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.settings import Settings
from tests.handlers.budgets.test_budget_round import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clocked(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    opened = await App.open(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
