"""Helpers for the experiments' journeys."""

from __future__ import annotations

from tests.support import Chat


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
