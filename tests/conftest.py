"""Fixtures: a bot on a temporary SQLite file, and people who chat with it."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from _pytest.logging import LogCaptureHandler

from bot.app import App
from bot.logs import OWN_LOGGERS, QUIET_LIBRARIES
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


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that runs the command line sets the process's logging up as the command does:
    a handler on the test's captured stderr, which is closed once the test ends, so every
    later warning would end in "--- Logging error ---" instead of the log. What a test set
    up is undone: the handlers and levels it found are put back."""
    root = logging.getLogger()
    found = root.handlers[:]
    names = ["", *OWN_LOGGERS, *QUIET_LIBRARIES]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    # The test's own capture handlers belong to the phase they were added in: those of
    # this phase stay (pytest removes them), those found here were removed already.
    root.handlers[:] = [h for h in found if not isinstance(h, LogCaptureHandler)] + [
        h for h in root.handlers if isinstance(h, LogCaptureHandler) and h not in found
    ]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


#: Seconds an asynchronous test may take before it is stopped as hung (every wait in the
#: tests has its own, much shorter limit; this catches one that has none).
HUNG_AFTER = float(os.environ.get("SAMENSPEL_TEST_HUNG_AFTER", "600"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.fixturenames.append("_not_hung")


def _awaiting(step: object) -> Iterator[str]:
    """Where a coroutine waits, from the outside in (each coroutine it awaits in turn)."""
    while step is not None:
        frame = getattr(step, "cr_frame", None) or getattr(step, "ag_frame", None)
        if frame is None:
            yield repr(step)[:200]
            return
        yield f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        step = getattr(step, "cr_await", None) or getattr(step, "ag_await", None)


@pytest.fixture
async def _not_hung() -> AsyncIterator[None]:
    """A test that hangs prints where every task waits, then stops with a failure, instead
    of holding up the whole run without a word."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        print(f"\n== hung after {HUNG_AFTER:.0f} s; {len(tasks)} tasks:", file=sys.stderr)
        for task in tasks:
            print(f"-- {task.get_name()}:", file=sys.stderr)
            for where in _awaiting(task.get_coro()):
                print(f"   {where}", file=sys.stderr)
        for task in tasks:
            task.cancel()

    timer = loop.call_later(HUNG_AFTER, stop)
    try:
        yield
    finally:
        timer.cancel()


@pytest.fixture
def chat(app: App) -> Callable[..., Chat]:
    """Make a person who talks to the bot: ``chat("anna")``."""

    def make(user_id: str = "anna", **kwargs: object) -> Chat:
        return Chat(app, user_id=user_id, **kwargs)  # type: ignore[arg-type]

    return make
