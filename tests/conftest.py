"""Fixtures: a bot on a temporary SQLite file, and people who chat with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.settings import Settings
from tests.support import Chat


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a bot on a fresh database in a temporary folder, no platforms."""
    return Settings(_env_file=None, db=tmp_path / "samenspel.db")  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    opened = await App.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def chat(app: App) -> Callable[..., Chat]:
    """Make a person who talks to the bot: ``chat("anna")``."""

    def make(user_id: str = "anna", **kwargs: object) -> Chat:
        return Chat(app, user_id=user_id, **kwargs)  # type: ignore[arg-type]

    return make
