"""Fixtures: a bot on a temporary SQLite file, and people who chat with it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
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


@pytest.fixture(autouse=True)
def _every_text_gets_its_values(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A text shown without a value it expects is a bug in new code; only a message stored
    before its text changed may lack one (tests of that say ``stored_before_a_change``)."""
    yield
    if request.node.get_closest_marker("stored_before_a_change"):
        return
    missing = [
        record.getMessage()
        for record in caplog.get_records("call")
        if record.name == "handlers.catalog" and record.levelno >= logging.WARNING
    ]
    assert not missing, missing


@pytest.fixture
def chat(app: App) -> Callable[..., Chat]:
    """Make a person who talks to the bot: ``chat("anna")``."""

    def make(user_id: str = "anna", **kwargs: object) -> Chat:
        return Chat(app, user_id=user_id, **kwargs)  # type: ignore[arg-type]

    return make
