"""Triage of experiment proposals: one kind of item on the connector's triage desk.

The desk (``/wachtrij``, the queue, the dialog) is :mod:`handlers.ideas.triage`; the
pipeline is :mod:`handlers.review`. A proposal that is approved becomes an experiment named
and described by the connector (:mod:`handlers.experiments.launch`).

    card: in behandeling | goedgekeurd ───────────────────┐
          | gefinancierd | cofinanciering ──► amount ─────┴─► experiment: title, summary,
          | afgewezen | later                                 preview (once per proposal)
          └──► reason (required for afgewezen) ──► saved + audit + author and followers told
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers import when
from handlers.answers import excerpt, read_text
from handlers.contract import Button, Dialog, Reply, Response, respond
from handlers.experiments import launch
from handlers.feature import Context, Expects, menu_reply
from handlers.money import format_euro, parse_euro
from handlers.phrases import phrase
from handlers.review import REOPEN, Again, Changed, StatusKind, Step, reads, reason_parts
from storage import graphemes
from storage.experiments.experiments import Experiment
from storage.experiments.proposals import Proposal, ProposalStatus

#: Proposal decisions that start the experiment.
STARTS_EXPERIMENT = frozenset(
    {ProposalStatus.APPROVED, ProposalStatus.FUNDED, ProposalStatus.COFUNDED}
)
AMOUNT = "amount"


class Proposals(StatusKind[Proposal, ProposalStatus]):
    """Residents' proposals for an experiment (``p3``, also typed as ``v3``)."""

    name = "proposal"
    letters = "pv"
    section = "proposals"
    choices = (
        ProposalStatus.IN_REVIEW,
        ProposalStatus.APPROVED,
        ProposalStatus.FUNDED,
        ProposalStatus.COFUNDED,
        ProposalStatus.REJECTED,
    )
    reason_required = frozenset({ProposalStatus.REJECTED})
    # Only the author, whoever follows it and staff read a proposal's reason: it is not
    # published (an idea's is, on the public site and in the open data).
    reason_key = "triage.ask_proposal_reason"

    def status(self, item: Proposal) -> ProposalStatus:
        return item.status

    def item_id(self, item: Proposal) -> int:
        return item.id

    async def load(self, ctx: Context, item_id: int) -> Proposal | None:
        return await ctx.repos.proposals.get(item_id)

    async def missing(self, ctx: Context, item_id: int) -> Response:
        return respond(menu_reply(ctx, "triage.proposal_not_found", id=item_id))

    def first_step(self, item: Proposal, decision: str) -> str | None:
        wanted = self.wanted(decision)
        if decision != REOPEN and wanted in (ProposalStatus.FUNDED, ProposalStatus.COFUNDED):
            return AMOUNT
        return _after_amount(item, decision)

    writes = launch.WRITES

    def written(self, data: dict[str, Any]) -> list[Reply]:
        return launch.written(data)

    async def changed(
        self, ctx: Context, item: Proposal, dialog: Dialog, text: str | None
    ) -> Response | None:
        refused = await super().changed(ctx, item, dialog, text)
        if refused is not None or item.experiment_id is None:
            return refused
        experiment = await ctx.repos.experiments.get(item.experiment_id)
        return launch.named_meanwhile(ctx, dialog, experiment, await self.card(ctx, item))

    def begin_data(self, ctx: Context, item: Proposal, decision: str) -> dict[str, Any]:
        # The place as the resident typed it stays private; a neighbourhood's name (picked
        # with a button) tells the experiment's neighbourhood.
        typed = item.place.strip().casefold()
        hood = next(
            (n for n in ctx.profile.neighbourhoods if typed == n.id or typed in n.name.folded()),
            None,
        )
        return {"neighbourhood": hood.id if hood is not None else None}

    async def card(self, ctx: Context, item: Proposal) -> Reply:
        # A reason goes to the author as typed: the language they read, where not Dutch.
        parts = [*await reads(ctx, item.author_user_id), Reply(key="triage.proposal_history")]
        for change in await ctx.repos.proposals.history(item.id):
            parts.append(
                Reply(
                    key="triage.proposal_history_line",
                    params={
                        "when": when.day(ctx.local(change.at), ctx.lang),
                        "status": self.label(ctx, change.status.value),
                        "amount": format_euro(change.amount_cents, ctx.lang)
                        if change.amount_cents is not None
                        else "",
                    },
                )
            )
            if change.reason:
                parts.append(Reply(key="ideas.history_reason", params={"reason": change.reason}))
        if item.experiment_id is not None:
            # Approved once (and reopened since): the experiment it became.
            experiment = await ctx.repos.experiments.get(item.experiment_id)
            if experiment is not None:
                parts.append(
                    Reply(
                        key="triage.card_experiment",
                        params={"title": experiment.title(ctx.lang)},
                    )
                )
        limit = format_euro(ctx.profile.full_financing_limit * 100, ctx.lang)
        financing = "triage.within_limit" if item.full_financing else "triage.above_limit"
        return Reply(
            key="triage.proposal_card",
            params={
                "waiting": await ctx.repos.triage.waiting(),
                "id": item.id,
                "what": item.what,
                "place": item.place,
                "partners": item.partners,
                "budget": format_euro(item.budget_cents, ctx.lang),
                "financing": phrase(ctx, financing, limit=limit),
                "status": self.label(ctx, item.status.value),
                "date": when.day(ctx.local(item.created_at), ctx.lang),
            },
            parts=parts,
            buttons=[
                *self.decision_buttons(item),
                [self.desk.later_button(self.name, item.id)],
                [Button(label="menu.back", payload="menu")],
            ],
        )

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        question = await super().reason_question(ctx, dialog)
        if self.wanted(str(dialog.data["decision"])) not in STARTS_EXPERIMENT:
            return question
        proposal = await ctx.repos.proposals.get(int(dialog.data["id"]))
        if proposal is None or proposal.experiment_id is None:
            return question
        experiment = await ctx.repos.experiments.get(proposal.experiment_id)
        return launch.again(ctx, question, experiment)

    def author(self, item: Proposal) -> int | None:
        return item.author_user_id

    def made(self, item: Proposal) -> datetime:
        return item.created_at

    async def followers(self, ctx: Context, item: Proposal) -> list[int]:
        return await ctx.repos.proposals.followers(item.id)

    async def change(
        self,
        ctx: Context,
        item: Proposal,
        dialog: Dialog,
        status: ProposalStatus,
        reason: str | None,
    ) -> Changed | Again:
        reopening = dialog.data["decision"] == REOPEN
        amount = dialog.data.get("amount")
        changed = await ctx.repos.triage.set_proposal_status(
            item.id,
            status,
            now=ctx.now,
            by_user_id=ctx.user.id,
            reason=reason,
            amount_cents=int(amount) if amount is not None else None,
            reopen=reopening,
        )
        detail: dict[str, Any] = {}
        if amount is not None:
            detail["amount_cents"] = int(amount)
        experiment: Experiment | None = None
        if status in STARTS_EXPERIMENT and changed.experiment_id is None:
            experiment = await launch.start(ctx, dialog)
            await ctx.repos.proposals.link_experiment(item.id, experiment.id)
            detail["experiment"] = experiment.id
        elif status in STARTS_EXPERIMENT and changed.experiment_id is not None:
            # Approved again after reopening: it became that experiment already (its notice
            # names it, and offers to join while it runs).
            experiment = await ctx.repos.experiments.get(changed.experiment_id)

        def build(lang: str, own: bool) -> list[Reply]:
            return [_notice(ctx, lang, item, status, reopening, amount, reason, experiment, own)]

        return Changed(detail, build)


def _after_amount(proposal: Proposal, decision: str) -> str:
    """Naming the experiment, for a decision that starts one (once per proposal)."""
    wanted = next((s for s in STARTS_EXPERIMENT if s.value == decision), None)
    if wanted is not None and proposal.experiment_id is None:
        return launch.TITLE
    return "reason"


def _notice(
    ctx: Context,
    lang: str,
    proposal: Proposal,
    status: ProposalStatus,
    reopening: bool,
    amount: Any,
    reason: str | None,
    experiment: Experiment | None,
    own: bool,
) -> Reply:
    """The message its author (``own``) or a follower gets, in ``lang``."""
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
    if experiment is not None and experiment.status == "running":
        buttons.insert(0, [Button(label="triage.btn_join", payload=f"exp.join:{experiment.id}")])
    elif experiment is not None and not reopening:
        # Approved again after its experiment ended: said so, not "it becomes the
        # experiment" as if it were about to start.
        key = f"{key}_ended"
    return Reply(
        key=f"triage.proposal_notice.{key}",
        params=params,
        parts=reason_parts(
            ctx,
            lang,
            reason,
            "triage.notice_why_own_proposal" if own else "triage.notice_why_proposal",
        ),
        buttons=buttons,
    )


# The amount decided -------------------------------------------------------------------------


async def _ask_amount(ctx: Context, dialog: Dialog) -> Reply:
    proposal = await ctx.repos.proposals.get(int(dialog.data["id"]))
    buttons = []
    # Paid in full, the amount asked above the limit could only be refused: typed instead.
    most = ctx.profile.full_financing_limit * 100
    funded = dialog.data["decision"] == ProposalStatus.FUNDED.value
    if (
        proposal is not None
        and proposal.budget_cents > 0
        and not (funded and proposal.budget_cents > most)
    ):
        asked = format_euro(proposal.budget_cents, ctx.lang)
        buttons.append([dialog.button("triage.btn_amount_asked", "asked", amount=asked)])
    limit = format_euro(most, ctx.lang)
    status = phrase(ctx, f"proposals.status.{dialog.data['decision']}")
    return Reply(
        key="triage.ask_amount", params={"status": status, "limit": limit}, buttons=buttons
    )


async def _amount(ctx: Context, dialog: Dialog, choice: str | None) -> Dialog | Reply:
    """The amount decided: the amount asked (a button) or a typed amount in euro."""
    proposal = await ctx.repos.proposals.get(int(dialog.data["id"]))
    if choice == "asked":
        cents = proposal.budget_cents if proposal else None
    elif choice is None:
        # A photo, a sticker or nothing visible is no amount typed wrongly: ask for text.
        typed = read_text(ctx, 1000)
        if isinstance(typed, Reply):
            return typed
        cents = parse_euro(typed)
    else:
        cents = None
    if not cents:
        return Reply(key="triage.amount_invalid", params={"typed": graphemes.cut(ctx.text, 20)})
    limit = ctx.profile.full_financing_limit * 100
    if dialog.data["decision"] == ProposalStatus.FUNDED.value and cents > limit:
        return Reply(
            key="triage.amount_over_limit",
            params={"amount": format_euro(cents, ctx.lang), "limit": format_euro(limit, ctx.lang)},
        )
    following = _after_amount(proposal, str(dialog.data["decision"])) if proposal else "reason"
    return dialog.to(following, amount=cents)


Proposals.steps = {AMOUNT: Step(_ask_amount, _amount, Expects.NUMBER), **launch.STEPS}
