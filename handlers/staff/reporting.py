"""Reporting a comment or an idea: a resident flags what does not belong here.

Each comment in the thread view and each idea's card has a report button
(``handlers/ideas/comments.py``, ``handlers/ideas/browse.py``). One report per person per
comment or idea. When the profile's ``report_threshold`` of open reports is reached, it is
hidden until the connector decides (``handlers/community/moderation.py``); its author is
told, and when the connector has decided, so is everyone who reported it.

    thread or card ──🚩──► why? spam | schelden/beledigend | persoonlijke gegevens ──► thanks
                                └─ anders ──► typed reason ─────────────────────────► thanks
"""

from __future__ import annotations

from handlers.answers import parse_id, read_text
from handlers.community.moderation import HIDDEN_BY_REPORTS, told_params
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Expects, Feature
from handlers.notices import notify
from handlers.phrases import number
from handlers.start.menu import stale_button
from storage.community.moderation import ReportReason
from storage.community.reports import Flag, Flagged
from storage.ideas.ideas import Removal

feature = Feature("reporting")

DIALOG = "report"
MAX_NOTE = 300


class Subject:
    """A kind of thing residents can report: its payloads, its words, how it is hidden."""

    #: What it is (the reports of each are kept apart).
    kind: Flag
    #: The payload names: ``<prefix>.report:<id>`` and ``<prefix>.rep:<id>:<reason>``.
    prefix: str
    #: Where its words are: ``<texts>.ask_reason``, ``.own``, ``.already_hidden``...
    texts: str

    async def hide(self, ctx: Context, target: Flagged) -> bool:
        """Hide it until the connector decides; False if it was hidden already."""
        raise NotImplementedError

    def told(self, ctx: Context, lang: str, target: Flagged) -> Reply:
        """What its author is told when reports hid it."""
        raise NotImplementedError

    def back(self, target: Flagged) -> Button:
        """Back to where the report button was."""
        raise NotImplementedError


class CommentSubject(Subject):
    kind = Flag.COMMENT
    prefix = "cm"
    texts = "reporting"

    async def hide(self, ctx: Context, target: Flagged) -> bool:
        return await ctx.repos.comments.hide(target.id, HIDDEN_BY_REPORTS, ctx.now)

    def told(self, ctx: Context, lang: str, target: Flagged) -> Reply:
        return Reply(key="moderation.told_auto_hidden", params=told_params(ctx, lang, target))

    def back(self, target: Flagged) -> Button:
        return Button(label="reporting.btn_back", payload=f"idea.comments:{target.idea_id}")


class IdeaSubject(Subject):
    kind = Flag.IDEA
    prefix = "idea"
    texts = "reporting.idea"

    async def hide(self, ctx: Context, target: Flagged) -> bool:
        return await ctx.repos.ideas.remove(target.id, ctx.now, how=Removal.REPORTS)

    def told(self, ctx: Context, lang: str, target: Flagged) -> Reply:
        return Reply(key="moderation.idea.told_auto_hidden", params=told_params(ctx, lang, target))

    def back(self, target: Flagged) -> Button:
        return Button(
            label="reporting.idea.btn_back",
            payload=f"idea.open:{target.id}",
            params={"number": number(target.id)},
        )


SUBJECTS = {subject.kind.value: subject for subject in (CommentSubject(), IdeaSubject())}


def _start(subject: Subject) -> None:
    """Register the two buttons of a subject: report it, and the reason chosen."""

    async def report(ctx: Context) -> Response:
        """``<prefix>.report:<id>``: ask why this is reported."""
        target = await _reportable(ctx, subject, parse_id(ctx.value))
        if isinstance(target, Response):
            return target
        buttons = [
            [
                Button(
                    label=f"reporting.reason.{reason.value}",
                    payload=f"{subject.prefix}.rep:{target.id}:{reason.value}",
                )
            ]
            for reason in ReportReason
        ]
        buttons.append([_back(subject, target, cancel=True)])
        return respond(
            Reply(
                key=f"{subject.texts}.ask_reason",
                params=told_params(ctx, ctx.lang, target),
                buttons=buttons,
            )
        )

    async def choose_reason(ctx: Context) -> Response:
        """``<prefix>.rep:<id>:<reason>``: store the report, or ask for words for "anders"."""
        raw_id, _, raw_reason = ctx.value.partition(":")
        if raw_reason not in {reason.value for reason in ReportReason}:
            return await stale_button(ctx)
        target = await _reportable(ctx, subject, parse_id(raw_id))
        if isinstance(target, Response):
            return target
        reason = ReportReason(raw_reason)
        if reason is ReportReason.OTHER:
            data = {"kind": subject.kind.value, "id": target.id}
            return _ask_note(subject, target, Dialog(name=DIALOG, step="note", data=data))
        return await _store(ctx, subject, target, reason, None)

    feature.action(f"{subject.prefix}.report", role=Role.RESIDENT)(report)
    feature.action(f"{subject.prefix}.rep", role=Role.RESIDENT)(choose_reason)


for _subject in SUBJECTS.values():
    _start(_subject)


def _ask_note(
    subject: Subject, target: Flagged, dialog: Dialog, hint: Reply | None = None
) -> Response:
    question = Reply(
        key="reporting.ask_note",
        params={"max": MAX_NOTE},
        buttons=[[dialog.button("reporting.btn_cancel", "cancel")]],
    )
    return respond(*([hint] if hint else []), question, dialog=dialog)


note = feature.dialog(DIALOG, role=Role.RESIDENT, subject="drafts.subject.report")


async def _reported(ctx: Context, dialog: Dialog) -> tuple[Subject, Flagged] | Response:
    """What the open note is about, if it can still be reported; else why not (the dialog
    ends)."""
    # A dialog stored before ideas could be reported holds {"comment": id}.
    subject = SUBJECTS.get(str(dialog.data.get("kind", "comment")))
    item_id = dialog.data.get("id", dialog.data.get("comment"))
    if subject is None or not isinstance(item_id, int):
        return Response(replies=(await stale_button(ctx)).replies, end_dialog=True)
    target = await _reportable(ctx, subject, item_id)
    if isinstance(target, Response):
        return Response(replies=target.replies, end_dialog=True)
    return subject, target


@note.ask("note")
async def ask_note(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew), while the thing can still be reported."""
    reported = await _reported(ctx, dialog)
    if isinstance(reported, Response):
        return reported
    return _ask_note(*reported, dialog)


@note.step("note", expects=Expects.TEXT)
async def note_step(ctx: Context, dialog: Dialog) -> Response:
    """The resident's own words for why they report it."""
    reported = await _reported(ctx, dialog)
    if isinstance(reported, Response):
        return reported
    subject, target = reported
    if ctx.event.button is not None:
        if ctx.value == "cancel":
            cancelled = Reply(key="reporting.cancelled", buttons=[[_back(subject, target)]])
            return respond(cancelled, end_dialog=True)
        return _ask_note(subject, target, dialog, Reply(key="answers.use_buttons_or_type"))
    words = read_text(ctx, MAX_NOTE, min_length=3)
    if isinstance(words, Reply):
        return _ask_note(subject, target, dialog, words)
    stored = await _store(ctx, subject, target, ReportReason.OTHER, words)
    return stored.model_copy(update={"end_dialog": True})


def _back(subject: Subject, target: Flagged, *, cancel: bool = False) -> Button:
    """The way back to where the report button was (labelled "Toch niet melden" to cancel)."""
    back = subject.back(target)
    return back.model_copy(update={"label": "reporting.btn_cancel"}) if cancel else back


async def _reportable(ctx: Context, subject: Subject, item_id: int | None) -> Flagged | Response:
    """The thing if this person can report it, else the friendly answer why not."""
    if item_id is None:
        return await stale_button(ctx)
    target = await ctx.repos.reports.flagged(subject.kind, item_id)
    if target is None or target.gone:
        return respond(Reply(key=f"{subject.texts}.gone"))
    back = [[_back(subject, target)]]
    if target.author_user_id == ctx.user.id:
        return respond(Reply(key=f"{subject.texts}.own", buttons=back))
    if target.hidden:
        return respond(Reply(key=f"{subject.texts}.already_hidden", buttons=back))
    if await ctx.repos.reports.has_reported(subject.kind, target.id, ctx.user.id):
        return respond(Reply(key=f"{subject.texts}.already", buttons=back))
    return target


async def _store(
    ctx: Context, subject: Subject, target: Flagged, reason: ReportReason, words: str | None
) -> Response:
    back = [[_back(subject, target)]]
    reports = ctx.repos.reports
    if not await reports.add(subject.kind, target.id, ctx.user.id, reason, ctx.now, note=words):
        return respond(Reply(key=f"{subject.texts}.already", buttons=back))
    count = await reports.open_count(subject.kind, target.id)
    if count >= ctx.profile.limits.report_threshold:
        await _hide_for_review(ctx, subject, target, count)
    return respond(
        Reply(
            key="reporting.thanks",
            params={"connector": ctx.profile.connector(ctx.lang)},
            buttons=back,
        )
    )


async def _hide_for_review(ctx: Context, subject: Subject, target: Flagged, count: int) -> None:
    """Enough people reported it: hide it until the connector decides; tell its author.

    Logged as the bot's doing, not the last reporter's: who reported stays unknown.
    """
    if not await subject.hide(ctx, target):
        return

    def build(lang: str) -> list[Reply]:
        return [subject.told(ctx, lang, target)]

    told = await notify(ctx, [target.author_user_id], kind="moderation", build=build)
    await ctx.repos.audit.record(
        f"{subject.kind.value}.auto_hide",
        now=ctx.now,
        subject=f"{subject.kind.value}:{target.id}",
        subject_user_id=target.author_user_id,
        detail={
            subject.kind.value: target.id,
            "idea": target.idea_id,
            "reports": count,
            "author_told": told > 0,
        },
    )
