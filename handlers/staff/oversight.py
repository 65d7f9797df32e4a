"""Oversight: the audit log for admins, and figures for staff.

/logboek (admin) ──► every staff action, newest first: who, what, on what, when, why
                      ◄ nieuwere / oudere ►
/stats, /cijfers (civil servant and up) ──► figures as text, and the same as a PNG
                      bar chart to forward
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import handlers.audience as audiences
from handlers import paging
from handlers.charts import bar_chart, drawn
from handlers.contract import Button, Document, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from handlers.ideas.browse import category_name, neighbourhood_name
from handlers.locales import own_name
from handlers.money import format_euro
from handlers.phrases import phrase
from handlers.start.menu import stale_button
from storage.audit import AuditEntry
from storage.clock import parse
from storage.news.broadcasts import Audience, AudienceKind
from storage.stats import Count, Overview

feature = Feature("oversight")
feature.menu_entry("oversight.menu_stats", "stats", order=67, role=Role.CIVIL_SERVANT)
feature.menu_entry("oversight.menu_log", "log", order=68, role=Role.ADMIN)

LOG_PAGE = 10
#: Details that read best first ("van X naar Y", then the rest).
_DETAIL_ORDER = {"from": 0, "to": 1, "role": 2, "previous": 3}
#: Whose words say who an audience is (``audience`` with ``audience_value`` in a detail).
_AUDIENCE_TEXTS = {"broadcast": "composer", "consultation": "consultations"}
#: Shown as days from this many hours on.
DAYS_FROM_HOURS = 48


# The audit log ----------------------------------------------------------------------------


@feature.command(
    "logboek", translations={"en": "auditlog"}, role=Role.ADMIN, describe="oversight.cmd_log"
)
@feature.action("log", role=Role.ADMIN)
async def logbook(ctx: Context) -> Response:
    """A page of the audit log, newest first; ``log:<page>`` pages."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    total = await ctx.repos.logbook.count()
    shown = paging.page(wanted, total, LOG_PAGE)
    entries = await ctx.repos.logbook.page(limit=shown.size, offset=shown.offset)
    parts = [await _log_line(ctx, entry) for entry in entries] or [
        Reply(key="oversight.log_empty")
    ]
    buttons = paging.turn(
        shown,
        lambda label, n: Button(label=label, payload=f"log:{n}"),
        ("oversight.btn_newer", "oversight.btn_older"),
    )
    buttons.append([Button(label="menu.back", payload="menu")])
    return respond(
        Reply(
            key="oversight.log_title",
            params={"count": total, "page": shown.number, "pages": shown.pages},
            parts=parts,
            buttons=buttons,
        )
    )


async def _log_line(ctx: Context, entry: AuditEntry) -> Reply:
    """One entry in words: who (one name per person), what, on what, the details."""
    actor = await _actor(ctx, entry)
    subject = _subject(ctx, entry.subject)
    if entry.subject_user_id is not None:
        person = await _person(ctx, entry.subject_user_id)
        subject = person if entry.subject == "user" or not subject else f"{subject} ({person})"
    facts = {key: value for key, value in entry.detail.items() if value is not None}
    audience = await _audience(ctx, entry.action, facts)
    ordered = sorted(facts.items(), key=lambda item: _DETAIL_ORDER.get(item[0], 99))
    details = [_detail(ctx, entry.action, key, value) for key, value in ordered]
    if audience:
        details.insert(0, phrase(ctx, "oversight.detail.audience", value=audience))
    params = {
        "when": ctx.show_moment(entry.at),
        "actor": actor,
        "action": _words(ctx, f"oversight.actions.{entry.action}", entry.action),
        "subject": subject or "-",
        "detail": "; ".join(detail for detail in details if detail) or "-",
        "reason": entry.reason or "",
    }
    key = "oversight.log_line_reason" if entry.reason else "oversight.log_line"
    return Reply(key=key, params=params)


async def _audience(ctx: Context, action: str, facts: dict[str, Any]) -> str:
    """Who a message or a poll was for, in the words its composer showed ("wijk Driehuis");
    takes ``audience`` and ``audience_value`` out of ``facts``."""
    kind = facts.pop("audience", None)
    value = facts.pop("audience_value", None)
    section = _AUDIENCE_TEXTS.get(action.partition(".")[0])
    if kind is None or section is None or kind not in set(AudienceKind):
        return "" if kind is None else str(kind)
    return await audiences.describe(ctx, Audience(kind=kind, value=value), section)


def _words(ctx: Context, key: str, default: str) -> str:
    """A catalog text, or ``default`` for something the catalog does not name (yet)."""
    try:
        return phrase(ctx, key)
    except KeyError:
        return default


def _subject(ctx: Context, subject: str) -> str:
    """``idea:12`` as "idee #12"; ``user`` is said by the person's name instead."""
    if subject == "user":
        return ""
    kind, _, ident = subject.partition(":")
    try:
        return phrase(ctx, f"oversight.subject.{kind}", id=ident)
    except KeyError:
        return subject


def _detail(ctx: Context, action: str, key: str, value: Any) -> str:
    """One detail as "van 📥 Ingestuurd" or "rol: verbinder"."""
    shown = _value(ctx, action, key, value)
    try:
        return phrase(ctx, f"oversight.detail.{key}", value=shown)
    except KeyError:
        return f"{key}: {shown}"


def _value(ctx: Context, action: str, key: str, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(ctx, action, key, item) for item in value)
    if isinstance(value, bool):
        return phrase(ctx, "privacy.file.yes" if value else "privacy.file.no")
    text = str(value)
    if key in {"role", "previous"} and action.startswith(("role.", "invite.")):
        return _words(ctx, f"roles.names.{text}", text)
    if key in {"from", "to"} and ":" in text:
        return _subject(ctx, text)  # what an experiment was made from: "idee #3"
    if key in {"from", "to"}:
        statuses = "proposals.status" if action.startswith("proposal.") else "ideas.status"
        return _words(ctx, f"{statuses}.{text}", text)
    named = {"department": ctx.profile.department, "theme": ctx.profile.theme}.get(key)
    if named is not None:
        found = named(text)
        return found.name(ctx.lang) if found else text
    if key == "language":
        return own_name(text)
    if key.endswith("_cents") and isinstance(value, int):
        return format_euro(value, ctx.lang)
    moment = _moment(text) if key in {"at", "previous"} or key.endswith("_at") else None
    if moment is not None:
        return ctx.show_moment(moment)
    return _words(ctx, f"oversight.values.{key}.{text}", text)


def _moment(text: str) -> datetime | None:
    """A stored moment, or None for anything else ("previous" is a role in some entries)."""
    try:
        return parse(text)
    except ValueError:
        return None


async def _person(ctx: Context, user_id: int) -> str:
    """Everyone by one name: their number, and their card's name if they have a card."""
    card = await ctx.repos.staff.get(user_id)
    number = phrase(ctx, "oversight.person", id=user_id)
    # Isolated: a name saved with a direction override would turn the number around.
    return f"{ctx.catalog.isolated(ctx.lang, card.name)} ({number})" if card else number


async def _actor(ctx: Context, entry: AuditEntry) -> str:
    """Who did it: a person by the same name as everywhere in the log, never a resident's
    own name; the server or the bot itself by what they are."""
    if entry.actor_user_id is None:
        # The bot itself, the server's operator, or a platform (Telegram moving a group).
        return _words(ctx, f"oversight.actor.{entry.actor}", entry.actor)
    if await ctx.repos.users.get(entry.actor_user_id) is None:
        return phrase(ctx, "oversight.actor.gone")
    return await _person(ctx, entry.actor_user_id)


# Figures --------------------------------------------------------------------------------


@feature.command("stats", "cijfers", role=Role.CIVIL_SERVANT, describe="oversight.cmd_stats")
@feature.action("stats", role=Role.CIVIL_SERVANT)
async def stats(ctx: Context) -> Response:
    """The figures as text, and as a bar chart (PNG) that can be forwarded as it is."""
    overview = await ctx.repos.stats.overview()
    sections = _sections(ctx, overview)
    parts: list[Reply] = []
    for heading, rows in sections:
        parts.append(Reply(key="oversight.stats_heading", params={"heading": heading}))
        parts += [
            Reply(key="oversight.stats_line", params={"label": label, "count": count})
            for label, count in rows
        ] or [Reply(key="oversight.stats_none")]
    waited = _waited(ctx, overview.hours_to_first_status)
    params = {
        "municipality": ctx.profile.name(ctx.lang),
        "date": ctx.show_date(ctx.now),
        "ideas": overview.ideas,
        "decided": overview.decided,
        "waited": waited,
        "subscribers": overview.subscribers,
    }
    chart = await drawn(
        ctx.repos.db,
        bar_chart,
        phrase(ctx, "oversight.chart_title", **params),
        phrase(ctx, "oversight.chart_subtitle", **params),
        sections,
    )
    return respond(
        Reply(key="oversight.stats_title", params=params, parts=parts),
        Reply(
            key="oversight.stats_chart",
            document=Document(
                filename=f"samenspel-{ctx.local(ctx.now).date().isoformat()}.png",
                data=chart,
                mime_type="image/png",
            ),
            buttons=[[Button(label="menu.back", payload="menu")]],
        ),
    )


def _sections(ctx: Context, overview: Overview) -> list[tuple[str, list[tuple[str, int]]]]:
    def named(counts: list[Count], name: Any) -> list[tuple[str, int]]:
        return [(name(count.key), count.count) for count in counts]

    experiments = [
        (
            e.title(ctx.lang),
            e.participants,
        )
        for e in overview.experiments
        if e.running
    ]
    return [
        (
            phrase(ctx, "oversight.by_category"),
            named(overview.by_category, lambda key: category_name(ctx, key or "")),
        ),
        (
            phrase(ctx, "oversight.by_status"),
            named(overview.by_status, lambda key: phrase(ctx, f"ideas.status.{key}")),
        ),
        (
            phrase(ctx, "oversight.by_neighbourhood"),
            named(overview.by_neighbourhood, lambda key: neighbourhood_name(ctx, key)),
        ),
        (phrase(ctx, "oversight.by_experiment"), experiments),
    ]


def _waited(ctx: Context, hours: float | None) -> str:
    """The average wait for a first status, in hours or days, as residents write numbers."""
    if hours is None:
        return phrase(ctx, "oversight.no_wait_yet")
    if hours < DAYS_FROM_HOURS:
        text, key = f"{hours:.1f}", "oversight.hours"
    else:
        text, key = f"{hours / 24:.1f}", "oversight.days"
    if ctx.lang != "en":
        text = text.replace(".", ",")
    return phrase(ctx, key, amount=text)
