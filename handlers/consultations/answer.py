"""Residents answer consultations: question by question, saved at once, changeable until closing.

    invitation (outbox) or /peilingen ──► question 1 of n ──answer──► question 2 of n ──► ...
                                            │                            (each answer saved)
                                            ├─ several: tick ✅ ... ──Volgende──►
                                            ├─ text: Antwoord typen ──► typed ──►
                                            └─ Zeg ik liever niet ──►
    ... last answer ──► done ("bedankt"; aanpassen kan tot de sluiting) ──► review ──► change

A break, an old message or a restart changes nothing: every button says which consultation,
moment and question it answers, and the stored answers say where the person is. Answers
are refused (and nothing changes) once the consultation closed, for a question or value that
does not exist, from someone outside its audience, and for typed text that is too long.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import paging
from handlers.answers import confirmation, digits, read_text
from handlers.consultations import results as shown_results
from handlers.consultations.jobs import invitations_batch
from handlers.consultations.manage import overview
from handlers.consultations.shown import (
    MAX_TEXT,
    answer_words,
    base,
    brand,
    question,
    review,
    shown_time,
    to_list,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, given_back, respond
from handlers.feature import Context, Expects, Feature
from storage.consultations.model import (
    SKIP,
    Answer,
    Consultation,
    ConsultationKind,
    ConsultationStatus,
    QuestionKind,
    pick,
)
from storage.consultations.model import (
    Response as Taking,
)
from storage.outbox import DONE_FIRST

feature = Feature("consultations")
# Answering is bounded by the poll itself: one answer to each question one was asked.
feature.posts_bounded("consultation", why="one answer to each question of a poll one was asked")
feature.menu_entry("consultations.menu", "cs.list", order=45)

TEXT_DIALOG = "consult_text"
#: Closed consultations a person answered, shown in their list.
SHOWN_CLOSED = 5


@dataclass
class Target:
    """The consultation, moment and question a button (or typed answer) is about."""

    consultation: Consultation
    moment: int
    number: int
    response: Taking | None
    #: The page of the person's list it was opened from (1: the first, or not from there).
    page: int = 1


# Finding what a button is about ----------------------------------------------------------------


def _numbers(value: str, count: int) -> list[int] | None:
    pieces = value.split(":")
    if len(pieces) != count or not all(digits(p) and len(p) <= 12 for p in pieces):
        return None
    return [int(piece) for piece in pieces]


async def _target(
    ctx: Context, ids: list[int], *, answering: bool, page: int = 1
) -> Target | Response:
    """The consultation the person may see (and, ``answering``, still answer), with their
    response (made now when they may answer without having been asked); or why not (with
    the way back to the list at ``page``)."""
    consultation_id, moment, *rest = ids
    number = rest[0] if rest else 0
    consultation = await ctx.repos.consultations.get(consultation_id)
    if consultation is not None and consultation.status in (
        ConsultationStatus.DRAFT,
        ConsultationStatus.SCHEDULED,
    ):
        # A preview's buttons, or a scheduled poll's: nothing to answer yet.
        return respond(Reply(key="consultations.not_open"))
    if consultation is None or consultation.status not in (
        ConsultationStatus.OPEN,
        ConsultationStatus.CLOSED,
    ):
        return _not_found(page)
    if rest and consultation.question(number) is None:
        return _not_found(page)
    taking = await ctx.repos.responses.find(consultation_id, moment, ctx.user.id)
    if taking is None:
        may = (
            consultation.kind is ConsultationKind.POLL
            and moment == 0
            and consultation.status is ConsultationStatus.OPEN
            and await ctx.repos.consultations.in_audience(consultation.audience, ctx.user.id)
        )
        if not may:
            return _not_found(page)
    if answering and not (
        consultation.takes_answers(ctx.now) and (taking is None or taking.takes_answers(ctx.now))
    ):
        return await _closed(ctx, consultation, moment, taking, page)
    if (
        consultation.kind is ConsultationKind.EVALUATION
        and consultation.takes_answers(ctx.now)
        and not await _answered(ctx, taking)
        and not await _takes_part(ctx, consultation)
    ):
        # They left the experiment: an invitation that reached them before opens nothing
        # (as their list no longer offers it); one they had begun stays theirs to finish.
        return await _not_taking_part(ctx, consultation, page)
    if answering and taking is None:
        taking = await ctx.repos.responses.ensure(consultation_id, moment, ctx.user.id)
    return Target(consultation, moment, number, taking, page)


def _not_found(page: int = 1) -> Response:
    return respond(Reply(key="consultations.not_found", buttons=[[to_list(page)]]))


async def _not_taking_part(ctx: Context, consultation: Consultation, page: int) -> Response:
    """An evaluation pressed by someone who no longer takes part in its experiment."""
    assert consultation.experiment_id is not None
    experiment = await ctx.repos.experiments.get(consultation.experiment_id)
    title = experiment.title(ctx.lang) if experiment else pick(consultation.title, ctx.lang)
    typing = _typing_for(ctx, consultation)
    return respond(
        Reply(
            key="consultations.evaluation_not_taking_part",
            params={"title": title},
            buttons=[[to_list(page)]],
        ),
        # An answer typed meanwhile is not saved: it goes back to them, not lost.
        *(given_back(ctx.event) if typing else []),
        end_dialog=typing,
    )


async def _closed(
    ctx: Context, consultation: Consultation, moment: int, taking: Taking | None, page: int = 1
) -> Response:
    over = await _check_in_over(ctx, consultation, moment, taking)
    if over is not None:
        typing = _typing_for(ctx, consultation, moment)
        return respond(
            Reply(
                key="consultations.check_in_over",
                params={"experiment": over},
                buttons=[[to_list(page)]],
            ),
            *(given_back(ctx.event) if typing else []),
            end_dialog=typing,
        )
    buttons = [[to_list(page)]]
    if consultation.status is ConsultationStatus.CLOSED and await _answered(ctx, taking):
        buttons.insert(
            0,
            [
                Button(
                    label="consultations.btn_results", payload=f"cs.u:{consultation.id}:{moment}"
                )
            ],
        )
    typing = _typing_for(ctx, consultation, moment)
    return respond(
        Reply(
            key="consultations.closed",
            params={"title": pick(consultation.title, ctx.lang)},
            buttons=buttons,
        ),
        # An answer typed as it closed is not saved: it goes back to them, not lost.
        *(given_back(ctx.event) if typing else []),
        end_dialog=typing,
    )


async def _check_in_over(
    ctx: Context, consultation: Consultation, moment: int, taking: Taking | None
) -> str | None:
    """The title of the experiment whose end closed this person's "how is it going?"
    before they began it (:func:`handlers.consultations.jobs.end_check_ins`), while its
    evaluation still asks about the end; None otherwise."""
    if (
        consultation.kind is not ConsultationKind.EVALUATION
        or consultation.experiment_id is None
        or not consultation.takes_answers(ctx.now)
        or moment not in consultation.moment_numbers()
        or consultation.moments[moment - 1].after_join_days is None
        or not any(later.at_end for later in consultation.moments)
        or taking is None
        or taking.started_at is not None
    ):
        return None
    experiment = await ctx.repos.experiments.get(consultation.experiment_id)
    if experiment is None or experiment.status != "ended":
        return None
    if not await _takes_part(ctx, consultation):
        return None
    return experiment.title(ctx.lang)


async def _answered(ctx: Context, taking: Taking | None) -> bool:
    """Whether this response answered at least one question ("Zeg ik liever niet" too):
    its person is one of those who get the results."""
    return taking is not None and bool(await ctx.repos.responses.answers(taking.id))


def _in_text_dialog(ctx: Context) -> bool:
    return ctx.dialog is not None and ctx.dialog.name == TEXT_DIALOG


def _typing_for(ctx: Context, consultation: Consultation, moment: int | None = None) -> bool:
    """Whether the person is typing an answer for ``consultation`` (at ``moment``, where
    given): one that no longer takes it ends that. An answer typed for another one stays
    open (an old button of this one was pressed meanwhile)."""
    dialog = ctx.dialog
    return (
        dialog is not None
        and dialog.name == TEXT_DIALOG
        and str(dialog.data.get("consultation")) == str(consultation.id)
        and (moment is None or str(dialog.data.get("moment")) == str(moment))
    )


def _until(ctx: Context, target: Target) -> str:
    taking = target.response
    moment = target.consultation.answers_until(taking.deadline if taking is not None else None)
    return shown_time(moment, ctx.timezone, ctx.lang) if moment else ""


# Showing where the person is -------------------------------------------------------------------


async def _show(ctx: Context, target: Target, number: int, answers: dict[int, Answer]) -> Response:
    """Question ``number`` with the answer given so far; a text question opens its dialog,
    so the person can type straight away, unless typing it would be refused (a mute): then
    they hear why, and can skip it for now."""
    asked = target.consultation.question(number)
    assert asked is not None
    typing = asked.kind is QuestionKind.TEXT
    current = answers.get(number)
    if typing:
        refusal = await ctx.registry.refusal(ctx, TEXT_DIALOG)
        if refusal is not None:
            shown = question(
                target.consultation, target.moment, number, ctx.lang, current, may_type=False
            )
            # Why, without its menu: the question's own buttons are the way on.
            why = [reply.model_copy(update={"buttons": []}) for reply in refusal.replies]
            return respond(*why, shown, end_dialog=_in_text_dialog(ctx))
    shown = question(target.consultation, target.moment, number, ctx.lang, current, typing=typing)
    if typing:
        dialog = Dialog(
            name=TEXT_DIALOG,
            step="text",
            data={
                "consultation": target.consultation.id,
                "moment": target.moment,
                "question": number,
            },
        )
        return respond(shown, dialog=dialog)
    return respond(shown, end_dialog=_in_text_dialog(ctx))


async def _onward(ctx: Context, target: Target, *, saved: Reply | None = None) -> Response:
    """After an answer: the first question still open, or "done" with the answers given."""
    assert target.response is not None
    answers = await ctx.repos.responses.answers(target.response.id)
    open_questions = [
        number for number in range(1, target.consultation.total + 1) if number not in answers
    ]
    if open_questions:
        shown = await _show(ctx, target, open_questions[0], answers)
        if saved is not None:
            shown.replies.insert(0, saved)
        return shown
    # A reminder still on its way ("begun, but not finished") is no longer true, nor is
    # an invitation still waiting its turn in a large fan-out ("please answer").
    consultation, moment = target.consultation.id, target.moment
    await ctx.repos.outbox.withdraw_pending(
        ctx.user.id, "consultation", f"cs.o:{consultation}:{moment}"
    )
    await ctx.repos.outbox.withdraw(
        [invitations_batch(consultation, moment)], people=[ctx.user.id], why=DONE_FIRST
    )
    done = Reply(
        key="consultations.done",
        params={"title": pick(target.consultation.title, ctx.lang), "until": _until(ctx, target)},
        buttons=[
            [
                Button(
                    label="consultations.btn_review",
                    payload=f"cs.r:{target.consultation.id}:{target.moment}",
                )
            ],
            [
                to_list(target.page),
                Button(label="menu.back", payload="menu"),
            ],
        ],
    )
    return respond(*([saved] if saved else []), done, end_dialog=_in_text_dialog(ctx))


# Answering -------------------------------------------------------------------------------------


@feature.action("cs.a", role=Role.RESIDENT)
async def answer(ctx: Context) -> Response:
    """``cs.a:<id>:<moment>:<question>:<value>``: choose an option, a scale value, or
    "zeg ik liever niet" (``x``); then on to the next open question.

    A different answer never replaces one given before without a word: pressed on a
    message that showed the question unanswered (the invitation, an earlier message), it
    asks first; pressed where the answer was shown (the button is marked as confirming,
    see :func:`handlers.consultations.shown.question`), it replaces it and says so.
    """
    head, _, raw = ctx.value.rpartition(":")
    ids = _numbers(head, 3)
    if ids is None or not (raw == SKIP or (digits(raw) and len(raw) <= 2)):
        return _invalid_button(ctx)
    found = await _target(ctx, ids, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    asked = found.consultation.question(found.number)
    assert asked is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    skipped = raw == SKIP
    value = 0 if skipped else int(raw)
    if not skipped and (
        asked.kind not in (QuestionKind.ONE, QuestionKind.SCALE) or value not in asked.choices()
    ):
        shown = await _show(ctx, found, found.number, answers)
        shown.replies.insert(0, Reply(key="consultations.invalid"))
        return shown
    before = answers.get(found.number)
    given = Answer(
        question=found.number,
        choices=[] if skipped else [value],
        skipped=skipped,
        answered_at=ctx.now,
    )
    changed: Reply | None = None
    if before is not None and not _same_answer(before, given):
        if not ctx.confirmed:
            return _ask_change(ctx, found, before, given, raw)
        changed = Reply(
            key="consultations.changed",
            params={
                "number": found.number,
                "answer": _words(ctx, found.consultation, given),
                "was": _words(ctx, found.consultation, before),
            },
        )
    await ctx.repos.responses.answer(
        found.response,
        found.number,
        total=found.consultation.total,
        now=ctx.now,
        choices=given.choices,
        skipped=skipped,
    )
    return await _onward(ctx, found, saved=changed)


def _same_answer(before: Answer, given: Answer) -> bool:
    return (
        before.skipped == given.skipped
        and before.text is None
        and (sorted(before.choices) == sorted(given.choices))
    )


def _words(ctx: Context, consultation: Consultation, given: Answer) -> str:
    """An answer as its person reads it: the options' words, "3/5", their own text, or
    "zeg ik liever niet"."""
    if given.skipped:
        return ctx.catalog.text(ctx.lang, "consultations.btn_skip", {}, markup=False)
    return answer_words(consultation, given, ctx.lang)


def _ask_change(ctx: Context, found: Target, before: Answer, given: Answer, raw: str) -> Response:
    """A different answer pressed on a message that did not show the one given: it may
    be an old message, so ask before replacing anything."""
    at = base(found.consultation, found.moment, found.number)
    return respond(
        confirmation(
            "consultations.change_confirm",
            yes=Button(label="consultations.btn_change_yes", payload=f"cs.a:{at}:{raw}"),
            no=Button(label="consultations.btn_change_no", payload=f"cs.k:{at}"),
            number=found.number,
            answer=_words(ctx, found.consultation, given),
            was=_words(ctx, found.consultation, before),
        ),
        end_dialog=_in_text_dialog(ctx),
    )


@feature.action("cs.k", role=Role.RESIDENT)
async def keep_answer(ctx: Context) -> Response:
    """``cs.k:<id>:<moment>:<question>``: keep the answer given (not the one pressed on
    an old message); then on to the next open question, or "done"."""
    found = await _pressed(ctx, 3, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    kept = answers.get(found.number)
    if kept is None:
        return await _onward(ctx, found)
    words = Reply(
        key="consultations.change_kept",
        params={"number": found.number, "answer": _words(ctx, found.consultation, kept)},
    )
    return await _onward(ctx, found, saved=words)


async def _pressed(
    ctx: Context, count: int, *, answering: bool, paged: bool = False
) -> Target | Response:
    """The consultation a button of ``count`` numbers points to (see :func:`_target`), or
    why not: a forged or stale button gets the list of polls. ``paged``: a button from the
    list may carry the page it was on after them (older ones do not: the first)."""
    ids = _numbers(ctx.value, count)
    page: int | None = 1
    if ids is None and paged and (longer := _numbers(ctx.value, count + 1)) is not None:
        *ids, last = longer
        page = paging.number(str(last))
    if ids is None or page is None:
        return _invalid_button(ctx)
    return await _target(ctx, ids, answering=answering, page=page)


def _invalid_button(ctx: Context) -> Response:
    return respond(
        Reply(
            key="general.stale_button",
            buttons=[[to_list()]],
        )
    )


@feature.action("cs.t", role=Role.RESIDENT)
async def tick(ctx: Context) -> Response:
    """``cs.t:<id>:<moment>:<question>:<option>``: tick or untick one option of a
    several-choice question; the question is shown again in place."""
    ids = _numbers(ctx.value, 4)
    if ids is None:
        return _invalid_button(ctx)
    *where, option = ids
    found = await _target(ctx, where, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    asked = found.consultation.question(found.number)
    assert asked is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    if asked.kind is not QuestionKind.SEVERAL or option not in asked.choices():
        shown = await _show(ctx, found, found.number, answers)
        shown.replies.insert(0, Reply(key="consultations.invalid"))
        return shown
    current = answers.get(found.number)
    chosen = set(current.choices) if current is not None and not current.skipped else set()
    chosen ^= {option}
    total = found.consultation.total
    if chosen:
        await ctx.repos.responses.answer(
            found.response, found.number, total=total, now=ctx.now, choices=sorted(chosen)
        )
    else:
        await ctx.repos.responses.clear(found.response, found.number, total=total, now=ctx.now)
    answers = await ctx.repos.responses.answers(found.response.id)
    again = question(
        found.consultation, found.moment, found.number, ctx.lang, answers.get(found.number)
    )
    return respond(again.model_copy(update={"edit": True}), end_dialog=_in_text_dialog(ctx))


@feature.action("cs.n", role=Role.RESIDENT)
async def next_question(ctx: Context) -> Response:
    """``cs.n:<id>:<moment>:<question>``: done ticking; on to the next open question."""
    found = await _pressed(ctx, 3, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    if found.number not in answers:
        shown = await _show(ctx, found, found.number, answers)
        shown.replies.insert(0, Reply(key="consultations.choose_one"))
        return shown
    return await _onward(ctx, found)


# Posting, as the typed step is: a muted resident hears it before typing, not after.
@feature.action("cs.w", role=Role.RESIDENT, posts="consultation")
async def type_answer(ctx: Context) -> Response:
    """``cs.w:<id>:<moment>:<question>``: type the answer to a text question."""
    found = await _pressed(ctx, 3, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    asked = found.consultation.question(found.number)
    assert asked is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    return await _show(ctx, found, found.number, answers)


text_answer = feature.dialog(
    TEXT_DIALOG, role=Role.RESIDENT, posts="consultation", subject="drafts.subject.consult_text"
)


async def _typing(ctx: Context, dialog: Dialog) -> Target | Response:
    """The question the open text dialog answers, if it still takes an answer; else why
    not (the dialog ends)."""
    ids = [int(dialog.data[key]) for key in ("consultation", "moment", "question")]
    found = await _target(ctx, ids, answering=True)
    if isinstance(found, Response):
        return respond(*found.replies, end_dialog=True)
    assert found.response is not None
    return found


@text_answer.ask("text")
async def ask_text(ctx: Context, dialog: Dialog) -> Response:
    """The question again, with the answer typed so far (a chat opened anew)."""
    found = await _typing(ctx, dialog)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    return await _show(ctx, found, found.number, answers)


@text_answer.step("text", expects=Expects.TEXT)
async def typed(ctx: Context, dialog: Dialog) -> Response:
    """The typed answer: at most :data:`MAX_TEXT` characters; staff read it before anyone
    else sees it."""
    found = await _typing(ctx, dialog)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    text = read_text(ctx, MAX_TEXT)
    if isinstance(text, Reply):
        answers = await ctx.repos.responses.answers(found.response.id)
        shown = await _show(ctx, found, found.number, answers)
        shown.replies.insert(0, text)
        return shown
    await ctx.repos.responses.answer(
        found.response, found.number, total=found.consultation.total, now=ctx.now, text=text
    )
    saved = Reply(key="consultations.text_saved")
    response = await _onward(ctx, found, saved=saved)
    if response.dialog is None:
        response.end_dialog = True
    return response


@feature.action("cs.q", role=Role.RESIDENT)
async def show_question(ctx: Context) -> Response:
    """``cs.q:<id>:<moment>:<question>``: show a question again, to change its answer."""
    found = await _pressed(ctx, 3, answering=True)
    if isinstance(found, Response):
        return found
    assert found.response is not None
    answers = await ctx.repos.responses.answers(found.response.id)
    return await _show(ctx, found, found.number, answers)


@feature.asks_again("cs.a", "cs.t", "cs.n", "cs.w", "cs.k")
async def ask_again(ctx: Context) -> Response:
    """Text that chooses none of a question's numbered options ("?", "weet ik niet"): the
    same question again, as ``cs.q`` shows it (or why it can no longer be answered)."""
    ctx.value = ":".join(ctx.value.split(":")[:3])
    return await show_question(ctx)


@feature.action("cs.o", role=Role.RESIDENT)
async def open_consultation(ctx: Context) -> Response:
    """``cs.o:<id>:<moment>[:<page>]``: go on where the person was (or start)."""
    found = await _pressed(ctx, 2, answering=True, paged=True)
    if isinstance(found, Response):
        return found
    return await _onward(ctx, found)


@feature.action("cs.r", role=Role.RESIDENT)
async def my_answers(ctx: Context) -> Response:
    """``cs.r:<id>:<moment>[:<page>]``: the answers given, each with a button to change it."""
    found = await _pressed(ctx, 2, answering=False, paged=True)
    if isinstance(found, Response):
        return found
    answers = await ctx.repos.responses.answers(found.response.id) if found.response else {}
    if not found.consultation.takes_answers(ctx.now):
        return await _closed(ctx, found.consultation, found.moment, found.response, found.page)
    return respond(
        review(found.consultation, found.moment, answers, ctx.lang, page=found.page),
        end_dialog=_in_text_dialog(ctx),
    )


# The list and the results ----------------------------------------------------------------------


@feature.command(
    "peilingen", translations={"en": "polls"}, role=Role.RESIDENT, describe="consultations.cmd"
)
async def consultations(ctx: Context) -> Response:
    """Staff see what they follow; residents what they may answer and what they answered."""
    if ctx.user.role.allows(Role.CIVIL_SERVANT):
        return await overview(ctx)
    return await my_list(ctx)


@feature.action("cs.list", role=Role.RESIDENT)
async def my_list(ctx: Context) -> Response:
    """``cs.list[:<page>]``: open consultations this person may answer (new, begun, done)
    and closed ones they answered, a line and a button each, a page at a time (one may be
    asked in many polls and evaluations at once)."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return _invalid_button(ctx)
    items: list[Reply] = []
    buttons: list[list[Button]] = []
    taken = {
        (t.consultation_id, t.moment): t for t in await ctx.repos.responses.of_user(ctx.user.id)
    }
    for consultation in await ctx.repos.consultations.open_polls():
        mine = taken.get((consultation.id, 0))
        if mine is None and not await ctx.repos.consultations.in_audience(
            consultation.audience, ctx.user.id
        ):
            continue
        if not consultation.takes_answers(ctx.now):
            continue
        until = (
            shown_time(consultation.closes_at, ctx.timezone, ctx.lang)
            if consultation.closes_at
            else ""
        )
        _item(ctx, consultation, 0, mine.answered if mine else 0, until, items, buttons)
    closed = 0
    for (consultation_id, moment), mine in taken.items():
        found = await ctx.repos.consultations.get(consultation_id)
        if found is None or (found.kind is ConsultationKind.POLL and found.takes_answers(ctx.now)):
            continue  # open polls are listed above
        title = pick(found.title, ctx.lang)
        if found.kind is ConsultationKind.EVALUATION and found.takes_answers(ctx.now):
            if not mine.answered and not await _takes_part(ctx, found):
                # They left the experiment: its invitation was withdrawn, and the list does
                # not ask them either (one they had begun stays, to finish).
                continue
            if not mine.deadline or mine.deadline > ctx.now:
                ends = found.answers_until(mine.deadline)
                until = shown_time(ends, ctx.timezone, ctx.lang) if ends else ""
                _item(ctx, found, moment, mine.answered, until, items, buttons)
        elif found.status is ConsultationStatus.CLOSED and mine.answered and closed < SHOWN_CLOSED:
            closed += 1
            items.append(Reply(key="consultations.item_closed", params={"title": title}))
            buttons.append(
                [
                    Button(
                        label="consultations.btn_item_results",
                        payload=f"cs.u:{found.id}:{moment}",
                        params={"title": paging.short(title)},
                    )
                ]
            )
    reminders = await ctx.repos.responses.reminders_on(ctx.user.id)
    toggle = Button(
        label="consultations.btn_reminders_off" if reminders else "consultations.btn_reminders_on",
        payload="cs.rem:off" if reminders else "cs.rem:on",
    )
    footer = [[toggle], [Button(label="menu.back", payload="menu")]]
    key = "consultations.list" if items else "consultations.none"
    shown = paging.page(wanted, len(items))
    on_page = slice(shown.offset, shown.offset + shown.size)
    turns = paging.turn(shown, lambda label, n: Button(label=label, payload=f"cs.list:{n}"))
    return respond(
        Reply(
            key=key,
            params={"brand": brand(ctx.profile, ctx.lang)},
            parts=[*items[on_page], *paging.where(shown)],
            buttons=[
                *(_from_page(row, shown.number) for row in buttons[on_page]),
                *turns,
                *footer,
            ],
        ),
        end_dialog=_in_text_dialog(ctx),
    )


def _from_page(row: list[Button], page: int) -> list[Button]:
    """An item's buttons, carrying the page they are on (see :func:`to_list`); the first
    page's stay as they always were."""
    if page == 1:
        return row
    return [button.model_copy(update={"payload": f"{button.payload}:{page}"}) for button in row]


async def _takes_part(ctx: Context, consultation: Consultation) -> bool:
    """Whether this person still takes part in the experiment an evaluation is about (one
    about none asks whoever it asked)."""
    experiment_id = consultation.experiment_id
    return experiment_id is None or await ctx.repos.experiments.takes_part(
        experiment_id, ctx.user.id
    )


def _item(
    ctx: Context,
    consultation: Consultation,
    moment: int,
    answered: int,
    until: str,
    items: list[Reply],
    buttons: list[list[Button]],
) -> None:
    """A line and a button for one consultation in the person's list: new, begun, or
    filled in. Filled in is every question answered now: one whose answer they took back
    after finishing (the last option unticked) is begun again, and its button goes on there."""
    title = pick(consultation.title, ctx.lang)
    params = {
        "title": title,
        "count": consultation.total,
        "answered": answered,
        "until": until,
    }
    if answered >= consultation.total:
        key, label, action = "consultations.item_done", "consultations.btn_item_edit", "cs.r"
    elif answered:
        key, label, action = "consultations.item_begun", "consultations.btn_item_go_on", "cs.o"
    else:
        key, label, action = "consultations.item_new", "consultations.btn_item_start", "cs.o"
    items.append(Reply(key=key, params=params))
    buttons.append(
        [
            Button(
                label=label,
                payload=f"{action}:{consultation.id}:{moment}",
                params={"title": paging.short(title)},
            )
        ]
    )


@feature.action("cs.u", role=Role.RESIDENT)
async def results(ctx: Context) -> Response:
    """``cs.u:<id>:<moment>[:<page>]``: the results of a closed consultation this person
    answered.

    They go to those who answered, as at closing: someone asked who answered nothing
    hears so (an old or forged button changes nothing); the counts are published in the
    open data for everyone else.
    """
    found = await _pressed(ctx, 2, answering=False, paged=True)
    if isinstance(found, Response):
        return found
    kept = await ctx.repos.tallies.kept(found.consultation.id, found.moment)
    if found.consultation.status is not ConsultationStatus.CLOSED or kept is None:
        return _not_found(found.page)
    if not await _answered(ctx, found.response):
        return respond(
            Reply(
                key="consultations.results_not_answered",
                params={"title": pick(found.consultation.title, ctx.lang)},
                buttons=[[to_list(found.page)]],
            ),
            end_dialog=_in_text_dialog(ctx),
        )
    minimum = shown_results.threshold(ctx.profile)
    quotes = {
        number: await ctx.repos.responses.approved_texts(
            found.consultation.id, found.moment, number, shown_results.QUOTES
        )
        for number, asked in enumerate(found.consultation.questions, start=1)
        if asked.kind is QuestionKind.TEXT and kept.answered(number) >= minimum
    }
    [summary] = shown_results.for_respondents(
        found.consultation, kept, ctx.lang, profile=ctx.profile, quotes=quotes, charts={}
    )
    back = [[to_list(found.page)]]
    return respond(summary.model_copy(update={"buttons": back}))


@feature.action("cs.rem", role=Role.RESIDENT)
async def reminders(ctx: Context) -> Response:
    """``cs.rem:on`` / ``cs.rem:off``: the reminder a day before closing, or none."""
    if ctx.value not in ("on", "off"):
        return _invalid_button(ctx)
    on = ctx.value == "on"
    await ctx.repos.responses.set_reminders(ctx.user.id, on, ctx.now)
    return respond(
        Reply(
            key="consultations.reminders_on" if on else "consultations.reminders_off",
            buttons=[[to_list()]],
        )
    )
