"""Helpers for the experiments' journeys."""

from __future__ import annotations

from bot.app import App
from tests.people import person
from tests.support import Chat


async def send_proposal(app: App, budget: str = "2500") -> Chat:
    """Carl (who reads English) proposes an experiment with the buttons: proposal #1."""
    carl = await person(app, "carl", language="English")
    await carl.send("/nieuwexperiment")
    await carl.send("A vegetable garden at the primary school.")
    await carl.press("IJmuiden")
    await carl.send("The school and the parents")
    await carl.send(budget)
    await carl.press("Send")
    return carl


async def name_experiment(
    ria: Chat,
    title: str = "Meer bankjes in het Velserbeekpark",
    summary: str = "We zetten samen bankjes neer waar ouderen even kunnen rusten.",
) -> None:
    """The connector names and describes the experiment a decision starts, and approves it."""
    assert ria.keys == ["triage.ask_exp_title"]
    await ria.send(title)
    assert ria.keys == ["triage.ask_exp_summary"]
    await ria.send(summary)
    assert ria.keys == ["triage.exp_preview"]
    assert title in ria.text and summary in ria.text
    await ria.press("Zo is het goed")
