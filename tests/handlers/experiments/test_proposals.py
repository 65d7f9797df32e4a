"""Proposing an experiment: the four questions, financing, following its status."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.experiments.proposals import ProposalStatus
from tests.handlers.experiments.helpers import name_experiment, send_proposal
from tests.people import connector, person, row
from tests.support import Chat


async def _answer_until_budget(anna: Chat) -> None:
    await anna.send("/experimenten")
    await anna.press("Experiment voorstellen")
    assert anna.keys == ["proposals.intro", "proposals.ask_what"]
    await anna.send("Een moestuin in de straat, samen met de buren.")
    assert anna.keys == ["proposals.ask_place"]
    await anna.press("Velserbroek")
    assert anna.keys == ["proposals.ask_partners"]
    await anna.send("De buren en de basisschool")
    assert anna.keys == ["proposals.ask_budget"]


async def test_a_small_budget_can_be_fully_financed(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("€\u00a01.500")
    assert anna.keys == ["proposals.summary"]
    assert "Geld: €\u00a01.500" in anna.text
    assert "Tot €\u00a05.000 kan de gemeente je experiment helemaal betalen" in anna.text
    await anna.press("Insturen")
    assert anna.keys == ["proposals.submitted"]
    assert "helemaal betalen" in anna.text

    user = await row(app, "anna")
    [proposal] = await app.repos.proposals.queue()
    assert proposal.author_user_id == user.id
    assert (proposal.what, proposal.place, proposal.partners) == (
        "Een moestuin in de straat, samen met de buren.",
        "Velserbroek",
        "De buren en de basisschool",
    )
    assert (proposal.budget_cents, proposal.full_financing) == (150_000, True)
    assert proposal.status is ProposalStatus.SUBMITTED
    assert await app.repos.proposals.followers(proposal.id) == [user.id]
    history = await app.repos.proposals.history(proposal.id)
    assert [change.status for change in history] == [ProposalStatus.SUBMITTED]


async def test_an_amount_copied_from_right_to_left_text_is_read(app: App) -> None:
    """An Arabic keyboard or a copied line wraps the amount in direction marks, which show
    nothing: the amount is read as it shows."""
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("\u200f\u2067€ 1.500\u2069\u200f")
    assert anna.keys == ["proposals.summary"]
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    assert proposal.budget_cents == 150_000


async def test_a_large_budget_is_told_about_co_financing(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("12500,50")
    assert "Geld: €\u00a012.500,50" in anna.text
    assert "cofinanciering" in anna.text
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    assert (proposal.budget_cents, proposal.full_financing) == (1_250_050, False)


async def test_the_limit_itself_is_still_fully_financed(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("5000")
    assert "helemaal betalen" in anna.text


async def test_nonsense_amounts_are_refused_kindly_and_asked_again(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    for bad in ("heel veel", "-200", "1500 dollar"):
        await anna.send(bad)
        assert anna.keys == ["proposals.budget_invalid", "proposals.ask_budget"]
        assert f'"{bad}"' in anna.text
    await anna.handle(anna.event(unsupported="sticker"))
    assert anna.keys == ["answers.text_please", "proposals.ask_budget"]
    assert await app.repos.proposals.queue() == []
    await anna.send("800")
    assert anna.keys == ["proposals.summary"]


async def test_an_amount_with_more_than_two_decimals_is_refused_kindly(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    for bad in ("0,001", "0.001", "1,2345"):
        await anna.send(bad)
        assert anna.keys == ["proposals.budget_invalid", "proposals.ask_budget"]
        assert f'"{bad}"' in anna.text
    assert await app.repos.proposals.queue() == []
    await anna.send("1.000,50")
    assert anna.keys == ["proposals.summary"]
    assert "Geld: €\u00a01.000,50" in anna.text


async def test_a_ukrainian_resident_sees_the_budget_in_euro_signs(app: App) -> None:
    # CLDR's Ukrainian symbol for the euro is "EUR"; people read € on every price tag.
    olena = await person(app, "olena", language="Українська")
    await olena.send("/nieuwexperiment")
    await olena.send("Een moestuin in de straat, samen met de buren.")
    await olena.press("Velserbroek")
    await olena.send("De buren en de basisschool")
    assert olena.keys == ["proposals.ask_budget"]
    await olena.send("1500,50")
    assert olena.keys == ["proposals.summary"]
    assert "1\u00a0500,50\u00a0€" in olena.text
    assert "EUR" not in olena.text


async def test_bad_answers_on_the_way_change_nothing(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/nieuwexperiment")
    await anna.send("kort")
    assert anna.keys == ["answers.too_short", "proposals.ask_what"]
    await anna.send("x" * 1001)
    assert anna.keys == ["answers.too_long", "proposals.ask_what"]
    assert "1.001 tekens" in anna.text
    await anna.photo()
    assert anna.keys == ["answers.text_please", "proposals.ask_what"]
    await anna.send("Een buurtbieb in een oude telefooncel")
    await anna.send("Bij het station")  # a typed place is fine too
    assert anna.keys == ["proposals.ask_partners"]


async def test_starting_again_forgets_the_answers_and_stopping_stores_nothing(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("300")
    await anna.press("Opnieuw beginnen")
    assert anna.keys == ["proposals.ask_what"]
    await anna.press("Stoppen")
    assert anna.keys == ["general.cancelled"]
    assert await app.repos.proposals.queue() == []


async def test_my_proposals_show_status_history_and_reason(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/mijnvoorstellen")
    assert anna.keys == ["proposals.mine_none"]
    await _answer_until_budget(anna)
    await anna.send("900")
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    async with app.db.transaction():
        await app.repos.proposals.set_status(
            proposal.id,
            ProposalStatus.APPROVED,
            reason="Mooi plan, we helpen graag.",
            amount_cents=80_000,
            by_user_id=None,
            now=utcnow(),
        )
    await anna.press("Mijn voorstellen")
    assert anna.keys == ["proposals.mine_title"]
    assert f"#{proposal.id} Een moestuin in de straat" in anna.text
    assert "Goedgekeurd" in anna.text
    await anna.press(f"Bekijk voorstel #{proposal.id}")
    assert anna.keys == ["proposals.detail"]
    assert "Ingestuurd" in anna.text
    assert "Goedgekeurd. Mooi plan, we helpen graag." in anna.text
    assert "Toegekend bedrag: €\u00a0800" in anna.text


async def test_someone_elses_proposal_cannot_be_opened(app: App) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("900")
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    bob = await person(app, "bob")
    await bob.press_payload(f"prop.mine:{proposal.id}")
    assert bob.keys == ["proposals.not_found"]
    assert "moestuin" not in bob.text


async def test_a_budget_of_about_an_amount_is_read_and_a_huge_one_is_called_too_large(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("99999999999")
    assert anna.keys == ["proposals.budget_too_large", "proposals.ask_budget"]
    assert "te groot" in anna.text
    await anna.send("ongeveer 800 euro")  # the question asks "ongeveer"
    assert anna.keys == ["proposals.summary"]
    assert "Geld: €\u00a0800" in anna.text


async def test_a_proposal_that_ends_in_a_full_stop_is_listed_without_a_doubled_mark(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/nieuwexperiment")
    await anna.send("Een moestuin bij het buurthuis.")
    await anna.press("Velserbroek")
    await anna.send("De buren")
    await anna.send("500")
    await anna.press("Insturen")
    await anna.send("/mijnvoorstellen")
    assert "Een moestuin bij het buurthuis: 📥 Ingestuurd" in anna.text
    assert ".:" not in anna.text


async def test_the_connectors_button_and_the_status_the_resident_reads_use_one_word(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("900")
    await anna.press("Insturen")
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    labels = " ".join(ria.last[-1].labels())
    assert "In behandeling" in labels and "Afwijzen" in labels
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    await anna.send("/mijnvoorstellen")
    assert "🔍 In behandeling" in anna.text
    await ria.send("/wachtrij v1")
    await ria.press("Afwijzen")
    await ria.send("Het budget is op.")
    await anna.send("/mijnvoorstellen")
    assert "✋ Afgewezen" in anna.text
    [*_, told] = await app.repos.outbox.for_user((await row(app, "anna")).id)
    assert told.payload[0]["key"] == "triage.proposal_notice.afgewezen"
    assert "afgewezen" in app.catalog.text(
        "nl", told.payload[0]["key"], {"id": 1, "what": "x"}, markup=False
    )


async def test_proposals_have_a_daily_limit(
    app: App,
) -> None:
    anna = await person(app, "anna")
    most = app.profile.limits.proposals_per_day
    for _ in range(most):
        await _answer_until_budget(anna)
        await anna.send("500")
        await anna.press("Insturen")
        assert anna.keys == ["proposals.submitted"]
    await anna.press_payload("prop.new")
    assert anna.keys == ["flood.too_many_proposals"]
    assert f"al {most} voorstellen" in anna.text
    await anna.send("/nieuwexperiment")
    assert anna.keys == ["flood.too_many_proposals"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiment_proposals") == most


async def test_many_proposals_are_listed_a_page_at_a_time_and_the_oldest_can_still_be_opened(
    app: App,
) -> None:
    anna = await person(app, "anna")
    user = await row(app, anna)
    async with app.db.transaction():
        for n in range(1, 13):
            await app.repos.proposals.submit(
                user.id,
                what=f"Voorstel nummer {n} voor een groene straat",
                place="IJmuiden",
                partners="De buren",
                budget_cents=50_000,
                full_financing=True,
                now=utcnow(),
            )
    await anna.send("/mijnvoorstellen")
    assert anna.keys == ["proposals.mine_title"]
    assert "nummer 12 " in anna.text and "nummer 5 " in anna.text
    assert "nummer 4 " not in anna.text
    opened = [label for label, payload in anna.buttons() if payload.startswith("prop.mine:")]
    assert len(opened) == 8
    await anna.press("Volgende")
    assert anna.keys == ["proposals.mine_title"]
    assert "nummer 4 " in anna.text and "nummer 5 " not in anna.text
    await anna.press("Bekijk voorstel #1")
    assert anna.keys == ["proposals.detail"]
    assert "Voorstel nummer 1 voor een groene straat" in anna.text
    # A page past the end shows the last one; a page we could not have sent is stale.
    await anna.press_payload("prop.page:99")
    assert "nummer 1 " in anna.text
    await anna.press_payload("prop.page:-1")
    assert anna.keys == ["general.stale_button"]


async def test_an_amount_typed_on_an_arabic_keyboard_is_read(app: App) -> None:
    """An Arabic keyboard types Arabic-Indic digits with its own thousands and decimal
    signs (١٬٥٠٠ is 1.500, ٢٥٠٫٥٠ is 250,50): read as they show, as the digits are."""
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("\u200f١٬٥٠٠٫٥٠ €")
    assert anna.keys == ["proposals.summary"]
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    assert proposal.budget_cents == 150_050


async def test_a_proposal_opened_from_a_later_page_goes_back_to_that_page(app: App) -> None:
    anna = await person(app, "anna")
    user = await row(app, anna)
    async with app.db.transaction():
        for n in range(1, 13):
            await app.repos.proposals.submit(
                user.id,
                what=f"Voorstel nummer {n} voor een groene straat",
                place="IJmuiden",
                partners="De buren",
                budget_cents=50_000,
                full_financing=True,
                now=utcnow(),
            )
    await anna.send("/mijnvoorstellen")
    await anna.press("Volgende")
    await anna.press("Bekijk voorstel #2")
    assert anna.keys == ["proposals.detail"]
    assert all(len(payload.encode()) <= 64 for _, payload in anna.buttons())
    await anna.press("Mijn voorstellen")
    assert anna.keys == ["proposals.mine_title"]
    assert "nummer 2 " in anna.text and "nummer 12 " not in anna.text
    # An old button without a page, and a forged page, still open the proposal.
    await anna.press_payload("prop.mine:2")
    assert anna.keys == ["proposals.detail"]
    await anna.press_payload("prop.mine:2:-1")
    assert anna.keys == ["general.stale_button"]


async def test_an_approved_proposal_leads_its_author_to_the_experiment_it_became(
    app: App,
) -> None:
    carl = await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    await name_experiment(ria, "Schooltuin", "Kinderen en ouders maken samen een moestuin.")
    await ria.press("Geen toelichting")
    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.experiment_id is not None
    await carl.send("/myproposals")
    await carl.press("#1")
    assert carl.keys == ["proposals.detail"]
    await carl.press("To the experiment")
    assert carl.keys == ["experiments.card"] and "Schooltuin" in carl.text
    # Once it has ended there is nothing to join: no way to it from the proposal.
    async with app.db.transaction():
        await app.repos.experiments.end(proposal.experiment_id)
    await carl.press_payload("prop.mine:1")
    assert not any(p.startswith("exp:") for _, p in carl.buttons())


async def test_the_words_typed_after_the_command_are_what_the_experiment_is(app: App) -> None:
    """/nieuwexperiment with words behind it: they answer the first question, and the place
    is asked next; words too short for it get the reason and are shown back."""
    anna = await person(app, "anna")
    await anna.send("/nieuwexperiment Een moestuin in de straat,\nsamen met de buren.")
    assert anna.keys == ["proposals.intro", "proposals.ask_place"]
    await anna.press("Velserbroek")
    await anna.send("De buren en de basisschool")
    await anna.send("800")
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    assert proposal.what == "Een moestuin in de straat,\nsamen met de buren."

    await anna.send("/newexperiment Tuin 🌱")
    assert anna.keys == [
        "proposals.intro",
        "general.typed_not_kept",
        "answers.too_short",
        "proposals.ask_what",
    ]
    assert "Tuin 🌱" in anna.text
    await anna.send("Een moestuin in de straat, samen met de buren.")
    assert anna.keys == ["proposals.ask_place"]


async def test_the_place_and_the_partners_are_kept_on_one_line(app: App) -> None:
    """They show on one line after their label and in the connector's card: line breaks
    typed in them become spaces; what the experiment is keeps its lines."""
    anna = await person(app, "anna")
    await anna.send("/nieuwexperiment")
    await anna.send("Een moestuin.\n\nSamen met de buren.")
    await anna.send("Het plein\nbij de kerk")
    await anna.send("De buren\n\nen de school")
    await anna.send("800")
    assert "Waar: Het plein bij de kerk\n" in anna.text
    await anna.press("Insturen")
    [proposal] = await app.repos.proposals.queue()
    assert (proposal.what, proposal.place, proposal.partners) == (
        "Een moestuin.\n\nSamen met de buren.",
        "Het plein bij de kerk",
        "De buren en de school",
    )


async def test_a_proposal_typed_after_the_command_as_its_number_with_a_hash_opens(
    app: App,
) -> None:
    """Proposals are called "#1" everywhere: "/mijnvoorstellen #1" (or "١" from an Arabic
    keyboard) opens it, rather than "I cannot find this proposal"."""
    anna = await person(app, "anna")
    await _answer_until_budget(anna)
    await anna.send("900")
    await anna.press("Insturen")
    assert "#1" in anna.text
    for typed in ("1", "#1", " #1 ", "١"):
        await anna.send(f"/mijnvoorstellen {typed}")
        assert anna.keys == ["proposals.detail"], typed
    await anna.send("/mijnvoorstellen #2")
    assert anna.keys == ["proposals.not_found"]
