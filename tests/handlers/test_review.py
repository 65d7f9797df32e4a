"""The review pipeline staff decide in: forged and stale buttons, stopping, old dialogs.

Walked through triage and moderation, the desks built on it (handlers/review.py)."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, outbox, person, row


async def test_forged_decision_buttons_change_nothing(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    for payload, keys in (
        ("tri.do:p1:quick_win", ["triage.proposal_not_found"]),  # no such proposal
        ("tri.do:i1:goedgekeurd", ["general.stale_button"]),  # a proposal's status on an idea
        ("tri.do:i1:", ["general.stale_button"]),
        ("tri.do:zz:in_behandeling", ["general.stale_button"]),
        ("tri.do:i99999999999999:in_behandeling", ["general.stale_button"]),
        ("tri.do:i42:in_behandeling", ["triage.idea_not_found"]),
        ("tri.next:🙂", ["general.stale_button"]),
        ("mod.do:c1:remove", ["moderation.not_found", "moderation.empty"]),
        ("mod.do:i1:keep", ["moderation.idea.not_reported", "moderation.empty"]),
        ("mod.restore:1", ["moderation.idea.not_hidden"]),
    ):
        await ria.press_payload(payload)
        assert ria.keys == keys, payload
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED and not idea.removed
    assert await outbox(app) == []
    # A resident's forged staff buttons are refused before any handler runs.
    for payload in ("mod.restore:1", "mod.do:i1:remove", "tri.do:i1:quick_win"):
        await anna.press_payload(payload)
        assert anna.keys == ["general.stale_button"], payload


async def test_stopping_while_naming_an_experiment_starts_nothing(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Snel te doen")
    await ria.send("Bankjes 🙂 <b>bij</b> de vijver")
    assert ria.keys == ["triage.ask_exp_summary"]
    await ria.press("Stoppen")
    assert ria.keys == ["triage.cancelled", "triage.idea_card"]
    assert await app.repos.experiments.of_idea(1) is None
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED
    # The step's old button does nothing any more.
    await ria.send("Een beschrijving die lang genoeg is.")
    assert ria.keys == ["general.not_understood"]


async def test_a_dialog_stored_by_an_older_version_ends_kindly(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    async with app.db.transaction():
        await app.repos.dialogs.save(
            (await row(app, ria)).id,
            "triage",
            "reason",
            {"kind": "idea", "id": 1, "from": "ingediend", "status": "niet_haalbaar"},
            "abc123",
            utcnow(),
        )
    await ria.send("Te duur.")
    assert ria.keys == ["triage.cancelled"]
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status == IdeaStatus.SUBMITTED
