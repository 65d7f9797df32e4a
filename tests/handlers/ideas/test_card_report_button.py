"""Who is offered to report an idea from its card: residents, as under comments."""

from __future__ import annotations

from bot.app import App
from tests.handlers.ideas.helpers import seed_idea
from tests.people import civil_servant, connector, person


async def test_staff_are_not_offered_to_report_an_idea_they_moderate_in_meldingen(
    app: App,
) -> None:
    await seed_idea(app, "Bankjes in het park")
    bob = await person(app, "bob")
    await bob.press_payload("idea.open:1")
    assert "idea.report:1" in [payload for _, payload in bob.buttons()]
    for staff in (await connector(app, "ria"), await civil_servant(app, "sam")):
        await staff.press_payload("idea.open:1")
        assert staff.keys == ["ideas.card"]
        assert "idea.report:1" not in [payload for _, payload in staff.buttons()]
