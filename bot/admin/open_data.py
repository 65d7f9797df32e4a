"""The open-data export: ideas, experiments, "Wist je dat", consultations and counts, as CSV and
JSON, with a Frictionless Data Package (``datapackage.json``) that describes every field.

    samenspel export-open-data --out DIR

Each table is a CSV file and a JSON file (an array of rows, the first row naming the
columns: the tabular JSON form that stays valid when a table is empty). The data is
published under CC0 1.0 (public domain), as Dutch governments do for open data.
It holds no personal data: no ids or names of people, no comment texts, no authors; removed
ideas and updates meant only for an experiment's participants are left out; what residents
chose to delete is gone from the database itself.

Beside the data it writes the public site (index.html, the news, a page per idea, feed.xml: see
:mod:`bot.admin.public_site`), rendered from the same rows (and, for the feed's blanked
entries of ideas taken out of view, their numbers and moments only), and ``datapackage.json``
carries a DCAT-AP-NL catalogue entry (:mod:`bot.admin.dcat`).

The export is written to a new folder beside DIR and swapped in with a rename, so a web
server publishing DIR serves the old export or the new one, never half of one; one export
at a time per folder (a lock on the folder holding it), so the command and the scheduler
never collide. What an export killed halfway left beside DIR is removed by the next one.
Its files and the renames are flushed to the disk (fsync) before the command reports success,
so a power cut just after an export brings back the old export or the new one, never empty
files.
Files are readable by everyone (0644, folders 0755) whatever the umask, for a web server
running as another user.

With ``SAMENSPEL_OPEN_DATA_DIR`` set, :func:`run_open_data_export` refreshes it weekly, and
within minutes after content left public view (an idea hidden, removed or withdrawn, an
erasure: see :class:`storage.privacy.open_data.OpenData`) or a meeting whose invitation is
public news was moved or cancelled. An erasure's clean-up (a staff
reason may still name the person) is finished before an export: the command finishes it
first, the scheduler leaves it to the background for a while and then finishes it itself.
One that fails is logged as an error at every try, and meanwhile the export leaves out every
status reason, so the folder is still refreshed (what the person erased is gone from it) and
names nobody; the folder stays out of date, and is made again at the next look.
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.admin.consultation_export import open_data_tables as consultation_tables
from bot.admin.dcat import catalogue_entry
from bot.admin.durable import fsync_folder, write_durably
from bot.admin.public_site import FEED, REMOVED_ENTRIES_KEPT, Label, clean, render_site
from bot.admin.spreadsheet import safe_row
from bot.app import App
from handlers.budgets import disclosure as budget_disclosure
from storage.clock import iso, parse
from storage.ideas.ideas import IdeaStatus
from storage.privacy.open_data import OpenData, Row

log = logging.getLogger(__name__)

LICENSE = {
    "name": "CC0-1.0",
    "path": "https://creativecommons.org/publicdomain/zero/1.0/",
    "title": "Creative Commons Zero v1.0 Universal",
}
#: Table Schema's default datetime format.
DATETIME = "%Y-%m-%dT%H:%M:%SZ"
DESCRIPTOR = "datapackage.json"
#: How often the scheduled export refreshes (with an hour's slack for the scheduler).
EVERY = timedelta(days=7)
SLACK = timedelta(hours=1)
#: How often the export reads everything again when content keeps leaving view (erasures)
#: while it reads, before it gives up for now.
SETTLE_TRIES = 5
#: How long the scheduler leaves an erasure's clean-up to the background before the export
#: finishes it itself (one that failed is otherwise only taken up again at a restart).
CLEAN_UP_GRACE = timedelta(minutes=30)
#: The mode of a published folder: readable by a web server running as another user (its
#: files: :data:`bot.admin.durable.FILE_MODE`).
FOLDER_MODE = 0o755
DESCRIPTION_NL = (
    "Ideeën die inwoners instuurden, hun statusgeschiedenis, de experimenten waar inwoners"
    " aan mee kunnen doen, de gepubliceerde Wist je dat-berichten, de peilingen van de"
    " gemeente met hun getelde uitslagen, en tellingen, uit de chatbot Samenspel. Zonder"
    " persoonsgegevens: geen namen of nummers van mensen, geen reacties, geen getypte"
    " antwoorden; kleine groepen zijn uit de uitslagen gelaten."
)
#: What a file of the export may be called: no folders, nothing hidden.
_PLAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
#: The code for "no neighbourhood" (the whole municipality) in the statistics.
NO_NEIGHBOURHOOD = "geen"
#: Among the rows read: the feed's entries of ideas taken out of view, which the feed carries
#: blanked for a while. Not a file of the data: they hold nothing but numbers and moments.
REMOVED_ENTRIES = "removed_feed_entries"


class OpenDataError(Exception):
    """The export could not be written where it was asked to go."""


@dataclass(frozen=True)
class Field:
    """One column: its name, its Table Schema type and what it means."""

    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Resource:
    """One table of the export, written as ``<name>.csv`` and ``<name>.json``."""

    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    #: (field, resource, field it refers to).
    foreign_keys: tuple[tuple[str, str, str], ...] = ()

    def schema(self, suffix: str = "") -> dict[str, Any]:
        schema: dict[str, Any] = {
            "fields": [
                {"name": f.name, "type": f.type, "description": f.description} for f in self.fields
            ],
            "primaryKey": list(self.primary_key),
            "missingValues": [""],
        }
        if self.foreign_keys:
            schema["foreignKeys"] = [
                {
                    "fields": [mine],
                    "reference": {"resource": _name(other) + suffix, "fields": [theirs]},
                }
                for mine, other, theirs in self.foreign_keys
            ]
        return schema


def _name(resource: str) -> str:
    """A resource's name as a Data Package allows (lower case, digits, ``-._/``)."""
    return resource.replace("_", "-")


def _f(name: str, type_: str, description: str) -> Field:
    return Field(name, type_, description)


_IDEA_NUMBER = "The idea's public number (#42 is 42)."
_STATUS = (
    "Status code: ingediend (submitted), in_behandeling (in review), quick_win (becomes an"
    " experiment), opgenomen (taken into the agenda), doorgestuurd (forwarded to a"
    " department), niet_haalbaar (not feasible), samengevoegd (merged); see codes."
)
_UTC = "In UTC, ISO 8601."

IDEAS = Resource(
    "ideas",
    "Ideeën / Ideas",
    "Ideas residents sent in, all year round (the Burgertop), without their authors.",
    (
        _f("number", "integer", _IDEA_NUMBER),
        _f("category", "string", "Category code (one of the Burgertop's categories)."),
        _f("theme", "string", "Theme code of the strategic agenda it was taken into, if any."),
        _f("department", "string", "Department code it was forwarded to, if any."),
        _f("merged_into", "integer", "The idea this one was merged with, if any."),
        _f("neighbourhood", "string", "Neighbourhood code; empty: the whole municipality."),
        _f("title", "string", "The title the resident gave the idea."),
        _f("text", "string", "The idea as the resident explained it."),
        _f("status", "string", _STATUS),
        _f("supporters", "integer", "How many residents support the idea."),
        _f("comments", "integer", "How many visible comments it has (texts not published)."),
        _f("submitted_at", "datetime", f"When it was sent in. {_UTC}"),
        _f("updated_at", "datetime", f"When it last changed. {_UTC}"),
        _f(
            "title_changed_at",
            "datetime",
            f"When the resident last changed the title; empty: never. {_UTC}",
        ),
        _f(
            "shown_again_at",
            "datetime",
            "When the idea was last shown again after moderation had hidden it; empty:"
            f" never. {_UTC}",
        ),
    ),
    ("number",),
)
IDEA_HISTORY = Resource(
    "idea_status_history",
    "Statusgeschiedenis / Status history",
    "Every status each idea had, with the reason the municipality gave.",
    (
        _f("id", "integer", "Number of this status change."),
        _f("idea", "integer", _IDEA_NUMBER),
        _f("status", "string", _STATUS),
        _f("reason", "string", "The reason given to residents, if any."),
        _f("theme", "string", "Theme code (status opgenomen)."),
        _f("department", "string", "Department code (status doorgestuurd)."),
        _f("merged_into", "integer", "The idea it was merged with (status samengevoegd)."),
        _f("at", "datetime", f"When the status was set. {_UTC}"),
        _f(
            "reason_changed_at",
            "datetime",
            "When the reason was last changed or emptied (an erasure empties a reason that"
            f" names the person); empty: never. {_UTC}",
        ),
    ),
    ("id",),
    (("idea", "ideas", "number"),),
)
EXPERIMENTS = Resource(
    "experiments",
    "Experimenten / Experiments",
    "Experiments residents can join, with how many take part.",
    (
        _f("id", "integer", "Number of the experiment."),
        _f("slug", "string", "Short name of an experiment from the municipality's profile."),
        _f("title_nl", "string", "Title in Dutch."),
        _f("title_en", "string", "Title in English."),
        _f("summary_nl", "string", "What it is, in Dutch."),
        _f("summary_en", "string", "What it is, in English."),
        _f("place_nl", "string", "Where it happens, in Dutch."),
        _f("place_en", "string", "Where it happens, in English."),
        _f("organiser_nl", "string", "Who organises it, in Dutch."),
        _f("organiser_en", "string", "Who organises it, in English."),
        _f("neighbourhood", "string", "Neighbourhood code, if it is in one neighbourhood."),
        _f("theme", "string", "Theme code of the strategic agenda, if any."),
        _f("status", "string", "running (open to join) or ended."),
        _f("participants", "integer", "How many residents take part."),
        _f("started_at", "datetime", f"When it was added. {_UTC}"),
    ),
    ("id",),
)
NEWS = Resource(
    "wist_je_dat",
    "Wist je dat",
    'The "Wist je dat" updates civil servants published.',
    (
        _f("id", "integer", "Number of the update."),
        _f("published_at", "datetime", f"When it was sent. {_UTC}"),
        _f("audience", "string", "all (every subscriber), theme or neighbourhood."),
        _f("audience_code", "string", "The theme or neighbourhood code it was sent for."),
        _f("text", "string", "The text of the update."),
        _f(
            "updated_at",
            "datetime",
            "When what it says last changed: when it was sent, or when the meeting it invites"
            f" to was moved or cancelled. {_UTC}",
        ),
        _f(
            "meeting_status",
            "string",
            "For an invitation to a meeting: planned (it goes ahead) or cancelled (it does"
            " not); empty for other updates.",
        ),
        _f("meeting_starts_at", "datetime", f"When the meeting begins, as it is now. {_UTC}"),
        _f("meeting_ends_at", "datetime", f"When the meeting ends, as it is now. {_UTC}"),
        _f("meeting_place", "string", "The meeting's address, or online."),
        _f(
            "meeting_title",
            "string",
            "For an invitation to a meeting: the meeting's title; empty for other updates.",
        ),
    ),
    ("id",),
)
STATISTICS = Resource(
    "idea_statistics",
    "Ideeën in cijfers / Ideas in numbers",
    "How many ideas (not removed) and supporters there are per category, status and"
    " neighbourhood.",
    (
        _f("dimension", "string", "What is counted by: category, status or neighbourhood."),
        _f("code", "string", f"The code; neighbourhood {NO_NEIGHBOURHOOD}: none chosen."),
        _f("ideas", "integer", "Number of ideas."),
        _f("supporters", "integer", "Number of supports for those ideas."),
    ),
    ("dimension", "code"),
)
CODES = Resource(
    "codes",
    "Codes",
    "The names behind the codes used in the other tables, in Dutch and English.",
    (
        _f("list", "string", "category, theme, neighbourhood, department or status."),
        _f("code", "string", "The code as used in the other tables."),
        _f("name_nl", "string", "Name in Dutch."),
        _f("name_en", "string", "Name in English."),
    ),
    ("list", "code"),
)
BUDGET_ROUNDS = Resource(
    "budget_rounds",
    "Velsen kiest: stemrondes / budget rounds",
    "Rounds in which residents shared out a budget for experiments (knapsack voting).",
    (
        _f("id", "integer", "Number of the round."),
        _f("name", "string", "Name of the round."),
        _f("total_cents", "integer", "The budget residents shared out, in euro cents."),
        _f(
            "hood_budgets",
            "string",
            "Parts of the budget kept for one neighbourhood: JSON, neighbourhood code to"
            " euro cents.",
        ),
        _f("opens_at", "datetime", f"When voting opened. {_UTC}"),
        _f("closes_at", "datetime", f"When voting closed. {_UTC}"),
        _f(
            "status",
            "string",
            "scheduled, open, closed or cancelled (it never opened: the connector who set it"
            " up lost the role first).",
        ),
        _f(
            "postcodes",
            "string",
            "Empty when every resident taking part could vote; else the postcode ranges (four"
            " digits) voters had to live in: JSON, a list of first, last and neighbourhood code.",
        ),
        _f(
            "tie_rule",
            "string",
            "How projects with equal votes were ordered: cost (lower cost first), hood (more"
            " votes from residents of the project's own neighbourhood first; every vote counts"
            " for a project of the whole municipality), earliest (submitted earliest first) or"
            " lot; then the order on the ballot.",
        ),
        _f(
            "tie_seed",
            "string",
            "For a lot (once closed): its seed. Projects with equal votes are ordered by the"
            ' SHA-256 of "<seed>:<project id>" in hexadecimal, lowest first.',
        ),
        _f(
            "voters",
            "integer",
            "How many residents voted (once closed; empty when fewer than the threshold, see"
            " budget_projects).",
        ),
        _f("spent_cents", "integer", "What the winning projects cost together (once closed)."),
    ),
    ("id",),
)
BUDGET_PROJECTS = Resource(
    "budget_projects",
    "Velsen kiest: projecten / projects",
    "The projects on each round's ballot; votes and winners once the round is closed. Winners"
    " are chosen in order of votes while they fit the budget (a neighbourhood's projects first"
    " within its part); with equal votes the round's tie rule decides (see budget_rounds).",
    (
        _f("id", "integer", "Number of the project."),
        _f("round", "integer", "The round it was on."),
        _f("title", "string", "Title."),
        _f("description", "string", "Short description."),
        _f("cost_cents", "integer", "What it costs, in euro cents."),
        _f("neighbourhood", "string", "Neighbourhood code, if it is in one neighbourhood."),
        _f(
            "idea",
            "integer",
            "The idea it came from, if any, while that idea is public (empty once it is"
            " hidden or removed).",
        ),
        _f("proposal", "integer", "The experiment proposal it came from, if any."),
        _f(
            "submitted_at",
            "datetime",
            "When its idea (while public) or proposal was submitted, else when the round was"
            " made. " + _UTC,
        ),
        _f(
            "votes",
            "integer",
            "Votes it got (once the round is closed). Empty when fewer residents than the"
            " municipality's threshold voted in the round: then only the winners are"
            " published, so that no ballot can be traced to a person.",
        ),
        _f("winner", "integer", "1 if it won, 0 if not (once the round is closed)."),
        _f("experiment", "integer", "The experiment it became, if any."),
    ),
    ("id",),
    (("round", "budget_rounds", "id"),),
)
_CONSULTATION = "The consultation's number."
_TEXT_NL = "In Dutch (empty when it was written in English only)."
_TEXT_EN = "In English (empty when it was written in Dutch only)."
CONSULTATIONS = Resource(
    "consultations",
    "Peilingen / Consultations",
    "What the municipality asked residents in the chat (polls, and evaluations of"
    " experiments by their participants), for whom, when, and how many took part.",
    (
        _f("id", "integer", _CONSULTATION),
        _f("kind", "string", "poll, or evaluation (of an experiment, asked at set moments)."),
        _f("title_nl", "string", f"Title. {_TEXT_NL}"),
        _f("title_en", "string", f"Title. {_TEXT_EN}"),
        _f("intro_nl", "string", f"Why it was asked. {_TEXT_NL}"),
        _f("intro_en", "string", f"Why it was asked. {_TEXT_EN}"),
        _f("follow_up_nl", "string", f"What the municipality does with the answers. {_TEXT_NL}"),
        _f("follow_up_en", "string", f"What the municipality does with the answers. {_TEXT_EN}"),
        _f("audience", "string", "all (everyone taking part), theme, neighbourhood, experiment."),
        _f("audience_code", "string", "The theme, neighbourhood or experiment it was for."),
        _f("experiment", "integer", "The experiment an evaluation belongs to."),
        _f("status", "string", "open or closed."),
        _f("questions", "integer", "How many questions it has."),
        _f("opened_at", "datetime", f"When it opened. {_UTC}"),
        _f("closes_at", "datetime", f"When it closes (closed). {_UTC}"),
        _f("closed_at", "datetime", f"When it closed. {_UTC}"),
        _f("invited", "integer", "How many residents were asked when it opened (polls)."),
        _f(
            "respondents",
            "integer",
            "How many answered at least one question (once closed; empty when fewer than"
            " the threshold).",
        ),
    ),
    ("id",),
    (("experiment", "experiments", "id"),),
)
CONSULTATION_QUESTIONS = Resource(
    "consultation_questions",
    "Vragen / Questions",
    "The questions of each consultation, in order.",
    (
        _f("consultation", "integer", _CONSULTATION),
        _f("question", "integer", "The question's number within the consultation (from 1)."),
        _f(
            "kind",
            "string",
            "one (one choice), several (several choices), scale (1 to 5) or text (a short"
            " typed answer; typed answers are never published).",
        ),
        _f("text_nl", "string", f"The question. {_TEXT_NL}"),
        _f("text_en", "string", f"The question. {_TEXT_EN}"),
        _f("low_nl", "string", f"A scale: what 1 means. {_TEXT_NL}"),
        _f("low_en", "string", f"A scale: what 1 means. {_TEXT_EN}"),
        _f("high_nl", "string", f"A scale: what 5 means. {_TEXT_NL}"),
        _f("high_en", "string", f"A scale: what 5 means. {_TEXT_EN}"),
    ),
    ("consultation", "question"),
    (("consultation", "consultations", "id"),),
)
CONSULTATION_OPTIONS = Resource(
    "consultation_options",
    "Antwoordmogelijkheden / Answer options",
    "What each answer code of a question means (options, and scale values 1 to 5).",
    (
        _f("consultation", "integer", _CONSULTATION),
        _f("question", "integer", "The question's number within the consultation."),
        _f("answer", "string", "The answer code: the option's number, or the scale value."),
        _f("text_nl", "string", f"The option. {_TEXT_NL}"),
        _f("text_en", "string", f"The option. {_TEXT_EN}"),
    ),
    ("consultation", "question", "answer"),
    (("consultation", "consultations", "id"),),
)
CONSULTATION_RESULTS = Resource(
    "consultation_results",
    "Uitslagen / Results",
    "The answers of closed consultations counted, as published when they closed: overall,"
    " per neighbourhood and per language. Groups smaller than the municipality's threshold"
    " are only counted together (overig), with more groups where needed so that the total"
    " minus the groups shown never gives a small group back; a count is left out where"
    " fewer people than the threshold answered the question, or where everyone in a group"
    " gave the same answer. Every answer code has a row whatever was answered, so that no"
    " answer can be traced to a person. Typed answers are only counted.",
    (
        _f("consultation", "integer", _CONSULTATION),
        _f("moment", "integer", "0 for a poll; an evaluation's moment (from 1)."),
        _f("question", "integer", "The question's number; 0: the consultation as a whole."),
        _f("dimension", "string", "all, neighbourhood or language."),
        _f(
            "group",
            "string",
            f"The neighbourhood code ({NO_NEIGHBOURHOOD}: none given) or language (nl, en);"
            " overig for the small groups together; all for the overall counts.",
        ),
        _f(
            "answer",
            "string",
            'An answer code (see consultation_options), skipped ("zeg ik liever niet"),'
            " text (a typed answer), respondents (answered this question, or, for question"
            " 0, anything) or finished (answered every question).",
        ),
        _f("count", "integer", "How many; empty when left out (see suppressed)."),
        _f(
            "suppressed",
            "integer",
            "1 when the count is left out: too few answered, or a group answered as one.",
        ),
    ),
    ("consultation", "moment", "question", "dimension", "group", "answer"),
    (("consultation", "consultations", "id"),),
)
RESOURCES = (
    IDEAS,
    IDEA_HISTORY,
    EXPERIMENTS,
    NEWS,
    STATISTICS,
    CODES,
    BUDGET_ROUNDS,
    BUDGET_PROJECTS,
    CONSULTATIONS,
    CONSULTATION_QUESTIONS,
    CONSULTATION_OPTIONS,
    CONSULTATION_RESULTS,
)
#: Each resource is described twice: (name suffix, format, media type).
_FORMATS = (("", "csv", "text/csv"), ("-json", "json", "application/json"))


@dataclass(frozen=True)
class OpenDataReport:
    """What was written, and where."""

    path: Path
    created: datetime
    rows: dict[str, int] = field(default_factory=dict)


async def collect(app: App) -> dict[str, list[Row]]:
    """Every resource's rows, from the database and the profile, each row's references
    pointing at rows of the export (see :func:`_referenced`)."""
    data = app.repos.open_data
    return _referenced(
        {
            IDEAS.name: await data.ideas(),
            IDEA_HISTORY.name: await data.idea_history(),
            EXPERIMENTS.name: await data.experiments(),
            NEWS.name: await data.news(),
            STATISTICS.name: await _statistics(app, data),
            CODES.name: _codes(app),
            **await _budget_tables(app),
            **await consultation_tables(app),
        }
    )


def _referenced(tables: dict[str, list[Row]]) -> dict[str, list[Row]]:
    """``tables`` without the rows that refer to a row the export does not hold.

    The tables are read one after another while residents go on (the bot is not held up for
    a whole export): an idea sent in after the ideas were read has its first status in the
    history read next, a round set up after the rounds were read its projects. Such a row
    would break the package's foreign keys; it is published with the next export."""
    for resource in RESOURCES:
        for mine, other, theirs in resource.foreign_keys:
            known = {row[theirs] for row in tables[other]}
            tables[resource.name] = [
                row for row in tables[resource.name] if row[mine] is None or row[mine] in known
            ]
    return tables


async def _budget_tables(app: App) -> dict[str, list[Row]]:
    """The rounds and their projects, votes only where enough residents voted."""
    rounds = await app.repos.budgets.public_rounds()
    projects = await app.repos.budgets.public_projects()
    return {
        BUDGET_ROUNDS.name: budget_disclosure.published_rounds(app.profile, rounds),
        BUDGET_PROJECTS.name: budget_disclosure.published_projects(app.profile, rounds, projects),
    }


async def _statistics(app: App, data: OpenData) -> list[Row]:
    profile = app.profile
    known = {
        "category": [c.id for c in profile.categories],
        "status": [s.value for s in IdeaStatus],
        "neighbourhood": [n.id for n in profile.neighbourhoods],
    }
    rows = []
    for dimension, codes in known.items():
        totals = await data.idea_totals(dimension)
        if dimension == "neighbourhood":
            totals = {(c if c is not None else NO_NEIGHBOURHOOD): t for c, t in totals.items()}
            codes = [*codes, NO_NEIGHBOURHOOD]
        extra = sorted(str(code) for code in totals if code not in codes)
        for code in [*codes, *extra]:
            ideas, supporters = totals.get(code, (0, 0))
            rows.append(
                {"dimension": dimension, "code": code, "ideas": ideas, "supporters": supporters}
            )
    return rows


def _codes(app: App) -> list[Row]:
    profile, catalog = app.profile, app.catalog
    rows: list[Row] = []
    for name, items in (
        ("category", profile.categories),
        ("theme", profile.themes),
        ("neighbourhood", profile.neighbourhoods),
        ("department", profile.departments),
    ):
        rows += [
            {"list": name, "code": i.id, "name_nl": i.name("nl"), "name_en": i.name("en")}
            for i in items
        ]
    rows.append(
        {
            "list": "neighbourhood",
            "code": NO_NEIGHBOURHOOD,
            "name_nl": catalog.text("nl", "ideas.no_neighbourhood", {}, markup=False),
            "name_en": catalog.text("en", "ideas.no_neighbourhood", {}, markup=False),
        }
    )
    for status in IdeaStatus:
        key = f"ideas.status.{status.value}"
        rows.append(
            {
                "list": "status",
                "code": status.value,
                "name_nl": _words(catalog.text("nl", key, {}, markup=False)),
                "name_en": _words(catalog.text("en", key, {}, markup=False)),
            }
        )
    return rows


def _words(label: str) -> str:
    """A label without its leading emoji."""
    return label.lstrip("".join(ch for ch in label if not ch.isalnum())).strip()


def _typed(resource: Resource, row: Row) -> Row:
    """A row with exactly the resource's fields, in order, each of its declared type."""
    names = [f.name for f in resource.fields]
    if sorted(row) != sorted(names):
        raise ValueError(f"{resource.name}: row has {sorted(row)}, schema has {sorted(names)}")
    typed: Row = {}
    for f in resource.fields:
        value = row[f.name]
        if value is None:
            typed[f.name] = None
        elif f.type == "integer":
            typed[f.name] = int(value)
        elif f.type == "datetime":
            moment = parse(str(value))
            assert moment is not None
            typed[f.name] = moment.strftime(DATETIME)
        else:
            typed[f.name] = clean(value)
    return typed


def _json_lines(table: list[list[Any]]) -> bytes:
    """A table as JSON, one row per line (readable, and small to diff week on week)."""
    lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in table)
    return f"[\n{lines}\n]\n".encode()


def render(
    app: App, tables: dict[str, list[Row]], now: datetime, previous_feed: bytes | None = None
) -> dict[str, bytes]:
    """Every file of the export (CSV and JSON per resource, the descriptor, the public site)."""
    files: dict[str, bytes] = {}
    descriptors = []
    typed_tables: dict[str, list[Row]] = {}
    for resource in RESOURCES:
        rows = [_typed(resource, row) for row in tables[resource.name]]
        typed_tables[resource.name] = rows
        names = [f.name for f in resource.fields]
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(names)
        writer.writerows([safe_row("" if r[n] is None else r[n] for n in names) for r in rows])
        files[f"{resource.name}.csv"] = text.getvalue().encode("utf-8")
        # Rows as arrays under a header row: a tabular JSON form that stays valid when empty.
        table = [names, *([r[n] for n in names] for r in rows)]
        files[f"{resource.name}.json"] = _json_lines(table)
        for suffix, fmt, mediatype in _FORMATS:
            descriptors.append(
                {
                    "name": _name(resource.name) + suffix,
                    "path": f"{resource.name}.{fmt}",
                    "title": resource.title,
                    "description": resource.description,
                    "profile": "tabular-data-resource",
                    "format": fmt,
                    "mediatype": mediatype,
                    "encoding": "utf-8",
                    "schema": resource.schema(suffix),
                }
            )
    profile = app.profile
    title = f"Samenspel {profile.name('nl')}: ideeën, experimenten, Wist je dat en peilingen"
    description = (
        "Ideas residents sent in, their status history, the experiments residents can"
        " join, the published Wist je dat updates, the consultations the municipality"
        " held with their counted results, and counts, from the Samenspel chatbot."
        " Without personal data: no names or ids of people, no comments, no typed"
        " answers; small groups are left out of the results."
    )
    keywords = ["samenspel", profile.slug, "burgertop", "ideeën", "participatie"]
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": f"samenspel-{profile.slug}",
        "title": title,
        "description": description,
        "created": now.strftime(DATETIME),
        "licenses": [LICENSE],
        "keywords": keywords,
        "resources": descriptors,
    }
    site_url = app.settings.open_data_url
    if site_url:
        package["homepage"] = site_url
    if profile.publication is not None:
        package["dcat"] = catalogue_entry(
            profile,
            profile.publication,
            title={
                "nl": title,
                "en": f"Samenspel {profile.name('en')}: ideas, experiments, news and polls",
            },
            description={"nl": DESCRIPTION_NL, "en": description},
            keywords=keywords,
            modified=now,
            site_url=site_url,
        )
    files[DESCRIPTOR] = json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")
    site = render_site(
        typed_tables,
        removed=tables.get(REMOVED_ENTRIES, []),
        municipality=Label(profile.name("nl"), profile.name("en")),
        slug=profile.slug,
        url=site_url,
        zone=app.settings.zone,
        files=[
            {"path": str(d["path"]), "title": str(d["title"])}
            for d in descriptors
            if d["format"] == "csv"
        ],
        now=now,
        catalog=app.catalog,
        previous_feed=previous_feed,
    )
    clash = files.keys() & site.keys()
    assert not clash, f"site and data both write {sorted(clash)}"
    return files | site


async def export_open_data(app: App, out: Path, now: datetime) -> OpenDataReport:
    """Write the whole export into ``out``, replacing an earlier export there at once.

    Erasures' unfinished clean-ups are finished first, and the rows are read again when
    content left view while they were read, so nothing erased or hidden is published.
    """
    out = followed(out)
    async with _exclusive(out):
        tables, changes, complete = await _settled(app, now)
        # Off the event loop: the bot keeps answering residents while the files are rendered
        # (a page per idea: about a second for 2,000 ideas) and written.
        previous = await asyncio.to_thread(_previous_feed, out)
        files = await asyncio.to_thread(render, app, tables, now, previous)
        await asyncio.to_thread(_swap, out, files)
        if _is_published_folder(app, out) and complete:
            await app.repos.open_data.mark_published(changes)
    rows = {r.name: len(tables[r.name]) for r in RESOURCES}
    log.info("open data exported resources=%d ideas=%d", len(rows), rows[IDEAS.name])
    return OpenDataReport(path=out, created=now, rows=rows)


def _previous_feed(out: Path) -> bytes | None:
    """The feed of the export ``out`` holds now, if any: its blanked entries stay for their
    month even when the database forgot them (a backup restored, see
    :func:`bot.admin.public_site.blanked_in`)."""
    try:
        return (out / FEED).read_bytes()
    except OSError:
        return None


async def _settled(app: App, now: datetime) -> tuple[dict[str, list[Row]], int, bool]:
    """Every resource's rows and the feed's entries taken out of view (under
    :data:`REMOVED_ENTRIES`), read while no content left view, with the count of changes
    they include, and whether they are complete: False while an erasure's clean-up could not
    be finished (it failed), when every status reason is left out instead."""
    data = app.repos.open_data
    for _ in range(SETTLE_TRIES):
        for scrub_id in await data.clean_ups():
            # The background clean-up may be at it too: each step checks again, so doing it
            # twice changes nothing.
            try:
                await app.repos.personal.scrub(scrub_id)
            except Exception:
                log.exception(
                    "an erasure's clean-up failed; the open data leaves out every status"
                    " reason until it is done scrub=%d",
                    scrub_id,
                )
        changes = await data.changes()
        stuck = bool(await data.clean_ups())
        tables = await collect(app)
        tables[REMOVED_ENTRIES] = await data.removed_entries(now - REMOVED_ENTRIES_KEPT)
        if await data.changes() != changes:
            continue
        if stuck or await data.clean_ups():
            # A reason may still name someone erased: none is published until it is done.
            # What a reader was shown changed when the erasure began (the oldest unfinished
            # one): the same moment at every export meanwhile, so entries do not churn.
            begun = await data.oldest_clean_up()
            for change in tables[IDEA_HISTORY.name]:
                if change["reason"] and begun is not None:
                    change["reason_changed_at"] = iso(
                        max(begun, parse(change["reason_changed_at"]) or begun)
                    )
                change["reason"] = None
            return tables, changes, False
        return tables, changes, True
    raise OpenDataError(
        "content kept leaving view while the export read it: nothing was published;"
        " try again in a few minutes"
    )


def _is_published_folder(app: App, out: Path) -> bool:
    published = app.settings.open_data_dir
    return published is not None and published.resolve() == out.resolve()


async def run_open_data_export(app: App, now: datetime) -> OpenDataReport | None:
    """The scheduler's job: export into ``SAMENSPEL_OPEN_DATA_DIR`` when it is set and its
    export is missing, a week old, or shows content that has left view since; None when
    nothing was due, or while an erasure's clean-up runs in the background (a later look
    exports; after :data:`CLEAN_UP_GRACE` the export finishes the clean-up itself)."""
    out = app.settings.open_data_dir
    if out is None:
        return None
    data = app.repos.open_data
    begun = await data.oldest_clean_up()
    if begun is not None and now - begun < CLEAN_UP_GRACE:
        log.info("open data waits for an erasure's clean-up")
        return None
    created = await asyncio.to_thread(last_export, out)
    week_old = created is None or now - created >= EVERY - SLACK
    if not week_old and not await data.stale():
        return None
    return await export_open_data(app, out, now)


def last_export(out: Path) -> datetime | None:
    """When the export in ``out`` was made, from its descriptor; None if there is none."""
    try:
        package = json.loads((out / DESCRIPTOR).read_text(encoding="utf-8"))
        return parse(str(package["created"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_atomically(out: Path, files: dict[str, bytes]) -> None:
    """Put ``files`` in folder ``out`` so that readers never see half an export.

    The files go into a new folder beside ``out`` first, which then takes ``out``'s place
    by renaming (the old folder is renamed away just before: for that instant a reader
    finds no export rather than a mixed one). ``out`` must be new, empty or an earlier
    export: anything else is refused, so a mistyped path never replaces someone's folder.
    """
    _check_names(files)
    out = followed(out)
    with _locked(out):
        _swap(out, files)


def followed(out: Path) -> Path:
    """``out``, or the folder it points to when it is a symbolic link: a web server that
    publishes that folder gets every export there. Renaming the link itself away would put a
    folder of our own in its place, and the served folder would never change again."""
    return out.resolve() if out.is_symlink() else out.absolute()


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold the folder's lock (another export of it, in any process, waits meanwhile)."""
    handle = _open_lock(out)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


@asynccontextmanager
async def _exclusive(out: Path) -> AsyncIterator[None]:
    """:func:`_locked`, waited for off the event loop."""
    handle = _open_lock(out)
    try:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _open_lock(out: Path) -> int:
    """The folder that holds ``out``, opened to be locked: every export of ``out`` swaps it
    in there, so that folder is what exports take turns on (no lock file is left behind)."""
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OpenDataError(f"cannot write beside {out.absolute()}: {exc}") from exc


def _check_names(files: dict[str, bytes]) -> None:
    for name in files:
        # Names are made here (idee-<n>.html), but a folder of their own is the one place
        # they could escape: refuse anything but a plain file name.
        if not _PLAIN_NAME.fullmatch(name):
            raise OpenDataError(f"not a plain file name for the export: {name!r}")


def _swap(out: Path, files: dict[str, bytes]) -> None:
    """:func:`write_atomically`'s work, with the folder's lock held."""
    out = out.absolute()
    _check_names(files)
    if out.exists() and not replaceable(out):
        raise OpenDataError(
            f"{out} exists and is not an earlier export; choose a new or empty folder"
        )
    _sweep(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as exc:
        raise OpenDataError(f"cannot write beside {out}: {exc}") from exc
    old: Path | None = None
    try:
        for name, data in files.items():
            # A web server must be able to read them, whatever the umask made of them.
            write_durably(staging / name, data)
        staging.chmod(FOLDER_MODE)
        # The new folder's list of files on the disk too, before it takes out's place: else
        # a power cut just after the swap could publish an empty or half-listed folder.
        fsync_folder(staging)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
            os.rename(out, old)
        os.rename(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)  # the earlier export stays published
        raise OpenDataError(
            f"cannot replace {out}: {exc} (a mount point cannot be replaced: use a folder"
            " inside it)"
        ) from exc
    try:
        # The renames themselves: without this the folder holding out may come back after a
        # power cut without the new export (or without any, between the two renames).
        fsync_folder(out.parent)
    except OSError as exc:
        raise OpenDataError(f"{out} was replaced, but not flushed to the disk: {exc}") from exc
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _sweep(out: Path) -> None:
    """Remove what an export of ``out`` that was killed halfway left beside it: a new folder
    half written, or the earlier export it had moved aside. Both may hold words that have
    been erased or hidden since, which must not stay on the disk (or in its backups) for
    good. Only called with the folder's lock held, so no other export is using them."""
    leftover = re.compile(rf"\.{re.escape(out.name)}\.(?:new-[a-z0-9_]{{8}}|old-[0-9a-f]{{8}})")
    try:
        beside = list(out.parent.iterdir())
    except OSError:
        return  # no folder beside it yet: nothing left over
    for path in beside:
        if leftover.fullmatch(path.name):
            if path.is_symlink() or not path.is_dir():
                path.unlink(missing_ok=True)
            else:
                shutil.rmtree(path, ignore_errors=True)


def replaceable(out: Path) -> bool:
    """Whether the folder ``out`` may be replaced by an export: empty, or an earlier one."""
    if not out.is_dir():
        return False
    return not any(out.iterdir()) or (out / DESCRIPTOR).is_file()
