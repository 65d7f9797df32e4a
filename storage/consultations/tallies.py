"""Results: the answers counted, overall and per neighbourhood and language.

:meth:`Tallies.count` counts the answers as they are now (for staff while a consultation is
open); :meth:`Tallies.keep` stores the counts as they were published at closing, so they stay
when people are erased afterwards, and :meth:`Tallies.kept` reads them back.

A count is ``(question, dimension, group, answer) -> n``. ``answer`` is an option number or
scale value (as text), ``skipped`` ("zeg ik liever niet"), ``text`` (a typed answer) or
``respondents`` (everyone who answered the question, skipping included). Question 0 holds
the whole consultation: ``respondents`` (answered anything) and ``finished``.
"""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, Field

from storage.db import Database

#: The neighbourhood group of people who did not say where they live.
NO_NEIGHBOURHOOD = "geen"
#: The group of small groups counted together where results are published.
OTHER_GROUP = "overig"


class Dimension(StrEnum):
    ALL = "all"
    NEIGHBOURHOOD = "neighbourhood"
    LANGUAGE = "language"


RESPONDENTS = "respondents"
FINISHED = "finished"
SKIPPED = "skipped"
TEXT = "text"

Key = tuple[int, str, str, str]


class Results(BaseModel):
    """Counted answers of one consultation (at one moment)."""

    counts: dict[Key, int] = Field(default_factory=dict)

    def get(
        self, question: int, answer: str, dimension: Dimension = Dimension.ALL, group: str = ""
    ) -> int:
        return self.counts.get((question, dimension.value, group, answer), 0)

    @property
    def respondents(self) -> int:
        """People who answered at least one question."""
        return self.get(0, RESPONDENTS)

    @property
    def finished(self) -> int:
        return self.get(0, FINISHED)

    def answered(
        self, question: int, dimension: Dimension = Dimension.ALL, group: str = ""
    ) -> int:
        """People who answered this question (in this group), "zeg ik liever niet" too."""
        return self.get(question, RESPONDENTS, dimension, group)

    def groups(self, question: int, dimension: Dimension) -> list[str]:
        """The groups of a dimension with anyone who answered this question, sorted."""
        return sorted(
            {
                group
                for (q, dim, group, answer) in self.counts
                if q == question and dim == dimension.value and answer == RESPONDENTS
            }
        )

    def rows(self) -> list[tuple[int, str, str, str, int]]:
        """Every count as (question, dimension, group, answer, n), in a stable order."""
        return [(*key, n) for key, n in sorted(self.counts.items())]


# The finest grain, in one pass over the answers: per question, neighbourhood, language and
# distinct answer (a JSON list of options: few distinct ones). Expanded and rolled up in Python
# (a few hundred rows) instead of asking SQLite once per dimension or per option.
_ANSWERS = """
SELECT a.question, COALESCE(u.neighbourhood, :none), COALESCE(u.language, :lang),
       a.choices, a.skipped, a.text IS NOT NULL, COUNT(*)
FROM consultation_answers a
JOIN consultation_responses r ON r.id = a.response_id
JOIN users u ON u.id = r.user_id
WHERE r.consultation_id = :consultation AND r.moment = :moment
GROUP BY 1, 2, 3, 4, 5, 6
"""
_PEOPLE = """
SELECT COALESCE(u.neighbourhood, :none), COALESCE(u.language, :lang),
       SUM(EXISTS (SELECT 1 FROM consultation_answers a WHERE a.response_id = r.id)),
       SUM(r.finished_at IS NOT NULL)
FROM consultation_responses r
JOIN users u ON u.id = r.user_id
WHERE r.consultation_id = :consultation AND r.moment = :moment
GROUP BY 1, 2
"""


class Tallies:
    """Counting answers, and the consultation_results table."""

    def __init__(self, db: Database):
        self.db = db

    async def count(self, consultation_id: int, moment: int, default_language: str) -> Results:
        """The answers as they are now, counted."""
        params = {
            "consultation": consultation_id,
            "moment": moment,
            "none": NO_NEIGHBOURHOOD,
            "lang": default_language,
        }
        counts: Counter[Key] = Counter()

        def add(question: int, hood: str, lang: str, answer: str, n: int) -> None:
            counts[(question, Dimension.ALL.value, "", answer)] += n
            counts[(question, Dimension.NEIGHBOURHOOD.value, hood, answer)] += n
            counts[(question, Dimension.LANGUAGE.value, lang, answer)] += n

        for question, hood, lang, choices, skipped, typed, n in await self.db.fetchall(
            _ANSWERS, params, long=True
        ):
            add(question, hood, lang, RESPONDENTS, n)
            if skipped:
                add(question, hood, lang, SKIPPED, n)
            if typed:
                add(question, hood, lang, TEXT, n)
            for option in json.loads(choices) if choices else ():
                add(question, hood, lang, str(option), n)
        for hood, lang, respondents, finished in await self.db.fetchall(
            _PEOPLE, params, long=True
        ):
            if respondents:
                add(0, hood, lang, RESPONDENTS, respondents)
            if finished:
                add(0, hood, lang, FINISHED, finished)
        return Results(counts=dict(counts))

    async def keep(self, consultation_id: int, moment: int, results: Results) -> None:
        """Store the results as published (replacing any kept before for this moment)."""
        await self.db.execute(
            "DELETE FROM consultation_results WHERE consultation_id = ? AND moment = ?",
            (consultation_id, moment),
        )
        await self.db.executemany(
            "INSERT INTO consultation_results"
            " (consultation_id, moment, question, dimension, grp, answer, count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((consultation_id, moment, *row) for row in results.rows()),
        )

    async def kept(self, consultation_id: int, moment: int) -> Results | None:
        """The results as published at closing, or None when none were kept."""
        rows = await self.db.fetchall(
            "SELECT question, dimension, grp, answer, count FROM consultation_results"
            " WHERE consultation_id = ? AND moment = ?",
            (consultation_id, moment),
        )
        if not rows:
            return None
        return Results(counts={(q, dim, grp, answer): n for q, dim, grp, answer, n in rows})

    async def published(self) -> list[tuple[int, int, int, str, str, str, int]]:
        """Every kept count of every closed consultation, for the open data."""
        rows = await self.db.fetchall(
            "SELECT r.consultation_id, r.moment, r.question, r.dimension, r.grp, r.answer,"
            " r.count FROM consultation_results r JOIN consultations c"
            " ON c.id = r.consultation_id WHERE c.status = 'closed'"
            " ORDER BY r.consultation_id, r.moment, r.question, r.dimension, r.grp, r.answer",
            long=True,
        )
        return [tuple(row) for row in rows]
