"""Moderation: the connector decides about reported comments; mutes and bans, explained.

Residents report comments in ``handlers/reporting.py``; enough reports hide a comment until
the connector decides here. The author is always told what was decided and why, in their
own language (outbox, kind ``moderation``). Whether someone may post is checked at every
event by the gate at the bottom of this module, which the router runs: a ban, a mute, and
the posting limits features declare (ideas per day, comments per hour).

    /meldingen ──► card: the comment, its idea, the reports, the author's earlier warnings
                    ├─ laten staan ──► reason (or none) ──┐
                    ├─ verbergen ─────► reason ───────────┤
                    ├─ waarschuwen ───► reason ───────────┤ hidden (except laten staan),
                    ├─ dempen ──► 1 day | 1 week | typed days ──► reason ──┤ reports closed,
                    ├─ blokkeren ─────► reason ───────────┤ author told, audit log
                    └─ later ──► next card                └──► next card
    /beperkingen ──► who is muted or banned now ──opheffen──► lifted, person told
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.answers import excerpt, parse_id, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond, rows
from handlers.feature import Context, Feature, Refusal, Target, menu_reply
from handlers.notices import notify
from handlers.phrases import number, phrase
from handlers.start.menu import stale_button
from storage import Repositories
from storage.community.moderation import ModeratedComment, ReportReason, Sanction, SanctionKind

feature = Feature("moderation")
feature.menu_entry("moderation.menu", "mod", order=66, role=Role.CONNECTOR)

DIALOG = "moderate"
DECISIONS = ("keep", "hide", "warn", "mute", "ban")
#: Decisions about the person, not only the comment: only for residents.
PERSONAL = frozenset({"warn", "mute", "ban"})
AUDIT_ACTIONS = {
    "keep": "comment.keep",
    "hide": "comment.hide",
    "warn": "user.warn",
    "mute": "user.mute",
    "ban": "user.ban",
}
MAX_DAYS = 365
MAX_REASON = 500
#: hidden_reason of a comment hidden by residents' reports, before the connector decided.
HIDDEN_BY_REPORTS = "meldingen"


def mute_job(sanction_id: int) -> str:
    """The scheduler job that tells someone their mute is over."""
    return f"mute:{sanction_id}"


def period(ctx: Context, days: int) -> str:
    """A number of days as words: "1 dag", "7 dagen"."""
    key = "moderation.one_day" if days == 1 else "moderation.days"
    return phrase(ctx, key, days=days)


def moment(ctx: Context, at: datetime) -> str:
    """A moment as residents read it, in the municipality's time zone."""
    return ctx.local(at).strftime("%d-%m-%Y %H:%M")


# The queue of reported comments ---------------------------------------------------------


@feature.command("meldingen", "reports", role=Role.CONNECTOR, describe="moderation.cmd")
@feature.action("mod", role=Role.CONNECTOR)
async def reported(ctx: Context) -> Response:
    """The reported comment that waits longest, as a card with the decisions."""
    return await _card_after(ctx, None)


@feature.action("mod.next", role=Role.CONNECTOR)
async def later(ctx: Context) -> Response:
    """Leave this one for later: the next reported comment (it stays in the list)."""
    comment_id = parse_id(ctx.value)
    if comment_id is None:
        return await stale_button(ctx)
    return await _card_after(ctx, comment_id)


async def _card_after(ctx: Context, after: int | None, *, notice: Reply | None = None) -> Response:
    reports = ctx.repos.reports
    found = await reports.next_reported(after)
    wrapped = after is not None and found is None
    if found is None:
        found = await reports.next_reported(None)
    replies = [notice] if notice else []
    if found is None:
        replies.append(menu_reply(ctx, "moderation.empty"))
        return respond(*replies)
    if wrapped or found == after:
        replies.append(Reply(key="moderation.from_the_start"))
    comment = await reports.comment(found)
    assert comment is not None
    replies.append(await _card(ctx, comment))
    return respond(*replies)


async def _card(ctx: Context, comment: ModeratedComment) -> Reply:
    """What the connector needs to decide: the comment in context, and the reports."""
    parts = [Reply(key="moderation.card_reports", params={"count": len(comment.reports)})]
    counts: dict[ReportReason, int] = {}
    for report in comment.reports:
        counts[report.reason] = counts.get(report.reason, 0) + 1
    for reason, count in counts.items():
        label = phrase(ctx, f"moderation.reason.{reason.value}")
        parts.append(Reply(key="moderation.card_reason", params={"reason": label, "count": count}))
    for report in comment.reports:
        if report.note:
            parts.append(Reply(key="moderation.card_note", params={"note": report.note}))
    personal = _personal_allowed(comment)
    if personal and comment.author_user_id is not None:
        earlier = await ctx.repos.sanctions.of_user(comment.author_user_id)
        if earlier:
            parts.append(_history(earlier))
    state = "moderation.state_hidden" if comment.hidden else "moderation.state_visible"
    cid = comment.id
    decisions = [
        Button(label=f"moderation.btn_{decision}", payload=f"mod.do:{cid}:{decision}")
        for decision in DECISIONS
        if personal or decision not in PERSONAL
    ]
    buttons = [
        *rows(decisions, 2),
        [
            Button(
                label="moderation.btn_idea",
                payload=f"idea.open:{comment.idea_id}",
                params={"number": number(comment.idea_id)},
            ),
            Button(label="moderation.btn_later", payload=f"mod.next:{cid}"),
        ],
        [Button(label="menu.back", payload="menu")],
    ]
    return Reply(
        key="moderation.card",
        params={
            "waiting": await ctx.repos.reports.waiting(),
            "number": number(comment.idea_id),
            "title": comment.idea_title,
            "when": moment(ctx, comment.created_at),
            "author": _author(ctx, comment),
            "state": phrase(ctx, state),
            "body": comment.body,
        },
        parts=parts,
        buttons=buttons,
    )


def _personal_allowed(comment: ModeratedComment) -> bool:
    """Warnings, mutes and bans are for residents (not for staff or an erased author)."""
    return comment.author_user_id is not None and comment.author_role is Role.RESIDENT


def _author(ctx: Context, comment: ModeratedComment) -> str:
    if comment.author_user_id is None:
        return phrase(ctx, "moderation.author_gone")
    role = comment.author_role or Role.RESIDENT
    return phrase(ctx, f"moderation.author.{role.value}", user=comment.author_user_id)


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


# Deciding -------------------------------------------------------------------------------


@feature.action("mod.do", role=Role.CONNECTOR)
async def begin_decision(ctx: Context) -> Response:
    """A decision button on a card: ask what it needs (the period of a mute, the reason)."""
    raw_id, _, decision = ctx.value.partition(":")
    comment_id = parse_id(raw_id)
    if comment_id is None or decision not in DECISIONS:
        return await stale_button(ctx)
    comment = await _open(ctx, comment_id, decision)
    if isinstance(comment, Response):
        return comment
    dialog = Dialog(name=DIALOG, step="reason", data={"comment": comment_id, "decision": decision})
    if decision == "mute":
        dialog = dialog.to("period")
    return _ask(ctx, dialog)


async def _open(ctx: Context, comment_id: int, decision: str) -> ModeratedComment | Response:
    """The comment if this decision can still be taken on it, else the answer why not."""
    comment = await ctx.repos.reports.comment(comment_id)
    if comment is None or not comment.reports:
        return await _card_after(
            ctx, None, notice=Reply(key="moderation.already_decided", params={"id": comment_id})
        )
    if decision in PERSONAL and not _personal_allowed(comment):
        return await stale_button(ctx)
    return comment


def _ask(ctx: Context, dialog: Dialog, *, hint: Reply | None = None) -> Response:
    decision = str(dialog.data["decision"])
    cancel = [dialog.button("moderation.btn_cancel", "cancel")]
    if dialog.step == "period":
        question = Reply(
            key="moderation.ask_period",
            params={"max": MAX_DAYS},
            buttons=[
                [
                    dialog.button("moderation.btn_one_day", "1"),
                    dialog.button("moderation.btn_one_week", "7"),
                ],
                cancel,
            ],
        )
    else:
        buttons = [cancel]
        if decision == "keep":
            buttons.insert(0, [dialog.button("moderation.btn_no_reason", "none")])
        question = Reply(
            key=f"moderation.ask_reason_{decision}",
            params={"max": MAX_REASON, "period": period(ctx, int(dialog.data.get("days", 0)))},
            buttons=buttons,
        )
    return respond(*([hint] if hint else []), question, dialog=dialog)


@feature.dialog(DIALOG, role=Role.CONNECTOR)
async def decision_step(ctx: Context) -> Response:
    """The period of a mute, then the reason; then the decision is carried out."""
    dialog = ctx.dialog
    assert dialog is not None
    choice = ctx.value if ctx.event.button is not None else None
    comment_id = int(dialog.data["comment"])
    if choice == "cancel":
        return Response(
            replies=(
                await _card_after(ctx, None, notice=Reply(key="moderation.cancelled"))
            ).replies,
            end_dialog=True,
        )
    if dialog.step == "period":
        days = choice if choice is not None else ctx.text
        if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= MAX_DAYS:
            hint = Reply(key="moderation.bad_period", params={"max": MAX_DAYS})
            return _ask(ctx, dialog, hint=hint)
        return _ask(ctx, dialog.to("reason", days=int(days)))
    decision = str(dialog.data["decision"])
    if choice == "none" and decision == "keep":
        reason = None
    elif choice is not None:
        return _ask(ctx, dialog, hint=Reply(key="answers.use_buttons_or_type"))
    else:
        answer = read_text(ctx, MAX_REASON, min_length=3)
        if isinstance(answer, Reply):
            return _ask(ctx, dialog, hint=answer)
        reason = answer
    comment = await _open(ctx, comment_id, decision)
    if isinstance(comment, Response):
        return Response(replies=comment.replies, end_dialog=True)
    response = await _decide(ctx, comment, decision, reason, int(dialog.data.get("days", 0)))
    return response.model_copy(update={"end_dialog": True})


async def _decide(
    ctx: Context, comment: ModeratedComment, decision: str, reason: str | None, days: int
) -> Response:
    """Carry out a decision: the comment, the person, the reports, the author, the log."""
    repos = ctx.repos
    author = comment.author_user_id
    timers: list[Timer] = []
    until: datetime | None = None
    if decision == "keep":
        if comment.hidden:
            await repos.comments.unhide(comment.id)
    else:
        assert reason is not None
        if comment.hidden:
            # The connector's reason replaces "hidden by reports".
            await repos.comments.unhide(comment.id)
        await repos.comments.hide(comment.id, reason, ctx.now)
    if decision in PERSONAL:
        assert author is not None and reason is not None
        kind = {"warn": SanctionKind.WARNING, "mute": SanctionKind.MUTE}.get(
            decision, SanctionKind.BAN
        )
        until = ctx.now + timedelta(days=days) if kind is SanctionKind.MUTE else None
        sanction, replaced = await repos.sanctions.add(
            author,
            kind,
            reason=reason,
            by_user_id=ctx.user.id,
            now=ctx.now,
            comment_id=comment.id,
            ends_at=until,
        )
        timers = [Timer(job=mute_job(old.id), at=None) for old in replaced if old.ends_at]
        if until is not None:
            timers.append(Timer(job=mute_job(sanction.id), at=until))
    resolved = await repos.reports.resolve(comment.id, ctx.now)
    told = await _tell_author(ctx, comment, decision, reason, until)
    detail: dict[str, object] = {
        "comment": comment.id,
        "idea": comment.idea_id,
        "reports": resolved,
        "author_told": told > 0,
    }
    if decision == "mute":
        detail["days"] = days
    await repos.audit.record(
        AUDIT_ACTIONS[decision],
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"comment:{comment.id}" if decision not in PERSONAL else "user",
        subject_user_id=author,
        detail=detail,
        reason=reason,
    )
    done = Reply(
        key=f"moderation.done_{decision}",
        params={"number": number(comment.idea_id), "period": period(ctx, days)},
    )
    response = await _card_after(ctx, None, notice=done)
    return response.model_copy(update={"timers": timers})


async def _tell_author(
    ctx: Context,
    comment: ModeratedComment,
    decision: str,
    reason: str | None,
    until: datetime | None,
) -> int:
    """Tell the author what was decided about their comment (and them), and why."""

    def build(lang: str) -> list[Reply]:
        params: dict[str, object] = {
            "number": number(comment.idea_id),
            "title": comment.idea_title,
            "comment": excerpt(comment.body, 120),
            "connector": ctx.profile.connector(lang),
        }
        if until is not None:
            params["until"] = moment(ctx, until)
        if decision == "ban":
            params["contact"] = ctx.profile.privacy.contact
        parts = [Reply(key="moderation.told_reason", params={"reason": reason})] if reason else []
        return [
            Reply(
                key=f"moderation.told_{decision}",
                params=params,
                parts=parts,
                buttons=[] if decision == "ban" else [[_idea_button(comment.idea_id)]],
            )
        ]

    return await notify(ctx, [comment.author_user_id], kind="moderation", build=build)


def _idea_button(idea_id: int) -> Button:
    return Button(
        label="moderation.btn_open_idea",
        payload=f"idea.open:{idea_id}",
        params={"number": number(idea_id)},
    )


# Who is muted or banned -------------------------------------------------------------------


@feature.command(
    "beperkingen", "restrictions", role=Role.CONNECTOR, describe="moderation.cmd_active"
)
@feature.action("mod.active", role=Role.CONNECTOR)
async def active(ctx: Context) -> Response:
    """Everyone muted or banned now, with a button to lift it."""
    current = await ctx.repos.sanctions.all_active(ctx.now)
    if not current:
        return respond(menu_reply(ctx, "moderation.none_active"))
    parts = []
    buttons = []
    for sanction in current:
        params: dict[str, object] = {"user": sanction.user_id, "reason": sanction.reason}
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
                    payload=f"mod.lift:{sanction.user_id}",
                    params={"user": sanction.user_id},
                )
            ]
        )
    buttons.append([Button(label="menu.back", payload="menu")])
    return respond(Reply(key="moderation.active_title", parts=parts, buttons=buttons))


@feature.action("mod.lift", role=Role.CONNECTOR)
async def lift(ctx: Context) -> Response:
    """End someone's mute or ban early; they are told."""
    user_id = parse_id(ctx.value)
    if user_id is None:
        return await stale_button(ctx)
    lifted = await ctx.repos.sanctions.lift_all(user_id, by_user_id=ctx.user.id, now=ctx.now)
    if not lifted:
        return respond(menu_reply(ctx, "moderation.nothing_to_lift", user=user_id))

    def build(lang: str) -> list[Reply]:
        return [
            Reply(key="moderation.told_lifted", params={"connector": ctx.profile.connector(lang)})
        ]

    told = await notify(ctx, [user_id], kind="moderation", build=build)
    await ctx.repos.audit.record(
        "user.unrestrict",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject_user_id=user_id,
        detail={"sanctions": [s.id for s in lifted], "author_told": told > 0},
    )
    return respond(
        menu_reply(ctx, "moderation.lifted", user=user_id),
        timers=[Timer(job=mute_job(s.id), at=None) for s in lifted if s.ends_at],
    )


async def expire_mutes(repos: Repositories, now: datetime) -> int:
    """Tell everyone whose mute has ended by ``now``; returns how many.

    The runner of the scheduler's ``mute`` jobs (with :meth:`Sanctions.pending` listing them
    after a restart). Whether someone may post never waits for this: the router reads the
    stored end time.
    """
    async with repos.db.transaction():
        ended = await repos.sanctions.expire_due(now)
        for sanction in ended:
            over = Reply(key="moderation.told_mute_over")
            await repos.outbox.enqueue(
                sanction.user_id, [over.model_dump(mode="json")], kind="moderation", now=now
            )
            await repos.audit.record(
                "user.mute_end",
                now=now,
                subject_user_id=sanction.user_id,
                detail={"sanction": sanction.id},
            )
    return len(ended)


# Who may post: the gate the router runs at every event ------------------------------------


@feature.gate
async def sanctions_and_limits(ctx: Context, target: Target) -> Refusal | None:
    """A ban, a mute or a posting limit that refuses this event, explained; else None.

    Only residents who consented can be restricted (staff never are). A mute is read from
    its stored end time, so one that has ended never blocks anyone. A banned person may
    no longer hold a dialog that is not open to them: it is dropped.
    """
    user = ctx.user
    if not user.consented or user.role is not Role.RESIDENT:
        return None
    policy = target.policy
    sanction = await ctx.repos.sanctions.active(user.id, ctx.now) if ctx.sanctioned else None
    if sanction is not None and sanction.kind is SanctionKind.BAN:
        if policy.open_to_banned:
            return None
        return Refusal(banned_reply(ctx, sanction), drops_dialog=True)
    if policy.posts is None:
        return None
    if sanction is not None:
        return Refusal(muted_reply(ctx, sanction, in_dialog=not target.starts))
    limit = ctx.registry.posting_limits.get(policy.posts)
    if not target.starts or limit is None:
        return None
    most = limit.limit(ctx.profile)
    count, first = await limit.count(ctx.repos, user.id, ctx.now - limit.period)
    if count < most or first is None:
        return None
    return Refusal(posting_limit_reply(ctx, policy.posts, most, first + limit.period))


# Explanations of the gate --------------------------------------------------------------------


def muted_reply(ctx: Context, sanction: Sanction, *, in_dialog: bool) -> Response:
    """Why a muted person cannot post now, and until when (nothing changes)."""
    assert sanction.ends_at is not None
    parts = [Reply(key="moderation.muted_in_dialog")] if in_dialog else []
    return respond(
        Reply(
            key="moderation.muted",
            params={
                "until": moment(ctx, sanction.ends_at),
                "reason": sanction.reason,
                "connector": ctx.profile.connector(ctx.lang),
            },
            parts=parts,
            buttons=ctx.main_menu(),
        )
    )


def banned_reply(ctx: Context, sanction: Sanction) -> Response:
    """What a banned person can still do, and whom to ask."""
    return respond(
        Reply(
            key="moderation.banned",
            params={
                "reason": sanction.reason,
                "connector": ctx.profile.connector(ctx.lang),
                "contact": ctx.profile.privacy.contact,
            },
            buttons=[[Button(label="menu.privacy", payload="privacy")]],
        )
    )


def posting_limit_reply(ctx: Context, posts: str, limit: int, again: datetime) -> Response:
    """Someone posted the most ideas (or comments) a period allows: when they can again."""
    return respond(
        menu_reply(ctx, f"flood.too_many_{posts}s", limit=limit, again=moment(ctx, again))
    )
