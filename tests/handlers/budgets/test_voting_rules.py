"""Who may vote and set rounds up, and forged or stale buttons that change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.admin.open_data import collect
from bot.app import App
from handlers import when
from handlers.budgets.schedule import advance
from storage.budgets.rounds import NewProject, RoundStatus
from storage.budgets.tally import TieRule
from storage.clock import iso, utcnow
from storage.community.moderation import SanctionKind
from storage.ideas.ideas import IdeaStatus, Removal
from tests.handlers.budgets.test_budget_round import exported
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import connector, outbox, person, row
from tests.support import Chat


async def a_round(
    app: App,
    *,
    hood_only: bool = False,
    opens_in: timedelta = timedelta(),
    projects: list[NewProject] | None = None,
) -> int:
    now = app.router.clock()
    return await app.repos.budgets.create(
        name="Velsen kiest",
        total_cents=1_000_000,
        hood_budgets={},
        opens_at=now + opens_in,
        closes_at=now + opens_in + timedelta(days=7),
        hood_only=hood_only,
        projects=projects
        or [
            NewProject(title="Speeltuin", description="Toestellen", cost_cents=600_000),
            NewProject(title="Bankjes", description="Aan het water", cost_cents=300_000),
        ],
        now=now,
    )


async def ballot_rows(app: App) -> int:
    total = 0
    for table in ("budget_ballots", "budget_choices", "budget_votes"):
        total += int(await app.db.fetchval(f"SELECT COUNT(*) FROM {table}"))
    return total


async def test_residents_cannot_set_up_rounds_or_see_counts(app: App) -> None:
    round_id = await a_round(app)
    experiments = await app.db.fetchval("SELECT COUNT(*) FROM experiments")
    anna = await person(app, "anna")
    await anna.send("/nieuweronde")
    assert anna.keys == ["general.unknown_command"]
    await anna.send("/rondes")
    assert anna.keys == ["general.unknown_command"]
    await anna.press_payload(f"bs.show:{round_id}")
    assert "Speeltuin" not in anna.text
    await anna.press_payload("bs.exp:1")
    assert anna.keys == ["general.stale_button"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiments") == experiments
    assert len(await app.repos.budgets.all()) == 1


async def test_forged_and_stale_buttons_change_nothing(app: App) -> None:
    round_id = await a_round(app)
    other = await a_round(app)
    other_project = (await app.repos.budgets.projects(other))[0].id
    anna = await person(app, "anna")
    for forged in (
        "bv.add:",
        "bv.add:abc:1",
        f"bv.add:{round_id}",
        f"bv.add:{round_id}:1:2",
        f"bv.add:{round_id}:{other_project}",  # a project of another round
        f"bv.add:{round_id}:-1",
        f"bv.add:{round_id}:99999999999999999999",
        "bv.add:999:1",
        f"bv.del:{round_id}:{other_project}",
        f"bv.ok:{round_id}",
        f"bv.ok:{round_id}:00000000",
        "bv.round:0",
    ):
        await anna.press_payload(forged)
        assert anna.keys, forged
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_votes") == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_choices") == 0


async def test_one_ballot_per_account_however_often_one_taps(app: App) -> None:
    round_id = await a_round(app)
    project = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    for _ in range(3):
        await anna.press_payload(f"bv.add:{round_id}:{project}")
    await anna.press_payload(f"bv.vote:{round_id}")
    confirm = next(p for _, p in anna.buttons() if p.startswith("bv.ok:"))
    await anna.press_payload(confirm)
    await anna.press_payload(confirm)
    user = await row(app, anna)
    assert (
        await app.db.fetchval("SELECT COUNT(*) FROM budget_ballots WHERE user_id = ?", (user.id,))
        == 1
    )
    counts, voters, _ = await app.repos.budgets.live_counts(round_id)
    assert counts == {project: 1} and voters == 1


async def test_a_neighbourhood_only_round_asks_for_a_neighbourhood_first(app: App) -> None:
    round_id = await a_round(app, hood_only=True)
    project = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    user = await row(app, anna)
    await app.db.execute("UPDATE users SET neighbourhood = NULL WHERE id = ?", (user.id,))
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"]
    await anna.press_payload(f"bv.add:{round_id}:{project}")
    assert anna.keys == ["budgets.need_hood"]
    assert await ballot_rows(app) == 0
    bob = await person(app, "bob")
    await bob.send("/stemmen")
    assert bob.keys[0] == "budgets.intro"


async def test_a_neighbourhood_typed_by_name_is_taken_where_a_round_asks_for_one(
    app: App,
) -> None:
    round_id = await a_round(app, hood_only=True)
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"]
    # Not a neighbourhood (part of a name is none): asked again, nothing kept.
    for typed in ("Santpoort", "aan zee", "👍"):
        await anna.send(typed)
        assert anna.keys == ["answers.use_buttons", "budgets.need_hood"], typed
    assert (await row(app, anna)).neighbourhood is None
    await anna.send("  vélsen   NOORD ")
    assert anna.keys[0] == "budgets.intro"
    assert (await row(app, anna)).neighbourhood == "velsen-noord"
    # Chosen once: what she types next is no longer read as a neighbourhood.
    await anna.send("Driehuis")
    assert (await row(app, anna)).neighbourhood == "velsen-noord"
    # Pressed instead of typed, the question ends as well.
    bob = await person(app, "bob", hood="Zeg ik liever niet")
    await bob.send("/stemmen")
    await bob.press("Driehuis")
    assert bob.keys[0] == "budgets.intro"
    await bob.send("IJmuiden")
    assert (await row(app, bob)).neighbourhood == "driehuis"
    assert round_id


async def test_a_sentence_typed_at_the_neighbourhood_question_comes_back_with_the_question(
    app: App,
) -> None:
    """Anna writes a sentence where her neighbourhood is asked: it is no neighbourhood and
    goes to nobody, so she reads it back above the question, which is still open."""
    await a_round(app, hood_only=True)
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    said = "Ik woon bij de haven, hoe zit dat? <b>٣</b> 🏠"
    await anna.send(said)
    assert anna.keys == [
        "answers.use_buttons",
        "general.typed_not_kept",
        "budgets.need_hood",
    ], anna.keys
    assert said in anna.last[1].text
    assert (await row(app, anna)).neighbourhood is None
    await anna.send("Driehuis")
    assert anna.keys[0] == "budgets.intro"
    assert (await row(app, anna)).neighbourhood == "driehuis"


async def test_the_way_out_of_the_neighbourhood_question_leaves_it(app: App) -> None:
    """Asked for her neighbourhood, Anna would rather not vote: the button under the
    question takes her out of it, without asking whether she goes on with something she
    never wrote; what she types next is not read as a neighbourhood."""
    await a_round(app, hood_only=True)
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"]
    [(label, payload)] = [b for b in anna.buttons() if not b[1].startswith("bv.hood:")]
    await anna.press_payload(payload)
    assert anna.keys == ["general.cancelled"], label
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0
    await anna.send("/idee")
    assert anna.keys[0] != "drafts.open"
    await anna.send("/annuleer")
    await anna.send("Driehuis")
    assert "budgets.need_hood" not in anna.keys
    assert (await row(app, anna)).neighbourhood is None


async def test_someone_who_did_not_consent_cannot_vote(app: App) -> None:
    round_id = await a_round(app)
    eve = Chat(app, user_id="eve")
    await eve.send("/stemmen")
    assert eve.keys == ["general.consent_needed"]
    await eve.press_payload(f"bv.add:{round_id}:1")
    assert await ballot_rows(app) == 0


async def test_a_scheduled_round_opens_at_its_moment_and_not_before(app: App) -> None:
    round_id = await a_round(app, opens_in=timedelta(days=1))
    found = await app.repos.budgets.get(round_id)
    assert found is not None and found.status is RoundStatus.SCHEDULED
    assert await app.repos.budgets.pending(app.settings.zone) == [(round_id, found.opens_at)]
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.none_open"]
    await anna.press_payload(f"bv.add:{round_id}:1")
    assert anna.keys == ["budgets.not_open_yet"]
    early = await advance(
        app.repos,
        app.catalog,
        app.profile,
        app.router.timezone,
        round_id,
        found.opens_at - timedelta(minutes=1),
    )
    assert early is not None and early.at == found.opens_at
    assert (await app.repos.budgets.get(round_id)).status is RoundStatus.SCHEDULED  # type: ignore[union-attr]
    await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, round_id, found.opens_at
    )
    assert (await app.repos.budgets.get(round_id)).status is RoundStatus.OPEN  # type: ignore[union-attr]


async def test_a_round_opened_with_staff_words_needs_a_closing_after_its_opening(app: App) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Ronde")
    await ria.send("1000")
    await ria.send("IJmuiden 2000")
    assert ria.keys == ["budgets.hoods_too_much", "budgets.ask_hoods"]
    await ria.send("Atlantis 200")
    assert ria.keys == ["budgets.hood_invalid", "budgets.ask_hoods"]
    await ria.send("IJmuiden 400\nDriehuis 300")
    assert ria.keys == ["budgets.ask_project"]
    await ria.photo()
    assert ria.keys == ["budgets.photo_first", "budgets.ask_project"]
    await ria.send("Speeltuin | 400 | Toestellen | IJmuiden")
    await ria.press("Klaar met projecten")
    now = app.router.clock().astimezone(app.router.timezone)
    later = now + timedelta(days=3)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["budgets.ask_closes"]
    await ria.send((later - timedelta(days=1)).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["budgets.closes_before_opens", "budgets.ask_closes"]
    await ria.send((later + timedelta(days=7)).strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alleen inwoners met een wijk")
    await ria.press("Loting")
    assert "IJmuiden: €\u00a0400" in ria.text and "Driehuis: €\u00a0300" in ria.text
    await ria.press("Openen")
    assert ria.keys == ["budgets.scheduled"]
    [found] = await app.repos.budgets.all()
    assert found.hood_budgets == {"ijmuiden": 40_000, "driehuis": 30_000}
    assert found.hood_only and found.status is RoundStatus.SCHEDULED
    assert found.tie_rule is TieRule.LOT and found.tie_seed is None  # drawn at closing
    assert found.opens_at.astimezone(UTC) > datetime.now(UTC)


async def test_a_picture_erased_while_a_round_was_set_up_does_not_block_opening(
    app: App,
) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Ronde")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Speeltuin | 400 | Toestellen")
    await ria.photo(b"\xff\xd8\xff a picture")
    await app.db.execute("DELETE FROM media")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await app.repos.budgets.all()
    [project] = await app.repos.budgets.projects(found.id)
    assert project.photo_id is None


async def test_an_idea_hidden_while_a_round_was_set_up_does_not_reach_the_ballot(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Klimrek in de duinen", "Een klimrek voor kinderen bij de Zeeweg.")
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.ADOPTED, theme="samenspel", now=utcnow())
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Ronde")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("#1 | 400 | Toestellen")
    await ria.send("Bankjes | 300 | Aan het water")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    assert "Klimrek in de duinen" in ria.text
    # Meanwhile the idea is hidden (reported for personal data, say).
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Adres erin")

    await ria.press("Openen")
    assert ria.keys == ["budgets.source_gone", "budgets.preview", "budgets.preview_ask"]
    preview = ria.last[1].text
    assert "Klimrek in de duinen" not in preview and "Bankjes" in preview
    assert await app.repos.budgets.all() == []
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await app.repos.budgets.all()
    assert [p.title for p in await app.repos.budgets.projects(found.id)] == ["Bankjes"]


async def test_when_every_project_lost_its_idea_staff_are_asked_for_projects_again(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Klimrek in de duinen", "Een klimrek voor kinderen bij de Zeeweg.")
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.ADOPTED, theme="samenspel", now=utcnow())
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Ronde")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("#1 | 400 | Toestellen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.REMOVED, reason="Adres erin")

    await ria.press("Openen")
    assert ria.keys == ["budgets.source_gone", "budgets.ask_project"]
    assert await app.repos.budgets.all() == []
    await ria.send("Bankjes | 300 | Aan het water")
    await ria.press("Klaar met projecten")
    assert ria.keys == ["budgets.ask_opens"]


async def test_a_round_closing_while_someone_confirms_counts_nothing_new(app: App) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1]
    anna = await person(app, "anna")
    await anna.press_payload(f"bv.add:{round_id}:{bankjes.id}")
    await anna.press("Stem uitbrengen")
    confirm = next(p for _, p in anna.buttons() if p.startswith("bv.ok:"))
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    # The closing moment passed but the scheduler has not run yet: already closed for her.
    moment = found.closes_at
    app.router.clock = lambda: moment
    await anna.press_payload(confirm)
    assert anna.keys == ["budgets.closed"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM budget_votes") == 0
    # And once the tally ran, her unconfirmed choice counted for nothing.
    await advance(app.repos, app.catalog, app.profile, app.router.timezone, round_id, moment)
    await anna.press_payload(confirm)
    assert anna.keys == ["budgets.closed"]
    projects = await app.repos.budgets.projects(round_id)
    assert [(p.votes, p.winner) for p in projects] == [(0, False), (0, False)]


async def test_every_ballot_screen_offers_the_way_back_to_the_menu(app: App) -> None:
    round_id = await a_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys[-1] == "budgets.page_single"
    assert ("⬅️ Menu", "menu") in anna.last[-1].buttons
    await anna.press_payload(f"bv.add:{round_id}:1")
    assert anna.keys == ["budgets.added"] and ("⬅️ Menu", "menu") in anna.buttons()
    await anna.press_payload(f"bv.card:{round_id}:1")
    assert anna.keys == ["budgets.card_chosen"] and ("⬅️ Menu", "menu") in anna.buttons()
    await anna.press_payload(f"bv.del:{round_id}:1:c")
    assert anna.keys == ["budgets.removed"] and ("⬅️ Menu", "menu") in anna.buttons()
    await anna.press("Terug naar de lijst")
    assert anna.keys == ["budgets.page_single"] and ("⬅️ Menu", "menu") in anna.buttons()
    await anna.press("Bekijk mijn keuze")
    assert anna.keys == ["budgets.mine"] and ("⬅️ Menu", "menu") in anna.buttons()
    await anna.press("Menu")
    assert anna.keys == ["menu.title"]


async def test_an_idea_hidden_after_its_round_opened_leaves_only_staff_words_in_view(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Klimrek bij Jan Bakker", "Een klimrek voor kinderen bij de Zeeweg.")
    async with app.db.transaction():
        await app.repos.ideas.set_status(1, IdeaStatus.ADOPTED, theme="samenspel", now=utcnow())
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Ronde")
    await ria.send("1000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("#1 | 400 | Nieuwe toestellen in de duinen")
    await ria.send("Bankjes | 300 | Aan het water")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    later = app.router.clock().astimezone(app.router.timezone) + timedelta(days=7)
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    await ria.press("Openen")
    assert ria.keys == ["budgets.opened"]
    [found] = await app.repos.budgets.all()
    klimrek = (await app.repos.budgets.projects(found.id))[0]
    bob = await person(app, "bob")
    await bob.press_payload(f"bv.add:{found.id}:{klimrek.id}")
    await bob.press("Stem uitbrengen")
    await bob.press("Ja, stem uitbrengen")
    assert bob.keys == ["budgets.voted"]

    # The idea is hidden once the round is open (reported for the name in it, say).
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Naam erin")
    await bob.send("/stemmen")
    assert "Jan Bakker" not in bob.text
    assert "Nieuwe toestellen in de duinen · €\u00a0400" in bob.text
    await ria.press_payload(f"bs.show:{found.id}")
    assert "Jan Bakker" not in ria.text and "Nieuwe toestellen in de duinen" in ria.text
    # Shown again by the connector: the idea's title is back on the ballot.
    async with app.db.transaction():
        await app.repos.ideas.restore(1, utcnow())
    await bob.send("/stemmen")
    assert "Klimrek bij Jan Bakker" in bob.text
    # Removed for good before the close: the result, the open data and a voter's own data
    # keep staff's words only.
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.REMOVED, reason="Naam erin")
    await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, found.id, found.closes_at
    )
    [result] = [
        q for q in await outbox(app, "budget_result") if q.user_id == (await row(app, bob)).id
    ]
    assert "Jan Bakker" not in result.text(app, "nl")
    assert "🏆 Nieuwe toestellen in de duinen" in result.text(app, "nl")
    published = await app.repos.budgets.public_projects()
    assert [p["title"] for p in published] == ["Nieuwe toestellen in de duinen", "Bankjes"]
    await bob.send("/mijngegevens")
    assert "Jan Bakker" not in json.dumps(exported(bob))


async def test_a_voter_who_empties_a_counted_ballot_can_take_the_vote_back(app: App) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    # Never voted: an empty ballot is still "choose first".
    await anna.press_payload(f"bv.vote:{round_id}")
    assert anna.keys == ["budgets.choose_first"]
    await anna.press_payload(f"bv.add:{round_id}:{bankjes}")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]
    await anna.press_payload(f"bv.del:{round_id}:{bankjes}")
    assert "Gekozen projecten: 0" in anna.text and "Stem opnieuw" in anna.text
    await anna.press("Stem uitbrengen")
    assert anna.keys == ["budgets.withdraw_confirm"]
    withdraw = next(p for label, p in anna.buttons() if "intrekken" in label)
    # She changes her mind once more before answering: the old question changes nothing.
    await anna.press_payload(f"bv.add:{round_id}:{bankjes}")
    await anna.press_payload(withdraw)
    assert anna.keys == ["budgets.confirm_stale"]
    assert await app.repos.budgets.live_counts(round_id) == ({bankjes: 1}, 1, 0)
    await anna.press_payload(f"bv.del:{round_id}:{bankjes}")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem intrekken")
    assert anna.keys == ["budgets.withdrawn"] and "telt niet meer" in anna.text
    # Nothing chosen any more: no ballot begun either.
    assert await app.repos.budgets.live_counts(round_id) == ({}, 0, 0)
    await anna.press_payload(withdraw)
    assert anna.keys == ["budgets.choose_first"]
    await anna.send("/stemmen")
    assert "Je hebt nog niet gestemd." in anna.text
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, round_id, found.closes_at
    )
    closed = await app.repos.budgets.get(round_id)
    assert closed is not None and closed.voters == 0
    assert [p.votes for p in await app.repos.budgets.projects(round_id)] == [0, 0]


async def test_a_banned_voter_is_not_reminded_of_a_ballot_they_may_not_finish(app: App) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    for someone in (anna, bob):
        await someone.press_payload(f"bv.add:{round_id}:{bankjes}")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Scheldwoorden",
            by_user_id=None,
            now=app.router.clock(),
        )
    await anna.press_payload(f"bv.round:{round_id}")
    assert anna.keys == ["moderation.banned"]
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    await advance(
        app.repos,
        app.catalog,
        app.profile,
        app.router.timezone,
        round_id,
        found.closes_at - timedelta(days=1),
    )
    reminded = [q.user_id for q in await outbox(app, "budget_reminder")]
    assert reminded == [(await row(app, bob)).id]


async def test_staff_count_a_banned_voters_cast_vote_but_not_their_unfinished_ballot(
    app: App,
) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna, bob, cees = [await person(app, name) for name in ("anna", "bob", "cees")]
    for someone in (anna, bob, cees):
        await someone.press_payload(f"bv.add:{round_id}:{bankjes}")
    await cees.press("Stem uitbrengen")
    await cees.press("Ja, stem uitbrengen")
    assert cees.keys == ["budgets.voted"]
    for banned in (anna, cees):
        async with app.db.transaction():
            await app.repos.sanctions.add(
                (await row(app, banned)).id,
                SanctionKind.BAN,
                reason="Scheldwoorden",
                by_user_id=None,
                now=app.router.clock(),
            )
    # Cees's cast vote still counts; Anna's ballot cannot be finished while she is banned.
    assert await app.repos.budgets.live_counts(round_id) == ({bankjes: 1}, 1, 1)
    ria = await connector(app)
    await ria.press_payload(f"bs.show:{round_id}")
    assert "Gestemd: 1. Begonnen maar nog niet gestemd: 1." in ria.text


async def test_an_amount_too_large_is_called_too_large_not_below_zero(app: App) -> None:
    ria = await connector(app)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await ria.send("25.000.000")
    assert ria.keys == ["budgets.amount_too_large", "budgets.ask_total"]
    assert "boven nul" not in ria.text and "10.000.000" in ria.text
    await ria.send("10.000")
    await ria.press("Geen wijkbudgetten")
    await ria.send("Paleis | 25.000.000 | Veel te duur")
    assert ria.keys == ["budgets.cost_too_high", "budgets.ask_project"]
    assert "boven nul" not in ria.text


async def test_a_neighbourhood_budget_may_be_typed_as_the_total_was(clocked: App) -> None:
    ria = await connector(clocked)
    await ria.send("/nieuweronde")
    await ria.send("Velsen kiest 2027")
    await ria.send("€ 10.000")
    for line, key in (
        ("IJmuiden -500", "budgets.hood_invalid"),
        ("IJmuidenx 500", "budgets.hood_invalid"),
        ("IJmuiden 25.000.000", "budgets.hoods_too_much"),
    ):
        await ria.send(line)
        assert ria.keys == [key, "budgets.ask_hoods"], line
    await ria.send("IJmuiden € 2.000\nVelsen-Noord: 1.500,50 euro\nDriehuis 1 000")
    assert ria.keys == ["budgets.ask_project"]
    await ria.send("Speeltuin | 1000 | Toestellen")
    await ria.press("Klaar met projecten")
    await ria.press("Nu")
    await ria.send("11-12-2026 17:00")
    await ria.press("Alle inwoners")
    await ria.press("Goedkoopste project eerst")
    assert "€\u00a01.500,50" in ria.text and "€\u00a02.000" in ria.text


#: A family emoji (three people joined by U+200D) that a cut at 79 code points would split.
FAMILY = "👩\u200d👩\u200d👧"
#: Staff's description: 77 letters, then the family across the 79th code point.
LONG = "a" * 77 + FAMILY + " speelt in het park" + "." * 150
#: The description as it stands in for a title: cut before the whole family.
CUT = "a" * 77 + "…"


async def test_a_long_description_standing_in_for_a_hidden_ideas_title_is_cut_between_whole_characters(  # noqa: E501
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Klimrek bij Jan Bakker", "Een klimrek voor kinderen bij de Zeeweg.")
    hidden = NewProject(
        title="Klimrek bij Jan Bakker", description=LONG, cost_cents=400_000, idea_id=1
    )
    round_id = await a_round(app, projects=[hidden])
    [klimrek] = await app.repos.budgets.projects(round_id)
    bob = await person(app, "bob")
    await bob.press_payload(f"bv.add:{round_id}:{klimrek.id}")
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Naam erin")
    await bob.send("/stemmen")
    assert f"{CUT} · €\u00a04.000" in bob.text and "\u200d…" not in bob.text
    await bob.press_payload(f"bv.card:{round_id}:{klimrek.id}")
    assert CUT in bob.text and LONG in bob.text
    ria = await connector(app)
    await ria.press_payload(f"bs.show:{round_id}")
    assert CUT in ria.text and "\u200d…" not in ria.text
    published = await app.repos.budgets.public_projects()
    assert [p["title"] for p in published] == [CUT]
    await bob.send("/mijngegevens")
    assert [c["project"] for c in exported(bob)["sections"]["budget_choices"]["rows"]] == [CUT]


async def test_a_proposal_deleted_with_its_author_leaves_its_project_a_title_cut_between_whole_characters(  # noqa: E501
    app: App,
) -> None:
    anna = await person(app, "anna")
    proposal = await app.repos.proposals.submit(
        (await row(app, anna)).id,
        what="Moestuin van Anna de Vries",
        place="Park",
        partners="",
        budget_cents=100_000,
        full_financing=False,
        now=utcnow(),
    )
    moestuin = NewProject(
        title="Moestuin van Anna de Vries",
        description=LONG,
        cost_cents=400_000,
        proposal_id=proposal,
    )
    round_id = await a_round(app, projects=[moestuin])
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    bob = await person(app, "bob")
    await bob.send("/stemmen")
    assert "Anna" not in bob.text
    assert f"{CUT} · €\u00a04.000" in bob.text and "\u200d…" not in bob.text
    published = await app.repos.budgets.public_projects()
    assert [p["title"] for p in published] == [CUT]
    assert round_id


async def test_the_open_data_does_not_name_an_idea_taken_out_of_view_nor_its_date(
    app: App,
) -> None:
    anna = await person(app, "anna")
    author = (await row(app, anna)).id
    for title in ("Klimrek bij Jan Bakker", "Moestuin van Anna de Vries"):
        await seed_idea(app, title, author=author)
    # Submitted a week before the round, so their dates tell them apart from the round's.
    await app.db.execute(
        "UPDATE ideas SET created_at = ?", (iso(app.router.clock() - timedelta(days=7)),)
    )
    projects = [
        NewProject(title="Klimrek", description="Een klimrek", cost_cents=400_000, idea_id=1),
        NewProject(title="Moestuin", description="Een moestuin", cost_cents=300_000, idea_id=2),
        NewProject(title="Bankjes", description="Aan het water", cost_cents=200_000),
    ]
    round_id = await a_round(app, projects=projects)
    made = await app.db.fetchval("SELECT created_at FROM budget_rounds WHERE id = ?", (round_id,))
    idea_date = await app.db.fetchval("SELECT created_at FROM ideas WHERE id = 1")

    async def published() -> list[tuple[object, object]]:
        rows = (await collect(app))["budget_projects"]
        return [(p["idea"], p["submitted_at"]) for p in sorted(rows, key=lambda p: p["id"])]

    assert await published() == [(1, idea_date), (2, idea_date), (None, made)]
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Naam erin")
    assert await published() == [(None, made), (2, idea_date), (None, made)]
    # Shown again, it is named again.
    async with app.db.transaction():
        await app.repos.ideas.restore(1, utcnow())
    assert (await published())[0] == (1, idea_date)
    # Its author erased with her ideas: nothing of them is left to find them by.
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    assert await published() == [(None, made), (None, made), (None, made)]
    await app.db.execute("DELETE FROM ideas")
    assert await published() == [(None, made), (None, made), (None, made)]


async def test_a_double_tap_on_casting_the_vote_says_it_was_counted_not_that_it_changed(
    app: App,
) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna = await person(app, "anna")
    await anna.press_payload(f"bv.add:{round_id}:{bankjes}")
    await anna.press("Stem uitbrengen")
    confirm = next(p for _, p in anna.buttons() if p.startswith("bv.ok:"))
    await anna.press_payload(confirm)
    assert anna.keys == ["budgets.voted"]
    first = await app.db.fetchval("SELECT confirmed_at FROM budget_ballots")
    await anna.press_payload(confirm)
    assert anna.keys == ["budgets.voted"] and "vorige stem" not in anna.text
    assert await app.db.fetchval("SELECT confirmed_at FROM budget_ballots") == first
    # A real change, cast again, is a new vote that replaces the old one.
    speeltuin = (await app.repos.budgets.projects(round_id))[0].id
    await anna.press_payload(f"bv.add:{round_id}:{speeltuin}")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted_again"]


async def test_rounds_with_long_names_fit_their_buttons_and_staff_still_see_each_status(
    app: App,
) -> None:
    long = "Velsen kiest 2027: een budget voor de buurt rond het Moerbergplantsoen"
    now = app.router.clock()
    for ending, opens in (("in Zeewijk", timedelta()), ("in Velserbroek", timedelta(days=1))):
        await app.repos.budgets.create(
            name=f"{long} {ending}",
            total_cents=1_000_000,
            hood_budgets={},
            opens_at=now + opens,
            closes_at=now + opens + timedelta(days=7),
            hood_only=False,
            projects=[NewProject(title="Bankjes", description="Water", cost_cents=300_000)],
            now=now,
        )
    await a_round(app)
    anna = await person(app, "anna")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.choose_round"]
    assert all(len(label) <= 40 for label, _ in anna.buttons())
    ria = await connector(app)
    await ria.send("/rondes")
    labels = [label for label, payload in ria.buttons() if payload.startswith("bs.show:")]
    assert all(len(label) <= 40 for label in labels)
    assert [label.rsplit(" (", 1)[1] for label in labels] == ["open)", "gepland)", "open)"]


async def test_open_rounds_whose_names_start_alike_are_told_apart_on_their_buttons(
    app: App,
) -> None:
    # The same first 39 characters; the family emoji sits across the 40th.
    same = "Velsen kiest 2027: buurtbudget Zeewijk " + FAMILY
    now = app.router.clock()
    for ending, days in (("noord", 9), ("zuid", 12), ("west", 12), ("oost", 12)):
        await app.repos.budgets.create(
            name=f"{same} {ending}",
            total_cents=1_000_000,
            hood_budgets={},
            opens_at=now,
            closes_at=now + timedelta(days=days),
            hood_only=False,
            projects=[NewProject(title="Bankjes", description="Water", cost_cents=300_000)],
            now=now,
        )
    await a_round(app)
    for language in ("Nederlands", "English", "العربية"):
        anna = await person(app, f"anna-{language}", language=language)
        await anna.send("/stemmen")
        assert anna.keys == ["budgets.choose_round"]
        labels = [label for label, payload in anna.buttons() if payload.startswith("bv.round:")]
        assert len(labels) == 5 and len(set(labels)) == 5, labels
        assert all(len(label) <= 40 for label in labels), labels
        assert not any("\u200d…" in label or "\u200d " in label for label in labels), labels
        # The other round's name fits whole: it has nothing added.
        assert labels[0] == "Velsen kiest"
    # Closing on different days: the day tells them apart; on the same day, a number.
    nina = await person(app, "nina")
    await nina.send("/stemmen")
    labels = [label for label, _ in nina.buttons()][1:5]
    closing = [
        when.day_month(r.closes_at.astimezone(app.router.timezone), "nl")
        for r in (await app.repos.budgets.open_rounds(now))[1:3]
    ]
    assert [label.rsplit(" (", 1)[1] for label in labels] == [
        f"sluit {closing[0]})",
        f"sluit {closing[1]} · 1)",
        f"sluit {closing[1]} · 2)",
        f"sluit {closing[1]} · 3)",
    ]
    assert all(label.startswith("Velsen kiest 2027: b") for label in labels)


async def test_someone_without_a_neighbourhood_chooses_it_where_a_round_asks_for_one(
    app: App,
) -> None:
    round_id = await a_round(app, hood_only=True)
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"] and "/start" not in anna.text
    assert "Velserbroek" in [label for label, _ in anna.buttons()]
    # A neighbourhood the profile does not know, or another round's button, sets nothing.
    for forged in (f"bv.hood:{round_id}:atlantis", "bv.hood:99:velserbroek", "bv.hood:x"):
        await anna.press_payload(forged)
        assert anna.keys == ["budgets.not_found"], forged
    assert (await row(app, anna)).neighbourhood is None
    await anna.send("/stemmen")
    await anna.press("Velserbroek")
    assert anna.keys == ["budgets.intro", "budgets.page_single"]
    assert (await row(app, anna)).neighbourhood == "velserbroek"
    # An older button of another neighbourhood does not move her.
    await anna.press_payload(f"bv.hood:{round_id}:driehuis")
    assert anna.keys == ["budgets.intro", "budgets.page_single"]
    assert (await row(app, anna)).neighbourhood == "velserbroek"


async def test_a_neighbourhood_tapped_after_its_round_closed_is_not_kept(app: App) -> None:
    """Someone who would rather not tell gives a neighbourhood only to vote: a button of a
    round that closed (or was forged for one not open) says so and keeps nothing."""
    round_id = await a_round(app, hood_only=True)
    later = await a_round(app, hood_only=True, opens_in=timedelta(days=1))
    anna = await person(app, "anna", hood="Zeg ik liever niet")
    await anna.send("/stemmen")
    assert anna.keys == ["budgets.need_hood"]
    # Its closing time passed meanwhile (and the next round has not opened yet).
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    moment = found.closes_at
    app.router.clock = lambda: moment
    await anna.press("Velserbroek")
    assert anna.keys == ["budgets.closed"]
    await anna.press_payload(f"bv.hood:{later}:velserbroek")
    assert anna.keys == ["budgets.not_open_yet"]
    assert (await row(app, anna)).neighbourhood is None


async def test_a_reminder_still_on_its_way_stops_when_the_voter_casts_their_vote(
    app: App,
) -> None:
    """ "Je hebt 1 project gekozen maar nog niet gestemd" must not reach someone who has
    voted meanwhile (a reminder for many waits its turn in the outbox)."""
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1].id
    anna, bob = await person(app, "anna"), await person(app, "bob")
    for someone in (anna, bob):
        await someone.press_payload(f"bv.add:{round_id}:{bankjes}")
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    await advance(
        app.repos,
        app.catalog,
        app.profile,
        app.router.timezone,
        round_id,
        found.closes_at - timedelta(days=1),
    )
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    assert anna.keys == ["budgets.voted"]
    waiting = await app.db.fetchall(
        "SELECT user_id FROM outbox WHERE kind = 'budget_reminder' AND status = 'pending'"
    )
    assert [r["user_id"] for r in waiting] == [(await row(app, bob)).id]


async def test_a_name_typed_for_an_experiment_another_connector_made_meanwhile_comes_back(
    app: App,
) -> None:
    round_id = await a_round(app)
    bankjes = (await app.repos.budgets.projects(round_id))[1]
    anna = await person(app, "anna")
    await anna.press_payload(f"bv.add:{round_id}:{bankjes.id}")
    await anna.press("Stem uitbrengen")
    await anna.press("Ja, stem uitbrengen")
    found = await app.repos.budgets.get(round_id)
    assert found is not None
    await advance(
        app.repos, app.catalog, app.profile, app.router.timezone, round_id, found.closes_at
    )
    ria, sam = await connector(app, "ria"), await connector(app, "sam")
    for who in (ria, sam):
        await who.press_payload(f"bs.exp:{bankjes.id}")
        assert who.keys == ["budgets.ask_experiment_name"]
    await ria.send("Bankjes aan het water")
    assert ria.keys[0] == "budgets.experiment_made"
    await sam.send("Zitten langs het kanaal")
    assert sam.keys == ["general.typed_not_kept", "budgets.not_a_winner"], sam.keys
    assert "Zitten langs het kanaal" in sam.text
