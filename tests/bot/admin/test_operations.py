"""Operations: a verified backup while the bot writes, and the doctor's checks."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

import storage.db as dbmod
from bot.admin.backup import BackupError, backup
from bot.admin.cli import main
from bot.admin.doctor import run_checks
from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from tests.e2e.botapi import BotApiServer
from tests.waiting import until

#: Recipients of each broadcast in the backup tests.
PEOPLE = 200
#: Broadcasts in the file before the backup: a file of some size.
SEEDED = 40


async def test_a_backup_taken_during_broadcasts_finishes_and_holds_whole_ones(
    app: App, tmp_path: Path
) -> None:
    now = utcnow()
    async with app.db.transaction():
        people = []
        for n in range(PEOPLE):
            user = await app.repos.users.seen("telegram", str(n), now)
            await app.repos.users.give_consent(user.id, str(n), None, now)
            people.append(user.id)
    payload = [{"key": "raw", "params": {"text": "Wist je dat?"}}]
    async with app.db.transaction():
        for n in range(SEEDED):
            await app.repos.outbox.fan_out(
                people, payload, kind="broadcast", batch=f"earlier:{n}", now=now
            )
    # A copy made in parts of 256 pages would need several here.
    assert await app.db.fetchval("PRAGMA page_count") > 2 * 256
    stop = asyncio.Event()
    begun = committed = 0

    async def broadcast() -> None:
        # One broadcast after another fans out to everyone, as the composer's release does.
        nonlocal begun, committed
        while not stop.is_set():
            async with app.db.transaction():
                await app.repos.outbox.fan_out(
                    people, payload, kind="broadcast", batch=f"broadcast:{begun}", now=utcnow()
                )
                begun += 1
            committed += 1

    writer = asyncio.create_task(broadcast())
    source = Path(app.settings.db)
    try:
        await until(lambda: committed >= 1)
        # Copies until one overlapped a broadcast: one begun after the copy began was
        # committed before it ended (nearly always the first copy already).
        for attempt in range(20):
            begun_before, committed_before = begun, committed
            copying = asyncio.create_task(
                asyncio.to_thread(backup, source, tmp_path / f"copy{attempt}.db")
            )
            finished, _ = await asyncio.wait({copying}, timeout=120)
            assert finished, "the backup did not finish while broadcasts were written"
            report = copying.result()
            begun_after, committed_after = begun, committed
            with sqlite3.connect(report.path) as copy:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
                rows = copy.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            # Whole broadcasts only: the copy holds a moment between two transactions.
            assert rows % PEOPLE == 0
            assert committed_before <= rows // PEOPLE - SEEDED <= begun_after
            if committed_after > begun_before:
                break
        else:
            pytest.fail("no copy overlapped a broadcast in 20 tries")
    finally:
        stop.set()
        await writer
    assert report.schema_version == dbmod.migrations()[-1][0]

    # Restoring is copying the file back: the bot opens it as it was.
    restored = await App.open(Settings(_env_file=None, db=report.path))  # type: ignore[call-arg]
    try:
        assert await restored.db.fetchval("SELECT COUNT(*) FROM outbox") == rows
    finally:
        await restored.close()


def _database(path: Path) -> Path:
    """A bot's database file as ``samenspel run`` leaves it, with a few residents."""

    async def build() -> None:
        app = await App.open(Settings(_env_file=None, db=path))  # type: ignore[call-arg]
        try:
            async with app.db.transaction():
                for n, hood in enumerate(["ijmuiden", "driehuis", "spaarndam-west"]):
                    user = await app.repos.users.seen("telegram", str(n), utcnow())
                    await app.repos.users.set_neighbourhood(user.id, hood)
        finally:
            await app.close()

    asyncio.run(build())
    return path


def _damage_an_index(path: Path) -> None:
    """Make an index disagree with its table, as a lost write would; the file still opens."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, '(neighbourhood)', '(language)')"
            " WHERE name = 'community_users_neighbourhood'"
        )
    finally:
        conn.close()


def test_a_damaged_database_is_not_backed_up_and_the_last_good_copy_stays(
    tmp_path: Path,
) -> None:
    source = _database(tmp_path / "bot.db")
    target = tmp_path / "backup.db"
    backup(source, target)
    good = target.read_bytes()
    _damage_an_index(source)
    with pytest.raises(BackupError, match=r"the copy did not verify: .*missing from index"):
        backup(source, target)
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("backup")) == [
        "backup.db"
    ]


def test_a_file_that_is_not_a_database_is_not_backed_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bot.db"
    source.write_bytes(b"not a database " * 500)
    monkeypatch.setenv("SAMENSPEL_DB", str(source))
    assert main(["backup", str(tmp_path / "backup.db")]) == 1
    out, err = capsys.readouterr()
    backup_db = tmp_path / "backup.db"
    assert out == "" and err.startswith(f"samenspel: backup of {source} to {backup_db} failed:")
    assert "file is not a database" in err
    assert not any(p.name.startswith("backup") for p in tmp_path.iterdir())


def test_a_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "nope.db", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_a_backup_is_on_the_disk_under_its_name_before_it_is_reported_written(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "copies" / "b.db"
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(self: Path, to: Any) -> Path:
        events.append(("replace", str(to)))
        return real_replace(self, to)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    backup(app.settings.db, target)
    swap = events.index(("replace", str(target)))
    assert ("fsync", str(target.parent)) in events[swap + 1 :], events
    assert ("fsync", str(target.with_name("b.db.partial"))) in events[:swap], events


def test_a_backup_of_an_empty_database_file_says_there_is_nothing_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    db.touch()  # made ahead of time; the bot was never started on it
    monkeypatch.setenv("SAMENSPEL_DB", str(db))
    assert main(["backup", str(tmp_path / "b.db")]) == 1
    assert capsys.readouterr().err == (
        f"samenspel: {db} is empty: a new database, set up when the bot first starts;"
        " nothing to back up yet\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
    assert db.stat().st_size == 0


def test_the_backup_command_prints_one_line(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    assert main(["backup", str(tmp_path / "b.db")]) == 0
    assert "integrity check ok" in capsys.readouterr().out
    # Everything stored about everyone: for the operator's eyes only, as an export is.
    assert (tmp_path / "b.db").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.db")) == ["b.db"]


async def test_the_doctor_checks_everything_and_asks_telegram(app: App, tmp_path: Path) -> None:
    await app.close()  # the bot stopped; its file stays
    async with BotApiServer() as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            db=app.settings.db,
            telegram_token=server.token,
            telegram_api_url=server.base_url,
        )
        checks = await run_checks(settings)
    names = [check.name for check in checks]
    assert names == [
        "settings",
        "profile",
        "catalogs",
        "fonts",
        "database",
        "disk",
        "erasure ledger",
        "telegram",
    ]
    assert all(check.ok for check in checks), [check.line() for check in checks]
    latest = dbmod.migrations()[-1][0]
    database = checks[4].detail
    assert database == f"{app.settings.db}: integrity ok, schema {latest} (up to date)"
    assert "@test_bot" in checks[-1].detail


def test_the_doctor_passes_a_healthy_database_and_counts_its_pending_migrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _database(tmp_path / "bot.db")
    latest = dbmod.migrations()[-1][0]
    with sqlite3.connect(path) as conn:  # as if written by the release before the last one
        conn.execute("DELETE FROM schema_version WHERE version = ?", (latest,))
    conn.close()
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == "ok   fonts: charts and posters draw the letters of 6 languages"
    assert f"ok   database: {path}: integrity ok, schema {latest - 1}" in lines[4]
    assert lines[4].endswith("(1 migrations pending (applied at start-up))")
    assert [line[:4] for line in lines] == ["ok  "] * 7
    assert lines[5].startswith(f"ok   disk: {tmp_path}: writable, ")
    ledger = f"ok   erasure ledger: {path}.erased: none yet (written at the first erasure)"
    assert lines[6] == ledger


def test_the_doctor_fails_a_database_with_a_damaged_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _database(tmp_path / "bot.db")
    _damage_an_index(path)
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    assert main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    (database,) = [line for line in lines if line.startswith("FAIL")]
    assert database.startswith(f"FAIL database: {path}: integrity check says row ")
    assert "missing from index community_users_neighbourhood" in database


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


@pytest.mark.parametrize("token", [None, "syt_the_token_the_bot_keeps"])
async def test_the_doctor_reports_an_unreachable_matrix_homeserver(
    tmp_path: Path, token: str | None
) -> None:
    # Before the bot's first start (no token: is the homeserver there?) and after it (with
    # the token: whoami), the doctor reports at once instead of retrying for ever.
    from tests.e2e.botapi import free_port

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=tmp_path / "d.db",
        matrix_homeserver=f"http://127.0.0.1:{free_port()}",
        matrix_user="@samenspel:example.org",
        matrix_password=None if token else "geheim-wachtwoord",
        matrix_access_token=token,
    )
    checks = await asyncio.wait_for(run_checks(settings), 60)
    [matrix] = [check for check in checks if check.name == "matrix"]
    assert not matrix.ok and matrix.line().startswith(
        "FAIL matrix: cannot reach http://127.0.0.1:"
    )


def test_the_doctor_fails_a_database_folder_that_is_full_or_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # SQLite reads a file there without complaint; the bot would fail at its first write.
    # A full disk or a read-only mount cannot be made without privileges: the file system's
    # answer is what is stood in for here.
    path = _database(tmp_path / "bot.db")
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    real = os.statvfs(tmp_path)

    def full(_: object) -> object:
        return SimpleNamespace(f_flag=real.f_flag, f_bavail=10, f_frsize=4096)

    monkeypatch.setattr(os, "statvfs", full)
    assert main(["doctor"]) == 1
    [disk] = [line for line in capsys.readouterr().out.splitlines() if "disk:" in line]
    assert disk == f"FAIL disk: {tmp_path}: only 0 MB free (at least 100 MB needed)"

    def read_only(_: object) -> object:
        return SimpleNamespace(f_flag=os.ST_RDONLY, f_bavail=10**9, f_frsize=4096)

    monkeypatch.setattr(os, "statvfs", read_only)
    assert main(["doctor"]) == 1
    [disk] = [line for line in capsys.readouterr().out.splitlines() if "disk:" in line]
    assert disk == f"FAIL disk: {tmp_path} cannot be written (a read-only volume?)"


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


def test_the_doctor_read_by_a_reader_that_stops_early_ends_without_a_traceback(
    tmp_path: Path,
) -> None:
    """``samenspel doctor | head -1``: the reader goes away after a line."""
    env = {**os.environ, "SAMENSPEL_DB": str(tmp_path / "bot.db"), "PYTHONUNBUFFERED": "1"}
    env.pop("SAMENSPEL_TELEGRAM_TOKEN", None)
    script = "from bot.admin.cli import main; import sys; sys.exit(main(['doctor']))"
    done = subprocess.run(
        f'{sys.executable} -c "{script}" | head -c 1',
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


@pytest.mark.parametrize("number", ["99999999999999999999", "-1", "0"])
def test_a_consultation_number_no_consultation_can_have_is_one_line_and_nothing_written(
    app: App,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    number: str,
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    folder = tmp_path / "results"
    assert main(["export-consultation", "--out", str(folder), "--", number]) == 1
    err = capsys.readouterr().err
    assert err == f"samenspel export-consultation: no published consultation {number}\n"
    assert not folder.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["grant", "--platform", "telegram", "--user", "5", "--role", "ambtenaar"],
        ["export-open-data", "--out", "open-data"],
        ["retention"],
    ],
)
def test_another_programs_database_is_refused_and_left_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    path = tmp_path / "notes.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('boodschappen')")
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    monkeypatch.chdir(tmp_path)
    assert main(command) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"samenspel: SAMENSPEL_DB: {path} is not a Samenspel database: it holds other tables"
        " (notes) and no schema_version; set SAMENSPEL_DB to the bot's database or a new file"
    )
    with closing(sqlite3.connect(path)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert (tables, journal) == (["notes"], "delete")
    assert main(["doctor"]) == 1
    assert f"FAIL database: {path} is not a Samenspel database" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "suffix"),
    [
        (["export-open-data", "--out"], ".erased"),
        (["export-open-data", "--out"], "-wal"),
        (["export-consultation", "1", "--out"], ".erased"),
        (["export-consultation", "1", "--out"], "-wal"),
    ],
)
def test_an_export_aimed_at_the_databases_own_files_is_refused_and_they_stay_free(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    suffix: str,
) -> None:
    db = tmp_path / "bot.db"
    monkeypatch.setenv("SAMENSPEL_DB", str(db))
    assert main(["grant", "--platform", "telegram", "--user", "5", "--role", "ambtenaar"]) == 0
    capsys.readouterr()
    # Not there now (no erasure yet, the bot not running), but the bot's when it is.
    own = Path(f"{db}{suffix}")
    assert not own.exists()
    assert main([*command, str(own)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"samenspel {command[0]}: cannot write {own}: it is the database or one of its own"
        " files; give another file"
    )
    assert not own.exists()


@pytest.mark.parametrize("suffix", ["", ".erased", "-wal"])
def test_an_open_data_folder_set_to_the_databases_own_files_stops_every_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    db = tmp_path / "bot.db"
    monkeypatch.setenv("SAMENSPEL_DB", str(db))
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", f"{db}{suffix}")
    for command in (["doctor"], ["retention"]):
        assert main(command) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line == (
            f"samenspel: SAMENSPEL_OPEN_DATA_DIR: {db}{suffix} is the database or one of its"
            " own files (SAMENSPEL_DB); give a folder of its own"
        )
    assert [path.name for path in tmp_path.iterdir()] == []


@pytest.mark.parametrize(
    "command",
    [
        ["export-person", "telegram", "5", "--out"],
        ["audit", "--since", "2020-01-01", "--out"],
        ["backup"],
    ],
)
def test_personal_data_is_never_written_into_the_published_open_data_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    db = tmp_path / "bot.db"
    published = tmp_path / "open-data"
    monkeypatch.setenv("SAMENSPEL_DB", str(db))
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", str(published))
    assert main(["grant", "--platform", "telegram", "--user", "5", "--role", "ambtenaar"]) == 0
    assert main(["export-open-data", "--out", str(published)]) == 0
    before = sorted(path.name for path in published.iterdir())
    capsys.readouterr()
    for target in (published / "anna.json", published / "extra" / "anna.json"):
        assert main([*command, str(target)]) == 1
        [line] = capsys.readouterr().err.splitlines()
        assert line.endswith(
            f"cannot write {target}: it is in the published open-data folder"
            " (SAMENSPEL_OPEN_DATA_DIR), which anyone can read; give another place"
        ), line
    assert sorted(path.name for path in published.iterdir()) == before
