"""Benchmark: closing a budget round with 50,000 confirmed ballots.

Fills a fresh database with residents, a round of 20 projects (five with a neighbourhood
budget) and one confirmed knapsack ballot per resident (random projects that fit the
budget, more popular projects chosen more often), then times the close: counting the votes,
choosing the winners and recording them, in one transaction, as the scheduler runs it.
The result messages are not part of the figure (their fan-out is measured by
``bench.broadcast``).

Target: the tally takes under 2 seconds for 50,000 ballots.

Usage::

    .venv/bin/python -m bench.budgets
    .venv/bin/python -m bench.budgets --ballots 50000 --projects 20 --seed 7
    .venv/bin/python -m bench.budgets --tie hood   # the tie rule that reads the most

``--tie`` picks the round's tie rule (cost, hood, earliest, lot; default cost). ``hood``
counts the votes from a project's own neighbourhood only for projects whose votes are tied
(every bench voter has a neighbourhood); its worst case, every project tied, is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import App
from bot.settings import Settings
from storage.budgets.rounds import NewProject
from storage.budgets.tally import TieRule
from storage.clock import iso

TARGET_SECONDS = 2.0
HOODS = ("ijmuiden", "velsen-noord", "driehuis")


async def fill(
    app: App, ballots: int, projects: int, rng: random.Random, tie: TieRule = TieRule.COST
) -> int:
    """A round with ``projects`` projects and ``ballots`` confirmed ballots; its id."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    new = [
        NewProject(
            title=f"Project {n}",
            description="Een project voor de buurt",
            cost_cents=rng.randrange(5, 60) * 100_000,
            neighbourhood=HOODS[n % len(HOODS)] if n < 5 else None,
        )
        for n in range(projects)
    ]
    total = 20_000_000
    round_id = await app.repos.budgets.create(
        name="Velsen kiest (bench)",
        total_cents=total,
        hood_budgets=dict.fromkeys(HOODS, 2000000),
        opens_at=now,
        closes_at=now + timedelta(days=14),
        hood_only=False,
        projects=new,
        now=now,
        tie_rule=tie,
    )
    stored = await app.repos.budgets.projects(round_id)
    weights = [1.0 / (rank + 1) for rank in range(len(stored))]
    stamp = iso(now)
    users = [("bench", str(n), stamp, stamp, stamp, HOODS[n % 3]) for n in range(ballots)]
    ballot_rows = []
    vote_rows = []
    async with app.db.transaction():
        await app.db.executemany(
            "INSERT INTO users (platform, platform_user_id, consent_at, created_at, last_seen_at,"
            " neighbourhood) VALUES (?, ?, ?, ?, ?, ?)",
            users,
        )
        first = int(await app.db.fetchval("SELECT MIN(id) FROM users WHERE platform = 'bench'"))
        for user_id in range(first, first + ballots):
            left = total
            chosen: set[int] = set()
            for project in rng.choices(stored, weights, k=8):
                if project.id not in chosen and project.cost_cents <= left:
                    chosen.add(project.id)
                    left -= project.cost_cents
            ballot_rows.append((round_id, user_id, stamp, stamp, stamp))
            vote_rows += [(round_id, user_id, pid) for pid in chosen]
        await app.db.executemany(
            "INSERT INTO budget_ballots (round_id, user_id, started_at, updated_at, confirmed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ballot_rows,
        )
        await app.db.executemany(
            "INSERT INTO budget_votes (round_id, user_id, project_id) VALUES (?, ?, ?)",
            vote_rows,
        )
    return round_id


async def main(ballots: int, projects: int, seed: int, tie: TieRule = TieRule.COST) -> float:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, db=Path(folder) / "bench.db")
        app = await App.open(settings)
        try:
            round_id = await fill(app, ballots, projects, random.Random(seed), tie)
            votes = int(await app.db.fetchval("SELECT COUNT(*) FROM budget_votes"))
            found = await app.repos.budgets.get(round_id)
            assert found is not None
            started = time.perf_counter()
            async with app.db.transaction():
                winners = await app.repos.budgets.close(round_id, found.closes_at)
            seconds = time.perf_counter() - started
            assert winners is not None
            closed = await app.repos.budgets.get(round_id)
            assert closed is not None and closed.voters == ballots
            worst = None
            if tie is TieRule.HOOD:
                projects_ = await app.repos.budgets.projects(round_id)
                started = time.perf_counter()
                await app.repos.budgets._hood_votes(closed, projects_, {})
                worst = time.perf_counter() - started
        finally:
            await app.close()
    print("Budget round tally (bench.budgets)")
    print(f"  {'ballots':<44} {ballots:,}")
    print(f"  {'votes (projects on ballots)':<44} {votes:,}")
    print(f"  {'projects':<44} {projects}")
    print(f"  {'tie rule':<44} {tie.value}")
    print(f"  {'winners':<44} {len(winners)}")
    print(f"  {'tally time (count, choose, record)':<44} {seconds * 1000:.0f} ms")
    print(f"  {'ratio to the 2 s target':<44} {seconds / TARGET_SECONDS:.2f} (at most 1)")
    if worst is not None:
        print(f"  {'own-neighbourhood count, every project tied':<44} {worst * 1000:.0f} ms")
    return seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=50_000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tie", choices=[rule.value for rule in TieRule], default="cost")
    args = parser.parse_args()
    asyncio.run(main(args.ballots, args.projects, args.seed, TieRule(args.tie)))
