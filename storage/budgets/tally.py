"""Choosing a round's winners from its vote counts: pure, so it is easy to test and measure.

Projects are taken in order of votes while they fit the budget that is left. Where a round
keeps part of its budget for a neighbourhood, that neighbourhood's projects compete for that
part first; whatever they leave, and every other project, then compete for the rest of the
total. Projects with equal votes are ordered by the tie rule the round states (chosen by
staff when they set it up), and then by the order they were put on the ballot:

- ``cost``: the lower cost first (more projects for the money);
- ``hood``: more votes from residents of the project's own neighbourhood first (for a
  project of the whole municipality every vote is from its own area);
- ``earliest``: the project submitted earliest first (its idea or proposal);
- ``lot``: a lot anyone can redo: the SHA-256 of ``"<seed>:<project id>"`` in hex, lowest
  first, with the seed drawn at closing and published with the result.

A project without a vote never wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class TieRule(StrEnum):
    COST = "cost"
    HOOD = "hood"
    EARLIEST = "earliest"
    LOT = "lot"


@dataclass(frozen=True)
class Candidate:
    """A project as the tally sees it."""

    id: int
    cost_cents: int
    neighbourhood: str | None
    votes: int
    #: Votes from residents of the project's own neighbourhood (the ``hood`` rule).
    hood_votes: int = 0
    #: When it was submitted, ISO 8601 in UTC (the ``earliest`` rule).
    submitted_at: str = ""


def lot(seed: str, project_id: int) -> str:
    """A project's place in the lot drawn with ``seed`` (lower goes first)."""
    return hashlib.sha256(f"{seed}:{project_id}".encode()).hexdigest()


def ranked(
    candidates: Sequence[Candidate], rule: TieRule = TieRule.COST, seed: str = ""
) -> list[Candidate]:
    """The candidates in the order they are considered (the tie rule applied)."""
    if rule is TieRule.LOT and not seed:
        raise ValueError("a lot needs its seed")

    def key(c: Candidate) -> tuple[object, ...]:
        if rule is TieRule.COST:
            return (-c.votes, c.cost_cents, c.id)
        if rule is TieRule.HOOD:
            return (-c.votes, -c.hood_votes, c.id)
        if rule is TieRule.EARLIEST:
            return (-c.votes, c.submitted_at, c.id)
        return (-c.votes, lot(seed, c.id), c.id)

    return sorted(candidates, key=key)


def choose_winners(
    candidates: Sequence[Candidate],
    total_cents: int,
    hood_budgets: Mapping[str, int],
    rule: TieRule = TieRule.COST,
    seed: str = "",
) -> list[int]:
    """The ids of the winning projects, in the order they were chosen."""
    order = [c for c in ranked(candidates, rule, seed) if c.votes > 0]
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
