"""Comment threads: newest pages first, hidden comments never shown or counted."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from storage.clock import utcnow
from storage.users import Role

NOW = utcnow()


async def _thread(app: App, comments: int) -> tuple[int, int, list[int]]:
    async with app.db.transaction():
        anna = await app.repos.users.seen("test", "anna", NOW)
        idea = await app.repos.ideas.create(
            category="wonen",
            title="Tiny houses",
            description="Kleine huizen voor starters aan de rand van het dorp.",
            neighbourhood=None,
            photo_id=None,
            author_user_id=anna.id,
            now=NOW,
        )
        ids = [
            (
                await app.repos.comments.add(
                    idea.id, anna.id, f"reactie {n}", NOW + timedelta(minutes=n)
                )
            ).id
            for n in range(comments)
        ]
    return idea.id, anna.id, ids


async def test_the_latest_comments_come_first_page_by_page_oldest_first_within(
    app: App,
) -> None:
    idea, anna, _ = await _thread(app, 12)
    first = await app.repos.comments.latest(idea, limit=5)
    assert [c.body for c in first.comments] == [f"reactie {n}" for n in range(7, 12)]
    assert first.total == 12 and first.has_older and not first.has_newer
    assert first.comments[0].author_user_id == anna
    assert first.comments[0].author_role == Role.RESIDENT
    last = await app.repos.comments.latest(idea, limit=5, offset=10)
    assert [c.body for c in last.comments] == ["reactie 0", "reactie 1"]
    assert not last.has_older and last.has_newer


async def test_hidden_comments_are_never_shown_or_counted(app: App) -> None:
    idea, _, ids = await _thread(app, 3)
    async with app.db.transaction():
        assert await app.repos.comments.hide(ids[1], "schelden", NOW)
        assert not await app.repos.comments.hide(ids[1], "nogmaals", NOW)
    page = await app.repos.comments.latest(idea)
    assert [c.body for c in page.comments] == ["reactie 0", "reactie 2"]
    assert page.total == 2 == await app.repos.comments.count(idea)
    stored = await app.repos.ideas.get(idea)
    assert stored is not None and stored.comments == 2
    reason = await app.db.fetchval(
        "SELECT hidden_reason FROM idea_comments WHERE id = ?", (ids[1],)
    )
    assert reason == "schelden"


async def test_an_erased_author_leaves_an_anonymous_comment(app: App) -> None:
    idea, anna, _ = await _thread(app, 1)
    async with app.db.transaction():
        await app.db.execute("DELETE FROM users WHERE id = ?", (anna,))
    comment = (await app.repos.comments.latest(idea)).comments[0]
    # Nobody is named; the comment still shows as a resident's, as it was written.
    assert (comment.author_user_id, comment.author_role, comment.body) == (
        None,
        Role.RESIDENT,
        "reactie 0",
    )
