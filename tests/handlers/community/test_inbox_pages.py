"""The connector's inbox with many open questions: longest waiting first, and paging on from
the last question shown, so answering a page never makes "Volgende" skip waiting ones."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from handlers import when
from storage.clock import utcnow
from storage.community.questions import Side
from tests.people import connector, person, row
from tests.support import Chat

WAITING = 14


async def waiting_questions(app: App, count: int = WAITING) -> list[int]:
    """``count`` residents each asked a question, a minute apart: the first asked longest ago."""
    start = utcnow() - timedelta(hours=3)
    asked = []
    for n in range(count):
        user = await row(app, await person(app, f"r{n}"))
        async with app.db.transaction():
            asked.append(
                await app.repos.questions.ask(
                    user.id,
                    f"Vraag {n}: wanneer komt er een bankje?",
                    start + n * timedelta(minutes=1),
                )
            )
    return asked


def shown(chat: Chat) -> list[int]:
    return [int(n) for _, p in chat.buttons() for n in re.findall(r"^inbox\.open:(\d+)$", p)]


def next_payload(chat: Chat) -> str:
    return next(payload for label, payload in chat.buttons() if "Volgende" in label)


async def test_the_longest_waiting_question_comes_first_even_after_a_second_message(
    app: App,
) -> None:
    asked = await waiting_questions(app)
    # The first asker adds a line later: still waiting since the first question.
    first = await row(app, "r0")
    async with app.db.transaction():
        await app.repos.questions.add_message(
            asked[0], Side.RESIDENT, first.id, "Nog iets?", utcnow()
        )
    ria = await connector(app)
    await ria.send("/inbox")
    assert shown(ria) == asked[:5]
    assert "Pagina 1 van 3" in ria.text
    # Its line says since when it waits (as the order does), not when the line came.
    question = await app.repos.questions.get(asked[0])
    assert question is not None
    since = question.messages[0].at.astimezone(app.settings.zone)
    line = next(part for part in ria.text.split("\n\n") if f"#{asked[0]} " in part)
    assert when.recent(since, "nl") in line, line


async def test_answering_a_page_then_pressing_its_old_volgende_skips_no_waiting_question(
    app: App,
) -> None:
    asked = await waiting_questions(app)
    ria = await connector(app)
    await ria.send("/inbox")
    page_one = shown(ria)
    stale_next = next_payload(ria)
    assert len(stale_next.encode()) <= 64
    for question in page_one:
        await ria.press_payload(f"inbox.answer:{question}")
        await ria.send(f"Dank voor je vraag, we kijken ernaar ({question}).")
        assert ria.keys == ["inbox.answered", "inbox.title"]
    await ria.press_payload(stale_next)
    # The waiting ones that were on page 2, now the first: nothing skipped.
    assert shown(ria) == asked[5:10] and "Pagina 1 van 3" in ria.text
    seen = shown(ria)
    while any("Volgende" in label for label, _ in ria.buttons()):
        await ria.press("Volgende")
        seen += shown(ria)
    # Every waiting question, then the answered ones, answered longest ago first.
    assert seen == [*asked[5:], *page_one]
    while any("Vorige" in label for label, _ in ria.buttons()):
        await ria.press("Vorige")
    assert shown(ria) == asked[5:10] and "Pagina 1 van 3" in ria.text


async def test_an_old_volgende_whose_threads_were_all_closed_shows_the_last_page(
    app: App,
) -> None:
    """Page 2 held one question, closed meanwhile: its old "Volgende" shows the five still
    open, not "no open questions"."""
    asked = await waiting_questions(app, 6)
    ria = await connector(app)
    await ria.send("/inbox")
    stale_next = next_payload(ria)
    async with app.db.transaction():
        await app.db.execute("UPDATE questions SET status = 'closed' WHERE id = ?", (asked[5],))
    await ria.press_payload(stale_next)
    assert shown(ria) == asked[:5]
    assert "Pagina 1 van 1" in ria.text


async def test_an_old_volgende_whose_next_page_was_closed_shows_the_last_page_as_it_is_now(
    app: App,
) -> None:
    """Page 3 held one question, closed meanwhile: page 2's old "Volgende" shows the page
    that now ends the inbox, page 2 with the question that button came after, not a page
    that leaves it out and still offers "Volgende"."""
    asked = await waiting_questions(app, 11)
    ria = await connector(app)
    await ria.send("/inbox")
    await ria.press("Volgende")
    assert shown(ria) == asked[5:10]
    stale_next = next_payload(ria)
    async with app.db.transaction():
        await app.db.execute("UPDATE questions SET status = 'closed' WHERE id = ?", (asked[10],))
    await ria.press_payload(stale_next)
    assert shown(ria) == asked[5:10]
    assert "Pagina 2 van 2" in ria.text
    assert not any("Volgende" in label for label, _ in ria.buttons())
