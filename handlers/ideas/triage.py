"""Triage: the connector's queue of new ideas and experiment proposals, one card at a time.

This module is the triage desk (``/wachtrij``, its queue and its dialog, on the review
pipeline of :mod:`handlers.review`) and its ideas; proposals are the other kind of item on
it (:mod:`handlers.experiments.triage`). Every decision can carry a reason (required for
"niet haalbaar" and "afgewezen"); it is kept in the history, written to the audit log, and
sent to the submitter and every follower in their own language (outbox, kind ``status``).
Which status may follow which is written down once, in :mod:`storage.ideas.statuses`.

    /wachtrij ──► card of the oldest undecided idea or proposal
      idea: in behandeling | quick win ──► experiment: title, summary, preview (once per idea)
            | agenda ──► theme | afdeling ──► department | niet haalbaar
            | samenvoegen ──► #n | verbinden met #n (handlers/community/connections.py)
            | later ──► next card
          └──► reason (typed, or "geen toelichting" where optional)
                 ──► saved + history + audit log + notifications ──► next card
    /wachtrij 12 (or #12, v3): that idea's (proposal's) card, decided or not: heropenen
    /wachtrij 12 of an idea residents' reports hid: it waits for /meldingen first

A reason typed for an item that went or changed meanwhile is given back (the desk does so).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from handlers.answers import excerpt, parse_id
from handlers.community import moderation
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.experiments import launch
from handlers.experiments.triage import Proposals
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.ideas.browse import card_params, history_lines
from handlers.phrases import number, phrase
from handlers.profile import Named
from handlers.review import (
    REOPEN,
    Again,
    Changed,
    Desk,
    Ref,
    StatusKind,
    Step,
    fingerprint,
    reads,
    reason_parts,
)
from handlers.start.menu import stale_button
from storage import graphemes
from storage.experiments.experiments import Experiment
from storage.ideas.ideas import Idea, IdeaError, IdeaStatus, Removal, StatusChange
from storage.ideas.triage import ItemKind, QueueItem

feature = Feature("triage")
feature.menu_entry("triage.menu", "tri", order=64, role=Role.CONNECTOR)

SIMILAR = 4
THEME, DEPARTMENT, MERGE = "theme", "department", "merge"


class Ideas(StatusKind[Idea, IdeaStatus]):
    """Residents' ideas (``i12``, also typed as ``12`` or ``#12``)."""

    name = "idea"
    letters = "i"
    section = "ideas"
    choices = (
        IdeaStatus.IN_REVIEW,
        IdeaStatus.QUICK_WIN,
        IdeaStatus.ADOPTED,
        IdeaStatus.FORWARDED,
        IdeaStatus.NOT_FEASIBLE,
        IdeaStatus.MERGED,
    )
    reason_required = frozenset({IdeaStatus.NOT_FEASIBLE})
    detail_steps: ClassVar[dict[str, str]] = {
        IdeaStatus.QUICK_WIN.value: launch.TITLE,
        IdeaStatus.ADOPTED.value: THEME,
        IdeaStatus.FORWARDED.value: DEPARTMENT,
        IdeaStatus.MERGED.value: MERGE,
    }

    def status(self, item: Idea) -> IdeaStatus:
        return item.status

    def item_id(self, item: Idea) -> int:
        return item.id

    async def load(self, ctx: Context, item_id: int) -> Idea | None:
        idea = await ctx.repos.ideas.get(item_id)
        return None if idea is None or idea.removed else idea

    async def missing(self, ctx: Context, item_id: int) -> Response:
        idea = await ctx.repos.ideas.get(item_id)
        if idea is not None and idea.removal is Removal.REPORTS:
            # Residents' reports hid it: moderation decides first whether it may stay.
            return respond(
                Reply(
                    key="triage.idea_reported",
                    params={"number": number(idea.id)},
                    buttons=[
                        [moderation.reports_button(idea.id)],
                        [Button(label="menu.back", payload="menu")],
                    ],
                )
            )
        if idea is not None and idea.removal is Removal.HIDDEN:
            # Hidden by the connector (moderation): it can be shown again.
            return respond(
                Reply(
                    key="triage.idea_hidden",
                    params={"number": number(idea.id), "reason": idea.removal_reason or ""},
                    buttons=[
                        [Button(label="triage.btn_restore", payload=f"mod.restore:{idea.id}")],
                        [Button(label="menu.back", payload="menu")],
                    ],
                )
            )
        return respond(menu_reply(ctx, "triage.idea_not_found", id=item_id))

    async def opening(self, ctx: Context, item: Idea, decision: str) -> str | None:
        # A quick win again (after reopening) is the experiment it became: never a second.
        quick = decision == IdeaStatus.QUICK_WIN.value
        if quick and await ctx.repos.experiments.of_idea(item.id) is not None:
            return self.desk.reason_step
        return self.first_step(item, decision)

    writes = launch.WRITES

    def written(self, data: dict[str, Any]) -> list[Reply]:
        return launch.written(data)

    async def changed(
        self, ctx: Context, item: Idea, dialog: Dialog, text: str | None
    ) -> Response | None:
        refused = await super().changed(ctx, item, dialog, text)
        if refused is not None or not dialog.data.get(launch.TITLE):
            return refused
        experiment = await ctx.repos.experiments.of_idea(item.id)
        return launch.named_meanwhile(ctx, dialog, experiment, await self.card(ctx, item))

    def begin_data(self, ctx: Context, item: Idea, decision: str) -> dict[str, Any]:
        return {"neighbourhood": item.neighbourhood}

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        question = await super().reason_question(ctx, dialog)
        if dialog.data["decision"] != IdeaStatus.QUICK_WIN.value:
            return question
        experiment = await ctx.repos.experiments.of_idea(int(dialog.data["id"]))
        return launch.again(ctx, question, experiment)

    def words(self, item: Idea) -> str:
        # While it is new, its author may change the idea as the connector decides.
        fields = [item.category, item.title, item.description, item.neighbourhood]
        return fingerprint(*fields, item.photo_id)

    def edited(self, item: Idea) -> Reply:
        return Reply(key="triage.edited_meanwhile", params={"number": number(item.id)})

    async def card(self, ctx: Context, item: Idea) -> Reply:
        # A reason goes to the author as typed: the language they read, where not Dutch.
        parts: list[Reply] = [*await reads(ctx, item.author_user_id)]
        parts.append(Reply(key="ideas.card_history"))
        for change in await ctx.repos.ideas.history(item.id):
            parts.extend(history_lines(ctx, change))
        experiment = await ctx.repos.experiments.of_idea(item.id)
        if experiment is not None:
            parts.append(
                Reply(key="triage.card_experiment", params={"title": experiment.title(ctx.lang)})
            )
        alike = await _similar(ctx, item)
        if alike:
            parts.append(Reply(key="triage.card_similar"))
        connect: list[list[Button]] = []
        for other in alike:
            parts.append(
                Reply(
                    key="triage.similar_line",
                    params={
                        "number": number(other.id),
                        "title": other.title,
                        "status": self.label(ctx, other.status.value),
                        "supporters": other.supporters,
                    },
                )
            )
            authors = {item.author_user_id, other.author_user_id}
            if None not in authors and len(authors) == 2:
                connect.append(
                    [
                        Button(
                            label="triage.btn_connect",
                            payload=f"tri.connect:{item.id}:{other.id}",
                            params={"number": number(other.id)},
                        )
                    ]
                )
        buttons = [
            *self.decision_buttons(item),
            *connect,
            [
                Button(
                    label="triage.btn_public_card",
                    payload=f"idea.open:{item.id}",
                    params={"number": number(item.id)},
                ),
                self.desk.later_button(self.name, item.id),
            ],
            [Button(label="menu.back", payload="menu")],
        ]
        return Reply(
            key="triage.idea_card",
            params={"waiting": await ctx.repos.triage.waiting(), **card_params(ctx, item)},
            parts=parts,
            buttons=buttons,
        )

    def author(self, item: Idea) -> int | None:
        return item.author_user_id

    def made(self, item: Idea) -> datetime:
        return item.created_at

    async def followers(self, ctx: Context, item: Idea) -> list[int]:
        return await ctx.repos.ideas.followers(item.id)

    async def change(
        self, ctx: Context, item: Idea, dialog: Dialog, status: IdeaStatus, reason: str | None
    ) -> Changed | Again:
        data = dialog.data
        repos = ctx.repos
        reopening = data["decision"] == REOPEN
        detail: dict[str, Any] = {}
        target: Idea | None = None
        if status == IdeaStatus.MERGED:
            try:
                merge = await repos.triage.merge(
                    item.id, int(data["into"]), now=ctx.now, by_user_id=ctx.user.id, reason=reason
                )
            except IdeaError:
                return Again(MERGE, Reply(key="triage.merge_gone"))
            change = merge.change
            target = await repos.ideas.get(int(data["into"]))
            detail.update(
                into=int(data["into"]),
                supports_moved=merge.supports_moved,
                follows_moved=merge.follows_moved,
            )
        else:
            change = await repos.triage.set_idea_status(
                item.id,
                status,
                now=ctx.now,
                by_user_id=ctx.user.id,
                reason=reason,
                theme=data.get("theme"),
                department=data.get("department"),
                reopen=reopening,
            )
            detail.update({k: data[k] for k in ("theme", "department") if data.get(k)})
        experiment: Experiment | None = None
        if status == IdeaStatus.QUICK_WIN:
            # A quick win becomes an experiment residents can join, linked to its idea; one
            # marked again after reopening is the experiment it became then.
            experiment = await repos.experiments.of_idea(item.id)
            if experiment is None:
                experiment = await launch.start(ctx, dialog)
                await repos.experiments.link_idea(experiment.id, item.id)
            detail["experiment"] = experiment.id

        def build(lang: str, own: bool) -> list[Reply]:
            return [_notice(ctx, lang, item, change, reopening, target, experiment, own)]

        return Changed(detail, build)


async def _similar(ctx: Context, idea: Idea) -> list[Idea]:
    found = await ctx.repos.ideas.similar(f"{idea.title}\n{idea.description}", limit=SIMILAR + 1)
    return [other for other in found if other.id != idea.id][:SIMILAR]


def _notice(
    ctx: Context,
    lang: str,
    idea: Idea,
    change: StatusChange,
    reopening: bool,
    target: Idea | None,
    experiment: Experiment | None,
    own: bool,
) -> Reply:
    """The message its author (``own``) or a follower gets, in ``lang``: what happened,
    why, and where to look."""
    theme = ctx.profile.theme(change.theme)
    department = ctx.profile.department(change.department)
    params: dict[str, Any] = {
        "number": number(idea.id),
        "title": idea.title,
        "connector": ctx.profile.connector(lang),
        "theme": theme.name(lang) if theme else "",
        "department": department.name(lang) if department else "",
        "merged": number(target.id) if target else "",
        "merged_title": target.title if target else "",
        "experiment": experiment.title(lang) if experiment else "",
    }
    key = (
        "triage.idea_notice.reopened" if reopening else f"triage.idea_notice.{change.status.value}"
    )
    buttons = [[_open_idea(idea.id)]]
    if target is not None:
        buttons.insert(0, [_open_idea(target.id)])
    if experiment is not None and experiment.status == "running":
        buttons.insert(0, [Button(label="triage.btn_join", payload=f"exp.join:{experiment.id}")])
    elif experiment is not None and not reopening:
        # Marked again after its experiment ended: said so, not "choose Doe mee" without
        # the button.
        key = "triage.idea_notice.quick_win_ended"
    why = "triage.notice_why_own" if own else "triage.notice_why"
    return Reply(
        key=key, params=params, parts=reason_parts(ctx, lang, change.reason, why), buttons=buttons
    )


def _open_idea(idea_id: int) -> Button:
    return Button(
        label="triage.btn_open_idea",
        payload=f"idea.open:{idea_id}",
        params={"number": number(idea_id)},
    )


# The steps between an idea's status and the reason ------------------------------------------


def _what(ctx: Context, dialog: Dialog) -> str:
    return phrase(ctx, "triage.item_idea", id=dialog.data["id"])


def _named(key: str, field: str, choices: Callable[[Context], list[Named]]) -> Step:
    """A step that picks one of the profile's named things (a theme, a department)."""

    async def ask(ctx: Context, dialog: Dialog) -> Reply:
        buttons = [dialog.raw_button(n.name(ctx.lang), n.id) for n in choices(ctx)]
        return Reply(key=key, params={"what": _what(ctx, dialog)}, buttons=rows(buttons))

    async def answer(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
        found = next((n for n in choices(ctx) if n.id == choice), None)
        if found is None:
            return Reply(key="answers.use_buttons")
        return dialog.to("reason", **{field: found.id})

    return Step(ask, answer)


async def _ask_merge(ctx: Context, dialog: Dialog) -> Reply:
    idea = await ctx.repos.ideas.get(int(dialog.data["id"]))
    buttons: list[list[Button]] = []
    for other in await _similar(ctx, idea) if idea is not None else []:
        label = f"#{number(other.id)} {excerpt(other.title, 40)}"
        buttons.append([dialog.raw_button(label, str(other.id))])
    return Reply(key="triage.ask_merge", params={"what": _what(ctx, dialog)}, buttons=buttons)


async def _merge(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
    """The idea to merge with: a button, or a number typed as ``15`` or ``#15``."""
    typed = choice if choice is not None else ctx.text.lstrip("#")
    target_id = parse_id(typed)
    target = await ctx.repos.ideas.get(target_id) if target_id else None
    if target is None:
        return Reply(key="triage.merge_unknown", params={"typed": graphemes.cut(typed, 20)})
    if target.removed:
        # Withdrawn by its sender, hidden or removed: an idea, but none to merge with.
        return Reply(key="triage.merge_out_of_view", params={"number": number(target.id)})
    if target.id == int(dialog.data["id"]):
        return Reply(key="triage.merge_self")
    if target.status == IdeaStatus.MERGED:
        # The idea it went into is named: that is the one to choose.
        into = await ctx.repos.ideas.merged_into(target.id)
        shown = number(into) if into is not None else "?"
        return Reply(
            key="triage.merge_merged", params={"number": number(target.id), "into": shown}
        )
    return dialog.to("reason", into=target.id)


Ideas.steps = {
    THEME: _named("triage.ask_theme", "theme", lambda ctx: ctx.profile.themes),
    DEPARTMENT: _named("triage.ask_department", "department", lambda ctx: ctx.profile.departments),
    # An idea's number typed ("15") is that idea, never the 15th button.
    MERGE: Step(_ask_merge, _merge, Expects.NUMBER),
    **launch.STEPS,
}


# The desk and its queue ---------------------------------------------------------------------


async def _queue(ctx: Context, after: Ref | None, *, new_only: bool = False) -> Ref | None:
    """The oldest waiting item after ``after``: ideas and proposals in one queue (with
    ``new_only``, only those nobody decided anything about yet)."""
    cursor = None
    if after is not None:
        item = await desk.kinds[after.kind].load(ctx, after.id)
        if item is not None:
            cursor = QueueItem(kind=ItemKind(after.kind), id=item.id, created_at=item.created_at)
    found = await ctx.repos.triage.next_item(cursor, new_only=new_only)
    return Ref(found.kind.value, found.id) if found is not None else None


async def _new(ctx: Context, after: Ref | None) -> Ref | None:
    """The oldest item after ``after`` that is still new ("ingediend")."""
    return await _queue(ctx, after, new_only=True)


async def _rest(ctx: Context) -> Reply:
    """Nothing new left: how many are still "in behandeling", and the way to them."""
    in_review = await ctx.repos.triage.in_review()
    if not in_review:
        return menu_reply(ctx, "triage.empty")
    return Reply(
        key="triage.all_seen",
        params={"count": in_review},
        buttons=[
            [Button(label="triage.btn_in_review", payload="tri")],
            [Button(label="menu.back", payload="menu")],
        ],
    )


async def _after(ctx: Context, ref: Ref, done: Reply) -> Response:
    """After a decision: the next new card after the item decided; past the end, the
    oldest new one. Items "in behandeling" wait until the connector asks for them (the
    rest's button, or /wachtrij): otherwise one just decided would come round again."""
    return await desk.onwards(ctx, ref, done)


desk = Desk(
    feature,
    name="triage",
    dialog="triage",
    role=Role.CONNECTOR,
    kinds=[Ideas(), Proposals()],
    after=_after,
    queue=_queue,
    fresh=_new,
    rest=_rest,
    prefix="tri",
    max_reason=1000,
)


@feature.command(
    "wachtrij",
    translations={"en": "queue"},
    role=Role.CONNECTOR,
    describe="triage.cmd",
)
@feature.action("tri", role=Role.CONNECTOR)
async def queue(ctx: Context) -> Response:
    """The oldest undecided item; ``/wachtrij 12`` or ``/wachtrij v3`` opens that one."""
    if ctx.event.command is not None and ctx.value.strip():
        wanted = desk.parse(ctx.value)
        if wanted is None:
            return respond(menu_reply(ctx, "triage.usage"))
        return await desk.show(ctx, wanted)
    return await desk.next_card(ctx, None)


@feature.action("tri.card", role=Role.CONNECTOR)
async def open_card(ctx: Context) -> Response:
    """``tri.card:i12``: the triage card of one item."""
    wanted = desk.parse(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return await desk.show(ctx, wanted)
