"""A thread read a while ago: its Beantwoorden and Afsluiten buttons are about the thread as
it was then. Someone else's answer or the resident's new message since stops them, and the
connector reads the thread as it is now first."""

from __future__ import annotations

from bot.app import App
from tests.people import audit_actions, connector, for_user, person, row
from tests.support import Chat

QUESTION = "Wanneer wordt het gras in het park gemaaid?"


async def _read_by(app: App, *names: str) -> tuple[Chat, list[Chat]]:
    anna = await person(app, "anna")
    await anna.send(f"/vraag {QUESTION}")
    staff = []
    for name in names:
        chat = await connector(app, name)
        await chat.send("/inbox")
        await chat.press("Bekijk vraag #1")
        assert chat.keys == ["inbox.thread"]
        staff.append(chat)
    return anna, staff


async def test_an_old_answer_button_after_someone_else_answered_shows_that_answer_first(
    app: App,
) -> None:
    anna, (ria, sam) = await _read_by(app, "ria", "sam")
    await sam.press("Beantwoorden")
    await sam.send("Volgende week dinsdag.")
    assert sam.keys == ["inbox.answered", "inbox.title"]

    # Ria still has the thread as it was before Sam's answer on her screen.
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.answer_changed", "inbox.thread"]
    assert "Volgende week dinsdag." in ria.text
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    # Having read it, she may still add something of her own.
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"]
    await ria.send("Bij regen een dag later.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    assert len(await for_user(app, anna, "answer")) == 2


async def test_an_old_close_button_after_the_resident_wrote_more_shows_the_thread_first(
    app: App,
) -> None:
    anna, (ria,) = await _read_by(app, "ria")
    await ria.press("Beantwoorden")
    await ria.send("Volgende week dinsdag.")
    await ria.press("Bekijk vraag #1")
    assert ria.keys == ["inbox.thread"]

    # Anna asks something more; Ria, on the view of the answered thread, taps Afsluiten.
    await anna.send("/mijnvragen")
    await anna.press("#1 ")
    await anna.press("Iets toevoegen aan #1")
    await anna.send("En het veld bij de school?")
    await ria.press("Afsluiten")
    assert ria.keys == ["inbox.close_changed", "inbox.thread"]
    assert "En het veld bij de school?" in ria.text
    question = await app.repos.questions.get(1)
    assert question is not None and question.is_open
    assert "question.close" not in await audit_actions(app)


async def test_the_own_answer_and_buttons_from_before_it_still_work(app: App) -> None:
    anna, (ria,) = await _read_by(app, "ria")
    await ria.press("Beantwoorden")
    await ria.send("Volgende week dinsdag.")
    # An old thread view of her own, from before her answer: her own words change nothing.
    await ria.press_payload("inbox.close:1:1")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    assert [q.kind for q in await for_user(app, anna)] == ["answer", "answer"]


async def test_thread_buttons_that_name_no_message_we_could_have_sent_are_stale(
    app: App,
) -> None:
    _, (ria,) = await _read_by(app, "ria")
    for payload in (
        "inbox.answer:1:-1",
        "inbox.answer:1:x",
        "inbox.close:1:",
        "inbox.close:1:2:3",
    ):
        await ria.press_payload(payload)
        assert ria.keys == ["general.stale_button"], payload
