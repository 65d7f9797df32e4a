"""What a closed round's result may show, so that nobody's ballot can be worked back from it.

The voters of a round are one group, counted by the consultations' small-groups rule
(:mod:`handlers.consultations.disclosure`, the profile's threshold *k*):

    k voters or more   the votes per project, and how many voted, are published: a count
                       of 1 among them does not say whose it was (the overall counts of a
                       poll's question are shown the same way, also when everyone agreed)
    fewer than k       only which projects won (the decision itself), what they cost and
                       the tie rule; no votes per project, not even how many voted, and the
                       projects in the order of the ballot, not of their votes

Residents (the result at closing) and the open data follow this; staff see the counts at
any time, as they do a poll's overall counts, and are told when residents do not.
"""

from __future__ import annotations

from collections.abc import Iterable

from handlers.consultations import disclosure
from handlers.profile import Profile

Row = dict[str, object]


def votes_shown(profile: Profile, voters: int | None) -> bool:
    """Whether a closed round with ``voters`` voters may publish its votes per project."""
    return disclosure.group_shown(voters or 0, threshold(profile))


def threshold(profile: Profile) -> int:
    return disclosure.threshold(profile)


def published_rounds(profile: Profile, rounds: Iterable[Row]) -> list[Row]:
    """The open data's rounds: how many voted left empty where too few did."""
    return [
        {**row, "voters": None} if not votes_shown(profile, _count(row["voters"])) else row
        for row in rounds
    ]


def published_projects(
    profile: Profile, rounds: Iterable[Row], projects: Iterable[Row]
) -> list[Row]:
    """The open data's projects: the votes left empty in a round too few voted in (whether a
    project won stays: that is the decision)."""
    hidden = {row["id"] for row in rounds if not votes_shown(profile, _count(row["voters"]))}
    return [{**row, "votes": None} if row["round"] in hidden else row for row in projects]


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0
