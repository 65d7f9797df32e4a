"""``samenspel export-person`` and ``erase-person`` (requests by mail or post) check the
platform and the id as ``grant`` does, and write the export wherever they are told to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]
#: The checkout these tests are in: its code runs, not an installed copy of another one.
ROOT = Path(__file__).resolve().parents[3]


def _run(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(tmp_path / "s.db")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*SAMENSPEL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def _granted(tmp_path: Path) -> None:
    """Telegram user 555 is known (given a role, typed with a space as it came in a mail)."""
    done = _run(
        ["grant", "--platform", "telegram", "--user", " 555", "--role", "ambtenaar"], tmp_path
    )
    assert done.returncode == 0, done.stderr


def test_an_id_with_spaces_around_it_is_the_person_grant_stored(tmp_path: Path) -> None:
    _granted(tmp_path)
    done = _run(["export-person", "telegram", " 555 ", "--out", "p.json"], tmp_path)
    assert done.returncode == 0, done.stderr
    exported = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert exported["sections"]["users"]["rows"][0]["platform_user_id"] == "555"
    erased = _run(["erase-person", "telegram", "555 "], tmp_path)
    assert erased.returncode == 0 and erased.stdout.startswith("erased;"), erased.stderr


def test_a_platform_or_id_grant_refuses_is_refused_in_one_line_and_nothing_is_done(
    tmp_path: Path,
) -> None:
    _granted(tmp_path)
    for args in (
        ["export-person", "Telegram", "555", "--out", "p.json"],
        ["erase-person", "Telegram", "555"],
        ["erase-person", "whatsapp", "555"],
    ):
        done = _run(args, tmp_path)
        assert done.returncode == 2, args
        [line] = done.stderr.splitlines()
        assert "invalid choice" in line and "'telegram', 'matrix', 'console'" in line, line
    done = _run(["erase-person", "telegram", "@anna:example.org"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "samenspel erase-person: ID '@anna:example.org': a Telegram user id is a number;"
        " nothing changed"
    ]
    done = _run(["export-person", "matrix", "anna", "--out", "p.json"], tmp_path)
    assert done.returncode == 1 and "looks like @name:example.org" in done.stderr
    assert not (tmp_path / "p.json").exists()
    # Still there: nothing was erased.
    again = _run(["export-person", "telegram", "555", "--out", "p.json"], tmp_path)
    assert again.returncode == 0, again.stderr


def test_the_export_makes_missing_folders_and_a_folder_is_one_line(tmp_path: Path) -> None:
    _granted(tmp_path)
    done = _run(["export-person", "telegram", "555", "--out", "requests/2026/555.json"], tmp_path)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "requests" / "2026" / "555.json"
    assert written.is_file()
    # Everything stored about a person: readable by the operator alone, also when a file of
    # that name (readable by all) was there before.
    assert written.stat().st_mode & 0o777 == 0o600
    written.chmod(0o644)
    done = _run(["export-person", "telegram", "555", "--out", "requests/2026/555.json"], tmp_path)
    assert done.returncode == 0 and written.stat().st_mode & 0o777 == 0o600
    onto_folder = _run(["export-person", "telegram", "555", "--out", "requests"], tmp_path)
    assert onto_folder.returncode == 1
    assert onto_folder.stderr.splitlines() == [
        "samenspel export-person: cannot write requests: Is a directory"
    ]
    (tmp_path / "file").write_text("x", encoding="utf-8")
    under_a_file = _run(["export-person", "telegram", "555", "--out", "file/555.json"], tmp_path)
    assert under_a_file.returncode == 1
    [line] = under_a_file.stderr.splitlines()
    assert line.startswith("samenspel export-person: cannot write file/555.json:"), line


def test_an_export_aimed_at_the_database_itself_is_refused_and_the_database_kept(
    tmp_path: Path,
) -> None:
    # A careless --out: the database's own name, its log, the erasure ledger, a link to it.
    _granted(tmp_path)
    (tmp_path / "latest.json").symlink_to(tmp_path / "s.db")
    before = (tmp_path / "s.db").read_bytes()
    for out in ("s.db", "./s.db", "s.db-wal", "s.db.erased", "latest.json"):
        for args in (
            ["export-person", "telegram", "555", "--out", out],
            ["audit", "--since", "2000-01-01", "--out", out],
        ):
            done = _run(args, tmp_path)
            assert done.returncode == 1, (args, done.stdout)
            [line] = done.stderr.splitlines()
            assert line == (
                f"samenspel {args[0]}: cannot write {out}: it is the database or one of its"
                " own files; give another file"
            ), line
    assert (tmp_path / "s.db").read_bytes() == before
    assert not (tmp_path / "s.db.erased").exists()
    again = _run(["export-person", "telegram", "555", "--out", "p.json"], tmp_path)
    assert again.returncode == 0, again.stderr


def test_the_console_chat_takes_only_a_name_the_operator_can_grant_export_and_erase(
    tmp_path: Path,
) -> None:
    for name in ("ria de vries", "ria/2", "r" * 65):
        done = _run(["chat", "--as", name], tmp_path, stdin="/start\n")
        assert done.returncode == 1, name
        assert done.stderr.splitlines() == [
            f"samenspel chat: --as {name!r}: a console user is a name without spaces or '/',"
            " at most 64 characters"
        ]
        assert "Welkom" not in done.stdout
    done = _run(["chat", "--as", " ria "], tmp_path, stdin="/start\n")
    assert done.returncode == 0 and "Welkom" in done.stdout, done.stderr
    # The person who chatted is the one the operator's commands find.
    erased = _run(["erase-person", "console", "ria"], tmp_path)
    assert erased.returncode == 0 and erased.stdout.startswith("erased;"), erased.stderr
