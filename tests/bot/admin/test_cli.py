"""The samenspel command: console chat with piped input, settings errors, run without platforms."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]


def _run(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    clean.update({"SAMENSPEL_DB": str(tmp_path / "chat.db"), **env})
    return subprocess.run(
        [*SAMENSPEL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_onboarding_scripted_through_the_console(tmp_path: Path) -> None:
    script = "/start\n1\n1\nVelserbroek\n/help\n"
    done = _run(["chat", "--as", "anna"], tmp_path, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Welkom bij Samenspel" in out
    assert "[1] ✅ Ja, ik doe mee" in out
    assert "In welke wijk" in out
    assert "Klaar, welkom!" in out
    assert "Met Samenspel praat je mee" in out
    assert "Traceback" not in done.stderr


def test_the_console_continues_a_dialog_after_a_restart(tmp_path: Path) -> None:
    first = _run(["chat", "--as", "bob"], tmp_path, "/start\n1\n")
    assert "In welke taal" in first.stdout
    second = _run(["chat", "--as", "bob"], tmp_path, "2\n")
    assert "Which part of" in second.stdout


def test_plain_samenspel_opens_the_console_without_a_token(tmp_path: Path) -> None:
    done = _run([], tmp_path, "/start\n")
    assert done.returncode == 0, done.stderr
    assert "Welkom bij Samenspel" in done.stdout


def test_console_roles_can_be_tried_with_als(tmp_path: Path) -> None:
    script = "/als verbinder\n/als koning\n/start\n1\n1\n1\n/als admin\n/logboek\n"
    done = _run(["chat", "--as", "ria"], tmp_path, script)
    assert "Je bent nu: verbinder" in done.stdout
    assert "Kies uit: inwoner, ambtenaar, verbinder, admin" in done.stdout
    assert "Je bent nu: beheerder" in done.stdout
    assert "Logboek" in done.stdout


def test_run_without_a_platform_refuses_and_explains(tmp_path: Path) -> None:
    done = _run(["run"], tmp_path)
    assert done.returncode != 0
    assert "SAMENSPEL_TELEGRAM_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAMENSPEL_TIMEZONE", "Mars/Olympus"),
        ("SAMENSPEL_LANGUAGE", "fr"),
        ("SAMENSPEL_TELEGRAM_TOKEN", "not-a-token"),
        ("SAMENSPEL_TELEGRAM_API_URL", "ftp://x"),
        ("SAMENSPEL_TELEGRAM_WEBHOOK_LISTEN", "nope"),
        ("SAMENSPEL_TELEGRAM_WEBHOOK_SECRET", "has spaces!"),
        ("SAMENSPEL_PROFILE", "/does/not/exist.toml"),
    ],
)
def test_a_wrong_setting_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    done = _run(["run"], tmp_path, **{variable: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], done.stderr


def test_a_broken_profile_is_one_line_too(tmp_path: Path) -> None:
    profile = tmp_path / "broken.toml"
    profile.write_text('slug = "x"\n')
    done = _run(["chat"], tmp_path, "", SAMENSPEL_PROFILE=str(profile))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "SAMENSPEL_PROFILE" in done.stderr


def _broken_profile_line(done: subprocess.CompletedProcess[str], name: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("samenspel: SAMENSPEL_PROFILE: ") and name in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["chat"],
        ["run"],
        ["export-open-data", "--out", "open"],
        ["retention"],
        ["export-person", "telegram", "1", "--out", "person.json"],
        ["erase-person", "telegram", "1"],
    ],
    ids=lambda command: command[0],
)
def test_a_profile_that_is_not_toml_is_one_line_naming_the_file_in_every_command(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "notes.txt").write_text("Boodschappen: melk, brood\n")
    token = {"SAMENSPEL_TELEGRAM_TOKEN": "123:abc"} if command == ["run"] else {}
    done = _run(command, tmp_path, "", SAMENSPEL_PROFILE="notes.txt", **token)
    line = _broken_profile_line(done, "notes.txt")
    assert "not a TOML file" in line


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xd8\xff\xe0 a picture, not a profile", "not UTF-8"),
        (b'slug = "x"\n[[themes]]\nid = 3\n', "Field required"),
        (b"slug = ", "not a TOML file"),
    ],
    ids=["binary", "invalid", "cut-off"],
)
def test_a_broken_profile_says_what_is_wrong_with_it(
    tmp_path: Path, content: bytes, why: str
) -> None:
    (tmp_path / "velsen.toml").write_bytes(content)
    done = _run(["chat"], tmp_path, "", SAMENSPEL_PROFILE="velsen.toml")
    assert why in _broken_profile_line(done, "velsen.toml")


def test_doctor_names_the_broken_profile_file_and_why(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Boodschappen: melk, brood\n")
    done = _run(["doctor"], tmp_path, "", SAMENSPEL_PROFILE="notes.txt")
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL profile")]
    assert len(failed) == 1 and "notes.txt: not a TOML file" in failed[0], done.stdout
    assert "Traceback" not in done.stderr


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMENSPEL_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("SAMENSPEL_TELEGRAM_API_URL", "http://127.0.0.1:8081/bot")
    settings = load_settings(_env_file=None)
    assert settings.platforms == ["telegram"]
    assert settings.telegram_file_url == "http://127.0.0.1:8081/file/bot"
    assert "123:abc" not in repr(settings)
    monkeypatch.setenv("SAMENSPEL_LANGUAGE", "de")
    with pytest.raises(SettingsError, match="SAMENSPEL_LANGUAGE"):
        load_settings(_env_file=None)


@pytest.mark.parametrize("token", ["123456:ABC-def_ghi ", " 123456:ABC-def_ghi", "123456:ABC\n"])
def test_a_bot_token_pasted_with_a_space_says_so(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    # Quoted in .env or exported with the space it was copied with: Telegram would refuse
    # the token and the operator would look at a token that is right.
    for name in list(os.environ):
        if name.startswith("SAMENSPEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAMENSPEL_TELEGRAM_TOKEN", token)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        "SAMENSPEL_TELEGRAM_TOKEN: has spaces at the start or end; give the token alone"
    )
