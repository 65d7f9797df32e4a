"""Consultations outside the chat: one consultation's results as CSV and a chart for a report,
and the rows consultations add to the open data.

    samenspel export-consultation ID --out DIR

writes ``results.csv`` (every question's counts), ``breakdown.csv`` (per neighbourhood and
language) and ``chart.png`` (per moment of an evaluation: ``chart-<moment>.png``). Neither
holds personal data: no ids or names of people, no typed answers (only how many there were).
Each file replaces the one of an earlier export in one step, so a crash or a full disk
halfway never leaves half a file where a whole one was.

Both, and the open data, publish what :mod:`handlers.consultations.disclosure` allows: a
question's counts only when at least the profile's threshold answered it, small groups only
counted together with others ("overig"), no breakdown where the total minus the shown groups
would give a small group back, and no answer counts in a breakdown where everyone in a group
answered alike (empty, ``suppressed`` 1). Every question has a row for every answer code,
whatever was answered, so which rows exist tells nothing either. Only closed consultations
have results in the open data, as they were published at closing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.admin.durable import left_by_a_crash, replace_file
from bot.admin.spreadsheet import safe_row
from bot.app import App
from handlers.answers import MAX_ID
from handlers.consultations import disclosure
from handlers.consultations import results as shown_results
from storage.clock import iso
from storage.consultations.model import Consultation, ConsultationStatus, Question, pick
from storage.consultations.tallies import (
    FINISHED,
    RESPONDENTS,
    SKIPPED,
    TEXT,
    Dimension,
    Key,
    Results,
)

Row = dict[str, Any]
#: One published count: (question, dimension, group, answer, count; None: left out).
Published = tuple[int, str, str, str, int | None]
#: The group of the overall counts in the open data (a key may not be empty there).
ALL_GROUP = "all"


class ConsultationExportError(Exception):
    """The consultation cannot be exported (unknown, never opened, or the folder)."""


@dataclass(frozen=True)
class ConsultationReport:
    """What was written, and where."""

    path: Path
    files: list[str] = field(default_factory=list)
    respondents: dict[int, int] = field(default_factory=dict)


def _answer_text(asked: Question | None, answer: str, lang: str) -> str:
    """An answer code in words (empty for the codes that are not an option)."""
    if asked is None or answer in (SKIPPED, TEXT, RESPONDENTS, FINISHED):
        return ""
    return shown_results.label(asked, answer, lang)


# One consultation -----------------------------------------------------------------------------


async def export_consultation(app: App, consultation_id: int, out: Path) -> ConsultationReport:
    """Write one consultation's counts, breakdowns and charts into ``out``."""
    repos = app.repos
    # A number past SQLite's integers (a typo, a pasted phone number) cannot be looked up:
    # no consultation has it.
    known = 1 <= consultation_id <= MAX_ID
    consultation = await repos.consultations.get(consultation_id) if known else None
    if consultation is None or consultation.status not in (
        ConsultationStatus.OPEN,
        ConsultationStatus.CLOSED,
    ):
        raise ConsultationExportError(f"no published consultation {consultation_id}")
    lang = app.catalog.default
    minimum = shown_results.threshold(app.profile)
    counted: dict[int, Results] = {}
    for moment in consultation.moment_numbers():
        kept = await repos.tallies.kept(consultation_id, moment)
        counted[moment] = kept or await repos.tallies.count(consultation_id, moment, lang)
    files: dict[str, bytes] = {
        "results.csv": _csv(
            [
                "moment",
                "question",
                "question_text",
                "answer",
                "answer_text",
                "count",
                "percent",
                "suppressed",
            ],
            _result_rows(consultation, counted, lang, minimum),
        ),
        "breakdown.csv": _csv(
            [
                "moment",
                "question",
                "dimension",
                "group",
                "answer",
                "answer_text",
                "count",
                "suppressed",
            ],
            _breakdown_rows(consultation, counted, lang, minimum),
        ),
    }
    for moment, results in counted.items():
        if not shown_results.charted(consultation, results, minimum):
            continue  # no question that enough people answered: nothing to draw
        name = "chart.png" if moment == 0 else f"chart-{moment}.png"
        files[name] = await asyncio.to_thread(
            shown_results.overview_chart,
            consultation,
            results,
            lang,
            profile=app.profile,
            catalog=app.catalog,
            minimum=minimum,
        )
    try:
        await asyncio.to_thread(_write, out, files)
    except OSError as exc:
        raise ConsultationExportError(f"cannot write to {out}: {exc}") from exc
    return ConsultationReport(
        path=out,
        files=sorted(files),
        respondents={moment: results.respondents for moment, results in counted.items()},
    )


def published(consultation: Consultation, results: Results, minimum: int) -> list[Published]:
    """Every count of one moment that may be published, and an empty one (None) for every
    count that may not: per question (0: the consultation as a whole) the overall counts of
    every answer code, then the groups of each breakdown."""
    rows: list[Published] = []
    for number in range(consultation.total + 1):
        codes = disclosure.counted_codes(consultation.question(number))
        shown = disclosure.overall_shown(results, number, minimum)
        for answer in [*codes, RESPONDENTS]:
            count = results.get(number, answer) if shown else None
            rows.append((number, Dimension.ALL.value, "", answer, count))
        for breakdown in disclosure.breakdowns(results, number, codes, minimum):
            dimension = breakdown.dimension.value
            for group in breakdown.groups:
                for answer in codes:
                    count = None if group.counts is None else group.counts[answer]
                    rows.append((number, dimension, group.code, answer, count))
                rows.append((number, dimension, group.code, RESPONDENTS, group.size))
    return rows


def _result_rows(
    consultation: Consultation, counted: dict[int, Results], lang: str, minimum: int
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for moment, results in counted.items():
        for number, dimension, _, answer, count in published(consultation, results, minimum):
            asked = consultation.question(number)
            if asked is None or dimension != Dimension.ALL.value:
                continue
            share = (
                None if count is None else shown_results.percent(count, results.answered(number))
            )
            rows.append(
                [
                    moment,
                    number,
                    pick(asked.text, lang),
                    answer,
                    _answer_text(asked, answer, lang),
                    count,
                    share,
                    int(count is None),
                ]
            )
    return rows


def _breakdown_rows(
    consultation: Consultation, counted: dict[int, Results], lang: str, minimum: int
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for moment, results in counted.items():
        for number, dimension, group, answer, count in published(consultation, results, minimum):
            asked = consultation.question(number)
            if asked is None or dimension == Dimension.ALL.value:
                continue
            rows.append(
                [
                    moment,
                    number,
                    dimension,
                    group,
                    answer,
                    _answer_text(asked, answer, lang),
                    count,
                    int(count is None),
                ]
            )
    return rows


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([safe_row(row) for row in rows])
    return text.getvalue().encode("utf-8")


#: The tables an export writes.
_TABLES = ("results.csv", "breakdown.csv")
#: The charts an export may write: ``chart.png``, ``chart-<moment>.png``.
_CHART = re.compile(r"chart(?:-[0-9]+)?\.png")


def _ours(name: str) -> bool:
    """Whether an export writes a file of this name."""
    return name in _TABLES or _CHART.fullmatch(name) is not None


def _write(out: Path, files: dict[str, bytes]) -> None:
    """Each file replaces the one of an earlier export in one step (see
    :func:`bot.admin.durable.replace_file`): a crash halfway leaves every file whole, the
    earlier one or the new one, never half of one."""
    out.mkdir(parents=True, exist_ok=True)
    for earlier in out.iterdir():
        # A chart of an earlier export into this folder (another consultation's, or a moment
        # too few answered now) must not stay beside these results as if it were theirs;
        # neither does a file a crash left half written under its temporary name.
        name = earlier.name
        partial = left_by_a_crash(name)
        stale = _CHART.fullmatch(name) is not None and name not in files
        if (stale or (partial is not None and _ours(partial))) and earlier.is_file():
            earlier.unlink()
    for name, data in files.items():
        replace_file(out / name, data)


# The open data ---------------------------------------------------------------------------------


async def open_data_tables(app: App) -> dict[str, list[Row]]:
    """The rows of the open data's consultation tables, by table name."""
    repos = app.repos
    minimum = shown_results.threshold(app.profile)
    consultations = await repos.consultations.published()
    kept: dict[tuple[int, int], dict[Key, int]] = {}
    for (
        consultation_id,
        moment,
        question,
        dimension,
        group,
        answer,
        count,
    ) in await repos.tallies.published():
        counts = kept.setdefault((consultation_id, moment), {})
        counts[(question, dimension, group, answer)] = count
    # Every moment of every closed consultation, answered or not: the rows are the same.
    closed = [
        (c, moment, Results(counts=kept.get((c.id, moment), {})))
        for c in consultations
        if c.status is ConsultationStatus.CLOSED
        for moment in c.moment_numbers()
    ]
    respondents: dict[int, int] = {}
    for c, _moment, results in closed:
        respondents[c.id] = respondents.get(c.id, 0) + results.respondents
    return {
        "consultations": [_consultation_row(c, respondents, minimum) for c in consultations],
        "consultation_questions": [
            _question_row(c, number, asked)
            for c in consultations
            for number, asked in enumerate(c.questions, start=1)
        ],
        "consultation_options": [
            {
                "consultation": c.id,
                "question": number,
                "answer": answer,
                "text_nl": _answer_text(asked, answer, "nl"),
                "text_en": _answer_text(asked, answer, "en"),
            }
            for c in consultations
            for number, asked in enumerate(c.questions, start=1)
            for answer in shown_results.answers_of(asked)
        ],
        "consultation_results": [
            _result_row(c.id, moment, row)
            for c, moment, results in closed
            for row in published(c, results, minimum)
        ],
    }


def _consultation_row(
    consultation: Consultation, respondents: dict[int, int], minimum: int
) -> Row:
    closed = consultation.status is ConsultationStatus.CLOSED
    return {
        "id": consultation.id,
        "kind": consultation.kind.value,
        "title_nl": consultation.title.get("nl"),
        "title_en": consultation.title.get("en"),
        "intro_nl": consultation.intro.get("nl"),
        "intro_en": consultation.intro.get("en"),
        "follow_up_nl": consultation.follow_up.get("nl"),
        "follow_up_en": consultation.follow_up.get("en"),
        "audience": consultation.audience.kind.value,
        "audience_code": consultation.audience.value,
        "experiment": consultation.experiment_id,
        "status": consultation.status.value,
        "questions": consultation.total,
        "opened_at": iso(consultation.opens_at) if consultation.opens_at else None,
        "closes_at": iso(consultation.closes_at) if consultation.closes_at else None,
        "closed_at": iso(consultation.closed_at) if consultation.closed_at else None,
        "invited": consultation.invited if consultation.invited else None,
        # Fewer than the threshold: not even how many (the results leave them out too).
        "respondents": _at_least(respondents.get(consultation.id, 0), minimum) if closed else None,
    }


def _at_least(count: int, minimum: int) -> int | None:
    return count if disclosure.group_shown(count, minimum) else None


def _question_row(consultation: Consultation, number: int, asked: Question) -> Row:
    return {
        "consultation": consultation.id,
        "question": number,
        "kind": asked.kind.value,
        "text_nl": asked.text.get("nl"),
        "text_en": asked.text.get("en"),
        "low_nl": asked.low.get("nl") if asked.low else None,
        "low_en": asked.low.get("en") if asked.low else None,
        "high_nl": asked.high.get("nl") if asked.high else None,
        "high_en": asked.high.get("en") if asked.high else None,
    }


def _result_row(consultation: int, moment: int, row: Published) -> Row:
    question, dimension, group, answer, count = row
    return {
        "consultation": consultation,
        "moment": moment,
        "question": question,
        "dimension": dimension,
        "group": group or ALL_GROUP,
        "answer": answer,
        "count": count,
        "suppressed": int(count is None),
    }
