"""The tie rule each round states: chosen by staff in /nieuweronde, shown in the preview, on
the ballot and with the result, and applied by the tally.

The same tie every time: € 1.000 to share, two projects with two votes each, and only one
fits. Moestuin (€ 500, Driehuis) was written by staff; Klimrek (€ 600, IJmuiden) comes from
an idea submitted before the round. Klimrek's voters both live in IJmuiden; Moestuin's one
in Driehuis and one in IJmuiden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.admin.open_data import BUDGET_PROJECTS, BUDGET_ROUNDS, collect
from bot.app import App
from bot.settings import Settings
from handlers.budgets.schedule import advance
from storage.budgets.rounds import NewProject
from storage.budgets.tally import TieRule, lot
from storage.ideas.ideas import IdeaStatus
from tests.handlers.budgets.test_budget_round import payload
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, outbox, person, row
from tests.support import Chat

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


async def set_up(app: App, ria: Chat, rule_label: str) -> None:
    await ria.send("/nieuweronde")
    await ria.send("Gelijkspel")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Moestuin | 500 | Een moestuin bij de school | Driehuis")
    await ria.send("#1 | 600 | Een klimrek bij de Zeeweg | IJmuiden")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    await ria.send("08-12-2026 17:00")
    await ria.press("Alle inwoners")
    assert ria.keys == ["budgets.ask_tie"]
    await ria.press(rule_label)
    assert ria.keys == ["budgets.preview", "budgets.preview_ask"]


async def vote_for(chat: Chat, title: str) -> None:
    await chat.send("/stemmen")
    await chat.press_payload(payload(chat, "bv.add:", title))
    await chat.press("Stem uitbrengen")
    await chat.press("Ja, stem uitbrengen")
    assert chat.keys == ["budgets.voted"]


@pytest.mark.parametrize(
    ("label", "stated", "winner"),
    [
        ("Goedkoopste project eerst", "wint het goedkoopste project", "Moestuin"),
        ("Meeste stemmen uit de wijk", "uit zijn eigen wijk", "Klimrek"),
        ("Eerst ingediend gaat voor", "het eerst is ingediend", "Klimrek"),
        ("Loting", "beslist het lot", None),
    ],
)
async def test_a_tie_is_resolved_by_the_rule_the_round_states(
    settings: Settings, label: str, stated: str, winner: str | None
) -> None:
    clock = Clock()
    app = await App.open(settings, clock=clock)
    try:
        idea_author = await person(app, "ida")
        await submit_idea(idea_author, "Klimrek in de duinen", "Een klimrek voor kinderen.")
        async with app.db.transaction():
            await app.repos.ideas.set_status(1, IdeaStatus.ADOPTED, theme="samenspel", now=START)
        clock.now = START + timedelta(hours=1)
        ria = await connector(app)
        await set_up(app, ria, label)
        assert stated in ria.text  # the preview states the rule
        await ria.press("Openen")
        [found] = await app.repos.budgets.all()

        anna = await person(app, "anna", hood="IJmuiden")
        bob = await person(app, "bob", hood="IJmuiden")
        cees = await person(app, "cees", hood="Driehuis")
        dirk = await person(app, "dirk", hood="IJmuiden")
        await anna.send("/stemmen")
        assert stated in anna.text  # so does the ballot
        await vote_for(anna, "Klimrek")
        await vote_for(bob, "Klimrek")
        await vote_for(cees, "Moestuin")
        await vote_for(dirk, "Moestuin")

        clock.now = found.closes_at
        await advance(
            app.repos, app.catalog, app.profile, app.router.timezone, found.id, clock.now
        )
        closed = await app.repos.budgets.get(found.id)
        assert closed is not None
        projects = {p.title.split()[0]: p for p in await app.repos.budgets.projects(found.id)}
        assert {t: p.votes for t, p in projects.items()} == {"Moestuin": 2, "Klimrek": 2}
        if winner is None:
            # The lot: its seed is published, and redoing it gives the same winner.
            assert closed.tie_seed
            ids = {t: p.id for t, p in projects.items()}
            winner = min(ids, key=lambda t: lot(closed.tie_seed or "", ids[t]))
            stated = f"Code van de loting: {closed.tie_seed}"
        else:
            assert closed.tie_seed is None
        assert {t for t, p in projects.items() if p.winner} == {winner}

        # The result says how the tie was broken, and the winner comes first.
        [result, *_] = await outbox(app, "budget_result")
        text = result.text(app, "nl")
        assert stated in text
        # Four voters are too few to publish the votes (Velsen: five), so nobody can redo
        # the lot, and the result does not say they can.
        assert "nadoen" not in text
        loser = "Moestuin" if winner == "Klimrek" else "Klimrek"
        assert text.index(winner) < text.index(loser)

        # Open data carries the rule and, for a lot, the seed to redo it.
        tables = await collect(app)
        [published] = tables[BUDGET_ROUNDS.name]
        assert published["tie_rule"] == closed.tie_rule.value
        assert published["tie_seed"] == closed.tie_seed
        submitted = {
            r["title"].split()[0]: r["submitted_at"] for r in tables[BUDGET_PROJECTS.name]
        }
        assert submitted["Klimrek"] < submitted["Moestuin"]
        assert "anna" not in json.dumps(tables, default=str).casefold()
    finally:
        await app.close()


async def test_the_lots_seed_is_unknown_until_the_round_closes(settings: Settings) -> None:
    clock = Clock()
    app = await App.open(settings, clock=clock)
    try:
        await person(app, "ida")
        ria = await connector(app)
        await ria.send("/nieuweronde")
        await ria.send("Gelijkspel")
        await ria.send("1000")
        await ria.press("Geen wijkbudgetten")
        await ria.send("Moestuin | 500 | Een moestuin bij de school")
        await ria.press("Klaar met projecten")
        await ria.press("Nu")
        await ria.send("08-12-2026 17:00")
        await ria.press("Alle inwoners")
        await ria.press("Loting")
        await ria.press("Openen")
        [found] = await app.repos.budgets.all()
        assert found.tie_seed is None
        tables = await collect(app)
        assert tables[BUDGET_ROUNDS.name][0]["tie_seed"] is None
        await ria.send("/rondes")
        await ria.press("Gelijkspel")
        assert "beslist het lot" in ria.text and "Code van de loting" not in ria.text
    finally:
        await app.close()


async def test_a_voter_without_a_neighbourhood_counts_for_the_one_their_postcode_is_in(
    app: App,
) -> None:
    now = app.router.clock()
    round_id = await app.repos.budgets.create(
        name="Gelijkspel",
        total_cents=1000,
        hood_budgets={},
        opens_at=now,
        closes_at=now + timedelta(hours=1),
        hood_only=False,
        postcodes=list(app.profile.postcodes),
        tie_rule=TieRule.HOOD,
        projects=[
            NewProject(
                title="Duinpad",
                description="Santpoort",
                cost_cents=600,
                neighbourhood="santpoort-zuid",
            ),
            NewProject(title="Moestuin", description="Bij school", cost_cents=500),
        ],
        now=now,
    )
    voters = []
    for name, postcode, title in (
        ("anna", "2082", "Duinpad"),  # Santpoort-Zuid
        ("bob", "2082", "Duinpad"),
        ("cees", "1971", "Moestuin"),
        ("dirk", "1971", "Moestuin"),
    ):
        chat = await person(app, name)
        await app.db.execute(
            "UPDATE users SET neighbourhood = NULL WHERE id = ?", ((await row(app, chat)).id,)
        )
        await chat.send("/stemmen")
        await chat.send(postcode)
        await vote_for(chat, title)
        voters.append(chat)
    closes = now + timedelta(hours=1)
    await advance(app.repos, app.catalog, app.profile, app.router.timezone, round_id, closes)
    winners = [p.title for p in await app.repos.budgets.projects(round_id) if p.winner]
    # Once the round is closed the postcodes are not needed: none is kept.
    kept = await app.db.fetchval("SELECT COUNT(postcode) FROM budget_ballots")
    assert kept == 0
    # Moestuin is for the whole municipality (every vote its own area: 2); Duinpad's two
    # voters live in Santpoort-Zuid by their postcode (2): still tied, so the ballot order.
    # Without their postcodes Duinpad would have 0 from its own area and lose.
    assert winners == ["Duinpad"]
    # Counted again with postcodes in Santpoort-Zuid, then in IJmuiden.
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    projects = await app.repos.budgets.projects(round_id)
    for postcode, from_own_area in (("2082", 2), ("1971", 0)):
        await app.db.execute("UPDATE budget_ballots SET postcode = ?", (postcode,))
        tied = {p.id: 2 for p in projects}
        local = await app.repos.budgets._hood_votes(found, projects, tied)
        assert local == {projects[0].id: from_own_area, projects[1].id: 2}
