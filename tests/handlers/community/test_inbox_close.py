"""Closing a resident's question: one without an answer yet is not closed with one tap."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role
from tests.people import audit_actions, connector, for_user, person, with_role
from tests.support import Chat

QUESTION = "Mag ik een bankje bij de bieb neerzetten?"


async def asked(app: App) -> tuple[Chat, Chat]:
    anna = await person(app, "anna")
    await anna.send(f"/vraag {QUESTION}")
    assert anna.keys == ["questions.sent"]
    ria = await connector(app)
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    assert ria.keys == ["inbox.thread"]
    return anna, ria


async def is_open(app: App) -> bool:
    question = await app.repos.questions.get(1)
    assert question is not None
    return question.is_open


async def test_closing_an_unanswered_question_asks_and_stopping_changes_nothing(
    app: App,
) -> None:
    anna, ria = await asked(app)
    await ria.press("Afsluiten")
    assert ria.keys == ["inbox.ask_close"]
    assert "Vraag #1 heeft nog geen antwoord. Toch afsluiten?" in ria.text
    assert [label for label, _ in ria.buttons()] == [
        "✅ Afsluiten zonder toelichting",
        "✖️ Stoppen",
    ]
    await ria.press("Stoppen")
    assert ria.keys == ["inbox.cancelled", "inbox.thread"]
    assert await is_open(app)
    assert await for_user(app, anna) == []
    assert "question.close" not in await audit_actions(app)


async def test_the_note_for_closing_goes_to_the_resident_and_stays_in_the_thread(
    app: App,
) -> None:
    anna, ria = await asked(app)
    await ria.press("Afsluiten")
    note = "Dat regelt de bibliotheek <zelf>: bel 0255 & vraag naar Els."
    await ria.send(note)
    assert ria.keys == ["inbox.closed", "inbox.title"]
    assert not await is_open(app)
    [notice] = await for_user(app, anna, "answer")
    text = notice.text(app, "nl")
    assert "Burgerbeest heeft je vraag #1 afgesloten" in text and note in text
    assert (await audit_actions(app))[-1:] == ["question.close"]
    # Under "Mijn vragen" she reads the same word and why.
    await anna.send("/mijnvragen")
    assert "Vraag #1 (afgesloten, " in anna.text
    await anna.press("#1 ")
    assert "Vraag #1 (afgesloten)" in anna.text and note in anna.text
    # She can still reply; the thread opens again.
    await anna.press_payload("q.add:1")
    await anna.send("Dank je, ik bel ze.")
    assert anna.keys == ["questions.added"]
    assert await is_open(app)


async def test_closing_without_a_note_says_only_that_it_was_closed(app: App) -> None:
    anna, ria = await asked(app)
    await ria.press("Afsluiten")
    await ria.press("zonder toelichting")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    [notice] = await for_user(app, anna, "answer")
    assert "heeft je vraag #1 afgesloten. Heb je nog iets?" in notice.text(app, "nl")
    question = await app.repos.questions.get(1)
    assert question is not None and [m.text for m in question.messages] == [QUESTION]
    # The old button of the question finds nothing left to do: no second notice.
    await ria.press_payload(ria.history[-2][0].buttons[0][1])
    assert ria.keys == ["general.stale_button"]
    await ria.press_payload("inbox.close:1")
    assert ria.keys == ["inbox.is_closed", "inbox.title"]
    assert len(await for_user(app, anna, "answer")) == 1


async def test_an_answered_question_closes_with_one_tap(app: App) -> None:
    anna, ria = await asked(app)
    await ria.press("Beantwoorden")
    await ria.send("Ja, vraag het aan de bieb.")
    await ria.press("Bekijk vraag #1")
    await ria.press("Afsluiten")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    assert not await is_open(app)
    assert [q.kind for q in await for_user(app, anna)] == ["answer", "answer"]


async def test_forged_and_stale_close_buttons_change_nothing(app: App) -> None:
    anna, ria = await asked(app)
    for payload in ("inbox.close:", "inbox.close:abc", "inbox.close:-1", "inbox.close:1:2"):
        await ria.press_payload(payload)
        assert ria.keys == ["general.stale_button"], payload
    await ria.press_payload("inbox.close:99")
    assert ria.keys == ["inbox.not_found", "inbox.title"]
    await ria.press("Bekijk vraag #1")
    await ria.press("Afsluiten")
    for forged in ("~0000:none", "~zz:none"):
        await ria.press_payload(forged)
        assert ria.keys == ["general.stale_button"], forged
    # A resident cannot press the connector's buttons.
    await anna.press_payload("inbox.close:1")
    assert anna.keys == ["general.stale_button"]
    assert await is_open(app)
    assert await for_user(app, anna) == []


async def test_a_connector_whose_role_went_before_confirming_closes_nothing(
    app: App,
) -> None:
    anna, ria = await asked(app)
    await ria.press("Afsluiten")
    no_note = ria.buttons()[0][1]
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("Hier gaat de gemeente niet over.")
    assert ria.keys == ["roles.lost.verbinder", "general.typed_not_kept"]
    await ria.press_payload(no_note)
    assert ria.keys == ["general.stale_button"]
    assert await is_open(app)
    assert await for_user(app, anna) == []
    assert "question.close" not in await audit_actions(app)


async def test_a_message_added_while_the_connector_writes_the_note_stops_the_close(
    app: App,
) -> None:
    anna, ria = await asked(app)
    await ria.press("Afsluiten")
    await anna.send("/mijnvragen")
    await anna.press("#1 ")
    await anna.press("Iets toevoegen aan #1")
    await anna.send("Het gaat om de bieb in IJmuiden.")
    note = "Daar gaat de gemeente niet over."
    await ria.send(note)
    assert ria.keys == ["inbox.close_changed", "inbox.not_sent", "inbox.thread"]
    assert note in ria.last[1].text and "Het gaat om de bieb in IJmuiden." in ria.text
    assert await is_open(app)
    assert await for_user(app, anna) == []


async def test_an_answer_by_another_connector_meanwhile_shows_the_thread_again(
    app: App,
) -> None:
    _, ria = await asked(app)
    await ria.press("Afsluiten")
    sem = await connector(app, "sem")
    await sem.press_payload("inbox.answer:1")
    await sem.send("Ja hoor, bij de ingang.")
    await ria.press("zonder toelichting")
    assert ria.keys == ["inbox.close_changed", "inbox.thread"]
    assert "Ja hoor, bij de ingang." in ria.text
    assert await is_open(app)
    # Now answered, it closes with one tap.
    await ria.press("Afsluiten")
    assert ria.keys == ["inbox.closed", "inbox.title"]
