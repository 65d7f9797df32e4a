"""Proposing an experiment: what, where, with whom, how much; then following it.

Up to the profile's ``full_financing_limit`` the municipality can pay for all of it; above
it, it can pay part. The proposal is stored as ``ingediend`` for the connector's queue; its
author follows it and sees its status under "Mijn voorstellen".

    Experiment voorstellen ──► what ──► place ──► partners ──► budget ──► confirm
                                                                          ├ Insturen ──► submitted
                                                                          └ Opnieuw ──► what

What, place and partners are typed (a neighbourhood can be pressed for the place), the
budget is a number ("ongeveer 800 euro" is fine): a number typed there is never an option.
"""

from __future__ import annotations

from datetime import timedelta

from handlers import paging
from handlers.answers import as_ascii_digits, excerpt, one_line, parse_id, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Expects, Feature
from handlers.money import MAX_EURO, AmountTooLarge, format_euro, read_euro
from handlers.start.menu import stale_button
from storage.experiments.proposals import Proposal

feature = Feature("proposals")
feature.posting_limit(
    "proposal",
    period=timedelta(days=1),
    limit=lambda profile: profile.limits.proposals_per_day,
    count=lambda repos, user_id, since: repos.activity.proposals_since(user_id, since),
)

DIALOG = "proposal"
LIMITS = {"what": 1000, "place": 200, "partners": 300}
MIN_WHAT = 10
QUESTIONS = {
    "what": "proposals.ask_what",
    "place": "proposals.ask_place",
    "partners": "proposals.ask_partners",
    "budget": "proposals.ask_budget",
}
NEXT = {"what": "place", "place": "partners", "partners": "budget"}


@feature.command(
    "nieuwexperiment",
    translations={"en": "newexperiment"},
    describe="proposals.cmd_new",
    posts="proposal",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("prop.new", posts="proposal", role=Role.RESIDENT)
async def propose(ctx: Context) -> Response:
    """Start the proposal dialog. Words typed after the command (``/nieuwexperiment Een
    moestuin in de straat``) are its first answer, what the experiment is: the place is
    asked next; words that cannot be that answer get its reason and are shown back."""
    dialog = Dialog(name=DIALOG, step="what")
    intro = Reply(key="proposals.intro", params={"connector": ctx.profile.connector(ctx.lang)})
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if not typed:
        return respond(intro, _question(ctx, dialog), dialog=dialog)
    answer = _read(ctx, dialog, typed)
    if isinstance(answer, Reply):
        back = Reply(key="general.typed_not_kept", params={"text": typed})
        return respond(intro, back, answer, _question(ctx, dialog), dialog=dialog)
    nxt = dialog.to(NEXT[dialog.step], what=answer)
    return respond(intro, _question(ctx, nxt), dialog=nxt)


proposal = feature.dialog(
    DIALOG, posts="proposal", subject="drafts.subject.proposal", role=Role.RESIDENT
)


def _question(ctx: Context, dialog: Dialog) -> Reply:
    """The question of a step, with the buttons that help answer it."""
    step = dialog.step
    if step == "confirm":
        return _summary(ctx, dialog)
    buttons: list[list[Button]] = []
    if step == "place":
        hoods = [dialog.raw_button(n.name(ctx.lang), n.id) for n in ctx.profile.neighbourhoods]
        buttons = [hoods[i : i + 2] for i in range(0, len(hoods), 2)]
    buttons.append([Button(label="proposals.btn_stop", payload="cancel")])
    return Reply(key=QUESTIONS[step], buttons=buttons)


@proposal.ask(*QUESTIONS, "confirm")
async def ask(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step the proposal is at."""
    return respond(_question(ctx, dialog), dialog=dialog)


@proposal.step("what", "partners", expects=Expects.TEXT)
async def text_step(ctx: Context, dialog: Dialog) -> Response:
    """What the experiment is, and with whom: a few words or sentences."""
    return _typed(ctx, dialog)


@proposal.step("place", expects=Expects.TEXT)
async def place_step(ctx: Context, dialog: Dialog) -> Response:
    """Where: a neighbourhood pressed, or a place typed."""
    if ctx.event.button is not None:
        hood = ctx.profile.neighbourhood(ctx.value)
        if hood is not None:
            return _ask_next(ctx, dialog, hood.name(ctx.lang))
    return _typed(ctx, dialog)


def _typed(ctx: Context, dialog: Dialog) -> Response:
    if ctx.event.button is not None:
        return respond(
            Reply(key="answers.use_buttons_or_type"), _question(ctx, dialog), dialog=dialog
        )
    answer = _read(ctx, dialog)
    if isinstance(answer, Reply):
        return respond(answer, _question(ctx, dialog), dialog=dialog)
    return _ask_next(ctx, dialog, answer)


def _read(ctx: Context, dialog: Dialog, text: str | None = None) -> str | Reply:
    """The answer to a typed question (``text``, or what was typed), or why it cannot be.

    What the experiment is keeps its lines, as a description does; the place and the
    partners show on one line after their label (and in lists), so they are kept as one."""
    minimum = MIN_WHAT if dialog.step == "what" else 2
    answer = read_text(ctx, LIMITS[dialog.step], min_length=minimum, text=text)
    if isinstance(answer, Reply) or dialog.step == "what":
        return answer
    return one_line(answer)


def _ask_next(ctx: Context, dialog: Dialog, answer: str) -> Response:
    nxt = dialog.to(NEXT[dialog.step], **{dialog.step: answer})
    return respond(_question(ctx, nxt), dialog=nxt)


@proposal.step("budget", expects=Expects.NUMBER)
async def budget_step(ctx: Context, dialog: Dialog) -> Response:
    """About how much money, in euro ("1500", "ongeveer 800 euro")."""
    answer = read_text(ctx, 40)
    if isinstance(answer, Reply):
        return respond(answer, _question(ctx, dialog), dialog=dialog)
    try:
        cents = read_euro(answer)
    except AmountTooLarge:
        limit = format_euro(MAX_EURO * 100, ctx.lang)
        return respond(
            Reply(key="proposals.budget_too_large", params={"max": limit}),
            _question(ctx, dialog),
            dialog=dialog,
        )
    if cents is None:
        return respond(
            Reply(key="proposals.budget_invalid", params={"typed": answer}),
            _question(ctx, dialog),
            dialog=dialog,
        )
    confirm = dialog.to("confirm", budget_cents=cents)
    return respond(_summary(ctx, confirm), dialog=confirm)


def _financing(ctx: Context, cents: int) -> Reply:
    limit = ctx.profile.full_financing_limit
    key = "proposals.full_financing" if cents <= limit * 100 else "proposals.co_financing"
    return Reply(key=key, params={"limit": format_euro(limit * 100, ctx.lang)})


def _summary(ctx: Context, dialog: Dialog) -> Reply:
    data = dialog.data
    cents = int(data["budget_cents"])
    return Reply(
        key="proposals.summary",
        params={
            "what": data["what"],
            "place": data["place"],
            "partners": data["partners"],
            "budget": format_euro(cents, ctx.lang),
        },
        parts=[_financing(ctx, cents)],
        buttons=[
            [dialog.button("proposals.btn_submit", "submit")],
            [dialog.button("proposals.btn_redo", "redo")],
            [Button(label="proposals.btn_stop", payload="cancel")],
        ],
    )


@proposal.step("confirm")
async def confirm_step(ctx: Context, dialog: Dialog) -> Response:
    """Send the proposal in, or begin again."""
    choice = ctx.value if ctx.event.button is not None else ""
    if choice == "redo":
        again = Dialog(name=DIALOG, step="what")
        return respond(_question(ctx, again), dialog=again)
    if choice != "submit":
        return respond(Reply(key="answers.use_buttons"), _summary(ctx, dialog), dialog=dialog)
    data = dialog.data
    cents = int(data["budget_cents"])
    full = cents <= ctx.profile.full_financing_limit * 100
    proposal_id = await ctx.repos.proposals.submit(
        ctx.user.id,
        what=data["what"],
        place=data["place"],
        partners=data["partners"],
        budget_cents=cents,
        full_financing=full,
        now=ctx.now,
    )
    return respond(
        Reply(
            key="proposals.submitted",
            params={"id": proposal_id, "connector": ctx.profile.connector(ctx.lang)},
            parts=[_financing(ctx, cents)],
            buttons=[
                [Button(label="experiments.btn_my_proposals", payload="prop.mine")],
                [Button(label="menu.back", payload="menu")],
            ],
        ),
        end_dialog=True,
    )


@feature.command(
    "mijnvoorstellen",
    translations={"en": "myproposals"},
    describe="proposals.cmd_mine",
    role=Role.RESIDENT,
)
@feature.action("prop.mine", role=Role.RESIDENT)
async def my_proposals(ctx: Context) -> Response:
    """The proposals this person follows, with their status; ``prop.mine:<id>`` opens one
    (``prop.mine:<id>:<page>`` from that page of the list, which its back button shows)."""
    if ctx.value:
        return await _detail(ctx)
    return await _mine(ctx, 1)


@feature.action("prop.page", role=Role.RESIDENT)
async def another_page(ctx: Context) -> Response:
    """``prop.page:<page>``: another page of one's proposals."""
    wanted = paging.number(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    return await _mine(ctx, wanted)


async def _mine(ctx: Context, wanted: int) -> Response:
    """A page of the proposals this person follows, newest first (a page past the end shows
    the last one): every one of them can be opened, however many there are."""
    followed = await ctx.repos.proposals.followed_by(ctx.user.id)
    if not followed:
        return respond(
            Reply(
                key="proposals.mine_none",
                buttons=[
                    [Button(label="experiments.btn_propose", payload="prop.new")],
                    [Button(label="menu.back", payload="menu")],
                ],
            )
        )
    shown = paging.page(wanted, len(followed))
    proposals = followed[shown.offset : shown.offset + shown.size]
    lines = [_line(ctx, proposal) for proposal in proposals]
    buttons = [
        [
            Button(
                label="proposals.btn_open",
                payload=f"prop.mine:{p.id}:{shown.number}",
                params={"id": p.id},
            )
        ]
        for p in proposals
    ]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"prop.page:{n}"))
    buttons.append([Button(label="menu.back", payload="menu")])
    return respond(
        Reply(key="proposals.mine_title", parts=[*lines, *paging.where(shown)], buttons=buttons)
    )


def _line(ctx: Context, proposal: Proposal) -> Reply:
    return Reply(
        key="proposals.mine_line",
        params={
            "id": proposal.id,
            "what": excerpt(proposal.what, 60),
            "status": _status(ctx, proposal.status.value),
        },
    )


def _status(ctx: Context, status: str) -> str:
    return ctx.catalog.text(ctx.lang, f"proposals.status.{status}", {}, markup=False)


async def _detail(ctx: Context) -> Response:
    raw_id, paged, raw_page = ctx.value.partition(":")
    page = paging.number(raw_page) if paged else 1
    if page is None:
        if ctx.event.button is not None:
            return await stale_button(ctx)
        page = 1  # typed after the command: no button of ours
    if ctx.event.button is None:
        raw_id = as_ascii_digits(raw_id.strip().lstrip("#"))  # "#1" as it is called, "١"
    proposal_id = parse_id(raw_id)
    proposal = await ctx.repos.proposals.get(proposal_id) if proposal_id else None
    followers = await ctx.repos.proposals.followers(proposal.id) if proposal else []
    if proposal is None or ctx.user.id not in followers:
        return respond(
            Reply(
                key="proposals.not_found",
                buttons=[[Button(label="experiments.btn_my_proposals", payload="prop.mine")]],
            )
        )
    history = await ctx.repos.proposals.history(proposal.id)
    parts = [
        Reply(
            key="proposals.history_reason" if change.reason else "proposals.history_line",
            params={
                "when": ctx.show_date(change.at),
                "status": _status(ctx, change.status.value),
                **({"reason": change.reason} if change.reason else {}),
            },
        )
        for change in history
    ]
    if proposal.amount_decided_cents is not None:
        amount = format_euro(proposal.amount_decided_cents, ctx.lang)
        parts.append(Reply(key="proposals.amount_decided", params={"amount": amount}))
    buttons = [
        [Button(label="experiments.btn_my_proposals", payload=f"prop.page:{page}")],
        [Button(label="menu.back", payload="menu")],
    ]
    experiment = (
        await ctx.repos.experiments.get(proposal.experiment_id)
        if proposal.experiment_id is not None
        else None
    )
    if experiment is not None and experiment.status == "running":
        # It became an experiment (handlers/experiments/triage.py): the way to join it.
        buttons.insert(
            0, [Button(label="triage.btn_to_experiment", payload=f"exp:{experiment.id}")]
        )
    return respond(
        Reply(
            key="proposals.detail",
            params={
                "id": proposal.id,
                "what": proposal.what,
                "place": proposal.place,
                "partners": proposal.partners,
                "budget": format_euro(proposal.budget_cents, ctx.lang),
                "status": _status(ctx, proposal.status.value),
            },
            parts=parts,
            buttons=buttons,
        )
    )
