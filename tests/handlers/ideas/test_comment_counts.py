"""An idea's comment count is kept on its row: it stays equal to the visible comments
through everything that adds, removes, hides or shows one again, as residents cause it."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage.db as dbmod
from bot.app import App
from storage.db import Database
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person
from tests.privacy import comment_counts_match
from tests.support import Chat


async def _shown(app: App, reader: Chat, expected: int) -> None:
    """The idea's row, every idea's drift check, and what a resident sees on the card."""
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.comments == expected
    assert await app.repos.comments.count(1) == expected
    assert await comment_counts_match(app.db)
    await reader.press_payload("idea.open:1")
    assert f"Reacties ({expected})" in " ".join(reader.last[0].labels())


async def test_the_comment_count_follows_writing_deleting_hiding_showing_and_forgetting(
    app: App,
) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    dora = await person(app, "dora")
    for who, text in ((anna, "Eerste reactie"), (anna, "Tweede reactie"), (bob, "Van Bob")):
        await who.press_payload("idea.comment:1")
        await who.send(text)
    await _shown(app, dora, 3)

    # Anna wipes her first comment with its button.
    await anna.press_payload("idea.comments:1")
    await anna.press("Wis 1")
    await anna.press("Ja, wis mijn reactie")
    assert anna.keys[0] == "comments.deleted"
    await _shown(app, dora, 2)

    # Three residents report Bob's comment: hidden, so no longer counted.
    for n in range(3):
        other = await person(app, f"r{n}")
        await other.press_payload("idea.comments:1")
        await other.press("Meld 2")
        await other.press("Schelden of beledigend")
        assert other.keys == ["reporting.thanks"]
    await _shown(app, dora, 1)

    # The connector lets it stand: shown and counted again.
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Laten staan")
    await ria.send("Het mag scherp.")
    assert ria.keys[0] == "moderation.done_keep"
    await _shown(app, dora, 2)

    # Bob leaves and takes his words with him.
    await bob.send("/vergeetmij")
    await bob.press("Ook wissen")
    await bob.press("Ja, wis mijn gegevens")
    assert bob.keys == ["privacy.forget.done"]
    await _shown(app, dora, 1)


async def test_comments_and_ideas_from_before_the_counts_are_counted_by_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_large_town.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    stamp = "2025-01-01T00:00:00Z"
    try:
        async with db.transaction():
            for idea, removed in ((1, None), (2, None), (3, stamp)):
                await db.execute(
                    "INSERT INTO ideas (id, category, title, description, status, created_at,"
                    " updated_at, removed_at)"
                    " VALUES (?, 'wonen', 'Titel', 'Tekst', 'ingediend', ?, ?, ?)",
                    (idea, stamp, stamp, removed),
                )
            # Idea 1: two visible, one hidden; idea 2: one hidden; idea 3: none.
            for idea, hidden in ((1, None), (1, None), (1, stamp), (2, stamp)):
                await db.execute(
                    "INSERT INTO idea_comments (idea_id, body, created_at, hidden_at)"
                    " VALUES (?, 'Reactie', ?, ?)",
                    (idea, stamp, hidden),
                )
    finally:
        await db.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        counts = await db.fetchall("SELECT id, comments FROM ideas ORDER BY id")
        assert [tuple(row) for row in counts] == [(1, 2), (2, 0), (3, 0)]
        # The browsable ideas are counted too (the removed one is not).
        listed = await db.fetchall("SELECT * FROM ideas_listed_counts")
        assert [tuple(row) for row in listed] == [("wonen", "", 2)]
    finally:
        await db.close()
