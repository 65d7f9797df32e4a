"""How many ideas can be browsed is kept per category and neighbourhood: the totals on the
pages stay right through sending in, reports hiding, the connector showing again, the
author withdrawing and an author leaving with their ideas."""

from __future__ import annotations

from bot.app import App
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import connector, person
from tests.privacy import listed_counts_match
from tests.support import Chat


async def _totals(app: App, reader: Chat, everything: int, in_ijmuiden: int) -> None:
    """The drift check, and the totals a resident reads on the pages."""
    assert await listed_counts_match(app.db)
    await reader.send("/ideeen")
    assert f"{everything} in totaal" in reader.text
    page = await app.repos.ideas.browse(neighbourhood="ijmuiden", limit=50)
    assert page.total == in_ijmuiden == len(page.ideas)


async def test_the_browsable_totals_follow_every_change_residents_and_the_connector_make(
    app: App,
) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    dora = await person(app, "dora")
    await submit_idea(anna, "Bankjes bij de vijver")
    await submit_idea(
        bob,
        "Een speeltuin in IJmuiden",
        "Kinderen hebben geen plek om te klimmen en te glijden na schooltijd.",
        neighbourhood="IJmuiden",
    )
    assert bob.keys[0] == "ideas.submitted"
    await seed_idea(app, "Meer groen in de straat", category="wonen", neighbourhood="ijmuiden")
    await _totals(app, dora, 3, 2)
    for_wonen = await app.repos.ideas.browse(category="wonen")
    assert for_wonen.total == 1

    # Three reports hide Bob's idea; the connector shows it again.
    for n in range(3):
        other = await person(app, f"r{n}")
        await other.press_payload("idea.open:2")
        await other.press("Melden")
        await other.press("Reclame of spam")
        assert other.keys == ["reporting.thanks"]
    await _totals(app, dora, 2, 1)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Verbergen")
    await ria.send("Even weg tot we het uitgezocht hebben.")
    await ria.send("/wachtrij 2")
    await ria.press("Weer tonen")
    assert ria.keys == ["moderation.idea.restored"]
    await _totals(app, dora, 3, 2)

    # Anna withdraws hers; Bob leaves and takes his idea with him.
    await anna.press_payload("idea.open:1")
    await anna.press("Intrekken")
    await anna.press("Ja, trek idee in")
    assert anna.keys == ["ideas.withdrawn"]
    await _totals(app, dora, 2, 2)
    await bob.send("/vergeetmij")
    await bob.press("Ook wissen")
    await bob.press("Ja, wis mijn gegevens")
    assert bob.keys == ["privacy.forget.done"]
    await _totals(app, dora, 1, 1)
