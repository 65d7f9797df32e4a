"""A budget round's questions asked again when the chat opens anew (the console started
again): the set-up's steps and preview for staff, the neighbourhood question for a voter."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from handlers.contract import Role
from storage.budgets.rounds import RoundStatus
from storage.ideas.ideas import IdeaStatus, Removal
from tests.handlers.budgets.test_budget_round import Clock
from tests.handlers.budgets.test_voting_rules import a_round
from tests.handlers.ideas.helpers import seed_idea
from tests.handlers.test_reopen import choose, reopen
from tests.people import person, row, with_role
from tests.support import Chat

#: A project's words with emoji, right-to-left text and what looks like markup.
ODD = "Speeltuin 🛝 <b>nieuw</b> ملعب"


async def _at_who(app: App) -> Chat:
    idea = await seed_idea(app, "Bankjes bij de vijver")
    await app.db.execute("UPDATE ideas SET status = ? WHERE id = ?", (IdeaStatus.ADOPTED, idea.id))
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CONNECTOR)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.ask_total"]
    await ria.send("10000")
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.ask_hoods"]
    await ria.send("Geen wijkbudgetten")  # a typed step: its option by label
    await ria.send(f"{ODD} | 6000 | {ODD}")
    await ria.send(f"#{idea.id} | 3000 | Bankjes langs het water")
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.ask_project"]
    await ria.send("Klaar met projecten")
    await ria.send("Nu")
    await ria.send("11-12-2026 17:00")
    assert ria.keys == ["budgets.ask_who"]
    return ria


async def test_the_set_up_of_a_round_asks_each_step_again_with_its_options(
    clocked: App,
) -> None:
    ria = await _at_who(clocked)
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.ask_who"]
    await choose(ria, "Alle inwoners")
    assert ria.keys == ["budgets.ask_tie"]
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.ask_tie"]
    await choose(ria, "Goedkoopste project eerst")
    assert ria.keys == ["budgets.preview", "budgets.preview_ask"]
    for _ in range(2):
        await reopen(ria)
        assert ria.keys == ["drafts.welcome_back", "budgets.preview", "budgets.preview_ask"]
        assert ODD in ria.text and "Bankjes bij de vijver" in ria.text
    await choose(ria, "Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await clocked.repos.budgets.all()
    assert found.status is RoundStatus.OPEN


async def test_a_preview_reopened_after_an_idea_in_it_went_says_so_at_once(
    clocked: App,
) -> None:
    ria = await _at_who(clocked)
    await choose(ria, "Alle inwoners")
    await choose(ria, "Goedkoopste project eerst")
    async with clocked.db.transaction():
        await clocked.repos.ideas.remove(1, clocked.router.clock(), how=Removal.REMOVED)
    await reopen(ria)
    assert ria.keys == [
        "drafts.welcome_back",
        "budgets.source_gone",
        "budgets.preview",
        "budgets.preview_ask",
    ]
    assert "Bankjes bij de vijver" not in ria.last[2].text and ODD in ria.last[2].text
    await choose(ria, "Openen")
    [found] = await clocked.repos.budgets.all()
    assert [p.title for p in await clocked.repos.budgets.projects(found.id)] == [ODD]


async def test_a_preview_reopened_after_the_role_went_offers_no_opening(clocked: App) -> None:
    ria = await _at_who(clocked)
    await choose(ria, "Alle inwoners")
    await choose(ria, "Goedkoopste project eerst")
    await with_role(clocked, ria, Role.RESIDENT)
    await reopen(ria)
    assert ria.keys[0] == "roles.lost.verbinder"
    assert not any("Openen" in label for label, _ in ria.buttons())
    assert await clocked.repos.budgets.all() == []


async def test_the_neighbourhood_a_round_needs_is_asked_again(clocked: App) -> None:
    await a_round(clocked, hood_only=True)
    anna = await person(clocked, "anna", platform="console", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"]
    for _ in range(2):
        await reopen(anna)
        assert anna.keys == ["drafts.welcome_back", "budgets.need_hood"]
    await choose(anna, "Driehuis")
    assert anna.keys[0] == "budgets.intro"
    assert await clocked.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0


async def test_the_neighbourhood_question_reopened_after_the_round_was_cancelled_ends(
    clocked: App,
) -> None:
    round_id = await a_round(clocked, hood_only=True)
    anna = await person(clocked, "anna", platform="console", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    await clocked.db.execute(
        "UPDATE budget_rounds SET status = ? WHERE id = ?", (RoundStatus.CANCELLED, round_id)
    )
    await reopen(anna)
    assert anna.keys == ["drafts.welcome_back", "budgets.cancelled"]
    assert await clocked.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0
    await anna.send("Driehuis")
    assert (await row(clocked, anna)).neighbourhood is None


async def _at_preview_of(app: App, ria: Chat, project: str, closes: str) -> None:
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await ria.send("10000")
    await ria.send("Geen wijkbudgetten")
    await ria.send(project)
    await ria.send("Klaar met projecten")
    await ria.send("Nu")
    await ria.send(closes)
    await choose(ria, "Alle inwoners")
    await choose(ria, "Goedkoopste project eerst")
    assert ria.keys == ["budgets.preview", "budgets.preview_ask"]


async def test_a_preview_reopened_after_its_only_idea_went_asks_for_projects(
    clocked: App,
) -> None:
    # Not "are you still busy with the round?": where it was, why it moved back, and the
    # question it is at now.
    idea = await seed_idea(clocked, "Bankjes bij de vijver")
    await clocked.db.execute(
        "UPDATE ideas SET status = ? WHERE id = ?", (IdeaStatus.ADOPTED, idea.id)
    )
    ria = await with_role(
        clocked, await person(clocked, "ria", platform="console"), Role.CONNECTOR
    )
    await _at_preview_of(
        clocked, ria, f"#{idea.id} | 3000 | Bankjes langs het water", "11-12-2026 17:00"
    )
    async with clocked.db.transaction():
        await clocked.repos.ideas.remove(idea.id, clocked.router.clock(), how=Removal.REMOVED)
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.source_gone", "budgets.ask_project"]
    await ria.send(f"{ODD} | 6000 | {ODD}")
    assert ria.keys == ["budgets.project_added", "budgets.ask_project"]
    assert await clocked.repos.budgets.all() == []


async def test_a_preview_reopened_after_its_closing_time_asks_for_another(
    clocked: App, clock: Clock
) -> None:
    ria = await with_role(
        clocked, await person(clocked, "ria", platform="console"), Role.CONNECTOR
    )
    await _at_preview_of(clocked, ria, f"{ODD} | 500 | {ODD}", "1-12-2026 18:00")
    clock.now += timedelta(hours=10)
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "budgets.when_past", "budgets.ask_closes"]
    assert not any("Openen" in label for label, _ in ria.buttons())
    await ria.send("11-12-2026 17:00")
    assert ria.keys == ["budgets.ask_who"]
    assert await clocked.repos.budgets.all() == []
