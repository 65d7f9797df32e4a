"""What the operator meets at start-up: one bot per database, a database that cannot be
written or was written by a newer Samenspel, a backup aimed at the wrong place. Each is one
line on stderr, a non-zero exit, and nothing changed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import storage.db as dbmod
from bot.admin.cli import main

Run = tuple[int, str, str]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("SAMENSPEL_"):
            monkeypatch.delenv(name)
    path = tmp_path / "bot.db"
    monkeypatch.setenv("SAMENSPEL_DB", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def samenspel(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _created(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The database as the bot leaves it, with one civil servant."""
    code, _, err = samenspel(
        capsys, "grant", "--platform", "telegram", "--user", "1", "--role", "ambtenaar"
    )
    assert code == 0, err


def _read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on the bot's connections may read the file but not write it, as on a
    volume mounted read-only (SQLite itself refuses: "attempt to write a readonly
    database")."""
    connect = dbmod.connect

    async def read_only(target: str, *, uri: bool = False) -> tuple[sqlite3.Connection, object]:
        return await connect(f"file:{target}?mode=ro", uri=True)

    monkeypatch.setattr(dbmod, "connect", read_only)


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "--platform", "telegram", "--user", "2", "--role", "verbinder"],
        ["invite", "--role", "ambtenaar"],
        ["retention"],
        ["export-person", "telegram", "1", "--out", "me.json"],
    ],
)
def test_a_database_that_cannot_be_written_is_one_line_naming_it(
    db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    _created(db, capsys)
    _read_only(monkeypatch)
    code, out, err = samenspel(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith(f"samenspel: SAMENSPEL_DB: cannot write to {db}: ")
    assert "readonly" in err
    assert len(err.splitlines()) == 1
    assert _roles(db) == [("1", "ambtenaar")]


def _roles(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.execute("SELECT platform_user_id, role FROM users ORDER BY id"))


def test_the_audit_log_can_be_exported_from_a_database_that_cannot_be_written(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _created(db, capsys)
    _read_only(monkeypatch)
    code, out, err = samenspel(capsys, "audit", "--since", "2024-01-01")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].split(",")[4] == "role.grant"


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "--platform", "telegram", "--user", "2", "--role", "verbinder"],
        ["audit", "--since", "2024-01-01"],
        ["retention"],
        ["chat", "--as", "anna"],
    ],
)
def test_a_file_that_is_not_a_database_is_one_line_naming_it(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    db.write_bytes(b"SAMENSPEL_TELEGRAM_TOKEN=123:abc\n" * 200)
    before = db.read_bytes()
    code, out, err = samenspel(capsys, *args)
    assert (code, out) == (2, "")
    assert err == f"samenspel: SAMENSPEL_DB: cannot open database {db}: file is not a database\n"
    assert db.read_bytes() == before


def _written_by_a_newer_release(db: Path) -> int:
    """As if a newer Samenspel had migrated the file (the operator went back to an older
    image afterwards); returns that schema's number."""
    newer = dbmod.migrations()[-1][0] + 1
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE users ADD COLUMN pronouns TEXT NOT NULL DEFAULT ''")
        conn.execute(
            "INSERT INTO schema_version (version, name) VALUES (?, ?)",
            (newer, f"{newer:04d}_user_pronouns.sql"),
        )
    conn.close()
    return newer


@pytest.mark.parametrize(
    "args",
    [
        ["grant", "--platform", "telegram", "--user", "2", "--role", "verbinder"],
        ["chat", "--as", "anna"],
        ["retention"],
    ],
)
def test_a_database_from_a_newer_release_is_refused_with_one_line(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    _created(db, capsys)
    newer = _written_by_a_newer_release(db)
    known = newer - 1
    code, out, err = samenspel(capsys, *args)
    assert (code, out) == (2, "")
    assert err == (
        f"samenspel: SAMENSPEL_DB: {db} was written by a newer Samenspel (schema {newer};"
        f" this one knows up to {known}): run that release again, or restore a backup made"
        " before it\n"
    )
    assert _roles(db) == [("1", "ambtenaar")]


def test_the_doctor_fails_a_database_from_a_newer_release(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _created(db, capsys)
    newer = _written_by_a_newer_release(db)
    code, out, _ = samenspel(capsys, "doctor")
    assert code == 1
    (database,) = [line for line in out.splitlines() if " database: " in line]
    assert database == (
        f"FAIL database: {db}: integrity ok, but schema {newer} is newer than this release"
        f" knows ({newer - 1}); run that release again, or restore a backup made before it"
    )


def test_the_doctor_passes_an_empty_database_file_as_the_bot_starts_on_it(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file made ahead of time (touch, a volume's placeholder, a copy that failed at once).
    db.touch()
    code, out, _ = samenspel(capsys, "doctor")
    (database,) = [line for line in out.splitlines() if " database: " in line]
    assert database == (f"ok   database: {db} is empty: a new database, set up at start-up"), out
    assert code == 0, out
    assert db.stat().st_size == 0, "the doctor writes nothing"
    # And the bot agrees: it sets the empty file up as a new database.
    _created(db, capsys)
    assert _roles(db) == [("1", "ambtenaar")]
    code, out, _ = samenspel(capsys, "doctor")
    assert code == 0 and "(up to date)" in out, out


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("copies", "{target} is a folder; give the file to write, such as {target}/bot.db"),
        ("bot.db", "{target} is the database itself; give another file"),
        ("bot.db/copy.db", "cannot write {target}: "),
        # Its write-ahead log or lock, however written: replaced, they break the database.
        ("bot.db-wal", "{target} is one of the database's own files; give another file"),
        ("copies/../bot.db.lock", "{target} is one of the database's own files; give another"),
    ],
)
def test_a_backup_aimed_at_the_wrong_place_is_one_line_and_leaves_nothing(
    db: Path, capsys: pytest.CaptureFixture[str], target: str, complaint: str
) -> None:
    _created(db, capsys)
    (db.parent / "copies").mkdir()
    before = sorted(path.name for path in db.parent.rglob("*"))
    code, out, err = samenspel(capsys, "backup", target)
    assert (code, out) == (1, "")
    assert err.startswith("samenspel: " + complaint.format(target=target))
    assert len(err.splitlines()) == 1
    assert sorted(path.name for path in db.parent.rglob("*")) == before
    assert _roles(db) == [("1", "ambtenaar")]


@pytest.mark.parametrize(
    "args",
    [
        ["doctor"],
        ["doctor", "--quick"],
        ["grant", "--platform", "telegram", "--user", "2", "--role", "verbinder"],
        ["chat", "--as", "anna"],
    ],
)
def test_a_database_setting_that_names_a_folder_is_one_line_saying_so(
    db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    # SAMENSPEL_DB=/data, the volume, where /data/samenspel.db was meant: the health
    # check must not pass a bot that cannot open its database.
    volume = db.parent / "data"
    volume.mkdir()
    monkeypatch.setenv("SAMENSPEL_DB", f"{volume}/")
    code, out, err = samenspel(capsys, *args)
    assert (code, out) == (2, "")
    assert err == (
        f"samenspel: SAMENSPEL_DB: {volume} is a folder; give the database file in it,"
        f" such as {volume / 'samenspel.db'}\n"
    )
    assert list(volume.iterdir()) == []
    assert not (db.parent / "data.lock").exists()


def _open_data_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if " open data: " in line]
    return line


def test_the_doctor_fails_an_open_data_folder_the_export_cannot_replace(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The export on the database's own volume: every weekly export would fail, said only
    # in the log, while the health check passes.
    _created(db, capsys)
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", str(db.parent))
    code, out, _ = samenspel(capsys, "doctor", "--quick")
    assert code == 1
    assert _open_data_line(out) == (
        f"FAIL open data: {db.parent} exists and is not an earlier export; choose a new or"
        " empty folder"
    )


def test_the_doctor_passes_an_open_data_folder_the_export_can_replace(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _created(db, capsys)
    published = db.parent / "open-data" / "current"
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", str(published))
    code, out, _ = samenspel(capsys, "doctor", "--quick")
    assert code == 0, out
    assert (
        _open_data_line(out) == f"ok   open data: {published}: no export yet (the bot makes one)"
    )
    assert samenspel(capsys, "export-open-data", "--out", str(published))[0] == 0
    code, out, _ = samenspel(capsys, "doctor", "--quick")
    assert code == 0, out
    assert _open_data_line(out).startswith(f"ok   open data: {published}: last export 20")


def test_the_doctor_follows_an_open_data_link_to_the_folder_the_export_replaces(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SAMENSPEL_OPEN_DATA_DIR a link to the web server's volume: the export writes there
    # (it follows the link), and cannot replace a volume; the doctor must not pass it.
    _created(db, capsys)
    volume = db.parent / "www"
    volume.mkdir()
    link = db.parent / "open-data"
    link.symlink_to(volume)
    ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == volume or ismount(path))
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", str(link))
    code, out, _ = samenspel(capsys, "doctor", "--quick")
    assert code == 1
    assert _open_data_line(out) == (
        f"FAIL open data: {link} (a link to {volume}) is a mount point, which the export"
        f" cannot replace; use a folder inside it, such as {volume / 'current'}"
    )
