"""The runtime builds an adapter for every configured platform."""

from __future__ import annotations

from pathlib import Path

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings


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
