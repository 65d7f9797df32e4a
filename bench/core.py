"""Events per second through the router on a real SQLite file, and what storage costs.

1,000 simulated residents, 200 at a time, each go through onboarding, tap the menu, browse
and open ideas, support some, and a share of them submit an idea through the whole dialog
(category, title, description, neighbourhood, photo, preview, similar ideas). Every event is
handed to the router in its own task, as a chat adapter does; the residents only press
buttons they were offered. Latency is the time from handing an event over until its replies
were delivered, so it includes waiting behind the events of the other residents.

Two runs of the same workload, each on a fresh database file:

* **Capacity**: the 200 residents tap again the moment they have their answer. This gives
  the events/s the router sustains. Its latency is mostly queueing: with 200 events always
  waiting, the mean latency is 200 / (events/s) whatever the router does (Little's law).
* **At 1,000 events/s**: the same 200 residents pause between taps (exponential, mean
  200 / 1,000 s), so together they send about 1,000 events/s, the target load. This gives
  the latency a resident sees when the bot is that busy.

The anchor is the same router, in the same process, with a handler that does nothing on an
in-memory database, replaying exactly the capacity run's events in the same order and
concurrency: the ratio shows what the features and the storage cost on top of the routing.
Both build each event when they send it, the same way, and keep only what it said.

On a shared machine the figures of one run move with the load of the moment (the anchor's
by half from run to run), so the capacity run and its anchor are run in pairs, one right
after the other, ``--pairs`` times (three by default): each pair's ratio is printed, and
the result is the median ratio and the median capacity. The workload of every run is the
same; only the rate at 1,000 events/s is measured once.

Usage::

    .venv/bin/python -m bench.core [--residents 1000] [--concurrency 200] [--seed 8]
                                   [--rate 1000] [--pairs 3]

Targets: a capacity of at least 1,000 events/s; p99 latency under 50 ms at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    Resident,
    Said,
    action,
    dialog_value,
    idea_description,
    idea_title,
    line,
    percentile,
    verdict,
)
from bot.app import App, settle_memory
from bot.router import Router
from bot.settings import Settings
from handlers.contract import Reply, Response
from handlers.feature import Context

TARGET_EVENTS_PER_S = 1000
TARGET_P99_MS = 50.0
SUBMIT_SHARE = 0.4
BROWSE_ROUNDS = 3


class IdleRouter(Router):
    """The router with a handler that does nothing: it answers every event with one reply."""

    async def _dispatch(self, ctx: Context, *, dropped: bool = False) -> tuple[Response, bool]:
        return Response(replies=[Reply(key="menu.title")]), True


async def _onboard(resident: Resident, rng: random.Random) -> None:
    await resident.command("start")
    await resident.press(dialog_value("yes"))
    await resident.press(dialog_value("nl"))
    hoods = [p for p in resident.payloads() if p.startswith("~") and not p.endswith(":none")]
    await resident.payload(rng.choice(hoods))


async def _browse_and_support(resident: Resident, rng: random.Random) -> None:
    # The newest first, or the most supported (the list's own sort button, page 1).
    await resident.payload("ideas.list" if rng.random() < 0.5 else "ideas.list:top:a::1")
    if "ideas.list_title" not in resident.reply_keys():
        raise AssertionError(f"{resident.user_id}: no list of ideas: {resident.reply_keys()}")
    opened = [p for p in resident.payloads() if action("idea.open")(p)]
    if not opened:
        return
    await resident.payload(rng.choice(opened))
    support = resident.find(action("idea.support"))
    if support is not None and rng.random() < 0.7:
        await resident.payload(support)


async def _submit(resident: Resident, rng: random.Random) -> None:
    await resident.command("idee")
    categories = [p for p in resident.payloads() if not p.endswith(":cancel")]
    await resident.payload(rng.choice(categories))
    await resident.text(idea_title(rng))
    await resident.text(idea_description(rng))
    hoods = [p for p in resident.payloads() if not p.endswith((":cancel", ":skip"))]
    await resident.payload(rng.choice(hoods))
    await resident.press(dialog_value("none"))
    await resident.press(dialog_value("send"))
    if "ideas.similar_intro" in resident.reply_keys():
        await resident.press(dialog_value("send"))
    if "ideas.submitted" not in resident.reply_keys():
        raise AssertionError(f"{resident.user_id}: idea not submitted: {resident.reply_keys()}")


async def session(resident: Resident, rng: random.Random) -> None:
    """One resident's visit: onboarding, menu, browsing, supports, perhaps an idea."""
    await _onboard(resident, rng)
    await resident.payload("menu")
    await resident.command("help")
    for round_ in range(BROWSE_ROUNDS):
        if round_ == 1 and rng.random() < SUBMIT_SHARE:
            await _submit(resident, rng)
        await _browse_and_support(resident, rng)


@dataclass
class Run:
    """What one run measured: the events sent, and when each was handed over and answered.

    Only the steady part counts: from the start until the last resident began, while all
    the slots were taken. After that fewer and fewer residents are left and the load falls.
    """

    streams: list[list[Said]]
    timings: list[tuple[float, float]]
    started: float
    steady_until: float

    @property
    def events(self) -> int:
        return sum(1 for moment, _ in self.timings if moment <= self.steady_until)

    @property
    def rate(self) -> float:
        return self.events / (self.steady_until - self.started)

    @property
    def latencies(self) -> list[float]:
        return [took for moment, took in self.timings if moment <= self.steady_until]


async def _run(
    router: Router,
    sessions: list[Callable[[Resident], Awaitable[None]]],
    concurrency: int,
    think: float | None,
    seed: int,
) -> Run:
    timings: list[tuple[float, float]] = []
    slots = asyncio.Semaphore(concurrency)
    people = [Resident(router, f"r{n}", timings) for n in range(len(sessions))]
    last_began = 0.0

    async def visit(index: int) -> None:
        nonlocal last_began
        person = people[index]
        if think is not None:
            pauses = random.Random(seed * 7 + index)
            person.think = lambda: pauses.expovariate(1 / think)
        async with slots:
            last_began = max(last_began, time.perf_counter())
            await sessions[index](person)

    started = time.perf_counter()
    await asyncio.gather(*(visit(i) for i in range(len(sessions))))
    return Run([person.sent for person in people], timings, started, last_began)


def _visits(residents: int, seed: int) -> list[Callable[[Resident], Awaitable[None]]]:
    def visit(index: int) -> Callable[[Resident], Awaitable[None]]:
        return lambda person: session(person, random.Random(seed * 100_003 + index))

    return [visit(index) for index in range(residents)]


def _replays(streams: list[list[Said]]) -> list[Callable[[Resident], Awaitable[None]]]:
    def replay(stream: list[Said]) -> Callable[[Resident], Awaitable[None]]:
        async def play(person: Resident) -> None:
            for said in stream:
                # Each event built when it is sent, as in the capacity run: neither run
                # keeps thousands of events alive.
                await person.replay(said)

        return play

    return [replay(stream) for stream in streams]


def _report(title: str, run: Run) -> float:
    print(title)
    line("events (steady part)", f"{run.events:,}")
    line("time", f"{run.steady_until - run.started:.2f} s")
    line("events/s", f"{run.rate:,.0f}")
    line("latency p50", f"{percentile(run.latencies, 50) * 1000:.1f} ms")
    line("latency p99", f"{percentile(run.latencies, 99) * 1000:.1f} ms")
    return run.rate


async def _samenspel(
    residents: int, concurrency: int, seed: int, think: float | None
) -> tuple[Run, int, int]:
    """One run on a fresh database file: what it measured, ideas and supports stored."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, db=Path(folder) / "bench.db")
        app = await App.open(settings)
        settle_memory()  # as ``samenspel run`` does once it has started
        try:
            run = await _run(app.router, _visits(residents, seed), concurrency, think, seed)
            ideas = await app.db.fetchval("SELECT COUNT(*) FROM ideas")
            supports = await app.db.fetchval("SELECT COUNT(*) FROM idea_supports")
        finally:
            await app.close()
    return run, ideas, supports


async def _anchor(streams: list[list[Said]], concurrency: int) -> Run:
    settings = Settings(_env_file=None, db=Path(":memory:"))
    app = await App.open(settings)
    settle_memory()
    idle = IdleRouter(app.repos, app.registry, app.profile, app.catalog, app.settings.zone)
    try:
        return await _run(idle, _replays(streams), concurrency, None, 0)
    finally:
        await idle.drain()
        await app.close()


async def main(residents: int, concurrency: int, seed: int, rate: int, pairs: int) -> bool:
    logging.basicConfig(level=logging.WARNING)
    print(f"bench.core: {residents:,} residents, {concurrency} at a time, seed {seed}")
    capacities: list[float] = []
    ratios: list[float] = []
    for pair in range(1, pairs + 1):
        run, ideas, supports = await _samenspel(residents, concurrency, seed, None)
        capacity = _report(f"Capacity {pair}: Samenspel router, SQLite file (WAL)", run)
        line("ideas submitted / supports given", f"{ideas:,} / {supports:,}")
        anchor = _report(
            f"Anchor {pair}: same router, handler does nothing, in-memory database",
            await _anchor(run.streams, concurrency),
        )
        line("ratio of this pair", f"{capacity / anchor:.2f}")
        capacities.append(capacity)
        ratios.append(capacity / anchor)
    paced, _, _ = await _samenspel(residents, concurrency, seed, concurrency / rate)
    _report(f"At about {rate:,} events/s: the same residents pausing between taps", paced)
    p99_ms = percentile(paced.latencies, 99) * 1000
    capacity = statistics.median(capacities)
    print("Result")
    line("capacity (median of the runs)", f"{capacity:,.0f} events/s")
    line(
        "ratio (Samenspel / anchor events/s)",
        f"{statistics.median(ratios):.2f} (median; pairs "
        + ", ".join(f"{ratio:.2f}" for ratio in ratios)
        + ")",
    )
    line(f"capacity >= {TARGET_EVENTS_PER_S:,} events/s", verdict(capacity >= TARGET_EVENTS_PER_S))
    line(f"p99 < {TARGET_P99_MS:.0f} ms at {rate:,} events/s", verdict(p99_ms < TARGET_P99_MS))
    return capacity >= TARGET_EVENTS_PER_S and p99_ms < TARGET_P99_MS


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--rate", type=int, default=TARGET_EVENTS_PER_S)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    ok = asyncio.run(main(args.residents, args.concurrency, args.seed, args.rate, args.pairs))
    raise SystemExit(0 if ok else 1)
