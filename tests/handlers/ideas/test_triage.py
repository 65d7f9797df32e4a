"""Triage: the connector decides about ideas and proposals; everyone who follows hears why."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.admin.cli import revoke
from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus, Removal
from storage.users import Role
from tests.handlers.experiments.helpers import name_experiment
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import (
    audit_actions,
    connector,
    for_user,
    outbox,
    person,
    refused_as_unknown,
    row,
    with_role,
)
from tests.support import Chat


async def _idea_with_followers(app: App) -> tuple[Chat, Chat, Chat]:
    """Anna (nl) sent idea #1; Bob follows on the console, Emma (en) supports on Telegram."""
    anna = await person(app, "anna")
    await submit_idea(anna)
    bob = await person(app, "bob", platform="console")
    await bob.press_payload("idea.follow:1")
    emma = await person(app, "emma", platform="telegram", language="English")
    await emma.press_payload("idea.support:1")
    return anna, bob, emma


@dataclass(frozen=True)
class Typed:
    """What the connector types at a step (the other steps are buttons pressed)."""

    text: str


# Each idea status: what the connector does after the card, and what residents read.
DECISIONS = {
    IdeaStatus.IN_REVIEW: (
        ["In behandeling"],
        "We kijken er deze week naar.",
        "heeft het in behandeling genomen",
        "is now looking into it",
    ),
    IdeaStatus.QUICK_WIN: (
        [
            "Snel te doen",
            Typed("Meer bankjes in het Velserbeekpark"),
            Typed("We zetten samen bankjes neer waar ouderen even kunnen rusten."),
            "Zo is het goed",
        ],
        "Dit kan snel.",
        "Het wordt het experiment <b>Meer bankjes in het Velserbeekpark</b>",
        "It becomes the experiment",
    ),
    IdeaStatus.ADOPTED: (
        ["Opnemen in agenda", "Velsen is samenspel"],
        None,
        "bij het thema <b>Velsen is samenspel</b>",
        "under the theme <b>Velsen is teamwork</b>",
    ),
    IdeaStatus.FORWARDED: (
        ["Naar een afdeling", "Openbare ruimte"],
        "Zij gaan over bankjes.",
        "naar de afdeling <b>Openbare ruimte</b>",
        "to the department <b>Public space</b>",
    ),
    IdeaStatus.NOT_FEASIBLE: (
        ["Niet haalbaar"],
        "Er is geen plek voor bankjes bij de vijver.",
        "helaas niet haalbaar",
        "sadly, it is not feasible",
    ),
}


@pytest.mark.parametrize("status", list(DECISIONS))
async def test_each_status_is_saved_and_sent_to_submitter_and_followers_in_their_language(
    app: App, status: IdeaStatus
) -> None:
    anna, bob, emma = await _idea_with_followers(app)
    ria = await connector(app)
    presses, reason, dutch, english = DECISIONS[status]
    await ria.send("/wachtrij")
    assert ria.keys == ["triage.idea_card"]
    assert "Idee #1: Meer bankjes in het Velserbeekpark" in ria.text
    for step in presses:
        await (ria.send(step.text) if isinstance(step, Typed) else ria.press(step))
    if status == IdeaStatus.NOT_FEASIBLE:
        assert ria.keys == ["triage.ask_reason_required"]
        assert "Geen toelichting" not in ria.last[0].labels()
    else:
        assert ria.keys == ["triage.ask_reason"]
    if reason is None:
        await ria.press("Geen toelichting")
    else:
        await ria.send(reason)
    if status == IdeaStatus.IN_REVIEW:
        # Still undecided: it stays in the queue, but its card does not come back at once.
        assert ria.keys == ["triage.done", "triage.all_seen"]
    else:
        assert ria.keys == ["triage.done", "triage.empty"]
    assert "Berichten verstuurd: 3" in ria.text

    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == status
    latest = (await app.repos.ideas.history(1))[-1]
    assert latest.status == status and latest.reason == reason
    assert latest.by_user_id == (await row(app, ria)).id

    queued = await outbox(app, "status")
    assert sorted(q.platform for q in queued) == ["console", "telegram", "test"]
    why = {
        "anna": "omdat het jouw idee is",  # she sent it in
        "bob": "omdat je dit idee volgt",
        "emma": "because you follow this idea",
    }
    for chat, lang, expected in ((anna, "nl", dutch), (bob, "nl", dutch), (emma, "en", english)):
        [notice] = await for_user(app, chat, "status")
        text = notice.text(app, lang)
        assert expected.replace("<b>", "").replace("</b>", "") in text
        assert why[chat.user_id] in text
        assert "#1" in text
        if reason is not None:
            assert reason in text
        assert "idea.open:1" in notice.payloads()
    # The connector did it, so the connector is not told about it.
    assert await for_user(app, ria, "status") == []
    entry = (await app.repos.audit.about("idea:1"))[-1]
    assert entry.action == "idea.status" and entry.reason == reason
    assert entry.detail["to"] == status.value and entry.detail["notified"] == 3


async def test_a_quick_win_starts_an_experiment_that_followers_can_join(app: App) -> None:
    _, bob, _ = await _idea_with_followers(app)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await name_experiment(ria)
    await ria.press("Geen toelichting")
    experiment = await app.repos.experiments.of_idea(1)
    assert experiment is not None and experiment.status == "running"
    assert experiment.title("nl") == "Meer bankjes in het Velserbeekpark"
    [notice] = await for_user(app, bob, "status")
    # In plain Dutch, and saying why Bob hears of it.
    shown = notice.text(app, "nl")
    assert "het is snel te doen!" in shown and "quick win" not in shown.casefold()
    assert "omdat je dit idee volgt" in shown
    join = f"exp.join:{experiment.id}"
    assert join in notice.payloads()
    await bob.press_payload(join)
    assert bob.keys == ["experiments.joined", "experiments.card"]
    assert await app.repos.experiments.takes_part(experiment.id, (await row(app, bob)).id)
    assert "experiment.create" in await audit_actions(app)
    await ria.send("/wachtrij 1")
    assert "Werd het experiment Meer bankjes in het Velserbeekpark" in ria.text
    # The idea's public card leads to the experiment too; for the connector also back here.
    await bob.press_payload("idea.open:1")
    assert ("🧪 Naar het experiment", f"exp:{experiment.id}") in bob.buttons()
    assert not any(payload.startswith("tri.") for _, payload in bob.buttons())
    await ria.press_payload("idea.open:1")
    await ria.press("Beoordelen")
    assert ria.keys == ["triage.idea_card"] and "Heropenen" in " ".join(ria.last[0].labels())


async def test_merging_moves_supporters_and_followers_without_duplicates(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Bankjes in het park", "Meer bankjes in het park bij de vijver graag.")
    dora = await person(app, "dora", platform="telegram")
    await submit_idea(dora, "Bankjes bij de vijver", "Zet bankjes bij de vijver in het park neer.")
    assert dora.keys == ["ideas.similar_intro"]
    await dora.press("Toch versturen")
    bob, carl, emma = [await person(app, name) for name in ("bob", "carl", "emma")]
    for supporter, idea in ((bob, 1), (carl, 1), (bob, 2), (emma, 2), (anna, 2)):
        await supporter.press_payload(f"idea.support:{idea}")
    assert [await app.repos.ideas.supporter_count(i) for i in (1, 2)] == [2, 3]

    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    assert ria.keys == ["triage.ask_merge"]
    assert "#1 Bankjes in het park" in ria.last[0].labels()
    await ria.send("#2")
    assert ria.keys == ["triage.merge_self", "triage.ask_merge"]
    await ria.send("#1")
    await ria.send("Deze twee willen hetzelfde.")
    assert ria.keys[0] == "triage.done"

    ideas = app.repos.ideas
    ids = {
        name: (await row(app, chat)).id
        for name, chat in (
            ("anna", anna),
            ("bob", bob),
            ("carl", carl),
            ("dora", dora),
            ("emma", emma),
        )
    }
    target, merged = await ideas.get(1), await ideas.get(2)
    assert target is not None and merged is not None
    assert merged.status == IdeaStatus.MERGED and merged.supporters == 0
    # Bob once, Emma moved, Dora's voice counts; Anna does not support her own idea.
    supporters = [
        r["user_id"]
        for r in await app.db.fetchall("SELECT user_id FROM idea_supports WHERE idea_id = 1")
    ]
    assert sorted(supporters) == sorted([ids["bob"], ids["carl"], ids["emma"], ids["dora"]])
    assert target.supporters == 4 and await ideas.supporter_count(1) == 4
    assert await ideas.supporter_count(2) == 0
    assert set(await ideas.followers(1)) == set(ids.values())
    assert await ideas.followers(2) == []
    # The merged idea's followers heard it, with a button to the idea it joined.
    [notice] = await for_user(app, emma, "status")
    assert "samengevoegd met idee #1" in notice.text(app, "nl")
    assert "idea.open:1" in notice.payloads()
    # Its card now points at #1.
    await bob.press_payload("idea.open:2")
    assert "🔗 Naar idee #1" in bob.last[0].labels()
    entry = (await app.repos.audit.about("idea:2"))[-1]
    # Only Emma's support moved: Bob's was there already, Anna's own idea is the target, and
    # Dora's voice is a new support of her own.
    assert entry.detail["into"] == 1 and entry.detail["supports_moved"] == 1


async def test_a_reason_typed_for_a_merge_whose_other_idea_went_meanwhile_comes_back(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Bankjes in het park", "Meer bankjes in het park bij de vijver graag.")
    dora = await person(app, "dora")
    await submit_idea(dora, "Bankjes bij de vijver", "Zet bankjes bij de vijver in het park neer.")
    await dora.press("Toch versturen")
    ria = await connector(app)
    await ria.send("/wachtrij #2")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    # While the connector writes why, Anna withdraws the idea it would go into.
    await anna.press_payload("idea.withdraw:1!")
    assert anna.keys == ["ideas.withdrawn"]
    reason = "Deze twee willen hetzelfde: bankjes bij de vijver."
    await ria.send(reason)
    # Asked for another idea to merge with, and her reason is not lost.
    assert ria.keys == ["triage.merge_gone", "triage.not_sent", "triage.ask_merge"]
    assert reason in ria.text
    idea = await app.repos.ideas.get(2)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED


async def test_illegal_transitions_are_refused_with_an_explanation(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    await ria.send("Daar is geen geld voor.")
    # A decision is final: an old card's button cannot change it.
    before = len(await outbox(app))
    await ria.press_payload("tri.do:i1:in_behandeling")
    assert ria.keys == ["triage.illegal_final", "triage.idea_card"]
    assert "Kies dan eerst Heropenen" in ria.text
    assert "Heropenen" in " ".join(ria.last[1].labels())
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.NOT_FEASIBLE
    assert len(await outbox(app)) == before
    # Reopening is explicit, and heard by the submitter.
    await ria.press("Heropenen")
    assert ria.keys == ["triage.ask_reason_reopen"]
    await ria.send("Er is toch een plek gevonden.")
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.IN_REVIEW
    notices = await for_user(app, anna, "status")
    assert "bekijkt het opnieuw" in notices[-1].text(app, "nl")
    assert (await audit_actions(app))[-1] == "idea.reopen"
    # In behandeling cannot go back to in behandeling.
    await ria.press_payload("tri.do:i1:in_behandeling")
    assert ria.keys == ["triage.illegal", "triage.idea_card"]
    assert "Wat wel kan" in ria.text


async def test_a_reason_is_required_for_not_feasible_and_bad_input_changes_nothing(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    await ria.photo()
    assert ria.keys == ["answers.text_please", "triage.ask_reason_required"]
    await ria.send("  ")
    assert ria.keys == ["answers.empty", "triage.ask_reason_required"]
    await ria.send("x" * 1001)
    assert ria.keys == ["answers.too_long", "triage.ask_reason_required"]
    await ria.press("Stoppen")
    assert ria.keys == ["triage.cancelled", "triage.idea_card"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED
    assert await outbox(app) == []


async def test_someone_elses_decision_meanwhile_is_shown_not_overwritten(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    sam = await connector(app, "sam")
    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    await sam.send("/wachtrij")
    await sam.press("In behandeling")
    await sam.press("Geen toelichting")
    await ria.send("Te duur.")
    # Her reason is not lost: it comes back, to use on the card as it is now.
    assert ria.keys == ["triage.changed_meanwhile", "triage.not_sent", "triage.idea_card"]
    assert "Te duur." in ria.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.IN_REVIEW


async def test_an_idea_its_author_changed_meanwhile_is_shown_again_not_decided_on(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    # While the connector types why, Anna changes what her idea asks for.
    await anna.press_payload("idea.edit:1")
    await anna.press("Titel aanpassen")
    await anna.send("Een nieuw zwembad in IJmuiden")
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    await ria.send("Er is geen plek voor bankjes bij de vijver.")
    # Her public reason would answer words that are no longer there: the card as it is
    # now comes first, and her reason comes back to use on it.
    assert ria.keys == ["triage.edited_meanwhile", "triage.not_sent", "triage.idea_card"]
    assert "Een nieuw zwembad in IJmuiden" in ria.text
    assert "Er is geen plek voor bankjes bij de vijver." in ria.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED
    assert await for_user(app, anna, "status") == []


async def test_an_idea_hidden_and_shown_again_meanwhile_is_decided_on_as_typed(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Niet haalbaar")
    async with app.db.transaction():  # hidden by moderation and shown again: same words
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Even kijken")
        await app.repos.ideas.restore(1, utcnow())
    await ria.send("Er is geen plek voor bankjes bij de vijver.")
    assert ria.keys[0] == "triage.done"
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.NOT_FEASIBLE


async def test_later_skips_to_the_next_card_and_the_queue_wraps_around(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Een eerste idee voor de wijk", "Een uitleg die lang genoeg is hier.")
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
    assert ria.keys == ["triage.idea_card"] and "(2 open)" in ria.text
    await ria.press("Later")
    assert ria.keys == ["triage.proposal_card"]
    assert "Een moestuin op het schoolplein" in ria.text and "€\u00a02.000" in ria.text
    await ria.press("Later")
    assert ria.keys == ["triage.from_the_start", "triage.idea_card"]


async def test_the_queue_is_for_the_connector_only(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.send("/wachtrij")
    refused_as_unknown(app, anna)
    await anna.press_payload("tri.do:i1:niet_haalbaar")
    assert anna.keys == ["general.stale_button"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED


async def test_on_matrix_an_idea_number_typed_to_merge_with_is_that_idea_not_an_option(
    app: App,
) -> None:
    """Matrix numbers the ideas offered to merge with; "1" typed is idea #1, not the first
    idea offered (#2 here)."""
    anna = await person(app, "anna")
    await submit_idea(anna, "Een hondenlosloopgebied", "Een veld waar honden los mogen lopen.")
    await submit_idea(anna, "Bankjes in het park", "Meer bankjes in het park bij de vijver graag.")
    dora = await person(app, "dora")
    await submit_idea(dora, "Bankjes bij de vijver", "Zet bankjes bij de vijver in het park neer.")
    await dora.press("Toch versturen")
    ria = await with_role(app, await person(app, "ria", platform="matrix"), Role.CONNECTOR)
    await ria.send("/wachtrij #3")
    await ria.press("Samenvoegen")
    assert ria.keys == ["triage.ask_merge"]
    assert ria.last[0].labels()[0].startswith("#2 Bankjes in het park")
    await ria.send("1")
    await ria.send("Het gaat ook om een plek in het groen.")
    assert ria.keys[0] == "triage.done", ria.keys
    merged = await app.repos.ideas.get(3)
    assert merged is not None and merged.status == IdeaStatus.MERGED
    history = await app.repos.ideas.history(3)
    assert [c.merged_into for c in history if c.merged_into] == [1]


async def test_the_card_and_the_reason_question_say_which_language_the_author_reads(
    app: App,
) -> None:
    """The reason goes to the author as typed (Samenspel does not translate)."""
    olena = await person(app, "olena", language="Українська")
    await seed_idea(app, "Meer bankjes bij de haven", author=(await row(app, olena)).id)
    await seed_idea(app, "Een moestuin bij de school", minutes=1)  # nobody's any more
    ria = await connector(app)
    reads = "De inwoner leest Oekraïens (Українська)."
    await ria.send("/wachtrij 1")
    assert ria.keys == ["triage.idea_card"] and reads in ria.text
    await ria.press("In behandeling")
    assert ria.keys == ["triage.ask_reason"] and reads in ria.text
    await ria.press("Stoppen")
    await ria.send("/wachtrij 2")
    assert ria.keys == ["triage.idea_card"] and "De inwoner leest" not in ria.text


async def test_a_quick_win_marked_again_after_reopening_keeps_its_one_experiment(
    app: App,
) -> None:
    _, bob, _ = await _idea_with_followers(app)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await name_experiment(ria)
    await ria.press("Geen toelichting")
    first = await app.repos.experiments.of_idea(1)
    assert first is not None
    await ria.send("/wachtrij 1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    # It is that experiment again: the connector is told so, and not asked to name another.
    assert ria.keys == ["triage.ask_reason"]
    assert "Meer bankjes in het Velserbeekpark" in ria.text
    await ria.press("Geen toelichting")
    assert ria.keys[0] == "triage.done"
    count = "SELECT COUNT(*) FROM experiments WHERE idea_id = 1"
    assert await app.db.fetchval(count) == 1
    *_, notice = await for_user(app, bob, "status")
    assert "Meer bankjes in het Velserbeekpark" in notice.text(app, "nl")
    assert f"exp.join:{first.id}" in notice.payloads()
    assert (await app.repos.audit.about("idea:1"))[-1].detail["experiment"] == first.id
    # Once it has ended, nobody can join it: a notice offers no button for it.
    async with app.db.transaction():
        await app.repos.experiments.end(first.id)
    await ria.send("/wachtrij 1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    assert "Dat experiment is afgelopen" in ria.text
    await ria.press("Geen toelichting")
    *_, notice = await for_user(app, bob, "status")
    assert "Meer bankjes in het Velserbeekpark" in notice.text(app, "nl")
    assert not any(p.startswith("exp.join") for p in notice.payloads())
    assert await app.db.fetchval(count) == 1


async def test_a_quick_win_marked_again_once_its_experiment_ended_does_not_ask_to_join(
    app: App,
) -> None:
    """The notice of a quick win whose experiment is over says so: it does not ask its
    readers to choose a "Doe mee" that is not there."""
    _, bob, emma = await _idea_with_followers(app)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await name_experiment(ria)
    await ria.press("Geen toelichting")
    first = await app.repos.experiments.of_idea(1)
    assert first is not None
    async with app.db.transaction():
        await app.repos.experiments.end(first.id)
    await ria.send("/wachtrij 1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await ria.press("Geen toelichting")
    *_, notice = await for_user(app, bob, "status")
    dutch = notice.text(app, "nl")
    assert "Meer bankjes in het Velserbeekpark" in dutch and "afgelopen" in dutch
    assert "Doe mee" not in dutch
    assert not any(p.startswith("exp.join") for p in notice.payloads())
    *_, told = await for_user(app, emma, "status")
    english = told.text(app, "en")
    assert "has ended" in english and "Join" not in english


TITLE, SUMMARY = "Bankjes van Sam", "Sam zet samen met buren bankjes bij de vijver."


async def _ria_decides_quick_win(ria: Chat) -> None:
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await name_experiment(ria, "Bankjes van Ria", "Ria zet samen met buren bankjes in het park.")
    await ria.press("Geen toelichting")
    assert ria.keys[0] == "triage.done"


@pytest.mark.parametrize("typed", [1, 2, 3])
async def test_a_title_typed_while_another_connector_decided_the_idea_is_given_back(
    app: App, typed: int
) -> None:
    """Two connectors mark the same idea a quick win at once. Sam typed his title (and
    perhaps more) when Ria's decision lands: at his next answer he hears so, with what he
    wrote back; the idea keeps Ria's one experiment."""
    await _idea_with_followers(app)
    ria = await connector(app)
    sam = await connector(app, "sam")
    await sam.send("/wachtrij 1")
    await sam.press("Snel te doen")
    steps = [
        lambda: sam.send(TITLE),
        lambda: sam.send(SUMMARY),
        lambda: sam.press("Zo is het goed"),
        lambda: sam.send("Snel te regelen met de buurt."),
    ]
    for step in steps[:typed]:
        await step()
    await _ria_decides_quick_win(ria)
    await steps[typed]()
    shown = sam.text
    assert "Je titel is niet gebruikt" in shown and TITLE in shown
    if typed >= 2:
        assert SUMMARY in shown
    assert "triage.changed_meanwhile" in sam.keys
    experiment = await app.repos.experiments.of_idea(1)
    assert experiment is not None and experiment.title("nl") == "Bankjes van Ria"
    before = await app.db.fetchval("SELECT COUNT(*) FROM experiments")
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiments WHERE idea_id = 1") == 1
    # Nothing of his is pending in a dialog any more.
    await sam.send("Nog een titel")
    assert "triage.ask_exp_summary" not in sam.keys
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiments") == before


async def test_a_title_typed_for_an_idea_its_author_withdrew_meanwhile_is_given_back(
    app: App,
) -> None:
    anna, _, _ = await _idea_with_followers(app)
    sam = await connector(app, "sam")
    await sam.send("/wachtrij 1")
    await sam.press("Snel te doen")
    await sam.send(TITLE)
    async with app.db.transaction():
        assert await app.repos.ideas.withdraw(1, (await row(app, anna)).id, utcnow())
    await sam.send(SUMMARY)
    shown = sam.text
    assert "Je titel is niet gebruikt" in shown and TITLE in shown and SUMMARY in shown
    # The description he typed just now is given back as his description, not as a reason.
    assert "Je uitleg is niet opgeslagen" not in shown
    assert await app.repos.experiments.of_idea(1) is None


async def test_a_title_typed_for_an_idea_that_became_an_experiment_and_was_reopened_is_given_back(
    app: App,
) -> None:
    """Ria makes the idea an experiment and reopens it while Sam names one for it: back
    where Sam began, it still is Ria's experiment; Sam's title is given back, not dropped."""
    await _idea_with_followers(app)
    ria = await connector(app)
    sam = await connector(app, "sam")
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    await sam.send("/wachtrij 1")
    await sam.press("Snel te doen")
    await sam.send(TITLE)
    await sam.send(SUMMARY)
    assert sam.keys == ["triage.exp_preview"]
    await _ria_decides_quick_win(ria)
    await ria.send("/wachtrij 1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    await sam.press("Zo is het goed")
    shown = sam.text
    assert sam.keys[0] == "triage.exp_named_meanwhile"
    assert "Bankjes van Ria" in shown
    assert "Je titel is niet gebruikt" in shown and TITLE in shown and SUMMARY in shown
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiments WHERE idea_id = 1") == 1


async def test_a_title_typed_by_a_connector_whose_role_is_revoked_meanwhile_is_given_back(
    app: App,
) -> None:
    await _idea_with_followers(app)
    sam = await connector(app, "sam")
    await sam.send("/wachtrij 1")
    await sam.press("Snel te doen")
    await sam.send(TITLE)
    # The role is gone in the database (as the operator's command from another process).
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, sam)).id, Role.RESIDENT)
    await sam.send(SUMMARY)
    assert sam.keys[0] == "roles.lost.verbinder"
    shown = sam.text
    assert "Je titel is niet gebruikt" in shown and TITLE in shown and SUMMARY in shown
    assert await app.repos.experiments.of_idea(1) is None


async def test_a_title_typed_by_a_connector_the_operator_revokes_comes_back_with_the_word(
    app: App,
) -> None:
    await _idea_with_followers(app)
    sam = await with_role(app, await person(app, "4242", platform="telegram"), Role.CONNECTOR)
    await sam.send("/wachtrij 1")
    await sam.press("Snel te doen")
    await sam.send(TITLE)
    await revoke(app.settings, "telegram", "4242", "vertrokken")
    [word] = await for_user(app, sam, "dialog_dropped")
    shown = word.text(app, "nl")
    assert "Je titel is niet gebruikt" in shown and TITLE in shown
