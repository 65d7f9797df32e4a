"""Meetings run on a clock the tests move: reminders come a day and an hour before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.settings import Settings
from tests.consultations import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    opened = await App.open(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
