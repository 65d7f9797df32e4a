"""Operations: a verified backup while the bot writes, and the doctor's checks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.admin.backup import BackupError, backup
from bot.admin.cli import main
from bot.admin.doctor import run_checks
from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from tests.e2e.botapi import BotApiServer


async def test_a_backup_taken_during_a_broadcast_is_consistent(app: App, tmp_path: Path) -> None:
    now = utcnow()
    async with app.db.transaction():
        people = []
        for n in range(200):
            user = await app.repos.users.seen("telegram", str(n), now)
            await app.repos.users.give_consent(user.id, str(n), None, now)
            people.append(user.id)
    stop = asyncio.Event()
    payload = [{"key": "raw", "params": {"text": "Wist je dat?"}}]

    async def broadcast() -> int:
        # One broadcast after another fans out to everyone, as the composer's release does.
        n = 0
        while not stop.is_set():
            async with app.db.transaction():
                await app.repos.outbox.fan_out(
                    people, payload, kind="broadcast", batch=f"broadcast:{n}", now=utcnow()
                )
            n += 1
            await asyncio.sleep(0)
        return n

    writer = asyncio.create_task(broadcast())
    await asyncio.sleep(0.05)
    report = await asyncio.to_thread(backup, Path(app.settings.db), tmp_path / "copy.db")
    stop.set()
    written = await writer

    with sqlite3.connect(report.path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    # Whole broadcasts only: the copy holds a moment between two transactions.
    assert rows % len(people) == 0 and 0 <= rows // len(people) <= written
    assert report.schema_version >= 1

    # Restoring is copying the file back: the bot opens it as it was.
    restored = await App.open(Settings(_env_file=None, db=report.path))  # type: ignore[call-arg]
    try:
        assert await restored.db.fetchval("SELECT COUNT(*) FROM outbox") == rows
    finally:
        await restored.close()


def test_a_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "nope.db", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_the_backup_command_prints_one_line(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    assert main(["backup", str(tmp_path / "b.db")]) == 0
    assert "integrity check ok" in capsys.readouterr().out


async def test_the_doctor_checks_everything_and_asks_telegram(tmp_path: Path) -> None:
    async with BotApiServer() as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            db=tmp_path / "d.db",
            telegram_token=server.token,
            telegram_api_url=server.base_url,
        )
        checks = await run_checks(settings)
    names = [check.name for check in checks]
    assert names == ["settings", "profile", "catalogs", "database", "telegram"]
    assert all(check.ok for check in checks), [check.line() for check in checks]
    assert "@test_bot" in checks[-1].detail


async def test_the_doctor_reports_an_unreachable_platform(tmp_path: Path) -> None:
    from tests.e2e.botapi import free_port

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=tmp_path / "d.db",
        telegram_token="1:x",
        telegram_api_url=f"http://127.0.0.1:{free_port()}/bot",
    )
    checks = await run_checks(settings)
    assert not checks[-1].ok and checks[-1].line().startswith("FAIL telegram")


async def test_the_doctor_finds_a_corrupt_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    checks = await run_checks(Settings(_env_file=None, db=bad))  # type: ignore[call-arg]
    database = next(check for check in checks if check.name == "database")
    assert not database.ok


@pytest.mark.parametrize("secret", [None, "x" * 31])
async def test_the_doctor_fails_on_webhook_mode_without_a_long_secret(
    tmp_path: Path, secret: str | None
) -> None:
    async with BotApiServer() as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            db=tmp_path / "d.db",
            telegram_token=server.token,
            telegram_api_url=server.base_url,
            telegram_webhook_url="https://bot.example.org/telegram",
            telegram_webhook_secret=secret,
        )
        checks = await run_checks(settings)
        webhook = checks[-1]
        assert webhook.line().startswith(
            "FAIL telegram webhook: SAMENSPEL_TELEGRAM_WEBHOOK_SECRET"
        )
        assert 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"' in webhook.detail

        long_enough = settings.model_copy(update={"telegram_webhook_secret": SecretStr("x" * 32)})
        assert all(check.ok for check in await run_checks(long_enough))
