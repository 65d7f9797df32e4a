"""Samenspel on a grown database: query times, memory and start-up of the real process.

A database with 100,000 residents, 20,000 ideas (with their status histories and
follows), 200,000 supports and 200,000 comments is generated (deterministic, with
``executemany``). Popular ideas draw most supports and comments, and a few hundred active
residents wrote many ideas, as in real life. Idea texts come from a Dutch vocabulary with a
long tail (see ``bench/_common.py``).

1. **Queries** residents cause, through the repositories the handlers use: browsing
   (newest and most supported; all, per category, per neighbourhood; pages 1 to 3), an
   idea's card (the idea, its history, does this resident support and follow it), a
   comment thread, "my ideas" (for active and occasional authors), and the similar-idea
   search (full text) for a new draft. Target: p99 under 20 ms for each.
2. **Memory**: ``samenspel run`` as its own process on that file, against the loopback Bot
   API server, after it answered a few dozen requests: VmRSS from /proc. Target: < 150 MB.
3. **Start-up**: from starting the process until the first request (sent before it
   started) is answered. Target: under 2 seconds.

Usage::

    .venv/bin/python -m bench.scale [--keep PATH] [--seed 5]

``--keep PATH`` keeps the generated database there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import idea_description, idea_title, line, percentile, verdict
from handlers.profile import Profile, load_profile
from storage import Database, Repositories
from storage.clock import iso
from storage.ideas.ideas import IdeaSort

RESIDENTS = 100_000
IDEAS = 20_000
SUPPORTS = 200_000
COMMENTS = 200_000
ACTIVE_AUTHORS = 500
TARGET_QUERY_P99_MS = 20.0
TARGET_RSS_MB = 150.0
TARGET_STARTUP_S = 2.0
REPEATS = 300
TOKEN = "123456:SCALE-token"
STATUSES = [
    "ingediend",
    "in_behandeling",
    "quick_win",
    "opgenomen",
    "doorgestuurd",
    "niet_haalbaar",
]


# Generating the database -------------------------------------------------------------------


def _zipf_picker(count: int, rng: random.Random) -> Callable[[], int]:
    """Draw 1..count, the low numbers far more often (popular ideas)."""
    weights = list(itertools.accumulate(1 / (rank + 5) for rank in range(count)))
    order = list(range(1, count + 1))
    rng.shuffle(order)
    total = weights[-1]

    def pick() -> int:
        from bisect import bisect

        return order[min(bisect(weights, rng.random() * total), count - 1)]

    return pick


def _generate(path: Path, profile: Profile, seed: int) -> int:
    """Fill the migrated file at ``path``; returns its size in bytes."""
    rng = random.Random(seed)
    # Two years of use up to today. Residents were all seen within the retention period:
    # the daily retention run would have warned or erased anyone silent longer.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=700)

    def moment(spread_days: int = 700) -> str:
        return iso(start + timedelta(seconds=rng.randrange(spread_days * 86_400)))

    def seen(joined: str) -> str:
        return max(joined, iso(today - timedelta(seconds=rng.randrange(600 * 86_400))))

    hoods = [n.id for n in profile.neighbourhoods]
    categories = [c.id for c in profile.categories]
    themes = [t.id for t in profile.themes]
    departments = [d.id for d in profile.departments]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO users (id, platform, platform_user_id, chat_id, display_name, language,"
        " neighbourhood, consent_at, onboarded_at, created_at, last_seen_at)"
        " VALUES (?, 'telegram', ?, ?, ?, 'nl', ?, ?, ?, ?, ?)",
        (
            (
                n,
                str(100_000 + n),
                str(100_000 + n),
                f"Inwoner {n}",
                rng.choice(hoods),
                t,
                t,
                t,
                seen(t),
            )
            for n in range(1, RESIDENTS + 1)
            for t in (moment(),)
        ),
    )
    active = rng.sample(range(1, RESIDENTS + 1), ACTIVE_AUTHORS)
    ideas = []
    history: list[tuple[int, str, str | None, str | None, str | None, int | None, str]] = []
    for idea_id in range(1, IDEAS + 1):
        author = rng.choice(active) if rng.random() < 0.3 else rng.randint(1, RESIDENTS)
        created = moment()
        status = rng.choices(STATUSES, [60, 15, 5, 8, 8, 4])[0]
        removed = created if rng.random() < 0.01 else None
        hood = rng.choice(hoods) if rng.random() < 0.7 else None
        ideas.append(
            (
                idea_id,
                rng.choice(categories),
                idea_title(rng),
                idea_description(rng),
                hood,
                author,
                status,
                created,
                created,
                removed,
            )
        )
        history.append((idea_id, "ingediend", None, None, None, author, created))
        if status != "ingediend":
            history.append(
                (
                    idea_id,
                    status,
                    "Besproken in het team van de verbinder." if status != "quick_win" else None,
                    rng.choice(themes) if status == "opgenomen" else None,
                    rng.choice(departments) if status == "doorgestuurd" else None,
                    None,
                    created,
                )
            )
    db.executemany(
        "INSERT INTO ideas (id, category, title, description, neighbourhood, author_user_id,"
        " status, created_at, updated_at, removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ideas,
    )
    db.executemany(
        "INSERT INTO idea_status_history (idea_id, status, reason, theme, department,"
        " by_user_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        history,
    )
    popular = _zipf_picker(IDEAS, rng)
    supports: set[tuple[int, int]] = set()
    while len(supports) < SUPPORTS:
        supports.add((popular(), rng.randint(1, RESIDENTS)))
    stamp = moment()
    db.executemany(
        "INSERT INTO idea_supports (idea_id, user_id, created_at) VALUES (?, ?, ?)",
        ((idea, user, stamp) for idea, user in sorted(supports)),
    )
    follows = supports | {(row[0], row[5]) for row in ideas}
    db.executemany(
        "INSERT INTO idea_follows (idea_id, user_id, created_at) VALUES (?, ?, ?)",
        ((idea, user, stamp) for idea, user in sorted(follows)),
    )
    db.executemany(
        "INSERT INTO idea_comments (idea_id, author_user_id, body, created_at, hidden_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            (
                popular(),
                rng.randint(1, RESIDENTS),
                idea_description(rng)[:300],
                moment(),
                moment() if rng.random() < 0.01 else None,
            )
            for _ in range(COMMENTS)
        ),
    )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return path.stat().st_size


async def _database(
    keep: Path | None, reuse: bool, folder: Path, profile: Profile, seed: int
) -> Path:
    path = keep or folder / "scale.db"
    if reuse:
        print(f"  reusing {keep}")
        return path
    started = time.perf_counter()
    from bot.app import App
    from bot.settings import Settings

    app = await App.open(Settings(_env_file=None, db=path))  # migrations and experiments
    await app.close()
    size = _generate(path, profile, seed)
    line("generated in", f"{time.perf_counter() - started:.1f} s ({size >> 20} MiB)")
    return path


# Queries ---------------------------------------------------------------------------------


async def _time(operation: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        await operation()
        timings.append(time.perf_counter() - started)
    return timings


async def _queries(path: Path, profile: Profile, seed: int) -> bool:
    rng = random.Random(seed + 1)
    db = await Database.open(path)
    repos = Repositories(db)
    ideas, comments = repos.ideas, repos.comments
    categories = [c.id for c in profile.categories]
    hoods = [n.id for n in profile.neighbourhoods]
    busy = [
        int(row[0])
        for row in await db.fetchall(
            "SELECT author_user_id FROM ideas GROUP BY author_user_id"
            " ORDER BY COUNT(*) DESC LIMIT 100"
        )
    ]

    def page() -> int:
        return rng.choice([1, 1, 1, 2, 3])

    def sort() -> IdeaSort:
        return rng.choice(list(IdeaSort))

    async def card() -> None:
        idea_id, user_id = rng.randint(1, IDEAS), rng.randint(1, RESIDENTS)
        # What a card button costs: the idea, its history, the viewer's support and follow.
        assert await ideas.card(idea_id, user_id) is not None

    async def mine(user_id: int) -> None:
        await ideas.count_by_author(user_id)
        found = await ideas.by_author(user_id, limit=5)
        await ideas.latest_changes([idea.id for idea in found])

    operations: dict[str, Callable[[], Awaitable[Any]]] = {
        "browse newest, all": lambda: ideas.browse(
            IdeaSort.NEWEST, limit=5, offset=(page() - 1) * 5
        ),
        "browse most supported, all": lambda: ideas.browse(
            IdeaSort.MOST_SUPPORTED, limit=5, offset=(page() - 1) * 5
        ),
        "browse per category": lambda: ideas.browse(
            sort(), category=rng.choice(categories), limit=5, offset=(page() - 1) * 5
        ),
        "browse per neighbourhood": lambda: ideas.browse(
            sort(), neighbourhood=rng.choice(hoods), limit=5, offset=(page() - 1) * 5
        ),
        "idea card": card,
        "comment thread": lambda: comments.latest(rng.randint(1, IDEAS), limit=5),
        "my ideas (most active authors)": lambda: mine(rng.choice(busy)),
        "my ideas (any resident)": lambda: mine(rng.randint(1, RESIDENTS)),
        "similar ideas (full text)": lambda: ideas.similar(
            f"{idea_title(rng)}\n{idea_description(rng)}"
        ),
    }
    ok = True
    try:
        for name, operation in operations.items():
            await _time(operation, 20)  # warm the page cache as a running bot has it
            timings = await _time(operation, REPEATS)
            p99 = percentile(timings, 99) * 1000
            ok &= p99 < TARGET_QUERY_P99_MS
            line(
                name,
                f"p50 {percentile(timings, 50) * 1000:5.2f} ms   p99 {p99:6.2f} ms"
                f"   {'' if p99 < TARGET_QUERY_P99_MS else 'MISSES target'}",
            )
    finally:
        await db.close()
    return ok


# The real process ------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _process(path: Path) -> tuple[bool, bool]:
    from tests.e2e.botapi import BotApiServer

    async with BotApiServer(token=TOKEN) as server:
        # Residents onboarded in the data; a few of them, so that none of them taps faster
        # than the flood limit allows one person.
        residents = [server.user(100_001 + n, first_name=f"Inwoner {n}") for n in range(6)]
        env = {
            **os.environ,
            "SAMENSPEL_DB": str(path),
            "SAMENSPEL_TELEGRAM_TOKEN": TOKEN,
            "SAMENSPEL_TELEGRAM_API_URL": server.base_url,
            "SAMENSPEL_LOG_LEVEL": "WARNING",
        }
        first = residents[0]
        first.send_text("/ideeen")
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("samenspel")), "run", env=env
        )
        try:
            await server.wait_for_messages(first.chat_id, 1, timeout=60)
            startup = time.perf_counter() - started
            requests = ["/ideeen", "/mijnideeen", "/menu", "/help", "/experimenten"]
            answered = 1
            for n in range(60):
                resident = residents[n % len(residents)]
                before = server.delivered_count(resident.chat_id)
                if n % 3 == 2 and before > 0:  # a button needs a message to sit under
                    resident.press_data(f"idea.open:{1 + n * 97 % IDEAS}")
                else:
                    resident.send_text(requests[n % len(requests)])
                await server.wait_for_messages(resident.chat_id, before + 1, timeout=30)
                answered += 1
            await asyncio.sleep(0.5)  # let the last answers finish
            rss = _rss_mb(process.pid)
        finally:
            process.terminate()
            await process.wait()
    line("start-up to the first answer", f"{startup:.2f} s")
    line(f"resident set size after {answered} answers", f"{rss:.0f} MB")
    return startup < TARGET_STARTUP_S, rss < TARGET_RSS_MB


async def main(keep: Path | None, reuse: bool, seed: int) -> bool:
    logging.basicConfig(level=logging.WARNING)
    profile = load_profile(None)
    print(
        f"bench.scale: {RESIDENTS:,} residents, {IDEAS:,} ideas, {SUPPORTS:,} supports,"
        f" {COMMENTS:,} comments, seed {seed}"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = await _database(keep, reuse, Path(folder), profile, seed)
        print(f"Queries ({REPEATS} each, target p99 < {TARGET_QUERY_P99_MS:.0f} ms)")
        queries_ok = await _queries(path, profile, seed)
        print("The real process (samenspel run on Telegram, loopback Bot API server)")
        startup_ok, rss_ok = await _process(path)
    print("Result")
    line(f"query p99 < {TARGET_QUERY_P99_MS:.0f} ms", verdict(queries_ok))
    line(f"start-up < {TARGET_STARTUP_S:.0f} s", verdict(startup_ok))
    line(f"resident set size < {TARGET_RSS_MB:.0f} MB", verdict(rss_ok))
    return queries_ok and startup_ok and rss_ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    reuse = args.keep is not None and args.keep.exists()
    ok = asyncio.run(main(args.keep, reuse, args.seed))
    raise SystemExit(0 if ok else 1)
