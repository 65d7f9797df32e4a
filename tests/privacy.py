"""Helpers for the privacy tests: two residents with overlapping activity, and a search for
any trace of a value in every column of every table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import ReportReason
from storage.community.questions import Side
from storage.community.reports import Flag
from storage.db import Database
from storage.ideas.ideas import IdeaStatus
from storage.meetings.meetings import MeetingDraft
from storage.news.broadcasts import Audience, AudienceKind
from storage.privacy.personal import table_names
from storage.users import Role

ANNA_PHOTO = b"\xff\xd8\xff ANNA-PHOTO-Qv7Rk2 \xff\xd9"


@dataclass
class Resident:
    """A seeded person and every value that identifies them or that they wrote."""

    user_id: int
    platform_user_id: str
    chat_id: str
    name: str
    texts: list[str] = field(default_factory=list)
    idea: int = 0

    @property
    def identity(self) -> list[str]:
        return [self.platform_user_id, self.chat_id, self.name]


@dataclass
class Neighbours:
    """Anna and Bob (who support and discuss each other's ideas), Carla the connector, Dirk
    who browsed past Anna's idea and was told about it."""

    anna: Resident
    bob: Resident
    carla: Resident
    dirk: Resident
    question: int
    proposal: int
    #: A meeting Carla organised, Anna has a place at and Bob waits for.
    meeting: int = 0


async def person(
    app: App, platform_user_id: str, name: str, now: datetime, *, role: Role = Role.RESIDENT
) -> Resident:
    """Someone who consented on Telegram (their chat id equals their user id there)."""
    repos = app.repos
    user = await repos.users.seen("telegram", platform_user_id, now)
    await repos.users.give_consent(user.id, platform_user_id, name, now)
    await repos.users.set_neighbourhood(user.id, "ijmuiden")
    await repos.users.finish_onboarding(user.id, now)
    if role is not Role.RESIDENT:
        await repos.users.set_role(user.id, role)
    return Resident(user.id, platform_user_id, platform_user_id, name)


async def seed_neighbours(app: App, now: datetime | None = None) -> Neighbours:
    """Two residents with overlapping activity, a connector and a bystander, via storage."""
    repos, now = app.repos, now or utcnow()
    [playground, *_] = await repos.experiments.running()
    async with app.db.transaction():
        anna = await person(app, "7001112223", "Annabel Zwartkruis", now)
        bob = await person(app, "7004445556", "Bobbie Wittenhorst", now)
        carla = await person(app, "7007778889", "Carla Verbindt", now, role=Role.CONNECTOR)
        dirk = await person(app, "7002223334", "Dirk Omstander", now)

        photo = await repos.media.save(ANNA_PHOTO, "image/jpeg", now)
        await repos.media.remember_ref(photo, "telegram", "AgADfileQv7Rk2")
        anna.texts += ["Xjqwspeeltuin bij de Zeeweg", "Een xjqwklimrek voor kinderen in de duinen"]
        a_idea = await repos.ideas.create(
            category="wonen",
            title=anna.texts[0],
            description=anna.texts[1],
            neighbourhood="ijmuiden",
            photo_id=photo,
            author_user_id=anna.user_id,
            now=now,
        )
        anna.idea = a_idea.id
        bob.texts += ["Bobs zonnepanelen op het stadhuis", "Ykmzstroom voor iedereen in Velsen"]
        b_idea = await repos.ideas.create(
            category="klimaat",
            title=bob.texts[0],
            description=bob.texts[1],
            neighbourhood=None,
            photo_id=None,
            author_user_id=bob.user_id,
            now=now,
        )
        bob.idea = b_idea.id
        # They support and follow each other's ideas and talk in both threads.
        await repos.ideas.support(b_idea.id, anna.user_id, now)
        await repos.ideas.support(a_idea.id, bob.user_id, now)
        await repos.ideas.support(a_idea.id, dirk.user_id, now)
        anna.texts += ["Xjqwreactie: goed plan, Bob!", "Xjqwantwoord in mijn eigen draad"]
        bob.texts += ["Ykmzreactie bij Anna", "Ykmzantwoord bij zichzelf"]
        await repos.comments.add(b_idea.id, anna.user_id, anna.texts[2], now)
        await repos.comments.add(a_idea.id, bob.user_id, bob.texts[2], now)
        await repos.comments.add(a_idea.id, anna.user_id, anna.texts[3], now)
        await repos.comments.add(b_idea.id, bob.user_id, bob.texts[3], now)
        await repos.ideas.set_status(
            a_idea.id,
            IdeaStatus.IN_REVIEW,
            now=now,
            reason="We kijken ernaar",
            by_user_id=carla.user_id,
        )

        await repos.experiments.join(playground.id, anna.user_id, now)
        await repos.experiments.join(playground.id, bob.user_id, now)
        await repos.subscriptions.subscribe(anna.user_id, now)
        await repos.subscriptions.set_theme(anna.user_id, "klimaat", False)
        anna.texts += ["Xjqwmoestuin achter de bieb"]
        proposal = await repos.proposals.submit(
            anna.user_id,
            what=anna.texts[4],
            place="Xjqwplein",
            partners="Xjqwburen",
            budget_cents=50_000,
            full_financing=True,
            now=now,
        )
        await repos.proposals.follow(proposal, bob.user_id, now)
        anna.texts += ["Xjqwvraag: wanneer is de markt?"]
        question = await repos.questions.ask(anna.user_id, anna.texts[5], now)
        await repos.questions.add_message(
            question, Side.CONNECTOR, carla.user_id, "Op zaterdag, beste inwoner.", now
        )
        anna.texts += ["Xjqwhalfgetypt idee"]
        await repos.dialogs.save(
            anna.user_id,
            "idea_submit",
            "description",
            {"title": anna.texts[6], "photo": photo},
            "abc123",
            now,
        )
        await repos.chat_options.save(
            "telegram", anna.chat_id, [("Ja", "~abc:yes", True), ("Nee", "~abc:no", True)], now
        )
        await repos.outbox.enqueue(
            anna.user_id, [{"key": "raw", "params": {"text": "Hallo Anna"}}], kind="test", now=now
        )
        # Dirk saw Anna's idea as a button and heard about its status.
        await repos.chat_options.save(
            "telegram", dirk.chat_id, [(anna.texts[0], f"idea.open:{a_idea.id}", True)], now
        )
        await repos.outbox.enqueue(
            dirk.user_id,
            [{"key": "raw", "params": {"text": f"#{a_idea.id} {anna.texts[0]}: in behandeling"}}],
            kind="status",
            now=now,
        )
        await repos.broadcasts.save_draft(
            carla.user_id,
            text="Wist je dat de markt op zaterdag is?",
            photo_id=None,
            audience=Audience(kind=AudienceKind.ALL),
            payload=[{"key": "raw", "params": {"text": "markt"}}],
            now=now,
        )
        meeting = await repos.meetings.create(
            MeetingDraft(
                title="Buurtavond Zeewijk",
                description="Praat mee over de speeltuin.",
                address="Zeewijkplein 1",
                starts_at=now + timedelta(days=3),
                ends_at=now + timedelta(days=3, hours=2),
                capacity=1,
            ),
            carla.user_id,
            now,
        )
        await repos.meetings.register(meeting, anna.user_id, now, zone=app.settings.zone)
        await repos.meetings.register(
            meeting, bob.user_id, now + timedelta(seconds=1), zone=app.settings.zone
        )
    return Neighbours(anna, bob, carla, dirk, question, proposal, meeting)


async def seed_quotes(app: App, seeded: Neighbours, now: datetime | None = None) -> None:
    """What else holds Anna's name and words: reasons staff typed about her and her idea, a
    neighbour's note on a report of her comment, a reply to her that never arrived (her whole
    export), and one to Dirk quoting her idea. (Rows about others keep their reasons, even
    where those name her: see tests/storage/privacy/test_reasons.py.)"""
    repos, now = app.repos, now or utcnow()
    anna, carla, dirk = seeded.anna, seeded.carla, seeded.dirk
    async with app.db.transaction():
        await repos.audit.record(
            "comment.hide",
            now=now,
            actor_user_id=carla.user_id,
            subject="comment:1",
            subject_user_id=anna.user_id,
            reason=f"{anna.name} scheldt de buren uit",
        )
        await repos.audit.record(
            "idea.status",
            now=now,
            actor_user_id=carla.user_id,
            subject=f"idea:{anna.idea}",
            reason=f"Dubbel met '{anna.texts[0]}', samengevoegd",
        )
        # What others typed about her idea and her comment: a status reason, a reporter's note.
        await repos.ideas.set_status(
            anna.idea,
            IdeaStatus.IN_REVIEW,
            now=now,
            reason=f"Samen met {anna.name} bekijken",
            by_user_id=carla.user_id,
        )
        await repos.reports.add(
            Flag.COMMENT,
            1,  # hers, under Bob's idea
            dirk.user_id,
            ReportReason.OTHER,
            now,
            note=f"Dit gaat over {anna.name}",
        )
        export = {"key": "privacy.data.file", "params": {"name": anna.name}}
        await repos.handled.record(
            "telegram", "901", now, pending=json.dumps([export]), sender=anna.platform_user_id
        )
        card = {"key": "ideas.card", "params": {"title": anna.texts[0]}}
        await repos.handled.record(
            "telegram", "902", now, pending=json.dumps([card]), sender=dirk.platform_user_id
        )


def file_traces(app: App, needles: Iterable[str]) -> list[str]:
    """``file: needle`` for the database file and its write-ahead log, read as bytes (call
    it after :func:`traces`, which waits for the background work of erasures)."""
    found = []
    for path in database_files(app):
        data = path.read_bytes()
        for needle in sorted({form for n in needles for form in (n, n.lower())}):
            if needle.encode("utf-8") in data:
                found.append(f"{path.name}: {needle}")
    return found


async def traces(db: Database, needles: Iterable[str]) -> list[str]:
    """``table.column: needle`` for every column of every table that holds a needle, read
    as text and as bytes, as stored and in lower case (the search index folds case), once
    the work erasures leave to the background is done."""
    await db.settled()
    wanted = sorted({form for needle in needles for form in (needle, needle.lower())})
    found = []
    for table in await table_names(db):
        columns = await db.fetchall(f'PRAGMA table_info("{table}")')
        for column in columns:
            name = column["name"]
            for needle in wanted:
                hits = await db.fetchval(
                    f'SELECT COUNT(*) FROM "{table}" WHERE'
                    f' instr(CAST("{name}" AS TEXT), ?) > 0'
                    f' OR instr(CAST("{name}" AS BLOB), CAST(? AS BLOB)) > 0',
                    (needle, needle),
                )
                if hits:
                    found.append(f"{table}.{name}: {needle}")
    return found


def database_files(app: App) -> list[Path]:
    """The database file and, while it exists, its write-ahead log."""
    main = Path(app.settings.db)
    return [path for path in (main, main.with_name(main.name + "-wal")) if path.exists()]


async def supporter_counts_match(db: Database) -> bool:
    """Whether every idea's supporter count equals its support rows."""
    drift = await db.fetchval(
        "SELECT COUNT(*) FROM ideas i WHERE supporters !="
        " (SELECT COUNT(*) FROM idea_supports s WHERE s.idea_id = i.id)"
    )
    return int(drift) == 0


async def comment_counts_match(db: Database) -> bool:
    """Whether every idea's comment count equals its visible comment rows."""
    drift = await db.fetchval(
        "SELECT COUNT(*) FROM ideas i WHERE comments !="
        " (SELECT COUNT(*) FROM idea_comments c WHERE c.idea_id = i.id AND c.hidden_at IS NULL)"
    )
    return int(drift) == 0


async def listed_counts_match(db: Database) -> bool:
    """Whether the browsable ideas counted per category and neighbourhood equal the ideas."""
    uncounted = await db.fetchval(
        "SELECT COUNT(*) FROM (SELECT category, COALESCE(neighbourhood, ''), COUNT(*)"
        " FROM ideas WHERE removed_at IS NULL GROUP BY 1, 2"
        " EXCEPT SELECT category, neighbourhood, listed FROM ideas_listed_counts)"
    )
    miscounted = await db.fetchval(
        "SELECT COUNT(*) FROM ideas_listed_counts c WHERE listed !="
        " (SELECT COUNT(*) FROM ideas i WHERE i.removed_at IS NULL AND i.category = c.category"
        " AND COALESCE(i.neighbourhood, '') = c.neighbourhood)"
    )
    return int(uncounted) == 0 and int(miscounted) == 0
