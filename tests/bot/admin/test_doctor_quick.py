"""``samenspel doctor --quick``, the compose health check's: SQLite's quick_check instead of
the full integrity check (which takes tens of seconds on a large database), no fonts, no
question to the platform per linked room."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.admin.cli import main
from bot.admin.doctor import run_checks
from bot.settings import Settings
from storage import db as dbmod
from tests.bot.admin.test_operations import _damage_an_index, _database
from tests.e2e.botapi import free_port
from tests.test_docker import compose


def test_the_quick_doctor_checks_pages_and_records_but_not_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _database(tmp_path / "bot.db")
    latest = dbmod.migrations()[-1][0]
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    assert main(["doctor", "--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   settings",
        "ok   profile",
        "ok   catalogs",
        "ok   database",
        "ok   disk",
        "ok   erasure ledger",
    ]
    assert lines[3] == f"ok   database: {path}: quick check ok, schema {latest} (up to date)"
    # An index that disagrees with its table is what only the full check finds.
    _damage_an_index(path)
    assert main(["doctor", "--quick"]) == 0
    capsys.readouterr()
    assert main(["doctor"]) == 1
    assert "FAIL database" in capsys.readouterr().out


async def test_the_quick_doctor_fails_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    checks = await run_checks(Settings(_env_file=None, db=bad), quick=True)  # type: ignore[call-arg]
    [database] = [check for check in checks if check.name == "database"]
    assert not database.ok and "not a database" in database.detail


def test_the_quick_doctor_asks_the_platform_once_not_for_every_linked_room(
    tmp_path: Path,
) -> None:
    path = _database(tmp_path / "bot.db")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO experiment_rooms (experiment_id, platform, chat_id, linked_at)"
            " VALUES (1, 'telegram', '-100123', '2026-01-01T00:00:00Z')"
        )
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=path,
        telegram_token="1:x",
        telegram_api_url=f"http://127.0.0.1:{free_port()}/bot",
    )
    full = [check.name for check in asyncio.run(run_checks(settings))]
    quick = [check.name for check in asyncio.run(run_checks(settings, quick=True))]
    assert "telegram rooms" in full and "fonts" in full
    assert quick == [name for name in full if name not in ("telegram rooms", "fonts")]
    assert quick[-1] == "telegram"


def test_the_compose_health_check_runs_the_quick_doctor() -> None:
    health = compose()["services"]["bot"]["healthcheck"]
    assert health["test"] == ["CMD", "samenspel", "doctor", "--quick"]
    assert health["timeout"] == "30s"
