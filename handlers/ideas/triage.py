"""Triage: the connector's queue of new ideas and experiment proposals, one card at a time.

Every decision can carry a reason (required for "niet haalbaar" and "afgewezen"); it is
kept in the history, written to the audit log, and sent to the submitter and every follower
in their own language (outbox, kind ``status``). Which status may follow which is written
down once, in :mod:`storage.ideas.statuses`.

    /wachtrij ──► card of the oldest undecided idea or proposal
      idea:     in behandeling | quick win → experiment | agenda ──► theme
                | afdeling ──► department | niet haalbaar | samenvoegen ──► #n
                | verbinden met #n (handlers/connections.py) | later ──► next card
      proposal: in behandeling | goedgekeurd | gefinancierd ──► amount
                | cofinanciering ──► amount | afgewezen | later ──► next card
          └──► reason (typed, or "geen toelichting" where optional)
                 ──► saved + history + audit log + notifications ──► next card
    /wachtrij 12 (or #12, v3): that idea's (proposal's) card, decided or not: heropenen
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from handlers.answers import excerpt, parse_id, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, respond, rows
from handlers.feature import Context, Feature, menu_reply
from handlers.ideas.browse import category_name, history_lines, neighbourhood_name
from handlers.money import format_euro, parse_euro
from handlers.notices import notify
from handlers.phrases import number, phrase
from handlers.start.menu import stale_button
from storage.experiments.experiments import Experiment, NewExperiment
from storage.experiments.proposals import Proposal, ProposalStatus
from storage.ideas.ideas import Idea, IdeaError, IdeaStatus, StatusChange
from storage.ideas.statuses import TransitionError, check, is_final, next_statuses
from storage.ideas.triage import ItemKind, QueueItem
from storage.localized import Localized

feature = Feature("triage")
feature.menu_entry("triage.menu", "tri", order=64, role=Role.CONNECTOR)

DIALOG = "triage"
MAX_REASON = 1000
SIMILAR = 4
IDEA_CHOICES = (
    IdeaStatus.IN_REVIEW,
    IdeaStatus.QUICK_WIN,
    IdeaStatus.ADOPTED,
    IdeaStatus.FORWARDED,
    IdeaStatus.NOT_FEASIBLE,
    IdeaStatus.MERGED,
)
PROPOSAL_CHOICES = (
    ProposalStatus.IN_REVIEW,
    ProposalStatus.APPROVED,
    ProposalStatus.FUNDED,
    ProposalStatus.COFUNDED,
    ProposalStatus.REJECTED,
)
#: A "no" always says why.
REASON_REQUIRED = frozenset({IdeaStatus.NOT_FEASIBLE.value, ProposalStatus.REJECTED.value})
#: Proposal decisions that start the experiment.
STARTS_EXPERIMENT = frozenset(
    {ProposalStatus.APPROVED, ProposalStatus.FUNDED, ProposalStatus.COFUNDED}
)
#: The step after choosing a status, for statuses that need more than a reason.
DETAIL_STEP = {
    IdeaStatus.ADOPTED.value: "theme",
    IdeaStatus.FORWARDED.value: "department",
    IdeaStatus.MERGED.value: "merge",
    ProposalStatus.FUNDED.value: "amount",
    ProposalStatus.COFUNDED.value: "amount",
}

Item = Idea | Proposal


def ref(kind: ItemKind, item_id: int) -> str:
    """An item in a payload: ``i12`` (idea #12) or ``p3`` (proposal #3)."""
    return f"{'i' if kind is ItemKind.IDEA else 'p'}{item_id}"


def parse_ref(text: str) -> tuple[ItemKind, int] | None:
    """``i12``/``12``/``#12`` is idea 12; ``p3``/``v3`` is proposal 3."""
    text = text.strip().lower().lstrip("#")
    kind = ItemKind.IDEA
    if text[:1] in ("p", "v"):
        kind, text = ItemKind.PROPOSAL, text[1:].lstrip("#")
    elif text[:1] == "i":
        text = text[1:]
    found = parse_id(text)
    return (kind, found) if found is not None else None


def status_label(ctx: Context, kind: ItemKind, status: str) -> str:
    """A status as the connector and residents read it."""
    section = "ideas" if kind is ItemKind.IDEA else "proposals"
    return phrase(ctx, f"{section}.status.{status}")


# The queue ------------------------------------------------------------------------------


@feature.command("wachtrij", "queue", role=Role.CONNECTOR, describe="triage.cmd")
@feature.action("tri", role=Role.CONNECTOR)
async def queue(ctx: Context) -> Response:
    """The oldest undecided item; ``/wachtrij 12`` or ``/wachtrij v3`` opens that one."""
    if ctx.event.command is not None and ctx.value.strip():
        wanted = parse_ref(ctx.value)
        if wanted is None:
            return respond(menu_reply(ctx, "triage.usage"))
        return await _show(ctx, *wanted)
    return await _next(ctx, None)


@feature.action("tri.card", role=Role.CONNECTOR)
async def open_card(ctx: Context) -> Response:
    """``tri.card:i12``: the triage card of one item."""
    wanted = parse_ref(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return await _show(ctx, *wanted)


@feature.action("tri.next", role=Role.CONNECTOR)
async def later(ctx: Context) -> Response:
    """Later: the next card (this item stays in the queue)."""
    wanted = parse_ref(ctx.value)
    item = await _load(ctx, *wanted) if wanted else None
    if wanted is None or item is None:
        return await _next(ctx, None)
    return await _next(ctx, QueueItem(kind=wanted[0], id=item.id, created_at=item.created_at))


async def _show(ctx: Context, kind: ItemKind, item_id: int, *notices: Reply) -> Response:
    item = await _load(ctx, kind, item_id)
    if item is None:
        key = "triage.idea_not_found" if kind is ItemKind.IDEA else "triage.proposal_not_found"
        return respond(*notices, menu_reply(ctx, key, id=item_id))
    return respond(*notices, await _card(ctx, item))


async def _next(ctx: Context, after: QueueItem | None, *notices: Reply) -> Response:
    """The card after ``after`` in the queue; past the end, the oldest again."""
    triage = ctx.repos.triage
    found = await triage.next_item(after)
    replies = list(notices)
    if found is None and after is not None:
        found = await triage.next_item(None)
        if found is not None:
            replies.append(Reply(key="triage.from_the_start"))
    if found is None:
        replies.append(menu_reply(ctx, "triage.empty"))
        return respond(*replies)
    item = await _load(ctx, found.kind, found.id)
    assert item is not None
    return respond(*replies, await _card(ctx, item))


async def _load(ctx: Context, kind: ItemKind, item_id: int) -> Item | None:
    if kind is ItemKind.IDEA:
        idea = await ctx.repos.ideas.get(item_id)
        return None if idea is None or idea.removed else idea
    return await ctx.repos.proposals.get(item_id)


def _kind(item: Item) -> ItemKind:
    return ItemKind.IDEA if isinstance(item, Idea) else ItemKind.PROPOSAL


# Cards ----------------------------------------------------------------------------------


async def _card(ctx: Context, item: Item) -> Reply:
    if isinstance(item, Idea):
        return await _idea_card(ctx, item)
    return await _proposal_card(ctx, item)


def _decision_buttons(item: Item) -> list[list[Button]]:
    kind = _kind(item)
    choices: tuple[IdeaStatus, ...] | tuple[ProposalStatus, ...]
    choices = IDEA_CHOICES if kind is ItemKind.IDEA else PROPOSAL_CHOICES
    allowed = next_statuses(item.status)
    key = ref(kind, item.id)
    buttons = [
        Button(label=f"triage.btn.{status.value}", payload=f"tri.do:{key}:{status.value}")
        for status in choices
        if status in allowed
    ]
    laid = rows(buttons, 2)
    if is_final(item.status):
        laid.append([Button(label="triage.btn_reopen", payload=f"tri.reopen:{key}")])
    return laid


async def _idea_card(ctx: Context, idea: Idea) -> Reply:
    parts: list[Reply] = []
    history = await ctx.repos.ideas.history(idea.id)
    parts.append(Reply(key="ideas.card_history"))
    for change in history:
        parts.extend(history_lines(ctx, change))
    experiment = await ctx.repos.experiments.of_idea(idea.id)
    if experiment is not None:
        parts.append(
            Reply(key="triage.card_experiment", params={"title": experiment.title(ctx.lang)})
        )
    alike = [
        other
        for other in await ctx.repos.ideas.similar(
            f"{idea.title}\n{idea.description}", limit=SIMILAR + 1
        )
        if other.id != idea.id
    ][:SIMILAR]
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
                    "status": phrase(ctx, f"ideas.status.{other.status.value}"),
                    "supporters": other.supporters,
                },
            )
        )
        authors = {idea.author_user_id, other.author_user_id}
        if None not in authors and len(authors) == 2:
            connect.append(
                [
                    Button(
                        label="triage.btn_connect",
                        payload=f"tri.connect:{idea.id}:{other.id}",
                        params={"number": number(other.id)},
                    )
                ]
            )
    key = ref(ItemKind.IDEA, idea.id)
    buttons = [
        *_decision_buttons(idea),
        *connect,
        [
            Button(
                label="triage.btn_public_card",
                payload=f"idea.open:{idea.id}",
                params={"number": number(idea.id)},
            ),
            Button(label="triage.btn_later", payload=f"tri.next:{key}"),
        ],
        [Button(label="menu.back", payload="menu")],
    ]
    return Reply(
        key="triage.idea_card",
        params={
            "waiting": await ctx.repos.triage.waiting(),
            "number": number(idea.id),
            "title": idea.title,
            "description": idea.description,
            "category": category_name(ctx, idea.category),
            "neighbourhood": neighbourhood_name(ctx, idea.neighbourhood),
            "status": status_label(ctx, ItemKind.IDEA, idea.status.value),
            "supporters": idea.supporters,
            "comments": idea.comments,
            "date": ctx.local(idea.created_at).strftime("%d-%m-%Y"),
        },
        parts=parts,
        buttons=buttons,
    )


async def _proposal_card(ctx: Context, proposal: Proposal) -> Reply:
    parts = [Reply(key="triage.proposal_history")]
    for change in await ctx.repos.proposals.history(proposal.id):
        parts.append(
            Reply(
                key="triage.proposal_history_line",
                params={
                    "when": ctx.local(change.at).strftime("%d-%m-%Y"),
                    "status": status_label(ctx, ItemKind.PROPOSAL, change.status.value),
                    "amount": format_euro(change.amount_cents, ctx.lang)
                    if change.amount_cents is not None
                    else "",
                },
            )
        )
        if change.reason:
            parts.append(Reply(key="ideas.history_reason", params={"reason": change.reason}))
    limit = format_euro(ctx.profile.full_financing_limit * 100, ctx.lang)
    financing = "triage.within_limit" if proposal.full_financing else "triage.above_limit"
    key = ref(ItemKind.PROPOSAL, proposal.id)
    return Reply(
        key="triage.proposal_card",
        params={
            "waiting": await ctx.repos.triage.waiting(),
            "id": proposal.id,
            "what": proposal.what,
            "place": proposal.place,
            "partners": proposal.partners,
            "budget": format_euro(proposal.budget_cents, ctx.lang),
            "financing": phrase(ctx, financing, limit=limit),
            "status": status_label(ctx, ItemKind.PROPOSAL, proposal.status.value),
            "date": ctx.local(proposal.created_at).strftime("%d-%m-%Y"),
        },
        parts=parts,
        buttons=[
            *_decision_buttons(proposal),
            [Button(label="triage.btn_later", payload=f"tri.next:{key}")],
            [Button(label="menu.back", payload="menu")],
        ],
    )


# Choosing a status ------------------------------------------------------------------------


@feature.action("tri.do", role=Role.CONNECTOR)
async def choose(ctx: Context) -> Response:
    """``tri.do:i12:opgenomen``: begin a decision; ask for its details, then the reason."""
    raw_ref, _, raw_status = ctx.value.partition(":")
    wanted = parse_ref(raw_ref)
    if wanted is None:
        return await stale_button(ctx)
    kind, item_id = wanted
    item = await _load(ctx, kind, item_id)
    if item is None:
        return await _show(ctx, kind, item_id)
    choices = IDEA_CHOICES if kind is ItemKind.IDEA else PROPOSAL_CHOICES
    status = next((s for s in choices if s.value == raw_status), None)
    if status is None:
        return await stale_button(ctx)
    try:
        check(item.status, status)
    except TransitionError as refused:
        return respond(_illegal(ctx, kind, refused), await _card(ctx, item))
    dialog = Dialog(
        name=DIALOG,
        step=DETAIL_STEP.get(status.value, "reason"),
        data={
            "kind": kind.value,
            "id": item.id,
            "from": item.status.value,
            "status": status.value,
        },
    )
    return await _ask(ctx, dialog)


@feature.action("tri.reopen", role=Role.CONNECTOR)
async def reopen(ctx: Context) -> Response:
    """``tri.reopen:i12``: take a decision back: in behandeling again (with a reason)."""
    wanted = parse_ref(ctx.value)
    item = await _load(ctx, *wanted) if wanted else None
    if wanted is None:
        return await stale_button(ctx)
    if item is None:
        return await _show(ctx, *wanted)
    if not is_final(item.status):
        return respond(
            Reply(
                key="triage.not_decided",
                params={"status": status_label(ctx, wanted[0], item.status.value)},
            ),
            await _card(ctx, item),
        )
    dialog = Dialog(
        name=DIALOG,
        step="reason",
        data={
            "kind": wanted[0].value,
            "id": item.id,
            "from": item.status.value,
            "status": IdeaStatus.IN_REVIEW.value,
            "reopen": True,
        },
    )
    return await _ask(ctx, dialog)


def _illegal(ctx: Context, kind: ItemKind, refused: TransitionError) -> Reply:
    """Why a status cannot follow the current one, and what can."""
    current = status_label(ctx, kind, refused.current.value)
    params = {"current": current, "wanted": status_label(ctx, kind, refused.wanted.value)}
    if refused.final:
        return Reply(key="triage.illegal_final", params=params)
    possible = next_statuses(refused.current)
    choices = IDEA_CHOICES if kind is ItemKind.IDEA else PROPOSAL_CHOICES
    allowed = ", ".join(status_label(ctx, kind, s.value) for s in choices if s in possible)
    return Reply(key="triage.illegal", params={**params, "allowed": allowed})


async def _ask(ctx: Context, dialog: Dialog, *, hint: Reply | None = None) -> Response:
    """The question of the dialog's step, with its buttons."""
    data = dialog.data
    kind = ItemKind(data["kind"])
    cancel = [dialog.button("triage.btn_cancel", "cancel")]
    label = status_label(ctx, kind, data["status"])
    what = phrase(ctx, f"triage.item_{kind.value}", id=data["id"])
    if dialog.step == "theme":
        choices = [dialog.raw_button(t.name(ctx.lang), t.id) for t in ctx.profile.themes]
        question = Reply(
            key="triage.ask_theme", params={"what": what}, buttons=[*rows(choices), cancel]
        )
    elif dialog.step == "department":
        choices = [dialog.raw_button(d.name(ctx.lang), d.id) for d in ctx.profile.departments]
        question = Reply(
            key="triage.ask_department", params={"what": what}, buttons=[*rows(choices), cancel]
        )
    elif dialog.step == "merge":
        question = await _merge_question(ctx, dialog, what, cancel)
    elif dialog.step == "amount":
        question = await _amount_question(ctx, dialog, label, cancel)
    else:
        buttons = [cancel]
        required = data["status"] in REASON_REQUIRED
        if not required:
            buttons.insert(0, [dialog.button("triage.btn_no_reason", "none")])
        key = "triage.ask_reason_required" if required else "triage.ask_reason"
        if data.get("reopen"):
            key = "triage.ask_reason_reopen"
        question = Reply(
            key=key,
            params={"what": what, "status": label, "max": MAX_REASON},
            buttons=buttons,
        )
    return respond(*([hint] if hint else []), question, dialog=dialog)


async def _merge_question(ctx: Context, dialog: Dialog, what: str, cancel: list[Button]) -> Reply:
    idea = await ctx.repos.ideas.get(int(dialog.data["id"]))
    buttons: list[list[Button]] = []
    if idea is not None:
        alike = await ctx.repos.ideas.similar(
            f"{idea.title}\n{idea.description}", limit=SIMILAR + 1
        )
        for other in alike:
            if other.id != idea.id:
                label = f"#{number(other.id)} {excerpt(other.title, 40)}"
                buttons.append([dialog.raw_button(label, str(other.id))])
    return Reply(
        key="triage.ask_merge", params={"what": what}, buttons=[*buttons[:SIMILAR], cancel]
    )


async def _amount_question(
    ctx: Context, dialog: Dialog, label: str, cancel: list[Button]
) -> Reply:
    proposal = await ctx.repos.proposals.get(int(dialog.data["id"]))
    buttons = []
    if proposal is not None and proposal.budget_cents > 0:
        asked = format_euro(proposal.budget_cents, ctx.lang)
        buttons.append([dialog.button("triage.btn_amount_asked", "asked", amount=asked)])
    limit = format_euro(ctx.profile.full_financing_limit * 100, ctx.lang)
    return Reply(
        key="triage.ask_amount",
        params={"status": label, "limit": limit},
        buttons=[*buttons, cancel],
    )


# The dialog -------------------------------------------------------------------------------


@feature.dialog(DIALOG, role=Role.CONNECTOR)
async def triage_step(ctx: Context) -> Response:
    """Each step after a status was chosen: its details, then the reason; then saved."""
    dialog = ctx.dialog
    assert dialog is not None
    data = dialog.data
    kind = ItemKind(data["kind"])
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "cancel":
        shown = await _show(ctx, kind, int(data["id"]), Reply(key="triage.cancelled"))
        return Response(replies=shown.replies, end_dialog=True)
    step = dialog.step
    if step == "theme":
        theme = ctx.profile.theme(choice)
        if theme is None:
            return await _ask(ctx, dialog, hint=Reply(key="answers.use_buttons"))
        return await _ask(ctx, dialog.to("reason", theme=theme.id))
    if step == "department":
        department = ctx.profile.department(choice)
        if department is None:
            return await _ask(ctx, dialog, hint=Reply(key="answers.use_buttons"))
        return await _ask(ctx, dialog.to("reason", department=department.id))
    if step == "merge":
        return await _merge_target(ctx, dialog, choice)
    if step == "amount":
        return await _amount(ctx, dialog, choice)
    if choice == "none" and data["status"] not in REASON_REQUIRED:
        return await _decide(ctx, dialog, None)
    if choice is not None:
        return await _ask(ctx, dialog, hint=Reply(key="answers.use_buttons_or_type"))
    reason = read_text(ctx, MAX_REASON, min_length=3)
    if isinstance(reason, Reply):
        return await _ask(ctx, dialog, hint=reason)
    return await _decide(ctx, dialog, reason)


async def _merge_target(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    """The idea to merge with: a button, or a number typed as ``15`` or ``#15``."""
    typed = choice if choice is not None else ctx.text.lstrip("#")
    target_id = parse_id(typed)
    target = await ctx.repos.ideas.get(target_id) if target_id else None
    own_id = int(dialog.data["id"])
    if target is None or target.removed:
        hint = Reply(key="triage.merge_unknown", params={"typed": typed[:20]})
    elif target.id == own_id:
        hint = Reply(key="triage.merge_self")
    elif target.status == IdeaStatus.MERGED:
        hint = Reply(key="triage.merge_merged", params={"number": number(target.id)})
    else:
        return await _ask(ctx, dialog.to("reason", into=target.id))
    return await _ask(ctx, dialog, hint=hint)


async def _amount(ctx: Context, dialog: Dialog, choice: str | None) -> Response:
    """The amount decided: the amount asked (a button) or a typed amount in euro."""
    if choice == "asked":
        proposal = await ctx.repos.proposals.get(int(dialog.data["id"]))
        cents = proposal.budget_cents if proposal else None
    else:
        cents = parse_euro(ctx.text) if choice is None and ctx.text else None
    if not cents:
        hint = Reply(key="triage.amount_invalid", params={"typed": ctx.text[:20]})
        return await _ask(ctx, dialog, hint=hint)
    limit = ctx.profile.full_financing_limit * 100
    if dialog.data["status"] == ProposalStatus.FUNDED.value and cents > limit:
        hint = Reply(
            key="triage.amount_over_limit",
            params={"amount": format_euro(cents, ctx.lang), "limit": format_euro(limit, ctx.lang)},
        )
        return await _ask(ctx, dialog, hint=hint)
    return await _ask(ctx, dialog.to("reason", amount=cents))


# Deciding -------------------------------------------------------------------------------


async def _decide(ctx: Context, dialog: Dialog, reason: str | None) -> Response:
    """Save the decision, tell everyone who follows the item, log it, show the next card."""
    data = dialog.data
    kind = ItemKind(data["kind"])
    item = await _load(ctx, kind, int(data["id"]))
    if item is None:
        shown = await _show(ctx, kind, int(data["id"]))
        return Response(replies=shown.replies, end_dialog=True)
    if item.status.value != data["from"]:
        # Someone else decided meanwhile: show where it stands now.
        changed = Reply(
            key="triage.changed_meanwhile",
            params={"status": status_label(ctx, kind, item.status.value)},
        )
        return Response(replies=[changed, await _card(ctx, item)], end_dialog=True)
    try:
        if isinstance(item, Idea):
            done = await _decide_idea(ctx, item, data, reason)
        else:
            done = await _decide_proposal(ctx, item, data, reason)
    except TransitionError as refused:
        return Response(
            replies=[_illegal(ctx, kind, refused), await _card(ctx, item)], end_dialog=True
        )
    except IdeaError:
        return await _ask(ctx, dialog.to("merge"), hint=Reply(key="triage.merge_gone"))
    cursor = QueueItem(kind=kind, id=item.id, created_at=item.created_at)
    following = await _next(ctx, cursor, done)
    return Response(replies=following.replies, end_dialog=True)


async def _decide_idea(
    ctx: Context, idea: Idea, data: dict[str, Any], reason: str | None
) -> Reply:
    repos = ctx.repos
    status = IdeaStatus(data["status"])
    reopening = bool(data.get("reopen"))
    recipients = {idea.author_user_id, *await repos.ideas.followers(idea.id)}
    detail: dict[str, Any] = {"from": idea.status.value, "to": status.value}
    target: Idea | None = None
    experiment: Experiment | None = None
    if status == IdeaStatus.MERGED:
        merge = await repos.triage.merge(
            idea.id, int(data["into"]), now=ctx.now, by_user_id=ctx.user.id, reason=reason
        )
        change = merge.change
        target = await repos.ideas.get(int(data["into"]))
        detail.update(
            into=int(data["into"]),
            supports_moved=merge.supports_moved,
            follows_moved=merge.follows_moved,
        )
    else:
        change = await repos.triage.set_idea_status(
            idea.id,
            status,
            now=ctx.now,
            by_user_id=ctx.user.id,
            reason=reason,
            theme=data.get("theme"),
            department=data.get("department"),
            reopen=reopening,
        )
        detail.update({k: data[k] for k in ("theme", "department") if data.get(k)})
    if status == IdeaStatus.QUICK_WIN:
        experiment = await _start_experiment(ctx, idea)
        detail["experiment"] = experiment.id

    def build(lang: str) -> list[Reply]:
        return [_idea_notice(ctx, lang, idea, change, reopening, target, experiment)]

    return await _announce(
        ctx,
        ItemKind.IDEA,
        idea.id,
        idea.author_user_id,
        status.value,
        reopening=reopening,
        detail=detail,
        reason=reason,
        recipients=recipients,
        build=build,
    )


async def _announce(
    ctx: Context,
    kind: ItemKind,
    item_id: int,
    author_user_id: int | None,
    status: str,
    *,
    reopening: bool,
    detail: dict[str, Any],
    reason: str | None,
    recipients: Iterable[int | None],
    build: Callable[[str], list[Reply]],
) -> Reply:
    """Tell the submitter and followers (each in their language), log it, confirm it."""
    queued = await notify(ctx, recipients, kind="status", build=build)
    await ctx.repos.audit.record(
        f"{kind.value}.reopen" if reopening else f"{kind.value}.status",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"{kind.value}:{item_id}",
        subject_user_id=author_user_id,
        detail={**detail, "notified": queued},
        reason=reason,
    )
    return Reply(
        key="triage.done",
        params={
            "what": phrase(ctx, f"triage.item_{kind.value}", id=item_id),
            "status": status_label(ctx, kind, status),
            "notified": queued,
        },
    )


async def _start_experiment(ctx: Context, idea: Idea) -> Experiment:
    """A quick win becomes an experiment residents can join, linked to its idea."""
    hood = ctx.profile.neighbourhood(idea.neighbourhood)
    place = hood.name if hood is not None else ctx.profile.name

    def organiser(lang: str) -> str:
        return ctx.catalog.text(
            lang,
            "triage.experiment_organiser",
            {"connector": ctx.profile.connector(lang)},
            markup=False,
        )

    new = NewExperiment(
        title=Localized.same(idea.title),
        summary=Localized.same(idea.description),
        place=Localized(nl=place("nl"), en=place("en")),
        organiser=Localized(nl=organiser("nl"), en=organiser("en")),
        neighbourhood=idea.neighbourhood,
    )
    experiment_id = await ctx.repos.experiments.create(new, ctx.now)
    await ctx.repos.experiments.link_idea(experiment_id, idea.id)
    await _record_experiment(ctx, experiment_id, f"idea:{idea.id}")
    experiment = await ctx.repos.experiments.get(experiment_id)
    assert experiment is not None
    return experiment


async def _record_experiment(ctx: Context, experiment_id: int, source: str) -> None:
    await ctx.repos.audit.record(
        "experiment.create",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"experiment:{experiment_id}",
        detail={"from": source},
    )


def _idea_notice(
    ctx: Context,
    lang: str,
    idea: Idea,
    change: StatusChange,
    reopening: bool,
    target: Idea | None,
    experiment: Experiment | None,
) -> Reply:
    """The message a follower gets, in ``lang``: what happened, why, and where to look."""
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
    buttons = [
        [
            Button(
                label="triage.btn_open_idea",
                payload=f"idea.open:{idea.id}",
                params={"number": number(idea.id)},
            )
        ]
    ]
    if target is not None:
        buttons.insert(
            0,
            [
                Button(
                    label="triage.btn_open_idea",
                    payload=f"idea.open:{target.id}",
                    params={"number": number(target.id)},
                )
            ],
        )
    if experiment is not None:
        buttons.insert(0, [Button(label="triage.btn_join", payload=f"exp.join:{experiment.id}")])
    return Reply(
        key=key, params=params, parts=_reason_parts(ctx, lang, change.reason), buttons=buttons
    )


def _reason_parts(ctx: Context, lang: str, reason: str | None) -> list[Reply]:
    parts = []
    if reason:
        parts.append(
            Reply(
                key="triage.notice_reason",
                params={"reason": reason, "connector": ctx.profile.connector(lang)},
            )
        )
    parts.append(Reply(key="triage.notice_why"))
    return parts


async def _decide_proposal(
    ctx: Context, proposal: Proposal, data: dict[str, Any], reason: str | None
) -> Reply:
    repos = ctx.repos
    status = ProposalStatus(data["status"])
    reopening = bool(data.get("reopen"))
    amount = data.get("amount")
    recipients = {proposal.author_user_id, *await repos.proposals.followers(proposal.id)}
    changed = await repos.triage.set_proposal_status(
        proposal.id,
        status,
        now=ctx.now,
        by_user_id=ctx.user.id,
        reason=reason,
        amount_cents=int(amount) if amount is not None else None,
        reopen=reopening,
    )
    detail: dict[str, Any] = {"from": proposal.status.value, "to": status.value}
    if amount is not None:
        detail["amount_cents"] = int(amount)
    experiment: Experiment | None = None
    if status in STARTS_EXPERIMENT and changed.experiment_id is None:
        experiment = await _start_proposed_experiment(ctx, changed)
        detail["experiment"] = experiment.id

    def build(lang: str) -> list[Reply]:
        params = {
            "id": proposal.id,
            "what": excerpt(proposal.what, 80),
            "amount": format_euro(int(amount), lang) if amount is not None else "",
            "experiment": experiment.title(lang) if experiment else "",
            "connector": ctx.profile.connector(lang),
        }
        key = "reopened" if reopening else status.value
        buttons = [
            [
                Button(
                    label="triage.btn_open_proposal",
                    payload=f"prop.mine:{proposal.id}",
                    params={"id": proposal.id},
                )
            ]
        ]
        if experiment is not None:
            buttons.insert(
                0, [Button(label="triage.btn_join", payload=f"exp.join:{experiment.id}")]
            )
        return [
            Reply(
                key=f"triage.proposal_notice.{key}",
                params=params,
                parts=_reason_parts(ctx, lang, reason),
                buttons=buttons,
            )
        ]

    return await _announce(
        ctx,
        ItemKind.PROPOSAL,
        proposal.id,
        proposal.author_user_id,
        status.value,
        reopening=reopening,
        detail=detail,
        reason=reason,
        recipients=recipients,
        build=build,
    )


async def _start_proposed_experiment(ctx: Context, proposal: Proposal) -> Experiment:
    """An approved proposal becomes an experiment residents can join, in its own words."""
    new = NewExperiment(
        title=Localized.same(excerpt(proposal.what, 60)),
        summary=Localized.same(proposal.what),
        place=Localized.same(proposal.place),
        organiser=Localized.same(proposal.partners),
    )
    experiment_id = await ctx.repos.experiments.create(new, ctx.now)
    await ctx.repos.proposals.link_experiment(proposal.id, experiment_id)
    await _record_experiment(ctx, experiment_id, f"proposal:{proposal.id}")
    experiment = await ctx.repos.experiments.get(experiment_id)
    assert experiment is not None
    return experiment
