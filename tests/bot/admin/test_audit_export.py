"""The audit log's CSV: what a spreadsheet opens is text, never a formula."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from bot.admin.cli import main
from bot.app import App
from storage.clock import utcnow


async def test_an_audit_cell_that_looks_like_a_formula_is_text_in_the_csv(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.db.transaction():
        await app.repos.audit.record(
            "idea.status",
            now=utcnow(),
            actor="=cmd|' /C calc'!A0",
            subject='=HYPERLINK("https://evil.example","klik")',
            detail={"title": "=1+1"},
            reason="@mention",
        )
        await app.repos.audit.record("role.grant", now=utcnow(), actor="cli", subject="-1")
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    out = tmp_path / "audit.csv"
    # The command runs its own event loop, as it does from a shell.
    assert (
        await asyncio.to_thread(main, ["audit", "--since", "2000-01-01", "--out", str(out)]) == 0
    )

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0]["actor"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["subject"] == '\'=HYPERLINK("https://evil.example","klik")'
    assert rows[0]["detail"] == '{"title": "=1+1"}' and rows[0]["reason_given"] == "yes"
    assert rows[1]["subject"] == "'-1" and rows[1]["actor"] == "cli"
    assert rows[1]["id"].isdigit(), "numbers are written as they are"


async def test_an_audit_since_the_first_day_there_is_exports_everything(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Everything, from the very beginning": Amsterdam's midnight of 1 January of year 1 is
    # a moment of the year before in UTC.
    async with app.db.transaction():
        await app.repos.audit.record("role.grant", now=utcnow(), actor="cli", subject="user")
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    code = await asyncio.to_thread(main, ["audit", "--since", "0001-01-01"])
    out = capsys.readouterr().out
    assert code == 0
    [entry] = list(csv.DictReader(io.StringIO(out)))
    assert entry["action"] == "role.grant"
