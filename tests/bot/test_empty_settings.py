"""An empty path setting (``SAMENSPEL_OPEN_DATA_DIR=``, as a copied .env file has it) means
unset, as it does for the tokens and URLs: not the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.settings import load_settings
from storage.clock import utcnow
from tests.handlers.ideas.helpers import submit_idea
from tests.people import person, run_job


async def test_an_empty_open_data_folder_publishes_nothing_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SAMENSPEL_DB", str(tmp_path / "s.db"))
    monkeypatch.setenv("SAMENSPEL_OPEN_DATA_DIR", "")
    settings = load_settings(_env_file=None)
    app = await App.open(settings)
    try:
        await submit_idea(await person(app, "anna"))
        await run_job(app, "open-data:every", utcnow())
    finally:
        await app.close()
    assert sorted(p.name for p in work.iterdir()) == []


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_key_store_or_profile_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    (tmp_path / ".env").write_text(
        f"SAMENSPEL_DB={tmp_path / 'bot.db'}\nSAMENSPEL_MATRIX_STORE={value}\n"
        f"SAMENSPEL_PROFILE={value}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.matrix_store is None and settings.profile is None
    assert settings.matrix_store_path == tmp_path / "bot.db.matrix-store"


def test_an_empty_database_setting_is_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "SAMENSPEL_DB=" was the folder "." (doctor said ok, the bot could not open it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAMENSPEL_DB", " ")
    assert load_settings(_env_file=None).db == Path("./samenspel.db")
