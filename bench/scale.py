"""Samenspel on a grown database: query times, memory and start-up of the real process.

A town is generated from ``--residents N`` (default 100,000; see :class:`Shape`): at
100,000 residents 20,000 ideas (with their status histories and follows), 200,000 supports
and 200,000 comments; at 1,000,000 (Amsterdam's size) 100,000 ideas, 2,000,000 supports and
2,000,000 comments; and a year of outbox messages, N / 20 a day, as the outbox's pruning
leaves them (see :func:`_outbox`). Popular ideas draw most supports and comments, and a
few active residents wrote many ideas, as in real life. Idea texts come from a Dutch
vocabulary with a long tail (see ``bench/_common.py``). Generation is deterministic and
part of the run (``executemany`` from generators, one transaction).

1. **Queries** residents cause, through the repositories the handlers use: browsing
   (newest and most supported; all, per category, per neighbourhood; pages 1 to 3, with
   the total each page shows), an idea's card (the idea, its history, does this resident
   support and follow it), a comment thread, "my ideas" (for active and occasional
   authors), the similar-idea search (full text) for a new draft, a resident's
   ``/mijngegevens`` export, and the delivery worker's look for the next messages to send.
   Target: p99 under 20 ms for each.
2. **Memory**: ``samenspel run`` as its own process on that file, against the loopback Bot
   API server, after it answered a few dozen requests: VmRSS from /proc. Target: under
   150 MB up to 100,000 residents, growing to 250 MB at 1,000,000.
3. **Start-up**: from starting the process until the first request (sent before it
   started) is answered; start-up includes the daily retention run (and its pruning of
   the outbox). Target: under 2 seconds.

Usage::

    .venv/bin/python -m bench.scale [--residents 100000] [--keep PATH] [--seed 5]

``--keep PATH`` keeps the generated database there and reuses it on the next run (made
with the same ``--residents``; generate it again after a schema change).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import idea_description, idea_title, line, percentile, verdict
from handlers.profile import Profile, load_profile
from storage import Database, Repositories
from storage.clock import iso
from storage.ideas.ideas import IdeaSort

RESIDENTS = 100_000
TARGET_QUERY_P99_MS = 20.0
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


@dataclass(frozen=True)
class Shape:
    """How big the generated town is, all drawn from the number of residents.

    At 100,000 residents: 20,000 ideas, 200,000 supports and comments, 5,000 outbox rows a
    day. At 1,000,000 (Amsterdam's size): 100,000 ideas, 2,000,000 supports and comments,
    50,000 outbox rows a day. Supports, comments and messages grow with the residents;
    ideas grow slower (ten times the residents, five times the ideas: the same few active
    people write most of them), as ``20,000 * (residents / 100,000) ** log10(5)``.
    """

    residents: int

    @property
    def ideas(self) -> int:
        return max(10, round(20_000 * (self.residents / 100_000) ** math.log10(5)))

    @property
    def supports(self) -> int:
        return 2 * self.residents

    @property
    def comments(self) -> int:
        return 2 * self.residents

    @property
    def active_authors(self) -> int:
        return max(5, self.ideas // 40)

    @property
    def outbox_per_day(self) -> int:
        return self.residents // 20

    @property
    def target_rss_mb(self) -> float:
        """150 MB up to 100,000 residents, growing to 250 MB at 1,000,000 (the page cache
        SQLite keeps and the bigger indices it walks)."""
        extra = max(0.0, math.log10(self.residents / 100_000)) * 100
        return 150.0 + extra


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


def _generate(path: Path, profile: Profile, seed: int, shape: Shape) -> int:
    """Fill the migrated file at ``path``; returns its size in bytes.

    Rows are streamed into ``executemany`` from generators in one transaction with
    ``synchronous = OFF``; the only big Python structure is the set of (idea, resident)
    support pairs, kept as plain integers.
    """
    rng = random.Random(seed)
    residents, ideas_count = shape.residents, shape.ideas
    # Two years of use up to today. Residents were all seen within the retention period:
    # the daily retention run would have warned or erased anyone silent longer.
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
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
    # Written once, straight into the file (no log to copy afterwards), with room for the
    # indices' pages: a crash while generating only means generating again.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
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
            for n in range(1, residents + 1)
            for t in (moment(),)
        ),
    )
    active = rng.sample(range(1, residents + 1), shape.active_authors)

    def idea_rows() -> Iterator[tuple[object, ...]]:
        for idea_id in range(1, ideas_count + 1):
            author = rng.choice(active) if rng.random() < 0.3 else rng.randint(1, residents)
            created = moment()
            status = rng.choices(STATUSES, [60, 15, 5, 8, 8, 4])[0]
            removed = created if rng.random() < 0.01 else None
            hood = rng.choice(hoods) if rng.random() < 0.7 else None
            yield (
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

    db.executemany(
        "INSERT INTO ideas (id, category, title, description, neighbourhood, author_user_id,"
        " status, created_at, updated_at, removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        idea_rows(),
    )

    def history_rows() -> Iterator[tuple[object, ...]]:
        for idea_id, status, created, author in db.execute(
            "SELECT id, status, created_at, author_user_id FROM ideas ORDER BY id"
        ).fetchall():
            yield (idea_id, "ingediend", None, None, None, author, created)
            if status != "ingediend":
                yield (
                    idea_id,
                    status,
                    "Besproken in het team van de verbinder." if status != "quick_win" else None,
                    rng.choice(themes) if status == "opgenomen" else None,
                    rng.choice(departments) if status == "doorgestuurd" else None,
                    None,
                    created,
                )

    db.executemany(
        "INSERT INTO idea_status_history (idea_id, status, reason, theme, department,"
        " by_user_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        history_rows(),
    )
    popular = _zipf_picker(ideas_count, rng)
    # (idea, resident) pairs as one integer each: idea * 2**32 + resident.
    supports: set[int] = set()
    while len(supports) < shape.supports:
        supports.add(popular() << 32 | rng.randint(1, residents))
    stamp = moment()
    db.executemany(
        "INSERT INTO idea_supports (idea_id, user_id, created_at) VALUES (?, ?, ?)",
        ((pair >> 32, pair & 0xFFFFFFFF, stamp) for pair in sorted(supports)),
    )
    del supports
    # Supporters follow what they support; authors follow their own ideas.
    db.execute(
        "INSERT OR IGNORE INTO idea_follows (idea_id, user_id, created_at)"
        " SELECT idea_id, user_id, created_at FROM idea_supports"
        " UNION ALL SELECT id, author_user_id, created_at FROM ideas ORDER BY 1, 2"
    )
    db.executemany(
        "INSERT INTO idea_comments (idea_id, author_user_id, body, created_at, hidden_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            (
                popular(),
                rng.randint(1, residents),
                idea_description(rng)[:300],
                moment(),
                moment() if rng.random() < 0.01 else None,
            )
            for _ in range(shape.comments)
        ),
    )
    _outbox(db, rng, shape, now)
    db.execute("COMMIT")
    # No ANALYZE: the bot never runs it, so the query planner works without statistics
    # here too, as on a real installation.
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    return path.stat().st_size


def _outbox(db: sqlite3.Connection, rng: random.Random, shape: Shape, now: datetime) -> None:
    """A year of messages, ``shape.outbox_per_day`` a day, as pruning leaves them.

    The daily retention run (:func:`bot.admin.retention.run_retention`, also at every
    start-up) deletes what was sent more than ``SAMENSPEL_OUTBOX_KEEP_DAYS`` (30) days
    before it ran, keeping the newest row so no id is given out twice. A real file therefore
    holds the last 30 days, plus whatever was sent between 30 days before the last run and
    30 days before now: at worst one more day, which the run at start-up has to delete. We
    generate that worst case: 31 days of rows (ids continuing the 334 days pruned before
    them), all done (sent, a few unreachable or failed), nine in ten in one "Wist je dat"
    broadcast a day (a finished batch), the rest single notifications over the day; and the
    finished batches of the whole year (batches are not pruned).
    """
    per_day = shape.outbox_per_day
    if per_day == 0:
        return
    kept_days, year = 31, 365
    first_id = (year - kept_days) * per_day + 1
    payload_broadcast = json.dumps(
        [{"key": "news.item", "params": {"title": "Wist je dat...", "body": "x" * 160}}]
    )
    payload_single = json.dumps(
        [{"key": "ideas.status_changed", "params": {"title": "Meer bomen", "status": "opgenomen"}}]
    )
    db.executemany(
        "INSERT INTO outbox_batches (batch, author_user_id, total, created_at, finished_at,"
        " delivered, unreachable, failed, cancelled) VALUES (?, NULL, ?, ?, ?, ?, 0, 0, 0)",
        (
            (f"news:{day}", per_day * 9 // 10, iso(at), iso(at + timedelta(hours=1)), per_day)
            for day in range(year)
            for at in (now - timedelta(days=year - day),)
        ),
    )

    def rows() -> Iterator[tuple[object, ...]]:
        row_id = first_id
        for day in range(year - kept_days, year):
            base = now - timedelta(days=year - day)
            broadcast = per_day * 9 // 10
            for n in range(per_day):
                user = rng.randint(1, shape.residents)
                if n < broadcast:
                    created = base
                    sent = base + timedelta(seconds=n // 25)
                    kind, batch, payload = "news", f"news:{day}", payload_broadcast
                else:
                    created = base + timedelta(seconds=rng.randrange(86_400))
                    sent = created + timedelta(seconds=1)
                    kind, batch, payload = "status", None, payload_single
                roll = rng.random()
                status = "sent" if roll < 0.98 else "unreachable" if roll < 0.995 else "failed"
                yield (
                    row_id,
                    user,
                    str(100_000 + user),
                    payload,
                    kind,
                    batch,
                    status,
                    1,
                    iso(created),
                    iso(created),
                    iso(sent) if status == "sent" else None,
                )
                row_id += 1

    db.executemany(
        "INSERT INTO outbox (id, user_id, platform, chat_id, payload, kind, batch, status,"
        " attempts, not_before, created_at, sent_at)"
        " VALUES (?, ?, 'telegram', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )


async def _database(
    keep: Path | None, reuse: bool, folder: Path, profile: Profile, seed: int, shape: Shape
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
    size = _generate(path, profile, seed, shape)
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


async def _queries(path: Path, profile: Profile, seed: int, shape: Shape) -> bool:
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
        idea_id, user_id = rng.randint(1, shape.ideas), rng.randint(1, shape.residents)
        # What a card button costs: the idea, its history, the viewer's support and follow.
        assert await ideas.card(idea_id, user_id) is not None

    async def mine(user_id: int) -> None:
        await ideas.count_by_author(user_id)
        found = await ideas.by_author(user_id, limit=5)
        await ideas.latest_changes([idea.id for idea in found])

    def now() -> datetime:
        return datetime.now(UTC)

    class _Undo(Exception):
        """Rolls the timed write back: the file stays as generated."""

    async def blocked() -> None:
        chat = str(100_000 + rng.randint(1, shape.residents))
        with contextlib.suppress(_Undo):
            async with db.transaction():
                marked = await repos.outbox.mark_chat_unreachable("telegram", chat, now())
                assert marked, chat
                raise _Undo

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
        "comment thread": lambda: comments.latest(rng.randint(1, shape.ideas), limit=5),
        "my ideas (most active authors)": lambda: mine(rng.choice(busy)),
        "my ideas (any resident)": lambda: mine(rng.randint(1, shape.residents)),
        "similar ideas (full text)": lambda: ideas.similar(
            f"{idea_title(rng)}\n{idea_description(rng)}"
        ),
        # /mijngegevens: everything about one resident, over every table that holds any.
        "my data (/mijngegevens export)": lambda: repos.personal.export(
            rng.choice([rng.randint(1, shape.residents), rng.choice(busy)]),
            datetime.now(UTC),
            media_limit=0,
        ),
        # What the delivery worker asks before each handful of messages it sends.
        "outbox: the next messages to send": lambda: repos.outbox.due(
            "telegram", datetime.now(UTC), 50
        ),
        # What it asks every few seconds to show authors their broadcast's progress.
        "outbox: broadcasts to show progress of": lambda: repos.outbox.open_batches("telegram"),
        # A resident who blocked the bot, found during a broadcast (undone afterwards).
        "outbox: a blocked chat marked unreachable": blocked,
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


def _next_update_id(path: Path) -> int:
    """Above the updates an earlier run on this file handled: Telegram counts a bot's
    updates on, and one it handled before would be taken for a repeat."""
    with sqlite3.connect(path) as db:
        ids = db.execute(
            "SELECT event_id FROM handled_events WHERE platform = 'telegram'"
        ).fetchall()
    # "<bot id>:<update id>" (and ":joined:<member>" after it); older files: the update id.
    updates = [[*event_id.split(":"), event_id][1] for (event_id,) in ids]
    return max((int(n) for n in updates if n.isdigit()), default=0) + 1


async def _process(path: Path, shape: Shape) -> tuple[bool, bool]:
    from tests.e2e.botapi import BotApiServer

    async with BotApiServer(token=TOKEN, first_update_id=_next_update_id(path)) as server:
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
                    resident.press_data(f"idea.open:{1 + n * 97 % shape.ideas}")
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
    return startup < TARGET_STARTUP_S, rss < shape.target_rss_mb


async def main(keep: Path | None, reuse: bool, seed: int, shape: Shape) -> bool:
    logging.basicConfig(level=logging.WARNING)
    profile = load_profile(None)
    print(
        f"bench.scale: {shape.residents:,} residents, {shape.ideas:,} ideas,"
        f" {shape.supports:,} supports, {shape.comments:,} comments,"
        f" {shape.outbox_per_day:,} outbox rows a day for a year (pruned), seed {seed}"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = await _database(keep, reuse, Path(folder), profile, seed, shape)
        print(f"Queries ({REPEATS} each, target p99 < {TARGET_QUERY_P99_MS:.0f} ms)")
        queries_ok = await _queries(path, profile, seed, shape)
        print("The real process (samenspel run on Telegram, loopback Bot API server)")
        startup_ok, rss_ok = await _process(path, shape)
    print("Result")
    line(f"query p99 < {TARGET_QUERY_P99_MS:.0f} ms", verdict(queries_ok))
    line(f"start-up < {TARGET_STARTUP_S:.0f} s", verdict(startup_ok))
    line(f"resident set size < {shape.target_rss_mb:.0f} MB", verdict(rss_ok))
    return queries_ok and startup_ok and rss_ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.residents < 100:
        parser.error("--residents: at least 100")
    reuse = args.keep is not None and args.keep.exists()
    ok = asyncio.run(main(args.keep, reuse, args.seed, Shape(args.residents)))
    raise SystemExit(0 if ok else 1)
