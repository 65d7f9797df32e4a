"""Budget rounds learn who set them up: the migration that says so keeps every round with
its projects and ballots, takes the author from the audit log where that person is still
here, and lets a scheduled round be cancelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.budgets.rounds import BudgetRounds, RoundStatus
from storage.clock import parse, utcnow
from storage.db import Database
from tests.storage.migrating import STAMP, all_shipped, opened_before

OPENS = "2025-02-01T09:00:00Z"
CLOSES = "2025-02-08T17:00:00Z"


async def _user(db: Database, name: str, role: str) -> int:
    return await db.execute(
        "INSERT INTO users (platform, platform_user_id, chat_id, role, consent_at,"
        " created_at, last_seen_at) VALUES ('test', ?, ?, ?, ?, ?, ?)",
        (name, name, role, STAMP, STAMP, STAMP),
    )


async def _round(db: Database, name: str, status: str, actor: int | None) -> int:
    round_id = await db.execute(
        "INSERT INTO budget_rounds (name, total_cents, opens_at, closes_at, status, created_at,"
        " tie_rule) VALUES (?, 100000, ?, ?, ?, ?, 'lot')",
        (name, OPENS, CLOSES, status, STAMP),
    )
    await db.execute(
        "INSERT INTO budget_projects (round_id, title, description, cost_cents)"
        " VALUES (?, 'Speeltuin', 'Toestellen', 50000)",
        (round_id,),
    )
    if actor is not None:
        await db.execute(
            "INSERT INTO audit_log (at, actor, actor_user_id, action, subject)"
            " VALUES (?, 'user', ?, 'budget.create', ?)",
            (STAMP, actor, f"budget:{round_id}"),
        )
    return round_id


async def test_rounds_from_before_keep_their_rows_and_learn_their_author(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.db"
    db = await opened_before(path, monkeypatch, "_budget_round_author.sql")
    try:
        async with db.transaction():
            ria = await _user(db, "ria", "verbinder")
            anna = await _user(db, "anna", "inwoner")
            scheduled = await _round(db, "Later", "scheduled", ria)
            running = await _round(db, "Nu", "open", ria)
            unknown = await _round(db, "Zonder log", "scheduled", None)
            await db.execute(
                "INSERT INTO budget_ballots (round_id, user_id, started_at, updated_at,"
                " confirmed_at) VALUES (?, ?, ?, ?, ?)",
                (running, anna, STAMP, STAMP, STAMP),
            )
            await db.execute(
                "INSERT INTO budget_votes (round_id, user_id, project_id)"
                " SELECT ?, ?, id FROM budget_projects WHERE round_id = ?",
                (running, anna, running),
            )
    finally:
        await db.close()

    all_shipped(monkeypatch)
    db = await Database.open(path)
    try:
        rounds = BudgetRounds(db)
        later, now, nobody = [await rounds.get(i) for i in (scheduled, running, unknown)]
        assert later is not None and now is not None and nobody is not None
        assert (later.author_user_id, now.author_user_id, nobody.author_user_id) == (
            ria,
            ria,
            None,
        )
        assert later.status is RoundStatus.SCHEDULED and now.status is RoundStatus.OPEN
        assert later.opens_at == parse(OPENS) and later.tie_rule.value == "lot"
        # The ballot and vote of the open round are still there, pointing at it.
        [project] = await rounds.projects(running)
        assert await rounds.live_counts(running) == ({project.id: 1}, 1, 0)
        assert await db.fetchval("SELECT COUNT(*) FROM budget_projects") == 3
        assert await db.fetchval("PRAGMA foreign_key_check") is None
        # The new status is allowed: the round the former connector scheduled is cancelled
        # once she no longer runs rounds; the open one runs on.
        async with db.transaction():
            await db.execute("UPDATE users SET role = 'inwoner' WHERE id = ?", (ria,))
            stopped = await rounds.cancel_scheduled_by(ria, utcnow())
        assert [r.id for r in stopped] == [scheduled]
        cancelled = await rounds.get(scheduled)
        assert cancelled is not None and cancelled.status is RoundStatus.CANCELLED
        assert (await rounds.get(running)).status is RoundStatus.OPEN  # type: ignore[union-attr]
    finally:
        await db.close()
