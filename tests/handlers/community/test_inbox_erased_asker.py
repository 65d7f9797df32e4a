"""The connector answers a question whose resident was erased meanwhile: told kindly, the
typed answer handed back, nothing sent, nothing stored, nothing breaks."""

from __future__ import annotations

from bot.app import App
from tests.people import audit_actions, connector, outbox, person


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
