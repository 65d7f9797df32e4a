"""Consultations at the scale of a town: publishing to 10,000 residents, counting 10,000
responses, and closing with the results sent to all of them.

On a real SQLite file with 10,000 residents who agreed to take part (one in ten reads
English, spread over the profile's neighbourhoods):

1. **Publishing**: a four-question poll (one choice, a scale, several choices, a typed
   answer) opened for everyone: a response row per person and the invitation queued in the
   outbox per language, in one transaction, as the composer's "Publiceren" does. Several
   rounds, each a new poll to the same 10,000. Target: under 5 s each.
2. **Answering**: 200 of them answer the four questions through the router (buttons and a
   typed text), while the poll already holds thousands of answers. Target: p99 < 50 ms.
3. **Counting**: 10,000 responses (every question answered) counted overall and per
   neighbourhood and language, as staff's live results and the closing job do. Target:
   under 1 s.
4. **Closing**: the closing job as the scheduler runs it: count, draw a chart per question
   and language, keep the counts and queue the results for all 10,000. Target: under 10 s.

Usage::

    .venv/bin/python -m bench.consultations [--rounds 3] [--residents 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench._common import line, percentile, verdict
from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.consultations.jobs import Surroundings, publish
from handlers.contract import Event, Reply, Sender
from storage.clock import iso, utcnow
from storage.consultations.model import Content, Question, QuestionKind
from storage.news.broadcasts import Audience, AudienceKind

TARGET_PUBLISH_S = 5.0
TARGET_ANSWER_P99_MS = 50.0
TARGET_COUNT_S = 1.0
TARGET_CLOSE_S = 10.0
ANSWERING = 200


def _content() -> Content:
    def nl(text: str) -> dict[str, str]:
        return {"nl": text}

    return Content(
        title=nl("Nieuwe speelplek Zeewijk"),
        intro=nl("We maken een nieuwe speelplek. Wat vind jij belangrijk?"),
        follow_up=nl("De gemeenteraad besluit in juni."),
        questions=[
            Question(
                kind=QuestionKind.ONE,
                text=nl("Wat moet er zeker komen?"),
                options=[nl("Schommel"), nl("Klimrek"), nl("Zandbak"), nl("Glijbaan")],
            ),
            Question(
                kind=QuestionKind.SCALE,
                text=nl("Hoe vaak ga je naar de speelplek?"),
                low=nl("nooit"),
                high=nl("elke dag"),
            ),
            Question(
                kind=QuestionKind.SEVERAL,
                text=nl("Wie neem je mee?"),
                options=[nl("Kinderen"), nl("Kleinkinderen"), nl("De hond")],
            ),
            Question(kind=QuestionKind.TEXT, text=nl("Wat wil je ons nog zeggen?")),
        ],
    )


async def _residents(app: App, count: int, rng: random.Random) -> None:
    hoods = [n.id for n in app.profile.neighbourhoods]
    stamp = iso(utcnow())
    async with app.db.transaction():
        await app.db.executemany(
            "INSERT INTO users (platform, platform_user_id, chat_id, display_name, language,"
            " neighbourhood, consent_at, onboarded_at, created_at, last_seen_at)"
            " VALUES ('bench', ?, ?, 'Inwoner', ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"r{n}",
                    f"r{n}",
                    "en" if n % 10 == 0 else "nl",
                    rng.choice(hoods),
                    stamp,
                    stamp,
                    stamp,
                    stamp,
                )
                for n in range(count)
            ),
            long=True,
        )


async def _draft(app: App, author: int) -> int:
    now = utcnow()
    async with app.db.transaction():
        return await app.repos.consultations.save_draft(
            author,
            _content(),
            audience=Audience(kind=AudienceKind.ALL),
            opens_at=None,
            closes_at=now + timedelta(days=7),
            now=now,
        )


async def _answer_all(app: App, poll: int, rng: random.Random) -> None:
    """Every response answered (fast, in SQL): as if the whole town took part."""
    now = iso(utcnow())
    rows = await app.db.fetchall(
        "SELECT id FROM consultation_responses WHERE consultation_id = ?", (poll,)
    )
    answers = []
    for (response,) in rows:
        ticks = sorted(rng.sample([1, 2, 3], rng.randint(1, 3)))
        answers += [
            (response, 1, json.dumps([rng.randint(1, 4)]), None, 0, None, now),
            (response, 2, json.dumps([rng.randint(1, 5)]), None, 0, None, now),
            (response, 3, json.dumps(ticks), None, 0, None, now),
            (response, 4, None, "Meer bankjes", 0, "pending", now)
            if rng.random() < 0.3
            else (response, 4, None, None, 1, None, now),
        ]
    async with app.db.transaction():
        await app.db.executemany(
            "INSERT OR REPLACE INTO consultation_answers"
            " (response_id, question, choices, text, skipped, review, answered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            answers,
            long=True,
        )
        await app.db.execute(
            "UPDATE consultation_responses SET started_at = ?, finished_at = ?"
            " WHERE consultation_id = ?",
            (now, now, poll),
            long=True,
        )


async def _answer_through_the_router(app: App, poll: int, count: int) -> list[float]:
    """``count`` residents answer the four questions with the bot's own buttons."""
    timings: list[float] = []

    async def deliver(_: Event, __: str, replies: list[Reply]) -> None:
        offered.extend(b.payload for reply in replies for row in reply.buttons for b in row)

    for n in range(count):
        sender = Sender(platform_user_id=f"r{n + 1}", display_name="Inwoner", language_hint="nl")
        steps: list[dict[str, str]] = [
            {"button": f"cs.o:{poll}:0"},
            {"button": f"cs.a:{poll}:0:1:2"},
            {"button": f"cs.a:{poll}:0:2:4"},
            {"button": f"cs.t:{poll}:0:3:1"},
            {"button": f"cs.n:{poll}:0:3"},
            {"text": "Een watertappunt zou fijn zijn."},
        ]
        for step in steps:
            offered: list[str] = []
            event = Event(platform="bench", chat_id=sender.platform_user_id, sender=sender, **step)
            started = time.perf_counter()
            await app.router.handle(event, deliver)
            timings.append(time.perf_counter() - started)
    return timings


async def main(rounds: int, residents: int, seed: int) -> bool:
    rng = random.Random(seed)
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, db=Path(folder) / "bench.db")
        app = await App.open(settings)
        try:
            await _residents(app, residents, rng)
            author = int(await app.db.fetchval("SELECT MIN(id) FROM users"))
            env = Surroundings(app.repos, app.catalog, app.profile, settings.zone)
            print(f"bench.consultations: {residents:,} residents, {rounds} rounds")

            publishing = []
            poll = 0
            for _ in range(rounds):
                poll = await _draft(app, author)
                started = time.perf_counter()
                async with app.db.transaction():
                    asked = await publish(env, poll, utcnow())
                publishing.append(time.perf_counter() - started)
                assert asked == residents, asked
            queued = await app.db.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE batch = ?", (f"consultation:{poll}",)
            )
            assert queued == residents, queued
            line("publish to everyone (s, per round)", ", ".join(f"{s:.2f}" for s in publishing))

            await _answer_all(app, poll, rng)
            answering = await _answer_through_the_router(app, poll, ANSWERING)
            p50 = percentile(answering, 50) * 1000
            p99 = percentile(answering, 99) * 1000
            line(
                f"answer through the router ({len(answering)} events)",
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            )

            counting = []
            for _ in range(rounds):
                started = time.perf_counter()
                results = await app.repos.tallies.count(poll, 0, app.catalog.default)
                counting.append(time.perf_counter() - started)
            assert results.respondents == residents, results.respondents
            line(
                f"count {residents:,} responses (s, per round)",
                ", ".join(f"{s:.3f}" for s in counting),
            )

            async with app.db.transaction():
                await app.repos.consultations.move_close(poll, utcnow(), utcnow())
            jobs = Runtime(app, adapters=[])
            started = time.perf_counter()
            await jobs.scheduler.kinds["consultation"].runner(str(poll))
            closing = time.perf_counter() - started
            sent = await app.db.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE batch = ?", (f"consultation:{poll}:results:0",)
            )
            assert sent == residents, sent
            line(f"close: count, charts, results to {sent:,}", f"{closing:.2f} s")

            ok = (
                max(publishing) < TARGET_PUBLISH_S
                and p99 < TARGET_ANSWER_P99_MS
                and max(counting) < TARGET_COUNT_S
                and closing < TARGET_CLOSE_S
            )
            line(
                "targets",
                f"publish < {TARGET_PUBLISH_S:.0f} s, answer p99 < {TARGET_ANSWER_P99_MS:.0f} ms,"
                f" count < {TARGET_COUNT_S:.0f} s, close < {TARGET_CLOSE_S:.0f} s: {verdict(ok)}",
            )
            return ok
        finally:
            await app.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.rounds, args.residents, args.seed)) else 1)
