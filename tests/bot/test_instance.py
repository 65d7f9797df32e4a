"""One bot per database file, whatever path leads to it (the process-level test with two
real ``samenspel run`` processes is tests/reliability/test_one_bot_per_database.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.instance import DatabaseInUse, only_bot_on


def test_two_bots_reaching_one_file_by_two_names_do_not_both_run(tmp_path: Path) -> None:
    real = tmp_path / "data" / "samenspel.db"
    real.parent.mkdir()
    real.touch()
    (tmp_path / "link.db").symlink_to(real)
    for other in (tmp_path / "link.db", tmp_path / "data" / ".." / "data" / "samenspel.db"):
        with (
            only_bot_on(real),
            pytest.raises(DatabaseInUse, match="another samenspel runs"),
            only_bot_on(other),
        ):
            pass
    # Once the first is done, the next one (by either name) starts.
    with only_bot_on(tmp_path / "link.db"):
        pass
    assert sorted(p.name for p in real.parent.iterdir()) == ["samenspel.db", "samenspel.db.lock"]
