"""One review pipeline: staff decide about one item at a time, and everyone concerned hears.

Triage (ideas and proposals), moderation (reported comments and ideas) and the inbox
(residents' questions) are the same conversation, written once here:

    card ──decision──► details, one step each ──► reason ──► carried out ──► what comes next
     ▲                 (a theme, an amount,       (typed, or       ├ people told (outbox)   (the
     │                  a period, a title...)      "geen            └ audit log              next
     └────── Stoppen, at any step ◄─────────────── toelichting")                             card)

A :class:`Desk` is one such place of work: the dialog (one handler per step, declared with
the feature's :meth:`~handlers.feature.Feature.dialog`), the decision button
``<prefix>.do:<ref>:<decision>``, and "later" ``<prefix>.next:<ref>``. Each kind of item on
a desk is a :class:`Kind`: how to load it, show it, check a decision and carry it out. An
item travels in payloads as a :class:`Ref`, a letter and a number (``i12``, ``p3``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from handlers.answers import parse_id, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond, rows
from handlers.feature import Context, Expects, Feature, StepHandler, menu_reply
from handlers.locales import name_in, own_name
from handlers.notices import Build, notify
from handlers.phrases import phrase
from handlers.start.menu import stale_button
from storage.clock import iso
from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaStatus
from storage.ideas.statuses import TransitionError, check, is_final, next_statuses

T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    """An item on a desk: its kind and id; ``i12`` in a payload."""

    kind: str
    id: int


@dataclass(frozen=True)
class Step:
    """A step between the decision and the reason (a theme to choose, an amount to type).

    ``ask`` makes the question with its own buttons (the desk adds the button to stop);
    ``answer`` reads the answer (``choice`` is a pressed dialog button's value, None for
    typed text) and returns the dialog at the step that comes next, or a hint to ask again.
    ``expects``: what is typed there (a number typed where words or an amount are asked is
    that answer, not one of the options numbered on Matrix and in the console).
    """

    ask: Callable[[Context, Dialog], Awaitable[Reply]]
    answer: Callable[[Context, Dialog, str | None], Awaitable[Dialog | Reply]]
    expects: Expects = Expects.CHOICE


@dataclass
class Decided:
    """A decision carried out: what the reviewer reads, and triggers to arm."""

    done: Reply
    timers: list[Timer] = field(default_factory=list)


@dataclass
class Again:
    """The decision cannot be carried out as asked: ask ``step`` again with ``hint``."""

    step: str
    hint: Reply


@dataclass
class Changed:
    """A status changed: the facts for the audit log, and the notice in each language, for
    its author (``own``) or for someone who follows it."""

    detail: dict[str, Any]
    build: Callable[[str, bool], list[Reply]]


#: What carrying out a decision came to; a Response is a refusal, shown as it is.
Outcome = Decided | Again | Response


@dataclass(frozen=True)
class Notice:
    """Messages about a decision to the people it concerns (outbox ``kind``, per language).

    The audit entry records how many were queued under ``record`` (or, with ``flag``,
    whether any was).
    """

    recipients: Iterable[int | None]
    build: Build
    kind: str
    record: str = "notified"
    flag: bool = False


async def announce(
    ctx: Context,
    action: str,
    *notices: Notice,
    detail: dict[str, Any],
    subject: str = "user",
    subject_user_id: int | None = None,
    reason: str | None = None,
) -> dict[str, int]:
    """Tell everyone a decision concerns, then write it to the audit log; returns the counts.

    The reviewer is never told about their own decision (see :func:`handlers.notices.notify`).
    """
    counts: dict[str, int] = {}
    recorded: dict[str, Any] = {}
    for notice in notices:
        queued = await notify(ctx, notice.recipients, kind=notice.kind, build=notice.build)
        counts[notice.record] = counts.get(notice.record, 0) + queued
        recorded[notice.record] = (
            counts[notice.record] > 0 if notice.flag else counts[notice.record]
        )
    await ctx.repos.audit.record(
        action,
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=subject,
        subject_user_id=subject_user_id,
        detail={**detail, **recorded},
        reason=reason,
    )
    return counts


async def reads(ctx: Context, user_id: int | None) -> list[Reply]:
    """The line that tells staff which language the person their words go to reads, where
    it is not Dutch ("De inwoner leest Arabisch (العربية)"): Samenspel does not translate,
    so staff may choose plainer words. Empty for a Dutch reader, and in a group or room (a
    person's language is theirs, not something to tell a group)."""
    if user_id is None or ctx.event.is_group:
        return []
    person = await ctx.repos.users.get(user_id)
    if person is None or not ctx.catalog.speaks(person.language):
        return []  # no language chosen (or one since removed): they read Dutch
    lang = ctx.catalog.language(person.language)
    if lang == ctx.catalog.default:
        return []
    theirs, ours = own_name(lang), name_in(lang, ctx.lang)
    shown = theirs if ours.casefold() == theirs.casefold() else f"{ours} ({theirs})"
    return [Reply(key="languages.reads", params={"language": shown})]


def _owner(dialog: Dialog) -> int | None:
    """The owner of the item a desk's dialog is about, as kept when it began (None: nobody,
    or a dialog begun before items were remembered)."""
    kept = dialog.data.get("item")
    owner = kept.get("owner") if isinstance(kept, dict) else None
    return owner if isinstance(owner, int) else None


class Kind(Generic[T]):
    """One kind of item a desk decides about. Subclasses fill in what differs."""

    #: Its name in dialog data and audit subjects (``idea``, ``proposal``, ``comment``).
    name: str
    #: The letters it is known by in a payload (the first one is written).
    letters: str
    #: Steps this kind asks for, by name (shared steps may appear in several kinds).
    steps: ClassVar[dict[str, Step]] = {}
    #: The desk it is on (set by the desk).
    desk: Desk

    async def load(self, ctx: Context, item_id: int) -> T | None:
        """The item if it can be decided about (None: gone, or no longer waiting)."""
        raise NotImplementedError

    async def missing(self, ctx: Context, item_id: int) -> Response:
        """What the reviewer reads when the item cannot be loaded."""
        raise NotImplementedError

    async def card(self, ctx: Context, item: T) -> Reply:
        """The item as the reviewer sees it, with the decisions that can be taken."""
        raise NotImplementedError

    def state(self, item: T) -> str:
        """What the item's state is now: a decision taken meanwhile changes it."""
        raise NotImplementedError

    def made(self, item: T) -> datetime:
        """When the item was made (it never changes)."""
        raise NotImplementedError

    def owner(self, item: T) -> int | None:
        """The person whose item it is (None: nobody's, or theirs no longer)."""
        raise NotImplementedError

    def identity(self, item: T) -> dict[str, Any]:
        """What tells this item from another that may have its number later: a dialog
        keeps it from the decision on, and refuses once the number holds another item."""
        return {"made": iso(self.made(item)), "owner": self.owner(item)}

    def same(self, item: T, dialog: Dialog) -> bool:
        """Whether ``item`` is still the one the dialog began about. An owner may go (their
        link emptied when they were erased) but is never replaced by another person."""
        kept = dialog.data.get("item")
        if not isinstance(kept, dict):
            return True  # a dialog begun before items were remembered
        now = self.identity(item)
        if kept.get("made") != now["made"]:
            return False
        return kept.get("owner") is None or now["owner"] in (None, kept.get("owner"))

    async def refuse(self, ctx: Context, item: T, decision: str) -> Response | None:
        """Why ``decision`` cannot be taken on this item (None: it can)."""
        raise NotImplementedError

    def first_step(self, item: T, decision: str) -> str | None:
        """The step after choosing ``decision``: a detail, the reason, or None (at once)."""
        raise NotImplementedError

    async def opening(self, ctx: Context, item: T, decision: str) -> str | None:
        """The step after choosing ``decision``, where it depends on what is stored beside
        the item (an experiment it became already); :meth:`first_step` otherwise."""
        return self.first_step(item, decision)

    def begin_data(self, ctx: Context, item: T, decision: str) -> dict[str, Any]:
        """What the dialog's steps need to know about the item from the start."""
        return {}

    #: Steps whose typed text :meth:`written` gives back (by the step's name in the data).
    writes: ClassVar[frozenset[str]] = frozenset()

    def written(self, data: dict[str, Any]) -> list[Reply]:
        """What the reviewer wrote at the dialog's steps (an experiment's title), given back
        when the decision is refused, so that nothing they wrote is lost without a word."""
        return []

    def words(self, item: T) -> str | None:
        """A short fingerprint of what the item's author may still change while it is
        decided on (kept in the dialog, never the words themselves); None: nothing."""
        return None

    def edited(self, item: T) -> Reply:
        """The line that says its author changed the item while it was decided on."""
        raise NotImplementedError

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        """The question for the reason (or the text, for an answer)."""
        raise NotImplementedError

    def reason_optional(self, decision: str) -> bool:
        """Whether "geen toelichting" is offered for this decision."""
        return False

    async def changed(
        self, ctx: Context, item: T, dialog: Dialog, text: str | None
    ) -> Response | None:
        """Just before carrying out: why it can no longer be (someone else decided, or its
        author changed it: a decision and its reason must be about the words as they are
        now; the card shows them)."""
        if self.state(item) != dialog.data.get("from"):
            return respond(await self.card(ctx, item))
        seen = dialog.data.get("words")
        if seen is None or seen == self.words(item):
            return None  # unchanged (or a dialog begun before this was kept)
        return respond(self.edited(item), await self.card(ctx, item))

    async def carry_out(self, ctx: Context, item: T, dialog: Dialog, text: str | None) -> Outcome:
        """Make the decision: storage, notices and audit log (:func:`announce`)."""
        raise NotImplementedError


def fingerprint(*fields: object) -> str:
    """A short fingerprint of what an author may change (for :meth:`Kind.words`)."""
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


#: What the reviewer sees after a decision, given the item and the confirmation.
After = Callable[[Context, Ref, Reply], Awaitable[Response]]
#: Reads the answer at a step of a desk's dialog, given the pressed button's value.
Answer = Callable[[Context, Dialog, str | None], Awaitable[Response]]
#: The item to show after ``Ref`` in a queue (the first one for None), or None.
Queue = Callable[[Context, Ref | None], Awaitable[Ref | None]]
#: What the reviewer reads when the queue has nothing (more) to show.
Rest = Callable[[Context], Awaitable[Reply]]


class Desk:
    """A place where staff decide about items one at a time; see the module docstring.

    ``name`` is the catalog section of its words (``<name>.cancelled``,
    ``<name>.btn_cancel``, ``<name>.btn_no_reason``, ``<name>.btn_later``,
    ``<name>.from_the_start``, ``<name>.empty``, ``<name>.not_sent`` with ``{text}``).
    """

    def __init__(
        self,
        feature: Feature,
        *,
        name: str,
        dialog: str,
        role: Role,
        kinds: Sequence[Kind[Any]],
        after: After,
        queue: Queue | None = None,
        fresh: Queue | None = None,
        rest: Rest | None = None,
        prefix: str | None = None,
        reason_step: str = "reason",
        max_reason: int = 1000,
        min_reason: int = 3,
    ):
        self.name = name
        self.kinds = {kind.name: kind for kind in kinds}
        self.default = kinds[0]
        self.after = after
        self.queue = queue
        #: The part of the queue nobody decided anything about yet (where a decision can
        #: leave an item in the queue, as "in behandeling" does); the whole queue without.
        self.fresh = fresh or queue
        self.rest = rest
        self.prefix = prefix
        self.reason_step = reason_step
        self.max_reason = max_reason
        self.min_reason = min_reason
        self.steps: dict[str, Step] = {}
        self.spec = feature.dialog(dialog, role=role, subject=f"drafts.subject.{dialog}")
        self.spec.written = self._written
        for kind in kinds:
            kind.desk = self
            for step_name, step in kind.steps.items():
                if self.steps.setdefault(step_name, step) is not step:
                    raise ValueError(f"{name}: two kinds declare step {step_name!r}")
        for step_name, step in self.steps.items():
            self.spec.step(step_name, expects=step.expects)(self._step(self._detail))
        # The reason is typed: "2" is a (too short) reason, never the second button.
        self.spec.step(reason_step, expects=Expects.TEXT)(self._step(self._reason))
        self.spec.ask(*self.steps, reason_step)(self._ask_again)
        if prefix is not None:
            feature.action(f"{prefix}.do", role=role)(self._choose)
            if queue is not None:
                feature.action(f"{prefix}.next", role=role)(self._later)

    # Refs ------------------------------------------------------------------------------

    def ref(self, kind: str, item_id: int) -> str:
        """An item as written in a payload: ``i12``."""
        return f"{self.kinds[kind].letters[0]}{item_id}"

    def parse(self, text: str) -> Ref | None:
        """``i12``, ``#12`` or ``12`` (the first kind), ``p3``: the item, or None."""
        text = text.strip().lower().lstrip("#")
        kind = self.default
        for candidate in self.kinds.values():
            if text[:1] and text[:1] in candidate.letters:
                kind, text = candidate, text[1:].lstrip("#")
                break
        found = parse_id(text)
        return Ref(kind.name, found) if found is not None else None

    def decision_button(self, label: str, kind: str, item_id: int, decision: str) -> Button:
        """A decision on a card: ``<prefix>.do:<ref>:<decision>``."""
        return Button(
            label=label, payload=f"{self.prefix}.do:{self.ref(kind, item_id)}:{decision}"
        )

    def later_button(self, kind: str, item_id: int) -> Button:
        """Leave this one for later: ``<prefix>.next:<ref>``."""
        return Button(
            label=f"{self.name}.btn_later", payload=f"{self.prefix}.next:{self.ref(kind, item_id)}"
        )

    # Showing --------------------------------------------------------------------------

    async def show(self, ctx: Context, ref: Ref, *notices: Reply) -> Response:
        """The card of one item, after ``notices``."""
        kind = self.kinds[ref.kind]
        item = await kind.load(ctx, ref.id)
        if item is None:
            missing = await kind.missing(ctx, ref.id)
            return Response(replies=[*notices, *missing.replies])
        return respond(*notices, await kind.card(ctx, item))

    async def next_card(self, ctx: Context, after: Ref | None, *notices: Reply) -> Response:
        """The card after ``after`` in the desk's queue; past the end, the first one again."""
        assert self.queue is not None, f"{self.name} has no queue"
        replies = list(notices)
        found = await self.queue(ctx, after)
        if found is None and after is not None:
            found = await self.queue(ctx, None)
            if found is not None:
                replies.append(Reply(key=f"{self.name}.from_the_start"))
        return await self._card_or_rest(ctx, found, replies)

    async def onwards(self, ctx: Context, decided: Ref, *notices: Reply) -> Response:
        """The card after a decision about ``decided``: the next one nobody decided about
        yet; past the end, the oldest such one, but never ``decided`` itself (its card
        again would look as if the decision did not hold); with none, the rest."""
        assert self.fresh is not None, f"{self.name} has no queue"
        replies = list(notices)
        found = await self.fresh(ctx, decided)
        if found is None:
            found = await self.fresh(ctx, None)
            if found == decided:
                found = None
            if found is not None:
                replies.append(Reply(key=f"{self.name}.from_the_start"))
        return await self._card_or_rest(ctx, found, replies)

    async def _card_or_rest(
        self, ctx: Context, found: Ref | None, replies: list[Reply]
    ) -> Response:
        item = await self.kinds[found.kind].load(ctx, found.id) if found is not None else None
        if found is None or item is None:
            rest = await self.rest(ctx) if self.rest else menu_reply(ctx, f"{self.name}.empty")
            return respond(*replies, rest)
        return respond(*replies, await self.kinds[found.kind].card(ctx, item))

    async def _later(self, ctx: Context) -> Response:
        """``<prefix>.next:<ref>``: the next card (this item stays in the queue)."""
        ref = self.parse(ctx.value)
        if ref is None:
            return await stale_button(ctx)
        return await self.next_card(ctx, ref)

    # Deciding -------------------------------------------------------------------------

    async def _choose(self, ctx: Context) -> Response:
        """``<prefix>.do:<ref>:<decision>``: begin a decision from a card's button."""
        raw_ref, _, decision = ctx.value.partition(":")
        ref = self.parse(raw_ref) if raw_ref else None
        if ref is None or not decision:
            return await stale_button(ctx)
        return await self.begin(ctx, ref, decision)

    async def begin(self, ctx: Context, ref: Ref, decision: str) -> Response:
        """Begin ``decision`` about an item: ask its first step, or carry it out at once."""
        kind = self.kinds[ref.kind]
        item = await kind.load(ctx, ref.id)
        if item is None:
            return await kind.missing(ctx, ref.id)
        refusal = await kind.refuse(ctx, item, decision)
        if refusal is not None:
            return refusal
        first = await kind.opening(ctx, item, decision)
        dialog = Dialog(
            name=self.spec.name,
            step=first or self.reason_step,
            data={
                "kind": kind.name,
                "id": ref.id,
                "decision": decision,
                "from": kind.state(item),
                "item": kind.identity(item),
                **({} if (words := kind.words(item)) is None else {"words": words}),
                **kind.begin_data(ctx, item, decision),
            },
        )
        if first is None:
            # Nothing to ask (closing a question): no dialog, so none the reviewer had ends.
            return await self._decide(ctx, dialog, None, in_dialog=False)
        return await self.ask(ctx, dialog)

    async def ask(self, ctx: Context, dialog: Dialog, *, hint: Reply | None = None) -> Response:
        """The question of the dialog's step, with a button to stop."""
        kind = self._kind(dialog)
        cancel = [dialog.button(f"{self.name}.btn_cancel", "cancel")]
        if dialog.step == self.reason_step:
            question = await kind.reason_question(ctx, dialog)
            # The reason (an answer) reaches the item's owner as typed: which language
            # they read, under the question.
            owner = _owner(dialog)
            question = question.model_copy(
                update={"parts": [*question.parts, *await reads(ctx, owner)]}
            )
            buttons = [cancel]
            if kind.reason_optional(str(dialog.data["decision"])):
                buttons.insert(0, [dialog.button(f"{self.name}.btn_no_reason", "none")])
        else:
            question = await self.steps[dialog.step].ask(ctx, dialog)
            buttons = [*question.buttons, cancel]
        question = question.model_copy(update={"buttons": buttons})
        return respond(*([hint] if hint else []), question, dialog=dialog)

    async def _ask_again(self, ctx: Context, dialog: Dialog) -> Response:
        """The question of the step the reviewer is at, asked again (the chat opened anew,
        "Verder"). The item is loaded first: one that went, or that someone else decided
        about meanwhile, is said at once and the dialog ends, with what the reviewer wrote
        at earlier steps given back, rather than a question asked for nothing."""
        if not self._readable(dialog):
            return await self._unreadable(ctx)
        refused = await self._gone(ctx, dialog, None)
        if refused is not None:
            replies = self._given_back(
                refused.replies, None, self._kind(dialog).written(dialog.data)
            )
            return Response(replies=replies, end_dialog=True)
        return await self.ask(ctx, dialog)

    async def _gone(self, ctx: Context, dialog: Dialog, typed: str | None) -> Response | None:
        """Why the dialog's item can no longer be decided about as begun (it went, its
        number holds another item, someone else decided, its author changed it), or None."""
        ref, kind = self._ref(dialog), self._kind(dialog)
        item = await kind.load(ctx, ref.id)
        if item is None or not kind.same(item, dialog):
            return await kind.missing(ctx, ref.id)
        # Decided by someone else meanwhile (or changed by its author): said at once,
        # not after the experiment was named and described for nothing.
        return await kind.changed(ctx, item, dialog, typed)

    def _written(self, data: dict[str, Any]) -> list[Reply]:
        """What the reviewer wrote at the dialog's steps (for a dialog dropped: a role
        revoked); nothing for data this version cannot read."""
        kind = self.kinds.get(str(data.get("kind")))
        return kind.written(data) if kind is not None else []

    def _kind(self, dialog: Dialog) -> Kind[Any]:
        return self.kinds[str(dialog.data["kind"])]

    def _ref(self, dialog: Dialog) -> Ref:
        return Ref(str(dialog.data["kind"]), int(dialog.data["id"]))

    async def _stopped(self, ctx: Context, dialog: Dialog) -> Response:
        shown = await self.show(ctx, self._ref(dialog), Reply(key=f"{self.name}.cancelled"))
        return Response(replies=shown.replies, end_dialog=True)

    def _readable(self, dialog: Dialog) -> bool:
        """Whether a stored dialog is one this desk wrote (not one of an older version)."""
        data = dialog.data
        return (
            data.get("kind") in self.kinds
            and isinstance(data.get("id"), int)
            and isinstance(data.get("decision"), str)
        )

    async def _unreadable(self, ctx: Context) -> Response:
        return Response(replies=[menu_reply(ctx, f"{self.name}.cancelled")], end_dialog=True)

    def _step(self, handler: Answer) -> StepHandler:
        """A step of the desk's dialog: stopping works alike everywhere; then ``handler``
        reads the answer (a pressed dialog button's value, or None for typed text)."""

        async def step(ctx: Context, dialog: Dialog) -> Response:
            if not self._readable(dialog):
                return await self._unreadable(ctx)
            choice = ctx.value if ctx.event.button is not None else None
            if choice == "cancel":
                return await self._stopped(ctx, dialog)
            return await handler(ctx, dialog, choice)

        return step

    async def _detail(self, ctx: Context, dialog: Dialog, choice: str | None) -> Response:
        """A step between decision and reason; the step itself reads the answer.

        An item that went meanwhile (its author erased with it) is said to be gone at once,
        with any words typed for it given back: the steps that remain (an amount, the
        experiment's name) would otherwise be asked for nothing, or misread without it.
        """
        kind = self._kind(dialog)
        step = self.steps[dialog.step]
        typed = ctx.text if choice is None and step.expects is Expects.TEXT else None
        refused = await self._gone(ctx, dialog, typed)
        if refused is not None:
            data = dialog.data
            if typed and dialog.step in kind.writes:
                # The text typed just now is one of those (the title): given back as that.
                data, typed = {**data, dialog.step: typed}, None
            replies = self._given_back(refused.replies, typed, kind.written(data))
            return Response(replies=replies, end_dialog=True)
        answer = await self.steps[dialog.step].answer(ctx, dialog, choice)
        if isinstance(answer, Reply):
            return await self.ask(ctx, dialog, hint=answer)
        return await self.ask(ctx, answer)

    async def _reason(self, ctx: Context, dialog: Dialog, choice: str | None) -> Response:
        """The reason (typed, or none where it is optional); then the decision is made."""
        kind = self._kind(dialog)
        if choice == "none" and kind.reason_optional(str(dialog.data["decision"])):
            return await self._decide(ctx, dialog, None)
        if choice is not None:
            return await self.ask(ctx, dialog, hint=Reply(key="answers.use_buttons_or_type"))
        text = read_text(ctx, self.max_reason, min_length=self.min_reason)
        if isinstance(text, Reply):
            return await self.ask(ctx, dialog, hint=text)
        return await self._decide(ctx, dialog, text)

    async def _decide(
        self, ctx: Context, dialog: Dialog, text: str | None, *, in_dialog: bool = True
    ) -> Response:
        """Load the item again, check nobody decided meanwhile, carry it out, go on."""
        ref, kind = self._ref(dialog), self._kind(dialog)
        item = await kind.load(ctx, ref.id)
        if item is None or not kind.same(item, dialog):
            # Gone, or its number now belongs to another item: never decide about that one.
            refused = await kind.missing(ctx, ref.id)
        else:
            changed = await kind.changed(ctx, item, dialog, text)
            if changed is not None:
                refused = changed
            else:
                outcome = await kind.carry_out(ctx, item, dialog, text)
                if isinstance(outcome, Again):
                    again = await self.ask(ctx, dialog.to(outcome.step), hint=outcome.hint)
                    # Asked a step before the reason again: what they typed comes back.
                    replies = self._given_back(again.replies, text)
                    return again.model_copy(update={"replies": replies})
                if isinstance(outcome, Decided):
                    following = await self.after(ctx, ref, outcome.done)
                    return Response(
                        replies=following.replies, end_dialog=in_dialog, timers=outcome.timers
                    )
                refused = outcome
        replies = self._given_back(refused.replies, text, kind.written(dialog.data))
        return Response(replies=replies, end_dialog=in_dialog)

    def _given_back(
        self, refusal: list[Reply], text: str | None, written: list[Reply] | None = None
    ) -> list[Reply]:
        """A refusal of a decision the reviewer typed a text for (the item went, or changed
        meanwhile): the text, and what they wrote at earlier steps (``written``), come back
        right after why, so nothing they wrote is lost."""
        kept = list(written or [])
        if text:
            kept.append(Reply(key=f"{self.name}.not_sent", params={"text": text}))
        return [*refusal[:1], *kept, *refusal[1:]]


# Items that move through a status process (triage) ------------------------------------------

Status = IdeaStatus | ProposalStatus
S = TypeVar("S", IdeaStatus, ProposalStatus)
#: The decision that takes a final status back to "in behandeling".
REOPEN = "reopen"


class StatusKind(Kind[T], Generic[T, S]):
    """A kind whose decisions are the next status in its process (:mod:`storage.ideas.statuses`):
    an idea or a proposal on the connector's triage desk. Its words are in ``triage.*``; its
    statuses are ``<section>.status.<value>``."""

    section: str
    #: The statuses the connector can choose on a card, in the order of the buttons.
    choices: tuple[S, ...]
    #: A "no" always says why.
    reason_required: frozenset[S]
    #: The step after choosing a status (by value) that needs more than a reason.
    detail_steps: ClassVar[dict[str, str]] = {}
    #: The question for the reason (``_required`` and ``_reopen`` beside it): it tells the
    #: connector who will read it, and that differs per kind (an idea's reason is public).
    reason_key: ClassVar[str] = "triage.ask_reason"

    def status(self, item: T) -> S:
        raise NotImplementedError

    def item_id(self, item: T) -> int:
        raise NotImplementedError

    def state(self, item: T) -> str:
        return self.status(item).value

    def owner(self, item: T) -> int | None:
        return self.author(item)

    def label(self, ctx: Context, status: str) -> str:
        """A status as the connector and residents read it."""
        return phrase(ctx, f"{self.section}.status.{status}")

    def what(self, ctx: Context, item_id: int) -> str:
        """ "idee #12", "voorstel #3"."""
        return phrase(ctx, f"triage.item_{self.name}", id=item_id)

    def wanted(self, decision: str) -> S | None:
        """The status a decision asks for (reopening asks for "in behandeling")."""
        if decision == REOPEN:
            decision = IdeaStatus.IN_REVIEW.value
        return next((s for s in type(self.choices[0]) if s.value == decision), None)

    def decision_buttons(self, item: T) -> list[list[Button]]:
        """The statuses that may follow this item's, two to a row; reopen for a decision."""
        allowed = next_statuses(self.status(item))
        buttons = [
            self.desk.decision_button(
                f"triage.btn.{status.value}", self.name, self.item_id(item), status.value
            )
            for status in self.choices
            if status in allowed
        ]
        laid = rows(buttons, 2)
        if is_final(self.status(item)):
            reopen = self.desk.decision_button(
                "triage.btn_reopen", self.name, self.item_id(item), REOPEN
            )
            laid.append([reopen])
        return laid

    async def refuse(self, ctx: Context, item: T, decision: str) -> Response | None:
        current = self.status(item)
        if decision == REOPEN:
            if is_final(current):
                return None
            return respond(
                Reply(key="triage.not_decided", params={"status": self.label(ctx, current)}),
                await self.card(ctx, item),
            )
        wanted = self.wanted(decision)
        if wanted is None or wanted not in self.choices:
            return await stale_button(ctx)
        try:
            check(current, wanted)
        except TransitionError as refused:
            return respond(self.illegal(ctx, refused), await self.card(ctx, item))
        return None

    def illegal(self, ctx: Context, refused: TransitionError) -> Reply:
        """Why a status cannot follow the current one, and what can."""
        current = self.label(ctx, refused.current.value)
        params = {"current": current, "wanted": self.label(ctx, refused.wanted.value)}
        if refused.final:
            return Reply(key="triage.illegal_final", params=params)
        possible = next_statuses(refused.current)
        allowed = ", ".join(self.label(ctx, s.value) for s in self.choices if s in possible)
        return Reply(key="triage.illegal", params={**params, "allowed": allowed})

    def first_step(self, item: T, decision: str) -> str | None:
        if decision == REOPEN:
            return self.desk.reason_step
        return self.detail_steps.get(decision, self.desk.reason_step)

    def reason_optional(self, decision: str) -> bool:
        wanted = self.wanted(decision)
        return decision == REOPEN or wanted not in self.reason_required

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        decision = str(dialog.data["decision"])
        if decision == REOPEN:
            key = f"{self.reason_key}_reopen"
        elif self.reason_optional(decision):
            key = self.reason_key
        else:
            key = f"{self.reason_key}_required"
        wanted = self.wanted(decision)
        return Reply(
            key=key,
            params={
                "what": self.what(ctx, int(dialog.data["id"])),
                "status": self.label(ctx, wanted.value if wanted else decision),
                "max": self.desk.max_reason,
            },
        )

    async def changed(
        self, ctx: Context, item: T, dialog: Dialog, text: str | None
    ) -> Response | None:
        if self.state(item) == dialog.data.get("from"):
            # Its author may have changed it meanwhile (see :meth:`Kind.changed`).
            return await super().changed(ctx, item, dialog, text)
        # Someone else decided meanwhile: show where it stands now.
        return respond(
            Reply(
                key="triage.changed_meanwhile",
                params={"status": self.label(ctx, self.state(item))},
            ),
            await self.card(ctx, item),
        )

    def author(self, item: T) -> int | None:
        raise NotImplementedError

    async def followers(self, ctx: Context, item: T) -> list[int]:
        raise NotImplementedError

    async def change(
        self, ctx: Context, item: T, dialog: Dialog, status: S, reason: str | None
    ) -> Changed | Again:
        """Store the new status (and what comes with it); raises TransitionError."""
        raise NotImplementedError

    async def carry_out(self, ctx: Context, item: T, dialog: Dialog, text: str | None) -> Outcome:
        """Change the status, tell the author and followers (each in their language), log it."""
        decision = str(dialog.data["decision"])
        status = self.wanted(decision)
        assert status is not None
        author = self.author(item)
        followers = set(await self.followers(ctx, item)) - {author}
        try:
            changed = await self.change(ctx, item, dialog, status, text)
        except TransitionError as refused:
            return respond(self.illegal(ctx, refused), await self.card(ctx, item))
        if isinstance(changed, Again):
            return changed
        item_id = self.item_id(item)
        counts = await announce(
            ctx,
            f"{self.name}.reopen" if decision == REOPEN else f"{self.name}.status",
            Notice([author], lambda lang: changed.build(lang, True), kind="status"),
            Notice(followers, lambda lang: changed.build(lang, False), kind="status"),
            detail={"from": self.state(item), "to": status.value, **changed.detail},
            subject=f"{self.name}:{item_id}",
            subject_user_id=self.author(item),
            reason=text,
        )
        done = Reply(
            key="triage.done",
            params={
                "what": self.what(ctx, item_id),
                "status": self.label(ctx, status.value),
                "notified": counts["notified"],
            },
        )
        return Decided(done)


def reason_parts(
    ctx: Context, lang: str, reason: str | None, why: str = "triage.notice_why"
) -> list[Reply]:
    """The reason of a status decision in a notice, and why the reader gets it (``why``:
    it is theirs, or they follow it; an idea or a proposal)."""
    parts = []
    if reason:
        parts.append(
            Reply(
                key="triage.notice_reason",
                params={"reason": reason, "connector": ctx.profile.connector(lang)},
                original=True,  # the connector's words, as written
            )
        )
    parts.append(Reply(key=why))
    return parts
