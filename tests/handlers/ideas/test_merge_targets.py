"""The idea a connector merges with: one merged itself, or one out of view."""

from __future__ import annotations

from bot.app import App
from storage.ideas.ideas import IdeaStatus
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row


async def test_merging_with_an_idea_merged_itself_names_the_idea_it_went_into(app: App) -> None:
    for title in ("Bankjes in het park", "Bankjes bij de vijver", "Meer bankjes graag"):
        await seed_idea(app, title)
    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    await ria.send("Zelfde idee.")
    await ria.send("/wachtrij #3")
    await ria.press("Samenvoegen")
    await ria.send("#2")
    assert ria.keys == ["triage.merge_merged", "triage.ask_merge"]
    assert "#1" in ria.last[0].text
    await ria.send("#1")
    await ria.send("Zelfde idee.")
    idea = await app.repos.ideas.get(3)
    assert idea is not None and idea.status == IdeaStatus.MERGED


async def test_merging_with_an_idea_its_sender_withdrew_says_so(app: App) -> None:
    anna = await person(app, "anna")
    await seed_idea(app, "Bankjes in het park", author=(await row(app, anna)).id)
    await seed_idea(app, "Bankjes bij de vijver")
    await anna.press_payload("idea.withdraw:1!")
    assert anna.keys == ["ideas.withdrawn"]
    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    assert ria.keys == ["triage.merge_out_of_view", "triage.ask_merge"]
    assert "geen idee dat ik ken" not in ria.text
