"""Which status may follow which: the one place the connector's process is written down.

An idea or proposal starts as ``ingediend`` and may go anywhere from there. ``in_behandeling``
leads to a decision. A decision is final: it changes again only by an explicit reopen, which
puts the idea or proposal back in ``in_behandeling``.

    ingediend ──► in_behandeling ──► quick_win | opgenomen | doorgestuurd
        │                            | niet_haalbaar | samengevoegd      (ideas)
        │                        ──► goedgekeurd | gefinancierd | cofinanciering
        │                            | afgewezen                          (proposals)
        └──────────► any decision directly
    decision ──(reopen)──► in_behandeling
"""

from __future__ import annotations

from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaStatus

Status = IdeaStatus | ProposalStatus

IDEA_DECISIONS = frozenset(
    {
        IdeaStatus.QUICK_WIN,
        IdeaStatus.ADOPTED,
        IdeaStatus.FORWARDED,
        IdeaStatus.NOT_FEASIBLE,
        IdeaStatus.MERGED,
    }
)
PROPOSAL_DECISIONS = frozenset(
    {
        ProposalStatus.APPROVED,
        ProposalStatus.FUNDED,
        ProposalStatus.COFUNDED,
        ProposalStatus.REJECTED,
    }
)

IDEA_TRANSITIONS: dict[IdeaStatus, frozenset[IdeaStatus]] = {
    IdeaStatus.SUBMITTED: frozenset({IdeaStatus.IN_REVIEW, *IDEA_DECISIONS}),
    IdeaStatus.IN_REVIEW: IDEA_DECISIONS,
    **{final: frozenset() for final in IDEA_DECISIONS},
}
PROPOSAL_TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.SUBMITTED: frozenset({ProposalStatus.IN_REVIEW, *PROPOSAL_DECISIONS}),
    ProposalStatus.IN_REVIEW: PROPOSAL_DECISIONS,
    **{final: frozenset() for final in PROPOSAL_DECISIONS},
}


class TransitionError(Exception):
    """A status change the process does not allow; ``current`` and ``wanted`` say which."""

    def __init__(self, current: Status, wanted: Status):
        super().__init__(f"{current.value} cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted

    @property
    def final(self) -> bool:
        """Whether the refusal is because a decision was already made (reopen first)."""
        return self.current in IDEA_DECISIONS or self.current in PROPOSAL_DECISIONS


def is_final(status: Status) -> bool:
    """A decision, changed only by reopening."""
    return status in IDEA_DECISIONS or status in PROPOSAL_DECISIONS


def next_statuses(current: Status) -> frozenset[Status]:
    """The statuses that may follow ``current`` (without reopening)."""
    if isinstance(current, IdeaStatus):
        return frozenset(IDEA_TRANSITIONS[current])
    return frozenset(PROPOSAL_TRANSITIONS[current])


def check(current: Status, wanted: Status, *, reopen: bool = False) -> None:
    """Raise :class:`TransitionError` unless ``wanted`` may follow ``current``.

    With ``reopen``, a decision may go back to ``in_behandeling`` (and only that).
    """
    if reopen:
        if is_final(current) and wanted.value == IdeaStatus.IN_REVIEW.value:
            return
        raise TransitionError(current, wanted)
    if wanted not in next_statuses(current):
        raise TransitionError(current, wanted)
