"""Reporting a comment: a resident flags what does not belong in a thread.

Each comment in the thread view has a report button (``handlers/comments.py``). One report
per person per comment. When the profile's ``report_threshold`` of open reports is reached,
the comment is hidden until the connector decides (``handlers/moderation.py``); its author
is told.

    thread ──🚩 n──► why? spam | schelden/beledigend | persoonlijke gegevens ──► thanks
                          └─ anders ──► typed reason ──────────────────────────► thanks
"""

from __future__ import annotations

from handlers.answers import excerpt, parse_id, read_text
from handlers.community.moderation import HIDDEN_BY_REPORTS
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from handlers.notices import notify
from handlers.phrases import number
from handlers.start.menu import stale_button
from storage.community.moderation import ModeratedComment, ReportReason

feature = Feature("reporting")

DIALOG = "report"
MAX_NOTE = 300


@feature.action("cm.report", role=Role.RESIDENT)
async def report(ctx: Context) -> Response:
    """``cm.report:<comment>``: ask why this comment is reported."""
    comment = await _reportable(ctx, parse_id(ctx.value))
    if isinstance(comment, Response):
        return comment
    buttons = [
        [
            Button(
                label=f"reporting.reason.{reason.value}",
                payload=f"cm.rep:{comment.id}:{reason.value}",
            )
        ]
        for reason in ReportReason
    ]
    buttons.append([_back(comment, "reporting.btn_cancel")])
    return respond(
        Reply(
            key="reporting.ask_reason",
            params={"number": number(comment.idea_id), "comment": excerpt(comment.body, 120)},
            buttons=buttons,
        )
    )


@feature.action("cm.rep", role=Role.RESIDENT)
async def choose_reason(ctx: Context) -> Response:
    """``cm.rep:<comment>:<reason>``: store the report, or ask for words for "anders"."""
    raw_id, _, raw_reason = ctx.value.partition(":")
    if raw_reason not in {reason.value for reason in ReportReason}:
        return await stale_button(ctx)
    comment = await _reportable(ctx, parse_id(raw_id))
    if isinstance(comment, Response):
        return comment
    reason = ReportReason(raw_reason)
    if reason is ReportReason.OTHER:
        dialog = Dialog(name=DIALOG, step="note", data={"comment": comment.id})
        return _ask_note(comment, dialog)
    return await _store(ctx, comment, reason, None)


def _ask_note(comment: ModeratedComment, dialog: Dialog, hint: Reply | None = None) -> Response:
    question = Reply(
        key="reporting.ask_note",
        params={"max": MAX_NOTE},
        buttons=[[dialog.button("reporting.btn_cancel", "cancel")]],
    )
    return respond(*([hint] if hint else []), question, dialog=dialog)


reporting = feature.dialog(DIALOG, role=Role.RESIDENT)


@reporting.step("note")
async def note_step(ctx: Context, dialog: Dialog) -> Response:
    """The resident's own words for why they report the comment."""
    comment = await _reportable(ctx, int(dialog.data["comment"]))
    if isinstance(comment, Response):
        return Response(replies=comment.replies, end_dialog=True)
    if ctx.event.button is not None:
        if ctx.value == "cancel":
            return respond(
                Reply(
                    key="reporting.cancelled",
                    buttons=[[_back(comment, "reporting.btn_back")]],
                ),
                end_dialog=True,
            )
        return _ask_note(comment, dialog, Reply(key="answers.use_buttons_or_type"))
    note = read_text(ctx, MAX_NOTE, min_length=3)
    if isinstance(note, Reply):
        return _ask_note(comment, dialog, note)
    return (await _store(ctx, comment, ReportReason.OTHER, note)).model_copy(
        update={"end_dialog": True}
    )


async def _reportable(ctx: Context, comment_id: int | None) -> ModeratedComment | Response:
    """The comment if this person can report it, else the friendly answer why not."""
    if comment_id is None:
        return await stale_button(ctx)
    comment = await ctx.repos.reports.comment(comment_id)
    idea = await ctx.repos.ideas.get(comment.idea_id) if comment else None
    if comment is None or idea is None or idea.removed:
        return respond(Reply(key="reporting.gone"))
    if comment.author_user_id == ctx.user.id:
        return respond(
            Reply(key="reporting.own", buttons=[[_back(comment, "reporting.btn_back")]])
        )
    if comment.hidden:
        return respond(
            Reply(key="reporting.already_hidden", buttons=[[_back(comment, "reporting.btn_back")]])
        )
    if await ctx.repos.reports.has_reported(comment.id, ctx.user.id):
        return respond(
            Reply(key="reporting.already", buttons=[[_back(comment, "reporting.btn_back")]])
        )
    return comment


async def _store(
    ctx: Context, comment: ModeratedComment, reason: ReportReason, note: str | None
) -> Response:
    repos = ctx.repos
    if not await repos.reports.add(comment.id, ctx.user.id, reason, ctx.now, note=note):
        return respond(
            Reply(key="reporting.already", buttons=[[_back(comment, "reporting.btn_back")]])
        )
    count = await repos.reports.open_count(comment.id)
    if count >= ctx.profile.limits.report_threshold:
        await _hide_for_review(ctx, comment, count)
    return respond(
        Reply(
            key="reporting.thanks",
            params={"connector": ctx.profile.connector(ctx.lang)},
            buttons=[[_back(comment, "reporting.btn_back")]],
        )
    )


async def _hide_for_review(ctx: Context, comment: ModeratedComment, count: int) -> None:
    """Enough people reported it: hide it until the connector decides; tell its author."""
    if not await ctx.repos.comments.hide(comment.id, HIDDEN_BY_REPORTS, ctx.now):
        return

    def build(lang: str) -> list[Reply]:
        return [
            Reply(
                key="moderation.told_auto_hidden",
                params={
                    "number": number(comment.idea_id),
                    "title": comment.idea_title,
                    "comment": excerpt(comment.body, 120),
                    "connector": ctx.profile.connector(lang),
                },
            )
        ]

    told = await notify(ctx, [comment.author_user_id], kind="moderation", build=build)
    await ctx.repos.audit.record(
        "comment.auto_hide",
        now=ctx.now,
        subject=f"comment:{comment.id}",
        subject_user_id=comment.author_user_id,
        detail={
            "comment": comment.id,
            "idea": comment.idea_id,
            "reports": count,
            "author_told": told > 0,
        },
    )


def _back(comment: ModeratedComment, label: str) -> Button:
    return Button(label=label, payload=f"idea.comments:{comment.idea_id}")
