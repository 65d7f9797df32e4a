"""A SAMENSPEL_ name that is no setting (a misspelling) stops start-up and fails the doctor
with one line naming it and the setting meant, from the environment or the .env file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

SAMENSPEL = [sys.executable, "-m", "bot.admin.cli"]


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    clean.update({"SAMENSPEL_DB": str(tmp_path / "s.db"), **env})
    return subprocess.run(
        [*SAMENSPEL, *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["doctor"], ["run"], ["chat"], ["backup", "b.db"]])
def test_a_misspelled_setting_in_the_environment_is_one_line_naming_the_one_meant(
    tmp_path: Path, command: list[str]
) -> None:
    done = _run(command, tmp_path, SAMENSPEL_RETENTION_MONTH="12")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "samenspel: SAMENSPEL_RETENTION_MONTH: is not a setting;"
        " did you mean SAMENSPEL_RETENTION_MONTHS?"
    ]
    assert done.stdout == "" and not (tmp_path / "s.db").exists()


def test_a_misspelled_setting_in_the_env_file_fails_the_doctor_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# settings\nSAMENSPEL_LOG_FORMAT=json\nSAMENSPEL_OPEN_DATA_URL_=https://x.org/od/\n"
        "OTHER_TOOL=1\n",
        encoding="utf-8",
    )
    done = _run(["doctor"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "samenspel: SAMENSPEL_OPEN_DATA_URL_: is not a setting;"
        " did you mean SAMENSPEL_OPEN_DATA_URL?"
    )


def test_a_name_like_no_setting_at_all_points_to_the_readme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMENSPEL_XYZ", "1")
    with pytest.raises(SettingsError, match=r"^SAMENSPEL_XYZ: is not a setting; see the README"):
        load_settings(_env_file=None)


def test_every_setting_and_the_projects_own_other_names_are_accepted(
    tmp_path: Path,
) -> None:
    # What the test suite and the Synapse of the end-to-end tests read stays allowed.
    others = dict.fromkeys(
        [
            "SAMENSPEL_TEST_WAIT",
            "SAMENSPEL_TEST_HUNG_AFTER",
            "SAMENSPEL_SYNAPSE_PYTHON",
            "SAMENSPEL_SYNAPSE_DATABASE",
            "SAMENSPEL_SYNAPSE_VENV",
            "SAMENSPEL_SYNAPSE_SPEC",
        ],
        "1",
    )
    done = _run(
        ["doctor"],
        tmp_path,
        SAMENSPEL_RETENTION_MONTHS="12",
        SAMENSPEL_LOG_FORMAT="json",
        **others,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   database" in done.stdout
