"""Two connectors at one question: the resident gets one answer unless the second connector,
having read the first, still wants to send theirs; nothing anyone typed is lost."""

from __future__ import annotations

from bot.app import App
from tests.people import audit_actions, connector, for_user, person, row


async def test_a_second_connector_hears_the_question_was_answered_while_they_typed(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    ria = await connector(app)
    sam = await connector(app, "sam")
    for staff in (ria, sam):
        await staff.send("/inbox")
        await staff.press("Bekijk vraag #1")
        await staff.press("Beantwoorden")
        assert staff.keys == ["inbox.ask_answer"]
    await ria.send("Volgende week dinsdag.")
    assert ria.keys == ["inbox.answered", "inbox.title"]

    # Sam typed his answer at the same time: it is not sent; he reads Ria's answer and gets
    # his own words back.
    await sam.send("Donderdag, denk ik.")
    assert sam.keys == ["inbox.answered_meanwhile", "inbox.not_sent", "inbox.thread"]
    assert "Donderdag, denk ik." in sam.text
    assert "Volgende week dinsdag." in sam.text
    answers = [q.text(app, "nl") for q in await for_user(app, anna, "answer")]
    assert len(answers) == 1 and "Volgende week dinsdag." in answers[0]
    question = await app.repos.questions.get(1)
    assert question is not None
    assert [m.text for m in question.messages] == [
        "Wanneer wordt het gras in het park gemaaid?",
        "Volgende week dinsdag.",
    ]
    assert (await audit_actions(app)).count("question.answer") == 1
    assert await app.repos.dialogs.load((await row(app, sam)).id) is None

    # Having read it, Sam can still add something of his own.
    await sam.press("Beantwoorden")
    await sam.send("Aanvulling: bij regen een dag later.")
    assert sam.keys == ["inbox.answered", "inbox.title"]
    assert len(await for_user(app, anna, "answer")) == 2


async def test_a_connector_may_answer_again_after_the_resident_wrote_more(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    ria = await connector(app)
    await ria.press_payload("inbox.answer:1")
    # Anna adds to her question while Ria types: the answer still goes.
    await anna.send("/mijnvragen")
    await anna.press("#1 ")
    await anna.press("Iets toevoegen aan #1")
    await anna.send("En het veld bij de school?")
    await ria.send("Allebei volgende week.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    # It went, and she reads at once what Anna added meanwhile (nothing else of the thread).
    done = ria.last[0].text
    assert "terwijl je typte, schreef de inwoner nog iets bij vraag #1" in done
    assert "En het veld bij de school?" in done and "gras in het park" not in done
    # And Ria, answering twice in a row herself, is never stopped by her own answer.
    await ria.press_payload("inbox.answer:1")
    await ria.send("Correctie: het veld pas in juni.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    assert "terwijl je typte" not in ria.last[0].text
    assert len(await for_user(app, anna, "answer")) == 2
