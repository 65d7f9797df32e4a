"""Small-cell protection: which counts of a consultation may be shown or published, so that
nobody's answer can be worked back from them. One rule for the staff's view in the chat,
the export for a report and the open data (``minimum``: the profile's threshold), and for
the results of budget rounds (:mod:`handlers.budgets.disclosure`), whose voters are one
group with only overall counts.

    overall counts of a question   only when at least ``minimum`` people answered it
    per neighbourhood / language   per question, in four steps:

      1. a group of fewer than ``minimum`` people is hidden, its size too
      2. the hidden groups are shown together as one "other" group; while that holds
         fewer than ``minimum`` people, the smallest shown group joins it (otherwise
         the total minus the shown groups gives the hidden ones back)
      3. no group left to show: no breakdown (it would only repeat the total)
      4. everyone in a shown group (the other group too) gave the same answer: the
         breakdown's answer counts are withheld, only the sizes stay (else each member's
         answer is known to anyone who knows they took part)

Which groups are shown depends on the groups' sizes only, never on what was answered, and
every shown group has a count (or an empty cell) for every answer code of its question: the
rows that exist say nothing about the answers. The overall counts are the poll's result and
are shown even when everyone agreed; how many took part or finished is not an answer, so
question 0 (the consultation as a whole) has steps 1 to 3 only.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.profile import Profile
from storage.consultations.model import Question, QuestionKind
from storage.consultations.tallies import (
    FINISHED,
    OTHER_GROUP,
    SKIPPED,
    TEXT,
    Dimension,
    Results,
)

#: The group code of the hidden groups counted together.
OTHER = OTHER_GROUP


def counted_codes(asked: Question | None) -> list[str]:
    """Every answer code a question is counted by, whatever was answered: its options (or
    scale values), "text" for a typed question, and "skipped"; for question 0 (``None``)
    how many finished."""
    if asked is None:
        return [FINISHED]
    if asked.kind is QuestionKind.TEXT:
        return [TEXT, SKIPPED]
    return [*(str(value) for value in asked.choices()), SKIPPED]


def threshold(profile: Profile) -> int:
    """The smallest group whose counts are shown (the profile's ``suppression_threshold``)."""
    return profile.consultations.suppression_threshold


def group_shown(size: int, minimum: int) -> bool:
    """Whether the counts of a group of ``size`` people (those who answered a question, the
    voters of a budget round) may be published, and so how many they were."""
    return size > 0 and size >= minimum


def overall_shown(results: Results, question: int, minimum: int) -> bool:
    """Whether a question's overall counts may be published."""
    return group_shown(results.answered(question), minimum)


@dataclass(frozen=True)
class Group:
    """One shown row of a breakdown: a group (or :data:`OTHER`) and its size."""

    code: str
    size: int
    #: Per answer code; None when the breakdown's counts are withheld (step 4).
    counts: dict[str, int] | None

    @property
    def other(self) -> bool:
        return self.code == OTHER


@dataclass(frozen=True)
class Breakdown:
    """A question's counts per group of one dimension, as they may be shown."""

    dimension: Dimension
    #: The shown groups by code, then the other group (if any); empty: no breakdown.
    groups: list[Group]

    @property
    def withheld(self) -> bool:
        """Whether the answer counts are left out because a group answered as one."""
        return any(group.counts is None for group in self.groups)


def breakdown(
    results: Results,
    question: int,
    dimension: Dimension,
    codes: list[str],
    minimum: int,
) -> Breakdown:
    """The groups of ``dimension`` that may be shown for ``question``, with their counts of
    ``codes`` (see the module's steps)."""
    sizes = {
        group: results.answered(question, dimension, group)
        for group in results.groups(question, dimension)
    }
    shown = sorted((size, group) for group, size in sizes.items() if size >= minimum)
    hidden = [group for group, size in sizes.items() if size < minimum]
    # Step 2: the smallest shown group (by code among equals) joins the hidden ones.
    while hidden and sum(sizes[group] for group in hidden) < minimum and shown:
        hidden.append(shown.pop(0)[1])
    if not shown:
        return Breakdown(dimension, [])

    def counted(members: list[str]) -> dict[str, int]:
        return {
            code: sum(results.get(question, code, dimension, group) for group in members)
            for code in codes
        }

    groups = [(group, size, counted([group])) for size, group in sorted(shown, key=_by_code)]
    if hidden:
        groups.append((OTHER, sum(sizes[group] for group in hidden), counted(hidden)))
    unanimous = question != 0 and any(
        counts[code] == size for _, size, counts in groups for code in codes
    )
    return Breakdown(
        dimension,
        [
            Group(code=group, size=size, counts=None if unanimous else counts)
            for group, size, counts in groups
        ],
    )


def _by_code(shown: tuple[int, str]) -> str:
    return shown[1]


def breakdowns(results: Results, question: int, codes: list[str], minimum: int) -> list[Breakdown]:
    """A question's breakdowns per neighbourhood and per language."""
    return [
        breakdown(results, question, dimension, codes, minimum)
        for dimension in (Dimension.NEIGHBOURHOOD, Dimension.LANGUAGE)
    ]
