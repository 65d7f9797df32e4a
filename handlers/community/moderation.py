"""Moderation: the connector decides about reported comments and ideas; mutes and bans, explained.

Residents report comments and ideas in ``handlers/staff/reporting.py``; enough reports hide
one until the connector decides here, on the review pipeline (:mod:`handlers.review`). The
author is always told what was decided and why, in their own language, and so are the
residents who reported it (outbox, kind ``moderation``). Whether someone may post is checked
at every event by the gate at the bottom of this module, which the router runs: a ban, a
mute, and the posting limits features declare (ideas per day, comments per hour).

    /meldingen ──► card: the comment or idea, the reports, the author's earlier warnings
                    ├─ laten staan ──► reason (or none) ──┐
                    ├─ verbergen ─────► reason ───────────┤ visible again (laten staan),
                    ├─ verwijderen ───► reason ───────────┤ hidden or (an idea) removed;
                    ├─ waarschuwen ───► reason ───────────┤ reports closed, author and
                    ├─ dempen ──► 1 day | 1 week | typed days ──► reason ──┤ reporters told,
                    ├─ blokkeren ─────► reason ───────────┤ audit log
                    └─ later ──► next card                └──► next card
    /wachtrij 12 of a hidden idea ──► weer tonen ──► visible again, its author told
    /beperkingen ──► who is muted or banned now, here and in experiments' rooms
                     ──opheffen──► lifted (in a room: on the platform too), person told
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import paging, when
from handlers.answers import as_ascii_digits, excerpt, parse_id, whole_number
from handlers.community import connections, mutes, room_moderation
from handlers.community.room_moderation import RoomMessages
from handlers.contract import (
    Button,
    Dialog,
    Reply,
    Response,
    Role,
    Timer,
    given_back,
    respond,
    rows,
)
from handlers.experiments.rooms import ban_ended, take_out
from handlers.feature import Context, Expects, Feature, Refusal, Target, menu_reply
from handlers.phrases import number, phrase
from handlers.review import (
    Decided,
    Desk,
    Kind,
    Notice,
    Outcome,
    Ref,
    Step,
    announce,
    fingerprint,
)
from handlers.start.menu import stale_button
from storage.clock import days_later, iso
from storage.community.moderation import KEPT_REASON, ReportReason, Sanction, SanctionKind
from storage.community.reports import Flag, Flagged, ReportRef
from storage.ideas.ideas import Removal

feature = Feature("moderation")
feature.menu_entry("moderation.menu", "mod", order=66, role=Role.CONNECTOR)

DIALOG = "moderate"
DECISIONS = ("keep", "hide", "warn", "mute", "ban")
IDEA_DECISIONS = ("keep", "hide", "remove", "warn", "mute", "ban")
#: Decisions about the person, not only what they wrote: only for residents.
PERSONAL = frozenset({"warn", "mute", "ban"})
PERSONAL_AUDIT = {"warn": "user.warn", "mute": "user.mute", "ban": "user.ban"}
SANCTIONS = {"warn": SanctionKind.WARNING, "mute": SanctionKind.MUTE, "ban": SanctionKind.BAN}
MAX_DAYS = 365
MAX_REASON = 500
PERIOD = "period"
#: hidden_reason of a comment hidden by residents' reports, before the connector decided.
HIDDEN_BY_REPORTS = "meldingen"


def period(ctx: Context, days: int) -> str:
    """A number of days as words: "1 dag", "7 dagen"."""
    return phrase(ctx, "moderation.days", count=days)


def moment(ctx: Context, at: datetime) -> str:
    """A moment as residents read it, in the municipality's time zone."""
    return when.moment(ctx.local(at), ctx.lang)


# What was reported: comments and ideas -------------------------------------------------------


class Reported(Kind[Flagged]):
    """Something residents reported, on the moderation desk. Its words are under ``texts``
    (``<texts>.card``, ``.ask_reason_<decision>``, ``.done_<decision>``, ``.told_<decision>``)."""

    decisions: tuple[str, ...]
    texts: str

    async def show(self, ctx: Context, item: Flagged, decision: str, reason: str | None) -> None:
        """Show it, hide it or remove it, as ``decision`` says."""
        raise NotImplementedError

    async def load(self, ctx: Context, item_id: int) -> Flagged | None:
        """It, while it has open reports (and is not removed for good)."""
        flagged = await ctx.repos.reports.flagged(Flag(self.name), item_id)
        if flagged is None or not flagged.reports or flagged.removal is Removal.REMOVED:
            return None
        return flagged

    def told_buttons(self, item: Flagged, decision: str) -> list[list[Button]]:
        return [] if decision == "ban" else [[_idea_button(item.idea_id)]]

    def detail(self, item: Flagged) -> dict[str, Any]:
        """What the audit log records about it."""
        return (
            {self.name: item.id}
            if self.name == "idea"
            else {self.name: item.id, "idea": item.idea_id}
        )

    def state(self, item: Flagged) -> str:
        return "reported"

    def made(self, item: Flagged) -> datetime:
        return item.created_at

    def owner(self, item: Flagged) -> int | None:
        return item.author_user_id

    #: Said when there is no such thing (never was, erased, removed for good).
    not_found: str

    async def missing(self, ctx: Context, item_id: int) -> Response:
        # "Already decided" only where that is true: a number typed after /meldingen (or a
        # forged one) may name nothing, or something nobody ever reported.
        flagged = await ctx.repos.reports.flagged(Flag(self.name), item_id)
        if flagged is None or flagged.removal is Removal.REMOVED:
            word = Reply(key=self.not_found, params={"id": item_id})
        elif await ctx.repos.reports.ever_reported(Flag(self.name), item_id):
            word = Reply(key=f"{self.texts}.already_decided", params={"id": item_id})
        else:
            word = Reply(key=f"{self.texts}.not_reported", params={"id": item_id})
        return await desk.next_card(ctx, None, word)

    async def refuse(self, ctx: Context, item: Flagged, decision: str) -> Response | None:
        if decision not in self.decisions or (decision in PERSONAL and not item.personal):
            return await stale_button(ctx)
        return None

    def first_step(self, item: Flagged, decision: str) -> str | None:
        return PERIOD if decision == "mute" else "reason"

    async def changed(
        self, ctx: Context, item: Flagged, dialog: Dialog, text: str | None
    ) -> Response | None:
        # Its author erased themselves or became staff while the connector typed: a warning,
        # mute or ban has nobody to go to (the card shows what can still be decided).
        if str(dialog.data["decision"]) in PERSONAL and not item.personal:
            return respond(await self.card(ctx, item))
        return await super().changed(ctx, item, dialog, text)

    def reason_optional(self, decision: str) -> bool:
        return decision == "keep"

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        decision = str(dialog.data["decision"])
        return Reply(
            key=f"{self.texts}.ask_reason_{decision}",
            params={"max": MAX_REASON, "period": period(ctx, int(dialog.data.get("days", 0)))},
        )

    async def card(self, ctx: Context, item: Flagged) -> Reply:
        """What the connector needs to decide: it in context, the reports, the decisions."""
        state = "moderation.state_hidden" if item.hidden else "moderation.state_visible"
        decisions = [
            desk.decision_button(f"moderation.btn_{decision}", self.name, item.id, decision)
            for decision in self.decisions
            if item.personal or decision not in PERSONAL
        ]
        return Reply(
            key=f"{self.texts}.card",
            params={
                "waiting": await ctx.repos.reports.waiting(),
                "number": number(item.idea_id),
                "title": item.idea_title,
                "when": moment(ctx, item.created_at),
                "author": _author(ctx, item),
                "state": phrase(ctx, state),
                "body": item.body,
            },
            parts=await _report_parts(ctx, item),
            buttons=[
                *rows(decisions, 2),
                [_idea_button(item.idea_id), desk.later_button(self.name, item.id)],
                [Button(label="menu.back", payload="menu")],
            ],
        )

    async def carry_out(
        self, ctx: Context, item: Flagged, dialog: Dialog, text: str | None
    ) -> Outcome:
        """It, the person, the reports; the author and the reporters told; the log."""
        decision = str(dialog.data["decision"])
        days = int(dialog.data.get("days", 0))
        author = item.author_user_id
        await self.show(ctx, item, decision, text)
        timers: list[Timer] = []
        until: datetime | None = None
        if decision in PERSONAL:
            assert author is not None and text is not None
            kind = SANCTIONS[decision]
            # "3 dagen" ends at this clock time three days on in the municipality, as
            # the author is told ("tot ..."), also across a change of the clocks.
            mute = kind is SanctionKind.MUTE
            until = days_later(ctx.now, days, ctx.timezone) if mute else None
            sanction, replaced = await ctx.repos.sanctions.add(
                author,
                kind,
                reason=text,
                by_user_id=ctx.user.id,
                now=ctx.now,
                comment_id=item.id if self.name == "comment" else None,
                ends_at=until,
            )
            timers = [Timer(job=mutes.job(old.id), at=None) for old in replaced if old.ends_at]
            if until is not None:
                timers.append(Timer(job=mutes.job(sanction.id), at=until))
            if kind is SanctionKind.BAN:
                # Nobody's contact line may reach them, and nobody waits for their answer.
                timers += await connections.call_off_for_ban(ctx, author)
                # Banned from the bot, banned from its rooms: out of every one they are in
                # (the ban's end invites them again to those they still take part in).
                await take_out(ctx.repos, author, ctx.now)
            else:
                # A mute in place of a ban ends the ban (a mute keeps nobody out of rooms).
                await ban_ended(ctx.repos, author, replaced, ctx.now)
        resolved = await ctx.repos.reports.resolve(item.kind, item.id, ctx.now)

        def to_author(lang: str) -> list[Reply]:
            params = told_params(ctx, lang, item)
            if until is not None:
                # In the author's language: ctx.lang is the connector's.
                params["until"] = when.moment(ctx.local(until), lang)
            if decision == "ban":
                params["contact"] = ctx.profile.privacy.contact
            # The connector's words, as written (with the note that says so).
            explained = Reply(key="moderation.told_reason", params={"reason": text}, original=True)
            why = [explained] if text else []
            return [
                Reply(
                    key=f"{self.texts}.told_{decision}",
                    params=params,
                    parts=why,
                    buttons=self.told_buttons(item, decision),
                )
            ]

        outcome = "kept" if decision == "keep" else "removed" if decision == "remove" else "hidden"

        def to_reporters(lang: str) -> list[Reply]:
            key = f"moderation.reporter.{self.name}_{outcome}"
            # Not the comment: it is its author's words, gone with them if they are erased.
            shown = {k: v for k, v in told_params(ctx, lang, item).items() if k != "comment"}
            return [Reply(key=key, params=shown)]

        detail: dict[str, Any] = {**self.detail(item), "reports": resolved}
        if decision == "mute":
            detail["days"] = days
        personal = decision in PERSONAL
        await announce(
            ctx,
            PERSONAL_AUDIT[decision] if personal else f"{self.name}.{decision}",
            Notice([author], to_author, kind="moderation", record="author_told", flag=True),
            Notice(
                [report.reporter_user_id for report in item.reports],
                to_reporters,
                kind="moderation",
                record="reporters_told",
            ),
            detail=detail,
            subject="user" if personal else f"{self.name}:{item.id}",
            subject_user_id=author,
            reason=text,
        )
        done = Reply(
            key=f"{self.texts}.done_{decision}",
            params={"number": number(item.idea_id), "period": period(ctx, days)},
        )
        return Decided(done, timers)


class Comments(Reported):
    """A reported comment (``c12``, or ``12``)."""

    name = "comment"
    letters = "c"
    decisions = DECISIONS
    texts = "moderation"
    not_found = "moderation.not_found"

    def words(self, item: Flagged) -> str:
        # A comment still visible (fewer reports than hide it) its author may still change.
        return iso(item.edited_at) if item.edited_at else ""

    def edited(self, item: Flagged) -> Reply:
        return Reply(key="moderation.edited_meanwhile", params={"number": number(item.idea_id)})

    async def show(self, ctx: Context, item: Flagged, decision: str, reason: str | None) -> None:
        comments = ctx.repos.comments
        if item.hidden:
            # Laten staan shows it again; another reason replaces "hidden by reports".
            await comments.unhide(item.id)
        if decision != "keep":
            assert reason is not None
            await comments.hide(item.id, reason, ctx.now)


class Ideas(Reported):
    """A reported idea (``i12``)."""

    name = "idea"
    letters = "i"
    decisions = IDEA_DECISIONS
    texts = "moderation.idea"
    not_found = "triage.idea_not_found"

    def words(self, item: Flagged) -> str:
        # A new idea still visible (fewer reports than hide it) its author may still change.
        return fingerprint(item.idea_title, item.body, item.photo_id)

    def edited(self, item: Flagged) -> Reply:
        return Reply(key="triage.edited_meanwhile", params={"number": number(item.id)})

    async def show(self, ctx: Context, item: Flagged, decision: str, reason: str | None) -> None:
        ideas = ctx.repos.ideas
        if decision == "keep":
            if item.removal is Removal.REPORTS:
                await ideas.restore(item.id, ctx.now)
            return
        how = Removal.REMOVED if decision == "remove" else Removal.HIDDEN
        await ideas.remove(item.id, ctx.now, how=how, reason=reason)

    def told_buttons(self, item: Flagged, decision: str) -> list[list[Button]]:
        return [[_idea_button(item.id)]] if decision == "keep" else []


def told_params(ctx: Context, lang: str, item: Flagged) -> dict[str, Any]:
    """What its author and its reporters are told about a reported thing, in ``lang``."""
    return {
        "number": number(item.idea_id),
        "title": item.idea_title,
        "comment": excerpt(item.body, 120),
        "connector": ctx.profile.connector(lang),
    }


def _author(ctx: Context, item: Flagged) -> str:
    if item.author_user_id is None:
        return phrase(ctx, "moderation.author_gone")
    role = item.author_role or Role.RESIDENT
    return phrase(ctx, f"moderation.author.{role.value}", user=item.author_user_id)


async def _report_parts(ctx: Context, item: Flagged) -> list[Reply]:
    """The reports (how many, why, in the reporters' words) and the author's history."""
    parts = [Reply(key="moderation.card_reports", params={"count": len(item.reports)})]
    counts: dict[ReportReason, int] = {}
    for report in item.reports:
        counts[report.reason] = counts.get(report.reason, 0) + 1
    for reason, count in counts.items():
        label = phrase(ctx, f"moderation.reason.{reason.value}")
        parts.append(Reply(key="moderation.card_reason", params={"reason": label, "count": count}))
    for report in item.reports:
        if report.note:
            parts.append(Reply(key="moderation.card_note", params={"note": report.note}))
    if item.personal and item.author_user_id is not None:
        earlier = await ctx.repos.sanctions.of_user(item.author_user_id)
        if earlier:
            parts.append(_history(earlier))
    return parts


def _idea_button(idea_id: int) -> Button:
    return Button(
        label="moderation.btn_open_idea",
        payload=f"idea.open:{idea_id}",
        params={"number": number(idea_id)},
    )


def _history(earlier: list[Sanction]) -> Reply:
    def count(kind: SanctionKind) -> int:
        return sum(1 for sanction in earlier if sanction.kind is kind)

    return Reply(
        key="moderation.card_history",
        params={
            "warnings": count(SanctionKind.WARNING),
            "mutes": count(SanctionKind.MUTE),
            "bans": count(SanctionKind.BAN),
        },
    )


# The period of a mute ------------------------------------------------------------------------


async def _ask_period(ctx: Context, dialog: Dialog) -> Reply:
    return Reply(
        key="moderation.ask_period",
        params={"max": MAX_DAYS},
        buttons=[
            [
                dialog.button("moderation.btn_one_day", "1"),
                dialog.button("moderation.btn_one_week", "7"),
            ]
        ],
    )


async def _period(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
    typed = choice if choice is not None else as_ascii_digits(ctx.text.strip())
    days = whole_number(typed, MAX_DAYS, low=1)
    if days is None:
        return Reply(key="moderation.bad_period", params={"max": MAX_DAYS})
    return dialog.to("reason", days=days)


Comments.steps = {PERIOD: Step(_ask_period, _period, Expects.NUMBER)}
Ideas.steps = Comments.steps
RoomMessages.steps = Comments.steps


# The desk and its queue ---------------------------------------------------------------------


async def _queue(ctx: Context, after: Ref | None) -> Ref | None:
    """Reported comments and ideas first, then reported messages in experiments' rooms."""
    if after is None or after.kind != RoomMessages.name:
        cursor = ReportRef(kind=Flag(after.kind), id=after.id) if after is not None else None
        found = await ctx.repos.reports.next_reported(cursor)
        if found is not None:
            return Ref(found.kind, found.id)
        after = None
    room_report = await ctx.repos.rooms.next_open(after.id if after is not None else None)
    return Ref(RoomMessages.name, room_report) if room_report is not None else None


async def _after(ctx: Context, ref: Ref, done: Reply) -> Response:
    """After a decision: the report that waits longest."""
    return await desk.next_card(ctx, None, done)


desk = Desk(
    feature,
    name="moderation",
    dialog=DIALOG,
    role=Role.CONNECTOR,
    kinds=[Comments(), Ideas(), RoomMessages()],
    after=_after,
    queue=_queue,
    prefix="mod",
    max_reason=MAX_REASON,
)


@feature.command(
    "meldingen",
    translations={"en": "reports"},
    role=Role.CONNECTOR,
    describe="moderation.cmd",
)
@feature.action("mod", role=Role.CONNECTOR)
async def reported(ctx: Context) -> Response:
    """The reported comment or idea that waits longest, as a card with the decisions;
    ``mod:i12`` (or ``/meldingen i12``) that one's card."""
    if not ctx.value.strip():
        return await desk.next_card(ctx, None)
    ref = desk.parse(ctx.value)
    if ref is not None:
        return await desk.show(ctx, ref)
    if ctx.event.command is not None:
        # "/meldingen i-5", a number too big for any report: how to ask, not some card.
        return respond(menu_reply(ctx, "moderation.usage"))
    return await stale_button(ctx)


def reports_button(idea_id: int) -> Button:
    """ "🚩 Meldingen" for the reports about one idea."""
    return Button(label="moderation.menu", payload=f"mod:{desk.ref(Ideas.name, idea_id)}")


# Showing a hidden idea again -----------------------------------------------------------------


@feature.action("mod.restore", role=Role.CONNECTOR)
async def restore(ctx: Context) -> Response:
    """``mod.restore:<idea>``: show an idea the connector hid again; its author is told."""
    idea_id = parse_id(ctx.value)
    if idea_id is None:
        return await stale_button(ctx)
    idea = await ctx.repos.ideas.get(idea_id)
    hidden = idea is not None and idea.removal is Removal.HIDDEN
    if idea is None or not hidden or not await ctx.repos.ideas.restore(idea_id, ctx.now):
        return respond(menu_reply(ctx, "moderation.idea.not_hidden", number=number(idea_id)))

    def build(lang: str) -> list[Reply]:
        params = {
            "number": number(idea.id),
            "title": idea.title,
            "connector": ctx.profile.connector(lang),
        }
        return [
            Reply(
                key="moderation.idea.told_restored",
                params=params,
                buttons=[[_idea_button(idea.id)]],
            )
        ]

    await announce(
        ctx,
        "idea.restore",
        Notice([idea.author_user_id], build, kind="moderation", record="author_told", flag=True),
        detail={"idea": idea.id},
        subject=f"idea:{idea.id}",
        subject_user_id=idea.author_user_id,
    )
    return respond(menu_reply(ctx, "moderation.idea.restored", number=number(idea.id)))


# Who is muted or banned -------------------------------------------------------------------


@feature.command(
    "beperkingen",
    translations={"en": "restrictions"},
    role=Role.CONNECTOR,
    describe="moderation.cmd_active",
)
@feature.action("mod.active", role=Role.CONNECTOR)
async def active(ctx: Context) -> Response:
    """Everyone muted or banned now, here or in an experiment's room, with a button to
    lift it: eight a page (``mod.active:<page>``), the bot's own first, newest first. Bans
    never end by themselves, so in time there are many: every one can still be lifted."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    return respond(await _restrictions(ctx, wanted))


async def _restrictions(ctx: Context, wanted: int = 1) -> Reply:
    here = await ctx.repos.sanctions.count_active(ctx.now)
    total = here + await ctx.repos.rooms.count_in_force(ctx.now)
    if not total:
        return menu_reply(ctx, "moderation.none_active")
    shown = paging.page(wanted, total)
    current = await ctx.repos.sanctions.all_active(ctx.now, limit=shown.size, offset=shown.offset)
    in_rooms, room_buttons = await room_moderation.in_force(
        ctx, limit=shown.size - len(current), offset=max(0, shown.offset - here)
    )
    parts = []
    buttons = []
    for sanction in current:
        params: dict[str, object] = {"user": sanction.user_id, "reason": reason_of(ctx, sanction)}
        if sanction.ends_at is not None:
            params["until"] = moment(ctx, sanction.ends_at)
            parts.append(Reply(key="moderation.active_muted", params=params))
        else:
            params["since"] = moment(ctx, sanction.created_at)
            parts.append(Reply(key="moderation.active_banned", params=params))
        buttons.append(
            [
                Button(
                    label="moderation.btn_lift",
                    payload=f"mod.lift:{sanction.user_id}:{sanction.id}",
                    params={"user": sanction.user_id},
                )
            ]
        )
    parts.extend(in_rooms)
    parts.extend(paging.where(shown))
    buttons.extend(room_buttons)
    buttons.extend(
        paging.turn(shown, lambda label, n: Button(label=label, payload=f"mod.active:{n}"))
    )
    buttons.append([Button(label="menu.back", payload="menu")])
    return Reply(key="moderation.active_title", parts=parts, buttons=buttons)


@feature.action(room_moderation.LIFT, role=Role.CONNECTOR)
async def lift_in_room(ctx: Context) -> Response:
    """``mod.lift_room:<sanction>``: end a mute or ban in an experiment's room early."""
    return await room_moderation.lift(ctx)


@feature.action("mod.lift", role=Role.CONNECTOR)
async def lift(ctx: Context) -> Response:
    """``mod.lift:<user>:<sanction>``: end someone's mute or ban early; they are told.

    Only the mute or ban the list showed: one that replaced it since (a mute became a ban)
    is not lifted by the older button; the list as it is now comes instead. (A button made
    before it named the sanction, ``mod.lift:<user>``, lifts whatever holds.)
    """
    raw_user, colon, raw_sanction = ctx.value.partition(":")
    user_id = parse_id(raw_user)
    shown = parse_id(raw_sanction) if colon else None
    if user_id is None or (colon and shown is None):
        return await stale_button(ctx)
    if shown is not None:
        holds = await ctx.repos.sanctions.active(user_id, ctx.now)
        if holds is not None and holds.id != shown:
            changed = Reply(key="moderation.lift_changed", params={"user": user_id})
            return respond(changed, await _restrictions(ctx))
    lifted = await ctx.repos.sanctions.lift_all(user_id, by_user_id=ctx.user.id, now=ctx.now)
    if not lifted:
        return respond(menu_reply(ctx, "moderation.nothing_to_lift", user=user_id))
    await ban_ended(ctx.repos, user_id, lifted, ctx.now)

    def build(lang: str) -> list[Reply]:
        return [
            Reply(key="moderation.told_lifted", params={"connector": ctx.profile.connector(lang)})
        ]

    await announce(
        ctx,
        "user.unrestrict",
        Notice([user_id], build, kind="moderation", record="author_told", flag=True),
        detail={"sanctions": [s.id for s in lifted]},
        subject_user_id=user_id,
    )
    return respond(
        menu_reply(ctx, "moderation.lifted", user=user_id),
        timers=[Timer(job=mutes.job(s.id), at=None) for s in lifted if s.ends_at],
    )


# Who may post: the gate the router runs at every event ------------------------------------


@feature.gate
async def sanctions_and_limits(ctx: Context, target: Target) -> Refusal | None:
    """A ban, a mute or a posting limit that refuses this event, explained; else None.

    Only residents who consented can be restricted (staff never are). A mute is read from
    its stored end time, so one that has ended never blocks anyone. A banned person may
    no longer hold a dialog that is not open to them: it is dropped.
    """
    refusal = await _refusal(ctx, target)
    if refusal is None or not refusal.response.replies or ctx.event.command is None:
        return refusal
    # Words typed after a command ("/idee Meer bankjes in het park", or after one that
    # does not exist, "/klacht de bankjes zijn kapot") were not used: given back with the
    # answer, so none are lost without a word (a link's code, "/start idee_42", is one
    # word and nothing anyone wrote).
    typed = (ctx.event.args or "").strip()
    if len(typed.split()) < 2:
        return refusal
    first, *rest = refusal.response.replies
    back = Reply(key="general.typed_not_kept", params={"text": typed})
    first = first.model_copy(update={"parts": [*first.parts, back]})
    response = refusal.response.model_copy(update={"replies": [first, *rest]})
    return Refusal(response, drops_dialog=refusal.drops_dialog)


async def _refusal(ctx: Context, target: Target) -> Refusal | None:
    user = ctx.user
    if not user.consented or user.role is not Role.RESIDENT:
        return None
    policy = target.policy
    sanction = await ctx.repos.sanctions.active(user.id, ctx.now) if ctx.sanctioned else None
    if sanction is not None and sanction.kind is SanctionKind.BAN:
        if policy.open_to_banned:
            return None
        typed = target.dialog is not None and not target.starts
        return Refusal(banned_reply(ctx, sanction, in_dialog=typed), drops_dialog=True)
    if policy.posts is None:
        return None
    if sanction is not None:
        return Refusal(muted_reply(ctx, sanction, in_dialog=not target.starts))
    limit = ctx.registry.posting_limits.get(policy.posts)
    if not target.starts or not policy.new or limit is None:
        return None
    most = limit.limit(ctx.profile)
    count, first = await limit.count(ctx.repos, user.id, ctx.now - limit.period)
    if count < most or first is None:
        return None
    return Refusal(posting_limit_reply(ctx, policy.posts, most, first + limit.period))


# Explanations of the gate --------------------------------------------------------------------


def reason_of(ctx: Context, sanction: Sanction) -> str:
    """A sanction's reason; one kept across an erasure has none of its own any more."""
    if sanction.reason != KEPT_REASON:
        return sanction.reason
    return ctx.catalog.text(ctx.lang, "moderation.kept_reason", {}, markup=False)


def muted_reply(ctx: Context, sanction: Sanction, *, in_dialog: bool) -> Response:
    """Why a muted person cannot post now, and until when (nothing changes). What they
    typed for a dialog (a comment, an idea's description) is given back, so nothing is lost."""
    assert sanction.ends_at is not None
    parts = [Reply(key="moderation.muted_in_dialog")] if in_dialog else []
    if in_dialog:
        parts += given_back(ctx.event)
    return respond(
        Reply(
            key="moderation.muted",
            params={
                "until": moment(ctx, sanction.ends_at),
                "reason": reason_of(ctx, sanction),
                "connector": ctx.profile.connector(ctx.lang),
            },
            parts=parts,
            buttons=ctx.main_menu(posting=False),
        )
    )


def banned_reply(ctx: Context, sanction: Sanction, *, in_dialog: bool = False) -> Response:
    """What a banned person can still do, and whom to ask. What they typed for the dialog
    the ban ends (a question, an idea's description) is given back, so nothing is lost."""
    parts = given_back(ctx.event) if in_dialog else []
    return respond(
        Reply(
            key="moderation.banned",
            params={
                "reason": reason_of(ctx, sanction),
                "connector": ctx.profile.connector(ctx.lang),
                "contact": ctx.profile.privacy.contact,
            },
            parts=parts,
            buttons=[[Button(label="menu.privacy", payload="privacy")]],
        )
    )


def posting_limit_reply(ctx: Context, posts: str, limit: int, again: datetime) -> Response:
    """Someone posted the most ideas (or comments) a period allows: when they can again."""
    return respond(
        Reply(
            key=f"flood.too_many_{posts}s",
            params={"count": limit, "again": moment(ctx, again)},
            buttons=ctx.main_menu(posting=False),
        )
    )
