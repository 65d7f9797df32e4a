"""Pictures: kept while anything refers to them, deleted once nothing does; who sent each
in is recorded, also for pictures stored before that was."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import storage.db as dbmod
from bot.app import App
from handlers.contract import Reply
from storage.clock import iso, utcnow
from storage.db import Database
from tests.people import person, row


async def test_the_sweep_deletes_only_old_pictures_nothing_refers_to(app: App) -> None:
    anna = await person(app, "anna")
    anna_id = (await row(app, anna)).id
    now = utcnow()
    old, live_since = now - timedelta(days=3), now - timedelta(days=1)
    media = app.repos.media
    async with app.db.transaction():
        idea_photo, draft_photo, chart, alone, expired, fresh = [
            await media.save(f"picture {n}".encode(), "image/jpeg", old) for n in range(6)
        ]
        await app.repos.ideas.create(
            category="wonen",
            title="Een idee met een foto",
            description="Een beschrijving die lang genoeg is voor een idee.",
            neighbourhood=None,
            photo_id=idea_photo,
            author_user_id=anna_id,
            now=now,
        )
        # A budget round's projects are a list in the dialog: found at any depth.
        await app.repos.dialogs.save(
            anna_id,
            "budget_round",
            "projects",
            {"projects": [{"photo_id": draft_photo}]},
            "t",
            now,
        )
        await app.repos.outbox.enqueue(
            anna_id,
            [Reply(key="raw", photo_id=chart).model_dump(mode="json")],
            kind="consultation",
            now=now,
        )
        bob = await app.db.execute(
            "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
            " VALUES ('test', 'bob', ?, ?)",
            (iso(now), iso(now)),
        )
        await app.repos.dialogs.save(bob, "idea_submit", "preview", {"photo": expired}, "t", old)
        await app.db.execute("UPDATE media SET created_at = ? WHERE id = ?", (iso(now), fresh))
        swept = await media.sweep(live_since, live_since=live_since)
    assert swept == 2
    left = {
        m for m in (idea_photo, draft_photo, chart, alone, expired, fresh) if await media.get(m)
    }
    assert left == {idea_photo, draft_photo, chart, fresh}


async def test_the_senders_of_pictures_stored_before_are_recorded_where_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_media_uploads.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    stamp = "2025-01-01T00:00:00Z"
    db = await Database.open(path)
    try:
        async with db.transaction():
            anna, bob, carla = [
                await db.execute(
                    "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                    " VALUES ('test', ?, ?, ?)",
                    (name, stamp, stamp),
                )
                for name in ("anna", "bob", "carla")
            ]
            idea, draft, card, unknown = [
                await db.execute(
                    "INSERT INTO media (sha256, mime_type, data, created_at)"
                    " VALUES (?, 'image/jpeg', x'ff', ?)",
                    (f"digest {n}", stamp),
                )
                for n in range(4)
            ]
            await db.execute(
                "INSERT INTO ideas (category, title, description, photo_id, author_user_id,"
                " status, created_at, updated_at) VALUES ('wonen', 'Titel van het idee',"
                " 'Een beschrijving die lang genoeg is.', ?, ?, 'ingediend', ?, ?)",
                (idea, anna, stamp, stamp),
            )
            await db.execute(
                "INSERT INTO dialogs (user_id, name, step, data, token, updated_at)"
                " VALUES (?, 'budget_round', 'projects', ?, 't', ?)",
                (bob, json.dumps({"projects": [{"photo_id": draft}]}), stamp),
            )
            await db.execute(
                "INSERT INTO staff_cards (user_id, name, work, photo_id, updated_at)"
                " VALUES (?, 'Carla', 'Wegen', ?, ?)",
                (carla, card, stamp),
            )
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        rows = await db.fetchall(
            "SELECT user_id, media_id, uploaded_at FROM media_uploads ORDER BY media_id"
        )
        assert [tuple(r) for r in rows] == [
            (anna, idea, stamp),
            (bob, draft, stamp),
            (carla, card, stamp),
        ]
        assert unknown not in {r["media_id"] for r in rows}
    finally:
        await db.close()
