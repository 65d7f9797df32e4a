"""A question meant for a civil servant whose card went while it was typed (erased, or no
longer staff): it goes to the connector, and the card's name is nowhere left behind."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role
from storage.clock import utcnow
from tests.people import connector, person, row, with_role
from tests.privacy import traces
from tests.support import Chat


async def _bob_asks_cas(app: App) -> tuple[Chat, Chat]:
    """Bob opens Cas's card and begins a question meant for him."""
    cas = await with_role(app, await person(app, "cas"), Role.CIVIL_SERVANT)
    async with app.db.transaction():
        await app.repos.staff.save(
            (await row(app, cas)).id,
            name="Cas Jansen",
            department_id="openbare-ruimte",
            department_text=None,
            work="Speelplekken",
            photo_id=None,
            now=utcnow(),
        )
    bob = await person(app, "bob")
    await bob.send("/ambtenaren")
    await bob.press("Cas Jansen")
    await bob.press("Stel")
    assert bob.keys == ["questions.ask_staff"]
    assert "Cas Jansen" in bob.text
    return bob, cas


async def _goes_to_the_connector(app: App, bob: Chat) -> None:
    await bob.send("Komt er een speeltuin bij ons in de straat?")
    assert bob.keys == ["questions.staff_gone", "questions.sent"]
    assert "Burgerbeest" in bob.text
    question = await app.repos.questions.get(1)
    assert question is not None and question.staff_user_id is None
    assert [m.text for m in question.messages] == ["Komt er een speeltuin bij ons in de straat?"]
    ria = await connector(app)
    await ria.send("/inbox")
    assert "Komt er een speeltuin" in ria.text and "voor: Burgerbeest" in ria.text


async def test_a_question_for_a_civil_servant_erased_while_it_was_typed_still_goes(
    app: App,
) -> None:
    bob, cas = await _bob_asks_cas(app)
    await cas.send("/vergeetmij")
    await cas.press("Ja, wis mijn gegevens")
    assert cas.keys == ["privacy.forget.done"]
    # His name went with him, from Bob's unfinished question too.
    assert await traces(app.db, ["Cas Jansen"]) == []
    await _goes_to_the_connector(app, bob)


async def test_a_question_for_a_civil_servant_who_is_no_longer_staff_goes_to_the_connector(
    app: App,
) -> None:
    bob, cas = await _bob_asks_cas(app)
    await with_role(app, cas, Role.RESIDENT)
    await _goes_to_the_connector(app, bob)
