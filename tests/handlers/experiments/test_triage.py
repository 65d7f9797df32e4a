"""Triage of proposals: the connector decides, the experiment gets the connector's words."""

from __future__ import annotations

from bot.app import App
from storage.experiments.proposals import ProposalStatus
from tests.handlers.experiments.helpers import name_experiment, send_proposal
from tests.people import connector, for_user, person
from tests.support import Chat


async def test_a_funded_proposal_gets_its_amount_and_becomes_an_experiment(app: App) -> None:
    carl = await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    assert ria.keys == ["triage.proposal_card"]
    await ria.press("Gefinancierd")
    assert ria.keys == ["triage.ask_amount"]
    await ria.send("6.000")
    assert ria.keys == ["triage.amount_over_limit", "triage.ask_amount"]
    await ria.send("veel geld")
    assert ria.keys == ["triage.amount_invalid", "triage.ask_amount"]
    await ria.press("Het gevraagde bedrag")
    await name_experiment(
        ria, "Moestuin bij de school", "Kinderen en ouders maken samen een moestuin."
    )
    await ria.send("Een mooi plan voor de buurt.")
    assert ria.keys[0] == "triage.done"

    proposal = await app.repos.proposals.get(1)
    assert proposal is not None
    assert proposal.status is ProposalStatus.FUNDED
    assert proposal.amount_decided_cents == 250000 and proposal.experiment_id is not None
    [notice] = await for_user(app, carl, "status")
    text = notice.text(app, "en")
    assert "pays for it, with €2,500" in text and "Een mooi plan voor de buurt." in text
    # Carl sent it in: he hears of it as its author, not as someone who follows it.
    assert "because it is your proposal" in text
    assert "omdat het jouw voorstel is" in notice.text(app, "nl")
    assert "volgt" not in notice.text(app, "nl")
    assert f"exp.join:{proposal.experiment_id}" in notice.payloads()
    await carl.press_payload("prop.mine:1")
    assert "Funded" in carl.text and "€2,500" in carl.text
    entry = (await app.repos.audit.about("proposal:1"))[-1]
    assert entry.detail["amount_cents"] == 250000 and entry.detail["to"] == "gefinancierd"


async def test_co_funding_and_turning_down_asend_proposal(app: App) -> None:
    carl = await send_proposal(app, "12000")
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    assert "meer dan €\u00a05.000" in ria.text
    await ria.press("Cofinanciering")
    await ria.send("4000")
    await name_experiment(
        ria, "Moestuin bij de school", "Kinderen en ouders maken samen een moestuin."
    )
    await ria.press("Geen toelichting")
    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.status is ProposalStatus.COFUNDED
    assert proposal.amount_decided_cents == 400000
    assert "pays part of it, with €4,000" in (await for_user(app, carl, "status"))[0].text(
        app, "en"
    )
    # A decided proposal only changes by reopening.
    await ria.press_payload("tri.do:p1:afgewezen")
    assert ria.keys == ["triage.illegal_final", "triage.proposal_card"]
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.press_payload("tri.do:p1:afgewezen")
    assert ria.keys == ["triage.ask_proposal_reason_required"]
    await ria.send("Het budget is op.")
    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.status is ProposalStatus.REJECTED
    history = [c.status for c in await app.repos.proposals.history(1)]
    assert history == [
        ProposalStatus.SUBMITTED,
        ProposalStatus.COFUNDED,
        ProposalStatus.IN_REVIEW,
        ProposalStatus.REJECTED,
    ]


async def test_an_approved_proposal_goes_public_only_in_the_words_the_connector_approved(
    app: App,
) -> None:
    carl = await person(app, "carl")
    await carl.send("/nieuwexperiment")
    await carl.send("Een moestuin achter mijn huis op Lange Nieuwstraat 12 met buurman Piet.")
    await carl.send("Lange Nieuwstraat 12, achter het huis")
    await carl.send("Piet de Vries, 06-12345678")
    await carl.send("800")
    await carl.press("Insturen")
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    # Nothing of the resident's is offered to publish: the connector writes the title.
    assert ria.keys == ["triage.ask_exp_title"]
    assert not any("Piet" in label or "moestuin" in label for label in ria.last[0].labels())
    await ria.send("ab")
    assert ria.keys == ["answers.too_short", "triage.ask_exp_title"]
    await ria.send("Buurtmoestuin")
    await ria.send("Buren maken samen een moestuin in de wijk.")
    assert ria.keys == ["triage.exp_preview"]
    # The preview is the card residents will see: the municipality, the connector.
    assert "Buurtmoestuin" in ria.text and "Velsen" in ria.text
    assert "Inwoners met Burgerbeest en de gemeente" in ria.text
    assert "Piet" not in ria.text and "Lange Nieuwstraat" not in ria.text
    assert not any(payload.startswith("exp.") for _, payload in ria.buttons())
    await ria.press("Opnieuw schrijven")
    assert ria.keys == ["triage.ask_exp_title"]
    await ria.send("Moestuin in de buurt")
    await ria.send("Buren maken samen een moestuin in de wijk.")
    await ria.press("Zo is het goed")
    assert ria.keys == ["triage.ask_proposal_reason"]
    await ria.press("Geen toelichting")
    assert ria.keys[0] == "triage.done"

    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.status is ProposalStatus.APPROVED
    assert proposal.experiment_id is not None
    experiment = await app.repos.experiments.get(proposal.experiment_id)
    assert experiment is not None
    assert experiment.title("nl") == experiment.title("en") == "Moestuin in de buurt"
    # Residents see the experiment, and nothing the proposer wrote.
    anna = await person(app, "anna")
    await anna.press_payload(f"exp:{experiment.id}")
    assert anna.keys == ["experiments.card"] and "Moestuin in de buurt" in anna.text
    published = [str(row) for row in await app.repos.open_data.experiments()] + [anna.text]
    for private in ("Piet", "06-12345678", "Lange Nieuwstraat", "achter mijn huis"):
        assert not any(private in text for text in published), private
    # The proposer hears it, with the experiment's name and a way to join.
    [notice] = await for_user(app, carl, "status")
    assert "Moestuin in de buurt" in notice.text(app, "nl")
    assert f"exp.join:{experiment.id}" in notice.payloads()


async def test_a_proposal_from_a_neighbourhood_button_gives_the_experiment_its_place(
    app: App,
) -> None:
    await send_proposal(app)  # place: the IJmuiden button
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    await name_experiment(ria, "Schooltuin", "Kinderen en ouders maken samen een moestuin.")
    await ria.press("Geen toelichting")
    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.experiment_id is not None
    experiment = await app.repos.experiments.get(proposal.experiment_id)
    assert experiment is not None
    assert experiment.neighbourhood == "ijmuiden" and experiment.place("nl") == "IJmuiden"
    assert experiment.summary("en") == "Kinderen en ouders maken samen een moestuin."


async def test_a_proposal_approved_again_after_reopening_names_its_experiment_in_the_notice(
    app: App,
) -> None:
    carl = await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    await name_experiment(ria, "Schooltuin", "Kinderen en ouders maken samen een moestuin.")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij v1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    # Funded after all: the experiment exists already, so it is not named a second time.
    await ria.send("/wachtrij v1")
    await ria.press("Gefinancierd")
    await ria.press("Het gevraagde bedrag")
    assert ria.keys == ["triage.ask_proposal_reason"]
    await ria.press("Geen toelichting")
    assert ria.keys[0] == "triage.done"

    proposal = await app.repos.proposals.get(1)
    assert proposal is not None and proposal.experiment_id is not None
    *_, notice = await for_user(app, carl, "status")
    text = notice.text(app, "nl")
    assert "de gemeente betaalt het" in text
    assert "Het wordt het experiment Schooltuin." in text
    assert f"exp.join:{proposal.experiment_id}" in notice.payloads()
    # Once the experiment has ended, nobody can join it: the notice offers no button for it.
    async with app.db.transaction():
        await app.repos.experiments.end(proposal.experiment_id)
    await ria.send("/wachtrij v1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    await ria.press("Geen toelichting")
    *_, notice = await for_user(app, carl, "status")
    # Nor does it promise an experiment to come: it says that it ended.
    text = notice.text(app, "nl")
    assert "Het wordt het experiment" not in text
    assert "Het werd al het experiment Schooltuin. Dat experiment is afgelopen" in text
    assert "has ended" in notice.text(app, "en")
    assert not any(p.startswith("exp.join") for p in notice.payloads())


async def _erased_with_their_proposal(carl: Chat) -> None:
    await carl.send("/vergeetmij")
    await carl.press("Erase them too")
    await carl.press("Yes, erase my data")
    assert carl.keys == ["privacy.forget.done"]


async def test_a_proposal_erased_while_the_connector_decides_is_said_to_be_gone_at_the_next_step(
    app: App,
) -> None:
    carl = await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Gefinancierd")
    assert ria.keys == ["triage.ask_amount"]
    await _erased_with_their_proposal(carl)
    # The amount asked went with the proposal: not "that is no amount", but that it is gone.
    await ria.press("Het gevraagde bedrag")
    assert ria.keys == ["triage.proposal_not_found"]
    await ria.send("Schooltuin")
    assert ria.keys != ["triage.ask_exp_title"]

    carl = await send_proposal(app)  # Carl again, as a new resident: proposal #2
    await ria.send("/wachtrij v2")
    await ria.press("Goedgekeurd")
    assert ria.keys == ["triage.ask_exp_title"]
    await _erased_with_their_proposal(carl)
    # What the connector typed for it comes back; nothing is started.
    await ria.send("Schooltuin bij de Zeewijk")
    assert ria.keys[0] == "triage.proposal_not_found"
    assert "Schooltuin bij de Zeewijk" in ria.text
    assert await app.repos.experiments.count_running() == 3


async def test_a_photo_where_the_amount_is_asked_gets_asked_for_text_not_called_a_wrong_amount(
    app: App,
) -> None:
    await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Gefinancierd")
    await ria.photo()
    assert ria.keys == ["answers.text_please", "triage.ask_amount"]
    assert '""' not in ria.text
    await ria.send("2000")
    assert ria.keys == ["triage.ask_exp_title"]


async def test_a_reopened_proposals_card_names_the_experiment_it_became(app: App) -> None:
    await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Goedgekeurd")
    await name_experiment(ria, "Schooltuin", "Kinderen en ouders maken samen een moestuin.")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij v1")
    assert ria.keys == ["triage.proposal_card"]
    assert "Werd het experiment Schooltuin" in ria.text
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij v1")
    assert "Werd het experiment Schooltuin" in ria.text
    # Approving it again: the connector is told it is that experiment, not asked for a name.
    await ria.press("Goedgekeurd")
    assert ria.keys == ["triage.ask_proposal_reason"]
    assert "Schooltuin" in ria.text


async def test_funding_a_proposal_above_the_limit_offers_no_button_that_can_only_be_refused(
    app: App,
) -> None:
    """The municipality pays all of it up to its limit: for a proposal that asks more, the
    amount asked is no button under "Gefinancierd" (it could only be refused); an amount
    within the limit is typed. Under "Cofinanciering" the amount asked is a button."""
    await send_proposal(app, "12000")
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press("Gefinancierd")
    assert ria.keys == ["triage.ask_amount"]
    assert not any("gevraagde bedrag" in label for label, _ in ria.buttons())
    await ria.send("5000")
    assert ria.keys == ["triage.ask_exp_title"]
    await ria.send("/annuleer")
    await ria.send("/wachtrij v1")
    await ria.press("Cofinanciering")
    await ria.press("Het gevraagde bedrag")
    assert ria.keys == ["triage.ask_exp_title"]
