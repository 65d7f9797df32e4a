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

from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, Field

from storage.db import Database

#: The neighbourhood group of people who did not say where they live.
NO_NEIGHBOURHOOD = "geen"


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

    def shown(
        self, question: int, threshold: int, dimension: Dimension = Dimension.ALL, group: str = ""
    ) -> bool:
        """Whether counts of this group may be shown: at least ``threshold`` people in it,
        so that no answer can be traced to a person."""
        return self.answered(question, dimension, group) >= threshold

    def rows(self) -> list[tuple[int, str, str, str, int]]:
        """Every count as (question, dimension, group, answer, n), in a stable order."""
        return [(*key, n) for key, n in sorted(self.counts.items())]


# The finest grain: per question, neighbourhood, language and answer. Rolled up in Python
# (a few hundred rows) instead of asking SQLite once per dimension.
_COUNT = """
WITH given AS (
    SELECT a.question, a.choices, a.text, a.skipped, r.id AS response,
           COALESCE(u.neighbourhood, :none) AS hood, COALESCE(u.language, :lang) AS lang
    FROM consultation_answers a
    JOIN consultation_responses r ON r.id = a.response_id
    JOIN users u ON u.id = r.user_id
    WHERE r.consultation_id = :consultation AND r.moment = :moment
)
SELECT question, hood, lang, CAST(j.value AS TEXT) AS answer, COUNT(*) AS n
    FROM given, json_each(given.choices) j WHERE given.choices IS NOT NULL
    GROUP BY question, hood, lang, answer
UNION ALL
SELECT question, hood, lang, 'skipped', COUNT(*) FROM given WHERE skipped = 1
    GROUP BY question, hood, lang
UNION ALL
SELECT question, hood, lang, 'text', COUNT(*) FROM given WHERE text IS NOT NULL
    GROUP BY question, hood, lang
UNION ALL
SELECT question, hood, lang, 'respondents', COUNT(*) FROM given
    GROUP BY question, hood, lang
UNION ALL
SELECT 0, hood, lang, 'respondents', COUNT(DISTINCT response) FROM given GROUP BY hood, lang
UNION ALL
SELECT 0, COALESCE(u.neighbourhood, :none), COALESCE(u.language, :lang), 'finished', COUNT(*)
    FROM consultation_responses r JOIN users u ON u.id = r.user_id
    WHERE r.consultation_id = :consultation AND r.moment = :moment
    AND r.finished_at IS NOT NULL GROUP BY 2, 3
"""


class Tallies:
    """Counting answers, and the consultation_results table."""

    def __init__(self, db: Database):
        self.db = db

    async def count(self, consultation_id: int, moment: int, default_language: str) -> Results:
        """The answers as they are now, counted."""
        rows = await self.db.fetchall(
            _COUNT,
            {
                "consultation": consultation_id,
                "moment": moment,
                "none": NO_NEIGHBOURHOOD,
                "lang": default_language,
            },
            long=True,
        )
        counts: Counter[Key] = Counter()
        for question, hood, lang, answer, n in rows:
            counts[(question, Dimension.ALL.value, "", answer)] += n
            counts[(question, Dimension.NEIGHBOURHOOD.value, hood, answer)] += n
            counts[(question, Dimension.LANGUAGE.value, lang, answer)] += n
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
