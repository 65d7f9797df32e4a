"""After a decision the triage desk goes on: never the card just decided again."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row


async def test_an_idea_put_in_review_is_not_shown_again_and_the_rest_is_said(
    app: App,
) -> None:
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    ria = await connector(app)
    await ria.send("/wachtrij")
    assert ria.keys == ["triage.idea_card"]
    await ria.press("In behandeling")
    await ria.send("We kijken er deze week naar.")
    assert ria.keys == ["triage.done", "triage.all_seen"]
    assert "Alle nieuwe ideeën en voorstellen zijn bekeken. Er is nog 1 in behandeling." in (
        ria.text
    )
    assert "Dat was de laatste" not in ria.text
    assert [label for label, _ in ria.buttons()] == [
        "🔍 Bekijk wat in behandeling is",
        "⬅️ Menu",
    ]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.IN_REVIEW
    # The way to what is in review opens it, decided further from there.
    await ria.press("in behandeling is")
    assert ria.keys == ["triage.idea_card"] and "#1" in ria.text
    await ria.press("Niet haalbaar")
    await ria.send("Er is geen plek voor bankjes bij de vijver.")
    assert ria.keys == ["triage.done", "triage.empty"]


async def test_after_a_decision_the_next_new_one_comes_then_one_skipped_earlier(
    app: App,
) -> None:
    for minutes, title in enumerate(("Een", "Twee", "Drie")):
        await seed_idea(app, f"{title} idee voor de wijk", minutes=minutes)
    ria = await connector(app)
    await ria.send("/wachtrij")
    assert "#1" in ria.text
    await ria.press("Later")  # #1 stays new
    assert "#2" in ria.text
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    assert ria.keys == ["triage.done", "triage.idea_card"] and "#3" in ria.text
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    # Past the end: the one skipped, still new; not #2 or #3, just decided.
    assert ria.keys == ["triage.done", "triage.from_the_start", "triage.idea_card"]
    assert "Idee #1" in ria.text
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    assert ria.keys == ["triage.done", "triage.all_seen"]
    assert "Er zijn nog 3 in behandeling." in ria.text


async def test_a_proposal_counts_with_the_ideas_in_review(app: App) -> None:
    anna = await person(app, "anna")
    await seed_idea(app, "Meer bankjes in het Velserbeekpark")
    async with app.db.transaction():
        await app.repos.proposals.submit(
            (await row(app, anna)).id,
            what="Een moestuin op het schoolplein",
            place="IJmuiden",
            partners="De school",
            budget_cents=200000,
            full_financing=True,
            now=utcnow(),
        )
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    assert ria.keys == ["triage.done", "triage.proposal_card"]
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    assert ria.keys == ["triage.done", "triage.all_seen"]
    assert "Er zijn nog 2 in behandeling." in ria.text
    # In English too.
    await ria.send("/taal")
    await ria.press("English")
    await ria.send("/wachtrij")
    assert ria.keys == ["triage.idea_card"]
    await ria.press("Not feasible")
    await ria.send("No room for benches there.")
    assert ria.keys == ["triage.done", "triage.all_seen"]
    assert "All new ideas and proposals have been looked at. 1 is still in review." in ria.text
