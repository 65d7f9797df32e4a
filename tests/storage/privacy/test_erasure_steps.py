"""An erasure's last steps run after its commit, in the background: dropped with a rollback,
finished after a restart, and the write-ahead log emptied even when it was in use."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

import storage.db as dbmod
from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from storage.privacy.personal import Cause, ContentChoice, PersonalStore
from tests.privacy import (
    database_files,
    file_traces,
    person,
    seed_neighbours,
    seed_quotes,
    traces,
)


async def test_an_erasure_a_stop_interrupted_is_finished_at_the_next_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await App.open(settings)
    try:
        seeded = await seed_neighbours(app)
        await seed_quotes(app, seeded)
        anna = seeded.anna
        everything = [*anna.identity, *anna.texts]

        async def stopped(self: PersonalStore, scrub_id: int) -> None:
            """The bot stops right after the erasure's commit."""

        monkeypatch.setattr(PersonalStore, "scrub", stopped)
        await app.repos.personal.erase(
            anna.user_id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=utcnow()
        )
        left = await traces(app.db, everything)
        assert "outbox.payload: Xjqwspeeltuin bij de Zeeweg" in left  # Dirk's notification
        assert await app.db.fetchval("SELECT COUNT(*) FROM erasure_scrubs") == 1
    finally:
        await app.close()
    monkeypatch.undo()

    app = await App.open(settings)
    try:
        assert await traces(app.db, everything) == []
        assert file_traces(app, everything) == []
        assert await app.db.fetchval("SELECT COUNT(*) FROM erasure_scrubs") == 0
        assert await app.repos.ideas.get(anna.idea) is None
    finally:
        await app.close()


async def test_names_in_rows_about_the_person_are_emptied_after_a_stop_too(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows about the person are noted in the erasure's transaction: a stop before the
    last steps loses nothing, and rows about others still keep their reasons."""
    app = await App.open(settings)
    try:
        now = utcnow()
        async with app.db.transaction():
            fiets = await person(app, "7001112223", "Fiets", now)
            bob = await person(app, "7004445556", "Bobbie Wittenhorst", now)
            for about, reason in ((fiets, "Fiets scheldt."), (bob, "Bobbie stal een Fiets.")):
                await app.repos.audit.record(
                    "user.ban", now=now, subject_user_id=about.user_id, reason=reason
                )

        async def stopped(self: PersonalStore, scrub_id: int) -> None:
            """The bot stops right after the erasure's commit."""

        monkeypatch.setattr(PersonalStore, "scrub", stopped)
        await app.repos.personal.erase(
            fiets.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
        )
        reasons = [e.reason for e in await app.repos.audit.recent()]
        assert reasons == ["Bobbie stal een Fiets.", "Fiets scheldt."]
    finally:
        await app.close()
    monkeypatch.undo()

    app = await App.open(settings)
    try:
        await app.db.settled()
        reasons = [e.reason for e in await app.repos.audit.recent()]
        assert reasons == ["Bobbie stal een Fiets.", None]
        assert await app.db.fetchval("SELECT COUNT(*) FROM erasure_scrubs") == 0
    finally:
        await app.close()


async def test_a_row_that_takes_the_id_of_a_deleted_row_about_the_person_keeps_its_reason(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fiets's comment, the newest, goes with their content; before the last steps run
    (after a restart, say), Bob's new comment gets the same id and is hidden for a reason
    that holds the word: it is not about Fiets, and stays. (Comment numbers are no longer
    given out twice; the counter is set back here to see that the scrub does not rely on
    that.)"""
    app = await App.open(settings)
    try:
        now = utcnow()
        async with app.db.transaction():
            fiets = await person(app, "7001112223", "Fiets", now)
            bob = await person(app, "7004445556", "Bobbie Wittenhorst", now)
            idea = await app.repos.ideas.create(
                category="wonen",
                title="Een fietsenstalling bij het station",
                description="Een beschrijving die lang genoeg is voor een idee.",
                neighbourhood=None,
                photo_id=None,
                author_user_id=bob.user_id,
                now=now,
            )
            theirs = await app.repos.comments.add(idea.id, fiets.user_id, "Onzin.", now)
            await app.repos.comments.hide(theirs.id, "Fiets scheldt.", now)

        async def stopped(self: PersonalStore, scrub_id: int) -> None:
            """The bot stops right after the erasure's commit."""

        monkeypatch.setattr(PersonalStore, "scrub", stopped)
        await app.repos.personal.erase(
            fiets.user_id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=now
        )
        async with app.db.transaction():
            await app.db.execute("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'idea_comments'")
            bobs = await app.repos.comments.add(idea.id, bob.user_id, "Koop mijn fiets!", now)
            await app.repos.comments.hide(bobs.id, "Fiets te koop: reclame.", now)
        assert bobs.id == theirs.id
    finally:
        await app.close()
    monkeypatch.undo()

    app = await App.open(settings)
    try:
        await app.db.settled()
        reason = await app.db.fetchval(
            "SELECT hidden_reason FROM idea_comments WHERE id = ?", (bobs.id,)
        )
        assert reason == "Fiets te koop: reclame."
    finally:
        await app.close()


async def test_work_after_a_commit_is_dropped_when_the_transaction_rolls_back(app: App) -> None:
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    with pytest.raises(RuntimeError):
        async with app.db.transaction():
            await app.db.execute(
                "INSERT INTO erasures (erased_at, cause, content, pseudonym)"
                " VALUES ('t', 'request', 'kept', 'x')"
            )
            app.db.after_commit(lambda: job("rolled back"))
            raise RuntimeError("something went wrong")
    async with app.db.transaction():
        app.db.after_commit(lambda: job("committed"))
        assert ran == []  # not before the commit
    await app.db.settled()
    assert ran == ["committed"]


async def test_a_log_in_use_is_emptied_at_a_later_commit(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbmod, "TRUNCATE_RETRY_S", 0.0)
    seeded = await seed_neighbours(app)
    [_, wal] = database_files(app)
    # Another process reads an older snapshot: the log cannot be emptied under it.
    with closing(sqlite3.connect(app.settings.db, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM users").fetchone()
        await app.repos.personal.erase(
            seeded.anna.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=utcnow()
        )
        await app.db.settled()
        assert wal.stat().st_size > 0
        reader.execute("COMMIT")
    # The next commit empties it.
    async with app.db.transaction():
        await app.repos.users.seen("telegram", "42", utcnow())
    await app.db.settled()
    assert wal.stat().st_size == 0
    assert file_traces(app, seeded.anna.identity) == []
