"""The runtime builds an adapter for every configured platform, and runs until stopped or
until an adapter is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from tests.bot.delivery_support import FakeAdapter


async def test_telegram_and_matrix_run_side_by_side_when_both_are_configured(
    tmp_path: Path,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=tmp_path / "both.db",
        telegram_token="123:abc",
        matrix_homeserver="https://matrix.example.org",
        matrix_user="@samenspel:example.org",
        matrix_password="geheim",
    )
    app = await App.open(settings)
    try:
        assert [adapter.name for adapter in Runtime(app).adapters] == ["telegram", "matrix"]
    finally:
        await app.close()


async def test_only_matrix_when_only_matrix_is_configured(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=tmp_path / "matrix.db",
        matrix_homeserver="https://matrix.example.org",
        matrix_user="@samenspel:example.org",
        matrix_access_token="syt_abc",
    )
    app = await App.open(settings)
    try:
        assert [adapter.name for adapter in Runtime(app).adapters] == ["matrix"]
    finally:
        await app.close()


async def test_the_runtime_runs_until_stopped_or_until_an_adapter_is_lost(tmp_path: Path) -> None:
    app = await App.open(Settings(_env_file=None, db=tmp_path / "run.db"))  # type: ignore[call-arg]
    first, second = FakeAdapter(name="one"), FakeAdapter(name="two")
    runtime = Runtime(app, adapters=[first, second])
    try:
        stop = asyncio.Event()
        stop.set()
        assert await runtime.run_until(stop) is None
        # The second adapter's platform refuses its credentials: the runtime returns why.
        running = asyncio.ensure_future(runtime.run_until(asyncio.Event()))
        await asyncio.sleep(0)
        assert not running.done()
        second.lost.set("two: the token was refused")
        assert await running == "two: the token was refused"
        second.lost.set("two: again")  # the first reason is kept
        assert second.lost.why == "two: the token was refused" and not first.lost.is_set()
    finally:
        await app.close()
