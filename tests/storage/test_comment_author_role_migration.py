"""A comment keeps the role its author wrote it in: the migration that stores it keeps what
the comments from before showed (their author's role then, read from the users table),
and one of an author who erased their data with their comments kept stays a resident's."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.clock import utcnow
from storage.db import Database
from storage.ideas.comments import Comments
from storage.users import Role
from tests.storage.migrating import STAMP, all_shipped, opened_before


async def test_the_comments_from_before_keep_the_role_they_showed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "before.db"
    db = await opened_before(path, monkeypatch, "_comment_author_role.sql")
    try:
        async with db.transaction():
            people = {}
            for name, role in (("anna", "inwoner"), ("ria", "verbinder"), ("piet", "ambtenaar")):
                people[name] = await db.execute(
                    "INSERT INTO users (platform, platform_user_id, chat_id, consent_at, role,"
                    " created_at, last_seen_at) VALUES ('test', ?, ?, ?, ?, ?, ?)",
                    (name, name, STAMP, role, STAMP, STAMP),
                )
            idea = await db.execute(
                "INSERT INTO ideas (category, title, description, author_user_id, status,"
                " created_at, updated_at) VALUES ('groen', 'Bankje', 'Bij de bieb', ?,"
                " 'ingediend', ?, ?)",
                (people["anna"], STAMP, STAMP),
            )
            for author in (people["anna"], people["ria"], people["piet"], None):
                await db.execute(
                    "INSERT INTO idea_comments (idea_id, author_user_id, body, created_at)"
                    " VALUES (?, ?, 'x', ?)",
                    (idea, author, STAMP),
                )
    finally:
        await db.close()

    all_shipped(monkeypatch)
    db = await Database.open(path)
    try:
        comments = Comments(db)
        page = await comments.latest(idea, limit=10)
        assert [c.author_role for c in page.comments] == [
            Role.RESIDENT,
            Role.CONNECTOR,
            Role.CIVIL_SERVANT,
            None,
        ]
        # Ria is a resident again: what she wrote as the connector stays the connector's.
        async with db.transaction():
            await db.execute("UPDATE users SET role = 'inwoner' WHERE id = ?", (people["ria"],))
            await comments.add(idea, people["ria"], "y", utcnow())
        page = await comments.latest(idea, limit=10)
        assert [c.author_role for c in page.comments][1:] == [
            Role.CONNECTOR,
            Role.CIVIL_SERVANT,
            None,
            Role.RESIDENT,
        ]
    finally:
        await db.close()
