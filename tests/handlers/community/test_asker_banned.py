"""A resident banned while typing a question: the ban is explained and their words come
back, as they do for a mute; nothing is sent to the connector."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.people import connector, for_user, person, row


async def test_a_question_typed_by_someone_banned_meanwhile_comes_back_to_them(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag")
    assert anna.keys == ["questions.ask"]
    ria = await connector(app)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Herhaald schelden.",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )
    question = "Waarom ben ik geblokkeerd? Ik heb niets gedaan."
    await anna.send(question)
    assert anna.keys == ["moderation.banned"]
    assert question in anna.text
    assert await app.repos.questions.open_threads() == []
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None
    # A button of what she was doing is only the ban again, without words of hers.
    await anna.press_payload("q.mine")
    assert anna.keys == ["moderation.banned"]
    assert question not in anna.text


async def test_someone_banned_gets_the_answer_without_buttons_that_only_say_so(
    app: App,
) -> None:
    """The connector's answer to a question asked before the ban still arrives (deliberate),
    but without "Reageren" or "Mijn vragen": pressed, each would only say they are banned."""
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    await anna.send("/vraag Komt er een bankje bij de vijver?")
    ria = await connector(app)
    await ria.press_payload("inbox.answer:1")
    await ria.send("Volgende week dinsdag.")
    [before] = await for_user(app, anna, "answer")
    assert "q.add:1" in before.payloads()
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Herhaald schelden.",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )
    await ria.press_payload("inbox.answer:2")
    await ria.send("Ja, in het voorjaar.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    answer = (await for_user(app, anna, "answer"))[-1]
    assert "Ja, in het voorjaar." in answer.text(app, "nl")
    assert answer.payloads() == []
    # Closing the thread tells her too, again without a button.
    await ria.press_payload("inbox.close:2")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    closed = (await for_user(app, anna, "answer"))[-1]
    assert "afgesloten" in closed.text(app, "nl") and closed.payloads() == []
