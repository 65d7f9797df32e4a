"""Consultations outside the chat: one consultation's results as CSV and a chart for a report,
and the rows consultations add to the open data.

    samenspel export-consultation ID --out DIR

writes ``results.csv`` (every question's counts), ``breakdown.csv`` (per neighbourhood and
language, groups below the profile's threshold left out) and ``chart.png`` (per moment of an
evaluation: ``chart-<moment>.png``). Neither holds personal data: no ids or names of people,
no typed answers (only how many there were).

In the open data a count is left out (empty, ``suppressed`` 1) when fewer people than the
profile's threshold answered that question in that group, so no answer can be traced to a
person; only closed consultations have results there, as they were published at closing.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.admin.spreadsheet import safe_row
from bot.app import App
from handlers.consultations import results as shown_results
from storage.clock import iso
from storage.consultations.model import Consultation, ConsultationStatus, Question, pick
from storage.consultations.tallies import (
    FINISHED,
    RESPONDENTS,
    SKIPPED,
    TEXT,
    Dimension,
    Results,
)

Row = dict[str, Any]
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
    consultation = await repos.consultations.get(consultation_id)
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
            ["moment", "question", "question_text", "answer", "answer_text", "count", "percent"],
            _result_rows(consultation, counted, lang),
        ),
        "breakdown.csv": _csv(
            ["moment", "question", "dimension", "group", "answer", "answer_text", "count"],
            _breakdown_rows(consultation, counted, lang, minimum),
        ),
    }
    for moment, results in counted.items():
        name = "chart.png" if moment == 0 else f"chart-{moment}.png"
        files[name] = await asyncio.to_thread(
            shown_results.overview_chart,
            consultation,
            results,
            lang,
            profile=app.profile,
            catalog=app.catalog,
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


def _result_rows(
    consultation: Consultation, counted: dict[int, Results], lang: str
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for moment, results in counted.items():
        for number, asked in enumerate(consultation.questions, start=1):
            answered = results.answered(number)
            codes = [*shown_results.answers_of(asked), TEXT, SKIPPED]
            for answer in codes:
                count = results.get(number, answer)
                if answer in (TEXT, SKIPPED) and not count:
                    continue
                rows.append(
                    [
                        moment,
                        number,
                        pick(asked.text, lang),
                        answer,
                        _answer_text(asked, answer, lang),
                        count,
                        shown_results.percent(count, answered),
                    ]
                )
            rows.append([moment, number, pick(asked.text, lang), RESPONDENTS, "", answered, 100])
    return rows


def _breakdown_rows(
    consultation: Consultation, counted: dict[int, Results], lang: str, minimum: int
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for moment, results in counted.items():
        for number, asked in enumerate(consultation.questions, start=1):
            for dimension in (Dimension.NEIGHBOURHOOD, Dimension.LANGUAGE):
                for group in results.groups(number, dimension):
                    if not results.shown(number, minimum, dimension, group):
                        continue
                    for answer in [*shown_results.answers_of(asked), SKIPPED, RESPONDENTS]:
                        rows.append(
                            [
                                moment,
                                number,
                                dimension.value,
                                group,
                                answer,
                                _answer_text(asked, answer, lang),
                                results.get(number, answer, dimension, group),
                            ]
                        )
    return rows


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([safe_row(row) for row in rows])
    return text.getvalue().encode("utf-8")


def _write(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)


# The open data ---------------------------------------------------------------------------------


async def open_data_tables(app: App) -> dict[str, list[Row]]:
    """The rows of the open data's consultation tables, by table name."""
    repos = app.repos
    minimum = shown_results.threshold(app.profile)
    consultations = await repos.consultations.published()
    kept = await repos.tallies.published()
    respondents: dict[int, int] = {}
    for consultation_id, _moment, question, dimension, _group, answer, count in kept:
        if question == 0 and dimension == Dimension.ALL.value and answer == RESPONDENTS:
            respondents[consultation_id] = respondents.get(consultation_id, 0) + count
    return {
        "consultations": [_consultation_row(c, respondents) for c in consultations],
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
        "consultation_results": _suppressed(kept, minimum),
    }


def _consultation_row(consultation: Consultation, respondents: dict[int, int]) -> Row:
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
        "respondents": respondents.get(consultation.id, 0) if closed else None,
    }


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


def _suppressed(kept: list[tuple[int, int, int, str, str, str, int]], minimum: int) -> list[Row]:
    """Every kept count, left out where fewer than ``minimum`` people answered that question
    in that group (the size of a group: its ``respondents`` count)."""
    sizes = {
        (consultation, moment, question, dimension, group): count
        for consultation, moment, question, dimension, group, answer, count in kept
        if answer == RESPONDENTS
    }
    rows = []
    for consultation, moment, question, dimension, group, answer, count in kept:
        size = sizes.get((consultation, moment, question, dimension, group), 0)
        hidden = size < minimum
        rows.append(
            {
                "consultation": consultation,
                "moment": moment,
                "question": question,
                "dimension": dimension,
                "group": group or ALL_GROUP,
                "answer": answer,
                "count": None if hidden else count,
                "suppressed": int(hidden),
            }
        )
    return rows
