"""The connector answers a question whose resident was erased meanwhile: told kindly, the
typed answer handed back, nothing sent, nothing stored, nothing breaks."""

from __future__ import annotations

from bot.app import App
from tests.people import audit_actions, connector, for_user, outbox, person, row
from tests.support import Chat


async def test_an_answer_to_a_question_whose_resident_was_erased_meanwhile(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    ria = await connector(app)
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"]

    # While Ria types, Anna asks to be forgotten: her question goes with her.
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]

    await ria.send("Volgende week dinsdag.")
    assert ria.keys == ["inbox.resident_gone", "inbox.not_sent", "inbox.title"]
    assert "Volgende week dinsdag." in ria.text
    assert "Er zijn geen open vragen" in ria.text
    assert await outbox(app, "answer") == []
    assert "question.answer" not in await audit_actions(app)
    assert await app.db.fetchval("SELECT COUNT(*) FROM question_messages") == 0
    # Her dialog is over, and an old button of the thread is answered kindly too.
    await ria.send("/menu")
    assert ria.keys == ["menu.title"]
    await ria.press_payload("inbox.answer:1")
    assert ria.keys == ["inbox.not_found", "inbox.title"]


async def _answer_begun_then_asker_erased_and_carl_asks(
    app: App, *, numbers_reused: bool
) -> tuple[Chat, Chat]:
    """Ria begins answering Anna's question #1; Anna is forgotten; Carl asks something."""
    anna = await person(app, "anna")
    carl = await person(app, "carl")
    ria = await connector(app)
    await anna.send("/vraag Mijn buurman op nummer 12 slaat zijn kinderen, wat moet ik doen?")
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"]
    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    if numbers_reused:
        # As SQLite did before numbers were kept: the highest one, deleted, is given again.
        await app.db.execute("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'questions'")
    await carl.send("/vraag Wanneer is de markt?")
    assert carl.keys[0] == "questions.sent"
    return ria, carl


async def test_a_question_asked_after_an_erasure_never_gets_the_erased_ones_number(
    app: App,
) -> None:
    ria, carl = await _answer_begun_then_asker_erased_and_carl_asks(app, numbers_reused=False)
    assert await app.db.fetchval("SELECT id FROM questions") == 2
    answer = "Beste Anna, bel Veilig Thuis over je buurman op nummer 12."
    await ria.send(answer)
    assert ria.keys == ["inbox.resident_gone", "inbox.not_sent", "inbox.title"]
    assert answer in ria.text
    assert await for_user(app, carl, "answer") == []
    assert (
        await app.db.fetchval(
            "SELECT COUNT(*) FROM question_messages WHERE side = ?", ("connector",)
        )
        == 0
    )


async def test_an_answer_begun_for_one_question_never_goes_to_another_that_got_its_number(
    app: App,
) -> None:
    ria, carl = await _answer_begun_then_asker_erased_and_carl_asks(app, numbers_reused=True)
    assert await app.db.fetchval("SELECT id FROM questions") == 1  # Carl's now
    answer = "Beste Anna, bel Veilig Thuis over je buurman op nummer 12."
    await ria.send(answer)
    # Ria hears Anna's question is gone and gets her words back; Carl gets nothing, and his
    # question still waits for an answer of its own.
    assert ria.keys == ["inbox.resident_gone", "inbox.not_sent", "inbox.title"]
    assert answer in ria.text
    assert "Wanneer is de markt?" in ria.text
    assert await for_user(app, carl, "answer") == []
    assert "question.answer" not in await audit_actions(app)
    question = await app.repos.questions.get(1)
    assert question is not None and [m.text for m in question.messages] == ["Wanneer is de markt?"]
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
