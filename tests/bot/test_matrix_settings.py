"""Matrix settings: complete or absent, each mistake named in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

MATRIX = {
    "SAMENSPEL_MATRIX_HOMESERVER": "https://matrix.example.org",
    "SAMENSPEL_MATRIX_USER": "@samenspel:example.org",
    "SAMENSPEL_MATRIX_PASSWORD": "geheim wachtwoord",
}


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    clean.update({"SAMENSPEL_DB": str(tmp_path / "bot.db"), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot.admin.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("SAMENSPEL_MATRIX_HOMESERVER", "matrix.example.org", "SAMENSPEL_MATRIX_HOMESERVER"),
        ("SAMENSPEL_MATRIX_USER", "samenspel", "SAMENSPEL_MATRIX_USER"),
        ("SAMENSPEL_MATRIX_USER", "@samenspel", "SAMENSPEL_MATRIX_USER"),
        ("SAMENSPEL_MATRIX_USER", "", "SAMENSPEL_MATRIX_USER"),
        ("SAMENSPEL_MATRIX_PASSWORD", "", "SAMENSPEL_MATRIX_PASSWORD"),
        ("SAMENSPEL_MATRIX_HOMESERVER", "", "SAMENSPEL_MATRIX_HOMESERVER"),
        ("SAMENSPEL_MATRIX_ACCESS_TOKEN", " syt_with_space", "SAMENSPEL_MATRIX_ACCESS_TOKEN"),
    ],
)
def test_a_wrong_or_missing_matrix_setting_is_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    done = _run(["run"], tmp_path, **{**MATRIX, variable: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], done.stderr
    assert "geheim" not in done.stderr


def test_an_unreachable_homeserver_stops_start_up_with_one_line(tmp_path: Path) -> None:
    done = _run(
        ["run"], tmp_path, **{**MATRIX, "SAMENSPEL_MATRIX_HOMESERVER": "http://127.0.0.1:9"}
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("samenspel: SAMENSPEL_MATRIX_HOMESERVER: cannot reach"), lines
    assert "Traceback" not in done.stderr and "geheim" not in done.stderr


def test_matrix_counts_as_a_platform_beside_telegram(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in MATRIX.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAMENSPEL_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("SAMENSPEL_DB", "/srv/samenspel/bot.db")
    settings = load_settings(_env_file=None)
    assert settings.platforms == ["telegram", "matrix"]
    assert settings.matrix_store_path == Path("/srv/samenspel/bot.db.matrix-store")
    assert "geheim" not in repr(settings)


def test_an_access_token_may_stand_in_for_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMENSPEL_MATRIX_HOMESERVER", "https://matrix.example.org/")
    monkeypatch.setenv("SAMENSPEL_MATRIX_USER", "@samenspel:example.org")
    monkeypatch.setenv("SAMENSPEL_MATRIX_ACCESS_TOKEN", "syt_abc")
    monkeypatch.setenv("SAMENSPEL_MATRIX_STORE", "/keys")
    settings = load_settings(_env_file=None)
    assert settings.platforms == ["matrix"]
    assert settings.matrix_homeserver == "https://matrix.example.org"
    assert settings.matrix_store_path == Path("/keys")


def test_without_any_matrix_setting_matrix_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMENSPEL_MATRIX_PASSWORD", "")
    assert load_settings(_env_file=None).platforms == []
    monkeypatch.setenv("SAMENSPEL_MATRIX_USER", "@a:b")
    with pytest.raises(SettingsError, match=r"^SAMENSPEL_MATRIX_HOMESERVER: is needed"):
        load_settings(_env_file=None)
