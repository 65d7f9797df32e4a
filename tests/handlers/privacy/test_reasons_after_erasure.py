"""/vergeetmij empties what staff typed about the person where it names them, and only there.

A display name is often a word too ("Fiets", "Jan"): it is looked for, as a whole word in any
case, in the rows about the person (a ban on them, a decision on their comment), never in the
rows about others, whose reasons stay whatever words they hold.
"""

from __future__ import annotations

from bot.app import App
from storage.community.moderation import SanctionKind
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row
from tests.support import Chat


async def _comment(author: Chat, text: str) -> int:
    """``author`` comments on idea #1; returns the comment's id."""
    await author.press_payload("idea.comment:1")
    await author.send(text)
    assert author.keys[0] == "comments.added"
    comment_id = await author.app.db.fetchval("SELECT MAX(id) FROM idea_comments")
    return int(comment_id)


async def _report(reporter: Chat, comment_id: int) -> None:
    await reporter.press_payload(f"cm.report:{comment_id}")
    assert reporter.keys == ["reporting.ask_reason"]
    await reporter.press("Schelden of beledigend")
    assert reporter.keys == ["reporting.thanks"]


async def _decide(ria: Chat, presses: list[str], reason: str) -> None:
    """The connector decides about the reported comment that waits longest."""
    await ria.send("/meldingen")
    assert ria.keys == ["moderation.card"]
    for label in presses:
        await ria.press(label)
    await ria.send(reason)
    assert ria.keys[0].startswith("moderation.done_")


async def _forget_keeping_content(chat: Chat) -> None:
    await chat.send("/vergeetmij")
    assert chat.keys == ["privacy.forget.choose"]
    await chat.press("Laten staan zonder naam")
    await chat.press("Ja, wis mijn gegevens")
    assert chat.keys == ["privacy.forget.done"]


async def _hidden_reason(app: App, comment_id: int) -> str | None:
    reason = await app.db.fetchval(
        "SELECT hidden_reason FROM idea_comments WHERE id = ?", (comment_id,)
    )
    return None if reason is None else str(reason)


async def _logged_reasons(app: App) -> dict[str, str | None]:
    """The audit log's reasons for the connector's decisions, by action."""
    rows = await app.db.fetchall(
        "SELECT action, reason FROM audit_log"
        " WHERE action IN ('user.warn', 'user.ban', 'comment.hide')"
    )
    return {row["action"]: row["reason"] for row in rows}


async def test_a_name_that_is_a_word_is_emptied_from_the_ban_on_its_owner_and_nowhere_else(
    app: App,
) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    fiets = await person(app, "fiets")
    assert fiets.name == "Fiets"
    bob, dora = await person(app, "bob"), await person(app, "dora")
    ria = await connector(app)
    theirs = await _comment(fiets, "Jullie zijn allemaal gek.")
    bobs = await _comment(bob, "Koop mijn fietsen, goedkoop!")
    await _report(dora, theirs)
    await _report(dora, bobs)
    about_fiets = "Fiets scheldt de buren steeds uit."
    about_bob = "Reclame voor een gestolen Fiets hoort hier niet."
    await _decide(ria, ["Blokkeren"], about_fiets)
    await _decide(ria, ["Verbergen"], about_bob)
    assert await _logged_reasons(app) == {"user.ban": about_fiets, "comment.hide": about_bob}

    # The banned person may still erase themselves.
    await _forget_keeping_content(fiets)
    await app.db.settled()

    # What staff typed about Fiets named them: emptied. What they typed about Bob's comment
    # holds the same word, and stays.
    assert await _hidden_reason(app, theirs) is None
    assert await _hidden_reason(app, bobs) == about_bob
    assert await _logged_reasons(app) == {"user.ban": None, "comment.hide": about_bob}
    # The ban outlives the erasure, and so does what was decided about the comment.
    kept = await app.db.fetchval("SELECT kind FROM kept_sanctions")
    assert kept == SanctionKind.BAN.value
    hidden = await app.db.fetchval("SELECT hidden_at FROM idea_comments WHERE id = ?", (theirs,))
    assert hidden is not None


async def test_a_short_name_is_emptied_from_rows_about_its_owner_as_a_whole_word_in_any_case(
    app: App,
) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    jan = await person(app, "jan")
    assert jan.name == "Jan"
    bob, dora = await person(app, "bob"), await person(app, "dora")
    ria = await connector(app)
    warned = await _comment(jan, "Wat een onzin.")
    banned = await _comment(jan, "Jullie zijn allemaal gek.")
    bobs = await _comment(bob, "Jan is gek.")
    for comment_id in (warned, banned, bobs):
        await _report(dora, comment_id)
    not_named = "Sinds januari al drie keer gemeld."
    named = "Dit is de derde keer, JAN."
    about_bob = "Bob valt Jan persoonlijk aan."
    await _decide(ria, ["Waarschuwen"], not_named)
    await _decide(ria, ["Blokkeren"], named)
    await _decide(ria, ["Verbergen"], about_bob)
    author = (await row(app, jan)).id
    assert [s.reason for s in await app.repos.sanctions.of_user(author)] == [not_named, named]

    await _forget_keeping_content(jan)
    await app.db.settled()

    # "januari" is not Jan; "JAN" is.
    assert await _hidden_reason(app, warned) == not_named
    assert await _hidden_reason(app, banned) is None
    assert await _logged_reasons(app) == {
        "user.warn": not_named,
        "user.ban": None,
        "comment.hide": about_bob,
    }
    # A reason about Bob that names Jan is Bob's record, and stays.
    assert await _hidden_reason(app, bobs) == about_bob
