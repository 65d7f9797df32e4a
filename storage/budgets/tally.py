"""Choosing a round's winners from its vote counts: pure, so it is easy to test and measure.

Projects are taken in order of votes while they fit the budget that is left. Where a round
keeps part of its budget for a neighbourhood, that neighbourhood's projects compete for that
part first; whatever they leave, and every other project, then compete for the rest of the
total. Ties are broken by the rule every round states: more votes first, then the lower
cost (more projects for the money), then the project put on the ballot first. A project
without a vote never wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A project as the tally sees it."""

    id: int
    cost_cents: int
    neighbourhood: str | None
    votes: int


def ranked(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates in the order they are considered (the tie rule applied)."""
    return sorted(candidates, key=lambda c: (-c.votes, c.cost_cents, c.id))


def choose_winners(
    candidates: Sequence[Candidate], total_cents: int, hood_budgets: Mapping[str, int]
) -> list[int]:
    """The ids of the winning projects, in the order they were chosen."""
    order = [c for c in ranked(candidates) if c.votes > 0]
    chosen: list[int] = []
    taken: set[int] = set()
    left = total_cents
    for hood, budget in hood_budgets.items():
        hood_left = budget
        for candidate in order:
            if candidate.neighbourhood != hood:
                continue
            if candidate.cost_cents <= hood_left and candidate.cost_cents <= left:
                chosen.append(candidate.id)
                taken.add(candidate.id)
                hood_left -= candidate.cost_cents
                left -= candidate.cost_cents
    for candidate in order:
        if candidate.id not in taken and candidate.cost_cents <= left:
            chosen.append(candidate.id)
            taken.add(candidate.id)
            left -= candidate.cost_cents
    return chosen
