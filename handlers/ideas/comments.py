"""Comments: one thread per idea, read by anyone, written by residents who consented.

The thread is the same for everyone, whatever app they use. Names are never shown: a
comment is by "een inwoner", by the connector or by a civil servant (or by "jij").

    card ──reacties──► thread: the latest comments ◄─ oudere / nieuwere ─►
                          ├─ reageren ──► text ──► placed; the thread again
                          ├─ ✏️ n (your own) ──► text ──► changed, marked "bewerkt"
                          ├─ 🗑 n (your own) ──► "sure?" ──► deleted for good
                          └─ 🚩 n ──► report comment n (handlers/staff/reporting.py)
"""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.answers import (
    confirmation,
    excerpt,
    parse_id,
    text_length,
    visible_length,
    whole_number,
    without_controls,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Expects, Feature
from handlers.ideas.browse import not_found_or_removed
from handlers.phrases import number
from handlers.start.menu import stale_button
from storage.ideas.comments import Comment
from storage.ideas.ideas import Idea, IdeaStatus

feature = Feature("comments")
feature.posting_limit(
    "comment",
    period=timedelta(hours=1),
    limit=lambda profile: profile.limits.comments_per_hour,
    count=lambda repos, user_id, since: repos.activity.comments_since(user_id, since),
)

DIALOG = "idea_comment"
PAGE_SIZE = 5
#: The furthest a thread's page goes back (a page past the end shows the oldest comments).
MAX_OFFSET = 999_999
MAX_LENGTH = 1000
_AUTHOR_KEYS = {
    Role.RESIDENT: "comments.line_resident",
    Role.CIVIL_SERVANT: "comments.line_civil_servant",
    Role.CONNECTOR: "comments.line_connector",
    Role.ADMIN: "comments.line_admin",
}


@feature.action("idea.comments", consent=False, role=Role.RESIDENT)
async def show_thread(ctx: Context) -> Response:
    """A page of an idea's thread: ``idea.comments:42`` (latest) or ``idea.comments:42:5``."""
    raw_id, _, raw_offset = ctx.value.partition(":")
    idea_id = parse_id(raw_id)
    offset = whole_number(raw_offset or "0", MAX_OFFSET)
    if idea_id is None or offset is None:
        return await stale_button(ctx)
    idea = await _open_idea(ctx, idea_id)
    if isinstance(idea, Response):
        return idea
    return respond(await thread_reply(ctx, idea, offset))


async def thread_reply(ctx: Context, idea: Idea, offset: int = 0) -> Reply:
    """The thread from ``offset`` newer comments back (a page past the end shows the oldest)."""
    comments = ctx.repos.comments
    page = await comments.latest(idea.id, limit=PAGE_SIZE, offset=offset)
    if not page.comments and page.total:
        offset = (page.total - 1) // PAGE_SIZE * PAGE_SIZE
        page = await comments.latest(idea.id, limit=PAGE_SIZE, offset=offset)
    lines = [_line(ctx, comment, n) for n, comment in enumerate(page.comments, start=1)] or [
        Reply(key="comments.empty")
    ]
    buttons: list[list[Button]] = []
    paging = []
    if page.has_older:
        older = f"idea.comments:{idea.id}:{offset + PAGE_SIZE}"
        paging.append(Button(label="comments.btn_older", payload=older))
    if page.has_newer:
        newer = f"idea.comments:{idea.id}:{max(0, offset - PAGE_SIZE)}"
        paging.append(Button(label="comments.btn_newer", payload=newer))
    if paging:
        buttons.append(paging)
    moved = await _moved_to(ctx, idea)
    if moved is None:
        buttons.append([Button(label="comments.btn_write", payload=f"idea.comment:{idea.id}")])
    else:
        # Merged: its thread stays to read, the talk goes on at the idea it joined.
        lines.append(Reply(key="comments.merged", params={"number": number(moved)}))
        buttons.append([_go_on_at(moved)])
    buttons += rows(_own_buttons(ctx, page.comments), 2)
    buttons += rows(_report_buttons(ctx, page.comments), 3)
    buttons.append(
        [
            Button(
                label="comments.btn_back_to_idea",
                payload=f"idea.open:{idea.id}",
                params={"number": number(idea.id)},
            )
        ]
    )
    return Reply(
        key="comments.title",
        params={"number": number(idea.id), "title": idea.title, "total": page.total},
        parts=lines,
        buttons=buttons,
        original=bool(lines),
    )


def _line(ctx: Context, comment: Comment, n: int) -> Reply:
    if comment.author_user_id is not None and comment.author_user_id == ctx.user.id:
        key = "comments.line_you"
    else:
        key = _AUTHOR_KEYS[comment.author_role or Role.RESIDENT]
    return Reply(
        key=key,
        params={
            "n": n,
            "when": ctx.show_moment(comment.created_at),
            "body": comment.body,
            "connector": ctx.profile.connector(ctx.lang),
        },
        parts=[Reply(key="comments.edited")] if comment.edited_at is not None else [],
    )


def _may_change(ctx: Context, comment: Comment) -> bool:
    """Whether this person still holds the role their comment shows (a civil servant
    whose role ended no longer changes words shown as the municipality's)."""
    return ctx.user.role.allows(comment.author_role or Role.RESIDENT)


def _own_buttons(ctx: Context, comments: list[Comment]) -> list[Button]:
    """Change and delete buttons for each comment on the page this person wrote (change
    only while they hold the role it was written in)."""
    found = []
    for n, comment in enumerate(comments, start=1):
        if comment.author_user_id is None or comment.author_user_id != ctx.user.id:
            continue
        if _may_change(ctx, comment):
            found.append(
                Button(label="comments.btn_edit", payload=f"cm.edit:{comment.id}", params={"n": n})
            )
        found.append(
            Button(label="comments.btn_delete", payload=f"cm.delete:{comment.id}", params={"n": n})
        )
    return found


def _report_buttons(ctx: Context, comments: list[Comment]) -> list[Button]:
    """A report button for each comment on the page a resident did not write themselves
    (staff moderate in /meldingen instead)."""
    if ctx.user.role is not Role.RESIDENT:
        return []
    return [
        Button(label="reporting.btn_report", payload=f"cm.report:{comment.id}", params={"n": n})
        for n, comment in enumerate(comments, start=1)
        if comment.author_user_id is None or comment.author_user_id != ctx.user.id
    ]


@feature.action("idea.comment", posts="comment", role=Role.RESIDENT)
async def begin_comment(ctx: Context) -> Response:
    """Ask for the comment's text."""
    idea_id = parse_id(ctx.value)
    if idea_id is None:
        return await stale_button(ctx)
    idea = await _open_idea(ctx, idea_id, writing=True)
    if isinstance(idea, Response):
        return idea
    return _ask(idea, Dialog(name=DIALOG, step="text", data={"idea": idea.id}))


comment = feature.dialog(
    DIALOG, posts="comment", subject="drafts.subject.comment", role=Role.RESIDENT
)


@comment.step("text", expects=Expects.TEXT)
async def comment_step(ctx: Context, dialog: Dialog) -> Response:
    """The comment's text: 1 to 1,000 characters, placed under the idea (or, for one's own
    comment being changed, in its place)."""
    writing = "comment" not in dialog.data
    idea = await _open_idea(
        ctx, int(dialog.data["idea"]), typed=ctx.text, writing=writing, begun=True
    )
    if isinstance(idea, Response):
        return Response(replies=idea.replies, end_dialog=True)
    if ctx.event.button is not None:
        if ctx.value == "cancel":
            key = "comments.edit_cancelled" if "comment" in dialog.data else "comments.cancelled"
            return respond(Reply(key=key), await thread_reply(ctx, idea), end_dialog=True)
        return _ask(idea, dialog, hint=Reply(key="comments.need_text"))
    if ctx.event.text is None:
        return _ask(idea, dialog, hint=Reply(key="comments.need_text"))
    body = _clean(ctx.text)
    if not visible_length(body):
        return _ask(idea, dialog, hint=Reply(key="comments.empty_text"))
    length = text_length(body)
    if length > MAX_LENGTH:
        hint = Reply(key="comments.too_long", params={"max": MAX_LENGTH, "length": length})
        return _ask(idea, dialog, hint=hint)
    if "comment" in dialog.data:
        mine = await ctx.repos.comments.own(int(dialog.data["comment"]), ctx.user.id)
        if mine is not None and not _may_change(ctx, mine):
            # Their role ended while they typed: what they typed is given back.
            refused = Reply(
                key="comments.edit_role_gone",
                parts=[Reply(key="comments.you_wrote", params={"text": body})],
            )
            return respond(refused, await thread_reply(ctx, idea), end_dialog=True)
        if mine is not None and mine.body == body:
            # The same text again: nothing changed, so it is not marked "bewerkt".
            same = Reply(key="comments.edit_unchanged", params={"number": number(idea.id)})
            return respond(same, await thread_reply(ctx, idea), end_dialog=True)
        changed = await ctx.repos.comments.edit_own(
            int(dialog.data["comment"]), ctx.user.id, body, ctx.now
        )
        done = Reply(
            key="comments.edit_saved" if changed else "comments.edit_gone",
            params={"number": number(idea.id)},
            # Hidden or deleted meanwhile: what they typed is given back, not lost.
            parts=[] if changed else [Reply(key="comments.you_wrote", params={"text": body})],
        )
        return respond(done, await thread_reply(ctx, idea), end_dialog=True)
    await ctx.repos.comments.add(idea.id, ctx.user.id, body, ctx.now)
    return respond(
        Reply(key="comments.added", params={"number": number(idea.id)}),
        await thread_reply(ctx, idea),
        end_dialog=True,
    )


@comment.ask("text")
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The question again, to go on with a comment being written."""
    idea = await _open_idea(ctx, int(dialog.data["idea"]), begun=True)
    if isinstance(idea, Response):
        return Response(replies=idea.replies, end_dialog=True)
    return _ask(idea, dialog)


def _ask(idea: Idea, dialog: Dialog, *, hint: Reply | None = None) -> Response:
    parts = []
    if "current" in dialog.data:
        parts.append(Reply(key="comments.current", params={"text": dialog.data["current"]}))
    question = Reply(
        key="comments.ask_edit" if "comment" in dialog.data else "comments.ask",
        params={"number": number(idea.id), "title": idea.title, "max": MAX_LENGTH},
        parts=parts,
        buttons=[[dialog.button("comments.btn_cancel", "cancel")]],
    )
    return respond(*([hint] if hint else []), question, dialog=dialog)


async def _own_comment(ctx: Context) -> tuple[Comment, Idea] | Response:
    """One's own visible comment under a visible idea, or why it cannot be changed."""
    comment_id = parse_id(ctx.value)
    found = await ctx.repos.comments.own(comment_id, ctx.user.id) if comment_id else None
    if found is None:
        return respond(Reply(key="comments.not_yours", buttons=ctx.main_menu()))
    idea = await _open_idea(ctx, found.idea_id)
    if isinstance(idea, Response):
        return idea
    return found, idea


@feature.action("cm.edit", changes="comment", role=Role.RESIDENT)
async def begin_edit(ctx: Context) -> Response:
    """``cm.edit:<id>``: change the text of one's own comment."""
    found = await _own_comment(ctx)
    if isinstance(found, Response):
        return found
    mine, idea = found
    if not _may_change(ctx, mine):
        return respond(Reply(key="comments.edit_role_gone"), await thread_reply(ctx, idea))
    dialog = Dialog(
        name=DIALOG,
        step="text",
        data={"idea": idea.id, "comment": mine.id, "current": mine.body},
    )
    return _ask(idea, dialog)


@feature.action("cm.delete", role=Role.RESIDENT)
async def delete(ctx: Context) -> Response:
    """``cm.delete:<id>``: delete one's own comment for good, after a question that says so."""
    found = await _own_comment(ctx)
    if isinstance(found, Response):
        return found
    mine, idea = found
    if not ctx.confirmed:
        return respond(
            confirmation(
                "comments.delete_confirm",
                yes=Button(label="comments.btn_delete_yes", payload=f"cm.delete:{mine.id}"),
                no=Button(
                    label="comments.btn_delete_no",
                    payload=f"idea.comments:{idea.id}",
                ),
                number=number(idea.id),
                body=excerpt(mine.body, 100),
            )
        )
    deleted = await ctx.repos.comments.delete_own(mine.id, ctx.user.id)
    done = Reply(key="comments.deleted" if deleted else "comments.not_yours")
    return respond(done, await thread_reply(ctx, idea))


async def _open_idea(
    ctx: Context, idea_id: int, *, typed: str = "", writing: bool = False, begun: bool = False
) -> Idea | Response:
    """The idea, or the friendly answer when it does not exist or was withdrawn or removed
    (or, to write a new comment, was merged into another: the talk goes on there).

    A comment typed for an idea removed or merged meanwhile is given back, so nothing is
    lost. ``begun``: a comment was begun for it, so an idea gone altogether meanwhile (its
    sender erased it with their data) was there: it is removed, not a number to check.
    """
    idea = await ctx.repos.ideas.get(idea_id)
    refusal: Reply | None = None
    if idea is None:
        key = "comments.idea_removed" if begun else "ideas.not_found"
        refusal = not_found_or_removed(key, number(idea_id))
    elif idea.removed:
        # Withdrawn by whoever sent it in, as its card says (to them: by them), or removed.
        key = "ideas.withdrawn_card" if idea.withdrawn else "comments.idea_removed"
        if idea.withdrawn and idea.author_user_id == ctx.user.id:
            key = "ideas.withdrawn_yours"
        refusal = not_found_or_removed(key, number(idea.id))
    elif writing and (moved := await _moved_to(ctx, idea)) is not None:
        refusal = Reply(
            key="comments.merged", params={"number": number(moved)}, buttons=[[_go_on_at(moved)]]
        )
    if refusal is None:
        assert idea is not None
        return idea
    if typed:
        return respond(Reply(key="comments.not_placed", params={"text": typed}), refusal)
    return respond(refusal)


async def _moved_to(ctx: Context, idea: Idea) -> int | None:
    """The idea a merged idea's talk goes on at (None: it was not merged, or the idea it
    joined is gone since, withdrawn or removed: then the talk goes on here, as before)."""
    if idea.status != IdeaStatus.MERGED:
        return None
    into = await ctx.repos.ideas.merged_into(idea.id)
    joined = await ctx.repos.ideas.get(into) if into is not None else None
    return into if joined is not None and not joined.removed else None


def _go_on_at(idea_id: int) -> Button:
    return Button(
        label="comments.btn_go_on_at",
        payload=f"idea.comments:{idea_id}",
        params={"number": number(idea_id)},
    )


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in without_controls(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
