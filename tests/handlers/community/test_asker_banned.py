"""A resident banned while typing a question: the ban is explained and their words come
back, as they do for a mute; nothing is sent to the connector."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.people import connector, person, row


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
