"""Staff follow consultations: live counts, results, closing early, editing, typed answers.

    /peilingen (staff) ──► the polls (open, scheduled, recently closed): a line and a
                           button each, a page at a time (one message however many), and
                           🧪 Evaluaties ──► the evaluations of experiments, paged alike
    a consultation ──► its card
        ├─ 📊 Uitslag ──► counts per question, per neighbourhood and language (small groups
        │                 left out), and a chart of all questions
        ├─ ⏹️ Nu sluiten ──► confirm ──► closes now; results go to everyone who answered
        ├─ ✏️ Wat we ermee doen ──► text ──► saved (sent with the results)
        ├─ 🕑 Sluittijd ──► moment ──► moved (invitations and reminders not sent yet say
        │                                     the new time; closed or cancelled meanwhile:
        │                                     the typed time comes back, with why)
        ├─ 💬 Open antwoorden ──► one typed answer at a time: may be shown / not shown
        ├─ ❌ Annuleren (scheduled) ──► confirm ──► never opens
        └─ 🏁 Experiment afgelopen (evaluation) ──► confirm ──► ended; its moment at the end
                                                     goes to the participants, and its
                                                     "how is it going?" not begun is over

Every change lands in the audit log (``consultation.close``, ``consultation.edit``,
``consultation.cancel``, ``consultation.review``, ``experiment.end``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from handlers import paging, when
from handlers.answers import digits, parse_id, read_text
from handlers.charts import drawn
from handlers.consultations import results as shown_results
from handlers.consultations.jobs import (
    EVALUATIONS_JOB,
    Surroundings,
    bring_up_to_date,
    end_check_ins,
    job,
    next_moment,
)
from handlers.consultations.shown import shown_time
from handlers.contract import (
    Button,
    Dialog,
    Document,
    Reply,
    Response,
    Role,
    Timer,
    given_back,
    respond,
)
from handlers.feature import Context, Expects, Feature
from handlers.phrases import phrase
from handlers.start.menu import stale_button
from handlers.when import parse_moment
from storage.consultations.model import (
    Consultation,
    ConsultationKind,
    ConsultationStatus,
    QuestionKind,
    pick,
    picked_language,
)
from storage.consultations.responses import Review

feature = Feature("consultation-manage")
feature.menu_entry("consultations.menu_staff", "cs.staff", order=70, role=Role.CIVIL_SERVANT)

FOLLOW_UP = "consult_follow_up"
MOVE = "consult_move"
MAX_FOLLOW_UP = 600
#: The longest closing time read (a date and a time need far fewer characters).
MAX_MOVE = 60
SHORTEST = timedelta(hours=1)


def _back() -> list[Button]:
    return [Button(label="consultations.btn_staff", payload="cs.staff")]


def _gone() -> Response:
    return respond(Reply(key="consultations.staff_gone", buttons=[_back()]))


@feature.action("cs.staff", role=Role.CIVIL_SERVANT)
async def overview(ctx: Context) -> Response:
    """``cs.staff[:<page>]``: a page of the open, scheduled and recently closed polls, a
    line and a button each; the evaluations of experiments (one per experiment) behind a
    button of their own. One message however many there are."""
    page = paging.asked(ctx)
    if page is None:
        return await stale_button(ctx)
    repos = ctx.repos.consultations
    polls = await repos.of_staff(ConsultationKind.POLL)
    evaluations = await repos.of_staff(ConsultationKind.EVALUATION)
    closing = [
        [Button(label="consultations.menu_compose", payload="cs.compose")],
        [Button(label="consultations.btn_as_resident", payload="cs.list")],
        [Button(label="menu.back", payload="menu")],
    ]
    if not polls and not evaluations:
        return respond(Reply(key="consultations.staff_none", buttons=closing))
    shown = await _list(ctx, polls, page, "cs.staff")
    parts = shown.lines or [Reply(key="consultations.staff_no_polls")]
    buttons = shown.buttons
    if evaluations:
        count = {"count": len(evaluations)}
        parts.append(Reply(key="consultations.staff_evaluations", params=count))
        buttons.append(
            [Button(label="consultations.btn_evaluations", payload="cs.evals", params=count)]
        )
    return respond(
        Reply(
            key="consultations.staff_title",
            params=shown.params,
            parts=parts,
            buttons=[*buttons, *closing],
        )
    )


@feature.action("cs.evals", role=Role.CIVIL_SERVANT)
async def evaluations(ctx: Context) -> Response:
    """``cs.evals[:<page>]``: a page of the evaluations of experiments, a line and a
    button each."""
    page = paging.asked(ctx)
    if page is None:
        return await stale_button(ctx)
    found = await ctx.repos.consultations.of_staff(ConsultationKind.EVALUATION)
    shown = await _list(ctx, found, page, "cs.evals")
    return respond(
        Reply(
            key="consultations.evaluations_title",
            params=shown.params,
            parts=shown.lines or [Reply(key="consultations.evaluations_none")],
            buttons=[*shown.buttons, _back(), [Button(label="menu.back", payload="menu")]],
        )
    )


@dataclass(frozen=True)
class _Listed:
    """A page of consultations: how many and which page (``count``, ``page``, ``pages``),
    a line each, and a button each (opening its card) with the buttons to page."""

    params: dict[str, object]
    lines: list[Reply]
    buttons: list[list[Button]]


async def _list(
    ctx: Context, consultations: list[Consultation], wanted: int, action: str
) -> _Listed:
    """A page of consultations (a page past the end shows the last one)."""
    page = paging.page(wanted, len(consultations))
    shown = consultations[page.offset : page.offset + page.size]
    buttons = [
        [
            Button(
                label="consultations.btn_open_card",
                payload=f"cs.card:{c.id}:{page.number}",
                params={"id": c.id, "title": paging.short(pick(c.title, ctx.lang))},
            )
        ]
        for c in shown
    ]
    buttons += paging.turn(page, lambda label, n: Button(label=label, payload=f"{action}:{n}"))
    return _Listed(
        params={"count": len(consultations), "page": page.number, "pages": page.pages},
        lines=[line for consultation in shown for line in await _lines(ctx, consultation)],
        buttons=buttons,
    )


async def _lines(ctx: Context, consultation: Consultation) -> list[Reply]:
    """One consultation in a list: its number, title, where it stands and how many filled
    it in; and how many typed answers wait for staff to check, if any."""
    counts = await ctx.repos.consultations.counts(consultation.id)
    params: dict[str, object] = {
        "id": consultation.id,
        "title": pick(consultation.title, ctx.lang),
        "finished": counts.finished,
        "invited": counts.invited,
    }
    status = consultation.status
    if status is ConsultationStatus.SCHEDULED:
        opens = consultation.opens_at
        params["opens"] = shown_time(opens, ctx.timezone, ctx.lang) if opens else ""
        key = "consultations.line_scheduled"
    elif status is ConsultationStatus.CLOSED:
        closed = consultation.closed_at
        params["closed"] = shown_time(closed, ctx.timezone, ctx.lang) if closed else ""
        key = "consultations.line_closed"
    elif consultation.closes_at is None:
        key = "consultations.line_running"
    else:
        params["closes"] = shown_time(consultation.closes_at, ctx.timezone, ctx.lang)
        key = "consultations.line_open"
    lines = [Reply(key=key, params=params)]
    waiting = await ctx.repos.responses.waiting_reviews(consultation.id)
    if waiting:
        lines.append(Reply(key="consultations.line_reviews", params={"count": waiting}))
    return lines


@feature.action("cs.card", role=Role.CIVIL_SERVANT)
async def open_card(ctx: Context) -> Response:
    """``cs.card:<id>[:<page>]``: a consultation's card with what staff can do with it,
    and the way back to the page of the list it was opened from."""
    raw_id, _, raw_page = ctx.value.partition(":")
    page = paging.number(raw_page) if raw_page else 1
    consultation = await _staff_consultation(ctx, raw_id)
    if consultation is None or consultation.status is ConsultationStatus.CANCELLED:
        return _gone()
    if page is None:
        return await stale_button(ctx)
    shown = await _card(ctx, consultation)
    if consultation.kind is ConsultationKind.EVALUATION:
        back = Button(label="consultations.btn_to_evaluations", payload=f"cs.evals:{page}")
    else:
        back = Button(label="consultations.btn_staff", payload=f"cs.staff:{page}")
    return respond(shown.model_copy(update={"buttons": [*shown.buttons, [back]]}))


async def _card(ctx: Context, consultation: Consultation) -> Reply:
    repos = ctx.repos
    cid = consultation.id
    params: dict[str, object] = {
        "id": cid,
        "title": pick(consultation.title, ctx.lang),
        "opens": shown_time(consultation.opens_at, ctx.timezone, ctx.lang)
        if consultation.opens_at
        else "",
        "closes": shown_time(consultation.closes_at, ctx.timezone, ctx.lang)
        if consultation.closes_at
        else "",
    }
    parts: list[Reply] = []
    buttons: list[list[Button]] = []
    if consultation.kind is ConsultationKind.EVALUATION:
        key = "consultations.card_evaluation"
        for number, moment in enumerate(consultation.moments, start=1):
            counts = await repos.consultations.counts(cid, number)
            what = (
                ctx.catalog.text(
                    ctx.lang,
                    "consultations.moment_after",
                    {"days": moment.after_join_days},
                    markup=False,
                )
                if moment.after_join_days
                else ctx.catalog.text(ctx.lang, "consultations.moment_end", {}, markup=False)
            )
            parts.append(
                Reply(
                    key="consultations.card_moment",
                    params={"number": number, "what": what, **counts.model_dump()},
                )
            )
            if counts.withdrawn:
                # Their invitation was withdrawn when the experiment ended: not asked.
                parts.append(
                    Reply(
                        key="consultations.card_moment_withdrawn",
                        params={"count": counts.withdrawn},
                    )
                )
        buttons.append(
            [
                Button(
                    label="consultations.btn_moment_results",
                    payload=f"cs.res:{cid}:{number}",
                    params={"number": number},
                )
                for number in consultation.moment_numbers()
            ]
        )
        experiment = consultation.experiment_id
        if (
            any(moment.at_end for moment in consultation.moments)
            and experiment is not None
            and consultation.status is ConsultationStatus.OPEN
            and await repos.consultations.experiment_status(experiment) == "running"
        ):
            buttons.append(
                [Button(label="consultations.btn_experiment_ended", payload=f"cs.exend:{cid}")]
            )
    else:
        counts = await repos.consultations.counts(cid, 0)
        params.update(counts.model_dump())
        key = f"consultations.card_{consultation.status.value}"
        if consultation.status is not ConsultationStatus.SCHEDULED:
            buttons.append([Button(label="consultations.btn_results", payload=f"cs.res:{cid}:0")])
    if consultation.status is ConsultationStatus.OPEN:
        buttons.append([Button(label="consultations.btn_close", payload=f"cs.end:{cid}")])
    if consultation.status in (ConsultationStatus.OPEN, ConsultationStatus.SCHEDULED):
        buttons.append(
            [
                Button(label="consultations.btn_follow_up", payload=f"cs.fu:{cid}"),
                Button(label="consultations.btn_move", payload=f"cs.mv:{cid}"),
            ]
        )
    if consultation.status is ConsultationStatus.SCHEDULED:
        buttons.append([Button(label="consultations.btn_cancel", payload=f"cs.stop:{cid}")])
    waiting = await repos.responses.waiting_reviews(cid)
    if waiting:
        buttons.append(
            [
                Button(
                    label="consultations.btn_reviews",
                    payload=f"cs.mod:{cid}",
                    params={"count": waiting},
                )
            ]
        )
    if consultation.status is ConsultationStatus.CLOSED:
        params["closed"] = (
            shown_time(consultation.closed_at, ctx.timezone, ctx.lang)
            if consultation.closed_at
            else ""
        )
    return Reply(key=key, params=params, parts=parts, buttons=buttons)


async def _staff_consultation(ctx: Context, value: str) -> Consultation | None:
    consultation_id = parse_id(value)
    consultation = await ctx.repos.consultations.get(consultation_id) if consultation_id else None
    if consultation is None or consultation.status is ConsultationStatus.DRAFT:
        return None
    return consultation


# Results ----------------------------------------------------------------------------------------


@feature.action("cs.res", role=Role.CIVIL_SERVANT)
async def results(ctx: Context) -> Response:
    """``cs.res:<id>:<moment>``: the counts so far (or as published), the breakdowns, and a
    chart of every question."""
    raw_id, _, raw_moment = ctx.value.partition(":")
    consultation = await _staff_consultation(ctx, raw_id)
    if consultation is None or not digits(raw_moment) or len(raw_moment) > 3:
        return _gone()
    moment = int(raw_moment)
    if moment not in consultation.moment_numbers():
        return _gone()
    kept = await ctx.repos.tallies.kept(consultation.id, moment)
    counted = kept or await ctx.repos.tallies.count(consultation.id, moment, ctx.catalog.default)
    counts = await ctx.repos.consultations.counts(consultation.id, moment)
    quotes = {
        number: await ctx.repos.responses.approved_texts(
            consultation.id, moment, number, shown_results.QUOTES
        )
        for number, asked in enumerate(consultation.questions, start=1)
        if asked.kind is QuestionKind.TEXT
    }
    parts = shown_results.question_lines(consultation, counted, ctx.lang, minimum=1, quotes=quotes)
    breakdown = shown_results.breakdown_lines(
        consultation, counted, ctx.lang, profile=ctx.profile, catalog=ctx.catalog
    )
    if breakdown:
        parts.append(
            Reply(
                key="consultations.breakdown_title",
                params={"min": shown_results.threshold(ctx.profile)},
            )
        )
        parts += breakdown
    title = pick(consultation.title, ctx.lang)
    summary = Reply(
        key="consultations.staff_results_kept" if kept else "consultations.staff_results",
        params={
            # A poll is asked once; an evaluation at moments, each with results of its own.
            "title": phrase(ctx, "consultations.title_at_moment", title=title, number=moment)
            if moment
            else title,
            "respondents": counted.respondents,
            **counts.model_dump(),
        },
        parts=parts,
    )
    replies = [summary]
    if counted.respondents and any(
        q.kind is not QuestionKind.TEXT for q in consultation.questions
    ):
        chart = await drawn(
            ctx.repos.db,
            shown_results.overview_chart,
            consultation,
            counted,
            ctx.lang,
            profile=ctx.profile,
            catalog=ctx.catalog,
        )
        replies.append(
            Reply(
                key="consultations.staff_chart",
                document=Document(
                    filename=f"peiling-{consultation.id}-{moment}.png",
                    data=chart,
                    mime_type="image/png",
                ),
            )
        )
    replies[-1] = replies[-1].model_copy(update={"buttons": [_back()]})
    return respond(*replies)


# Closing early ----------------------------------------------------------------------------------


@feature.action("cs.end", role=Role.CIVIL_SERVANT)
async def close_ask(ctx: Context) -> Response:
    """``cs.end:<id>``: ask before closing now."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or not consultation.takes_answers(ctx.now):
        return _gone()
    counts = await ctx.repos.consultations.counts(consultation.id)
    return respond(
        Reply(
            key="consultations.close_confirm",
            params={"title": pick(consultation.title, ctx.lang), **counts.model_dump()},
            buttons=[
                [
                    Button(
                        label="consultations.btn_close_yes", payload=f"cs.endok:{consultation.id}"
                    )
                ],
                [Button(label="consultations.btn_close_no", payload="cs.staff")],
            ],
        )
    )


@feature.action("cs.endok", role=Role.CIVIL_SERVANT)
async def close_now(ctx: Context) -> Response:
    """``cs.endok:<id>``: close now. Answers stop at once; the closing job counts them and
    sends the results to everyone who answered."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or not consultation.takes_answers(ctx.now):
        return _gone()
    await ctx.repos.consultations.move_close(consultation.id, ctx.now, ctx.now)
    # Nobody is asked any more: invitations and reminders still waiting are not sent.
    await bring_up_to_date(Surroundings.of(ctx), consultation.id, ctx.now)
    await ctx.repos.audit.record(
        "consultation.close",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{consultation.id}",
        detail={"early": True},
    )
    return respond(
        Reply(
            key="consultations.closing",
            params={"title": pick(consultation.title, ctx.lang)},
            buttons=[_back()],
        ),
        timers=[Timer(job=job(consultation.id), at=ctx.now)],
    )


@feature.action("cs.exend", role=Role.CIVIL_SERVANT)
async def experiment_ended_ask(ctx: Context) -> Response:
    """``cs.exend:<evaluation>``: ask before marking its experiment as ended."""
    found = await _ending(ctx)
    if isinstance(found, Response):
        return found
    consultation, title = found
    return respond(
        Reply(
            key="consultations.experiment_end_confirm",
            params={"experiment": title},
            buttons=[
                [
                    Button(
                        label="consultations.btn_experiment_end_yes",
                        payload=f"cs.exendok:{consultation.id}",
                    )
                ],
                [Button(label="consultations.btn_close_no", payload="cs.staff")],
            ],
        )
    )


@feature.action("cs.exendok", role=Role.CIVIL_SERVANT)
async def experiment_ended(ctx: Context) -> Response:
    """``cs.exendok:<evaluation>``: the experiment has ended (nobody can join any more), and
    its participants get the evaluation's moment at the end, at once."""
    found = await _ending(ctx)
    if isinstance(found, Response):
        return found
    consultation, title = found
    assert consultation.experiment_id is not None
    if not await ctx.repos.experiments.end(consultation.experiment_id):
        return _gone()
    # "How is it going?" not sent yet is out of date: the evaluation of the end asks.
    await end_check_ins(ctx.repos, consultation.experiment_id, ctx.now)
    await ctx.repos.audit.record(
        "experiment.end",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"experiment:{consultation.experiment_id}",
        detail={"evaluation": consultation.id},
    )
    return respond(
        Reply(
            key="consultations.experiment_ended",
            params={"experiment": title},
            buttons=[_back()],
        ),
        timers=[Timer(job=EVALUATIONS_JOB, at=ctx.now)],
    )


async def _ending(ctx: Context) -> tuple[Consultation, str] | Response:
    """The open evaluation (with a moment at the end) of a running experiment, and that
    experiment's title; else why not."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if (
        consultation is None
        or consultation.status is not ConsultationStatus.OPEN
        or consultation.experiment_id is None
        or not any(moment.at_end for moment in consultation.moments)
    ):
        return _gone()
    experiment = await ctx.repos.experiments.get(consultation.experiment_id)
    if experiment is None or experiment.status != "running":
        return _gone()
    return consultation, experiment.title(ctx.lang)


@feature.action("cs.stop", role=Role.CIVIL_SERVANT)
async def cancel_ask(ctx: Context) -> Response:
    """``cs.stop:<id>``: ask before a scheduled consultation is cancelled (it cannot be
    undone: the whole poll would have to be composed again)."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or consultation.status is not ConsultationStatus.SCHEDULED:
        return _gone()
    return respond(
        Reply(
            key="consultations.cancel_confirm",
            params={
                "title": pick(consultation.title, ctx.lang),
                "opens": shown_time(consultation.opens_at, ctx.timezone, ctx.lang)
                if consultation.opens_at
                else "",
            },
            buttons=[
                [
                    Button(
                        label="consultations.btn_cancel_yes",
                        payload=f"cs.stopok:{consultation.id}",
                    )
                ],
                [
                    Button(
                        label="consultations.btn_cancel_no", payload=f"cs.card:{consultation.id}"
                    )
                ],
            ],
        )
    )


@feature.action("cs.stopok", role=Role.CIVIL_SERVANT)
async def cancel(ctx: Context) -> Response:
    """``cs.stopok:<id>``: a scheduled consultation never opens."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or not await ctx.repos.consultations.cancel(consultation.id, ctx.now):
        return _gone()
    await ctx.repos.audit.record(
        "consultation.cancel",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{consultation.id}",
    )
    return respond(
        Reply(
            key="consultations.cancelled",
            params={"title": pick(consultation.title, ctx.lang)},
            buttons=[_back()],
        ),
        timers=[Timer(job=job(consultation.id), at=None)],
    )


# Editing ---------------------------------------------------------------------------------------


def _editable(consultation: Consultation | None, now: datetime) -> bool:
    """Open or scheduled, and before its closing time: from then on its results are being
    counted and sent, and a change would be confirmed but never reach anyone."""
    return (
        consultation is not None
        and consultation.status in (ConsultationStatus.OPEN, ConsultationStatus.SCHEDULED)
        and (consultation.closes_at is None or now < consultation.closes_at)
    )


@feature.action("cs.fu", role=Role.CIVIL_SERVANT)
async def follow_up_ask(ctx: Context) -> Response:
    """``cs.fu:<id>``: write what the municipality will do with the answers."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or not _editable(consultation, ctx.now):
        return _gone()
    # The text shown is the one replaced: an English-speaking civil servant shown the Dutch
    # text (there is no English one) changes what Dutch readers get.
    shown = picked_language(consultation.follow_up, ctx.lang, ctx.catalog.default)
    dialog = Dialog(
        name=FOLLOW_UP, step="text", data={"consultation": consultation.id, "language": shown}
    )
    return respond(_ask_follow_up(ctx, consultation, shown), dialog=dialog)


def _ask_follow_up(ctx: Context, consultation: Consultation, language: str) -> Reply:
    return Reply(
        key="consultations.ask_follow_up_edit",
        params={"now": consultation.follow_up.get(language, ""), "max": MAX_FOLLOW_UP},
        buttons=[[Button(label="consultations.btn_stop", payload="cancel")]],
    )


follow_up_dialog = feature.dialog(
    FOLLOW_UP, role=Role.CIVIL_SERVANT, subject="drafts.subject.consult_follow_up"
)


async def _editing(ctx: Context, dialog: Dialog) -> Consultation | Response:
    """The poll an editing dialog (its follow-up, its closing time) changes, while it can
    still be changed; else why not, and the dialog ends."""
    consultation = await ctx.repos.consultations.get(int(dialog.data["consultation"]))
    if consultation is None or not _editable(consultation, ctx.now):
        return respond(*_gone().replies, end_dialog=True)
    return consultation


def _follow_up_language(ctx: Context, consultation: Consultation, dialog: Dialog) -> str:
    """The language whose follow-up the dialog replaces: the one shown when it began."""
    return str(
        dialog.data.get("language")
        or picked_language(consultation.follow_up, ctx.lang, ctx.catalog.default)
    )


@follow_up_dialog.ask("text")
async def ask_follow_up(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew), while the poll can still be changed."""
    consultation = await _editing(ctx, dialog)
    if isinstance(consultation, Response):
        return consultation
    language = _follow_up_language(ctx, consultation, dialog)
    return respond(_ask_follow_up(ctx, consultation, language), dialog=dialog)


@follow_up_dialog.step("text", expects=Expects.TEXT)
async def follow_up(ctx: Context, dialog: Dialog) -> Response:
    consultation = await ctx.repos.consultations.get(int(dialog.data["consultation"]))
    if consultation is None:
        return respond(*_gone().replies, *given_back(ctx.event), end_dialog=True)
    if not _editable(consultation, ctx.now):
        return _too_late(ctx, consultation)
    language = _follow_up_language(ctx, consultation, dialog)
    text = read_text(ctx, MAX_FOLLOW_UP)
    if isinstance(text, Reply):
        return respond(text, _ask_follow_up(ctx, consultation, language), dialog=dialog)
    # The words staff wrote now are what everyone gets: a text kept in another language
    # (an evaluation's from the profile) would tell its readers what no longer holds.
    texts = {language: text}
    if not await ctx.repos.consultations.set_follow_up(consultation.id, texts, ctx.now):
        return _too_late(ctx, consultation)
    await ctx.repos.audit.record(
        "consultation.edit",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{consultation.id}",
        detail={"field": "follow_up", "language": language},
    )
    return respond(Reply(key="consultations.follow_up_saved", buttons=[_back()]), end_dialog=True)


def _too_late(ctx: Context, consultation: Consultation) -> Response:
    """The follow-up came after the closing time (or the poll was cancelled meanwhile): not
    saved, and what was typed is given back, to use elsewhere."""
    key = (
        "consultations.follow_up_cancelled"
        if consultation.status is ConsultationStatus.CANCELLED
        else "consultations.follow_up_too_late"
    )
    return _typed_back(ctx, consultation, key, MAX_FOLLOW_UP)


def _typed_back(ctx: Context, consultation: Consultation, key: str, longest: int) -> Response:
    """What was typed in an editing dialog of a consultation that can no longer be changed,
    shown back under ``key`` (a text with ``{title}`` and ``{text}``, saying why); the
    dialog ends."""
    typed = read_text(ctx, longest)
    if isinstance(typed, Reply):
        # Too long to show in the message above (or nothing typed): still given back.
        return respond(*_gone().replies, *given_back(ctx.event), end_dialog=True)
    return respond(
        Reply(
            key=key,
            params={"title": pick(consultation.title, ctx.lang), "text": typed},
            buttons=[_back()],
        ),
        end_dialog=True,
    )


def _not_moved(ctx: Context, consultation: Consultation) -> Response:
    """The closing time typed for a consultation that closed or was cancelled meanwhile:
    not used, and given back with the reason."""
    key = (
        "consultations.move_cancelled"
        if consultation.status is ConsultationStatus.CANCELLED
        else "consultations.move_too_late"
    )
    return _typed_back(ctx, consultation, key, MAX_MOVE)


@feature.action("cs.mv", role=Role.CIVIL_SERVANT)
async def move_ask(ctx: Context) -> Response:
    """``cs.mv:<id>``: another closing time."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None or not _editable(consultation, ctx.now):
        return _gone()
    dialog = Dialog(name=MOVE, step="when", data={"consultation": consultation.id})
    return respond(_ask_move(ctx, consultation), dialog=dialog)


def _ask_move(ctx: Context, consultation: Consultation) -> Reply:
    return Reply(
        key="consultations.ask_move",
        params={
            "now": shown_time(consultation.closes_at, ctx.timezone, ctx.lang)
            if consultation.closes_at
            else "-",
            "example": when.typed_day(ctx.local(ctx.now + timedelta(days=7))) + " 17:00",
        },
        buttons=[[Button(label="consultations.btn_stop", payload="cancel")]],
    )


move_dialog = feature.dialog(MOVE, role=Role.CIVIL_SERVANT, subject="drafts.subject.consult_move")


@move_dialog.ask("when")
async def ask_move(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew), while the poll can still be moved."""
    consultation = await _editing(ctx, dialog)
    if isinstance(consultation, Response):
        return consultation
    return respond(_ask_move(ctx, consultation), dialog=dialog)


@move_dialog.step("when", expects=Expects.TEXT)
async def move(ctx: Context, dialog: Dialog) -> Response:
    consultation = await ctx.repos.consultations.get(int(dialog.data["consultation"]))
    if consultation is None:
        return respond(*_gone().replies, *given_back(ctx.event), end_dialog=True)
    if not _editable(consultation, ctx.now):
        # Closed (its time passed, or staff closed it) or cancelled while the time was
        # typed: it is not moved, and what was typed is given back with why.
        return _not_moved(ctx, consultation)
    text = read_text(ctx, MAX_MOVE)
    if isinstance(text, Reply):
        return respond(text, _ask_move(ctx, consultation), dialog=dialog)
    moment = parse_moment(text, ctx.local(ctx.now))
    earliest = max(ctx.now, consultation.opens_at or ctx.now) + SHORTEST
    if moment is None:
        problem = Reply(key="composer.when_invalid", params={"typed": text})
        return respond(problem, _ask_move(ctx, consultation), dialog=dialog)
    if moment.astimezone(UTC) < earliest:
        problem = Reply(
            key="consultations.when_too_soon",
            params={
                "when": when.moment(moment, ctx.lang),
                "after": shown_time(earliest, ctx.timezone, ctx.lang),
            },
        )
        return respond(problem, _ask_move(ctx, consultation), dialog=dialog)
    if not when.within_a_year(moment, ctx.local(ctx.now)):
        return respond(
            Reply(key="composer.when_too_far"), _ask_move(ctx, consultation), dialog=dialog
        )
    closes_at = moment.astimezone(UTC)
    await ctx.repos.consultations.move_close(consultation.id, closes_at, ctx.now)
    # Invitations and reminders still waiting in the outbox say the new time.
    await bring_up_to_date(Surroundings.of(ctx), consultation.id, ctx.now)
    await ctx.repos.audit.record(
        "consultation.edit",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{consultation.id}",
        detail={"field": "closes_at", "closes_at": closes_at.isoformat()},
    )
    moved = await ctx.repos.consultations.get(consultation.id)
    assert moved is not None
    at = next_moment(moved, ctx.timezone)
    return respond(
        Reply(
            key="consultations.moved",
            params={"closes": shown_time(closes_at, ctx.timezone, ctx.lang)},
            buttons=[_back()],
        ),
        end_dialog=True,
        timers=[Timer(job=job(consultation.id), at=at)],
    )


# Typed answers ---------------------------------------------------------------------------------


@feature.action("cs.mod", role=Role.CIVIL_SERVANT)
async def review_next(ctx: Context) -> Response:
    """``cs.mod:<id>``: the oldest typed answer waiting, to be shown or not."""
    consultation = await _staff_consultation(ctx, ctx.value)
    if consultation is None:
        return _gone()
    waiting = await ctx.repos.responses.next_review(consultation.id)
    if waiting is None:
        return respond(Reply(key="consultations.reviews_done", buttons=[_back()]))
    return respond(_review_item(ctx, consultation, waiting))


def words_mark(text: str) -> str:
    """A short mark of a typed answer's words, carried by the buttons that decide about it:
    a decision counts only for the words staff read (8 hex digits keep the payload short)."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _review_item(ctx: Context, consultation: Consultation, waiting: Review) -> Reply:
    asked = consultation.question(waiting.question)
    at = f"{waiting.response_id}:{waiting.question}:{words_mark(waiting.text)}"
    return Reply(
        key="consultations.review_item",
        params={
            "title": pick(consultation.title, ctx.lang),
            "number": waiting.question,
            "question": pick(asked.text, ctx.lang) if asked else "",
            "text": waiting.text,
            "waiting": waiting.waiting,
        },
        buttons=[
            [
                Button(label="consultations.btn_approve", payload=f"cs.ok:{at}"),
                Button(label="consultations.btn_reject", payload=f"cs.no:{at}"),
            ],
            _back(),
        ],
    )


async def _decide(ctx: Context, approved: bool) -> Response:
    """``<response>:<question>:<mark>``: decide about the typed answer, if it still says
    what staff read (see :func:`words_mark`); a changed one is shown again, undecided."""
    raw_response, _, rest = ctx.value.partition(":")
    raw_question, _, mark = rest.partition(":")
    response_id = parse_id(raw_response)
    number = parse_id(raw_question)
    if response_id is None or number is None:
        return _gone()
    waiting = await ctx.repos.responses.pending_review(response_id, number)
    consultation = (
        await _staff_consultation(ctx, str(waiting.consultation_id)) if waiting else None
    )
    if waiting is None or consultation is None:
        return respond(Reply(key="consultations.review_gone", buttons=[_back()]))
    if mark != words_mark(waiting.text):
        # The resident changed the answer after it was shown (or the button is older than
        # marks): what was read is not what would be shown.
        return respond(
            Reply(key="consultations.review_changed"), _review_item(ctx, consultation, waiting)
        )
    if not await ctx.repos.responses.decide(response_id, number, waiting.text, approved):
        return respond(Reply(key="consultations.review_gone", buttons=[_back()]))
    await ctx.repos.audit.record(
        "consultation.review",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{consultation.id}",
        detail={"question": number, "shown": approved},
    )
    ctx.value = str(consultation.id)
    return await review_next(ctx)


@feature.action("cs.ok", role=Role.CIVIL_SERVANT)
async def approve(ctx: Context) -> Response:
    """``cs.ok:<response>:<question>:<mark>``: this typed answer may be shown with the results."""
    return await _decide(ctx, True)


@feature.action("cs.no", role=Role.CIVIL_SERVANT)
async def reject(ctx: Context) -> Response:
    """``cs.no:<response>:<question>:<mark>``: this typed answer is never shown."""
    return await _decide(ctx, False)
