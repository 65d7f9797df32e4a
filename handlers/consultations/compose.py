"""Composing a consultation: civil servants (and the connector) ask residents something.

One handler per step. The preview stores a draft and shows it exactly as residents will
get it (the same functions make the invitation), with the number of people it reaches;
publishing opens it now or schedules it (a Timer; the database stays the truth).

    /nieuwepeiling ─► title ─► intro ─► kind ─► question ─┬─(one, several)─► options ─┐
                                          ▲               ├─(scale)────────► ends ────┤
                                          │               └─(text)────────────────────┤
                                          └───────── Nog een vraag ◄──── more ◄───────┘
                                                                          │ Klaar
    preview ◄── closes ◄── (opens) ◄── opening ◄── audience (+ picker) ◄── follow_up
       ├─ Publiceren ──► open now (invitations in the outbox) or scheduled
       ├─ Ander publiek ──► audience        └─ Andere tijden ──► opening

The options come all in one message, or one (or a few) per message: those typed so far are
shown each time, with "Klaar" once there are two. Every step that asks for words or a moment
takes what is typed as that (a "1" is a title, an option, an end of a scale), never as a
numbered button (see :class:`handlers.feature.Expects`). Every step can be asked again ("Ga
verder" after something else was opened meanwhile), the preview too.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import handlers.audience as audiences
from handlers import when
from handlers.answers import given_back_text, one_line, read_text, typed_choice, visible_length
from handlers.consultations.jobs import Surroundings, job, next_moment, publish
from handlers.consultations.shown import invitation, question, shown_time
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond, rows
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.when import parse_moment, typed
from storage.consultations.model import (
    MAX_OPTIONS,
    MAX_QUESTIONS,
    Consultation,
    Content,
    Question,
    QuestionKind,
)
from storage.news.broadcasts import Audience, AudienceKind

feature = Feature("consultation-compose")
feature.menu_entry("consultations.menu_compose", "cs.compose", order=69, role=Role.CIVIL_SERVANT)

DIALOG = "consult_compose"
MAX_TITLE = 80
MAX_INTRO = 600
MAX_QUESTION = 200
MAX_OPTION = 40
MAX_END = 30
MAX_FOLLOW_UP = 600
#: A consultation is open at least this long (and closes within a year of opening).
SHORTEST = timedelta(hours=1)
#: The closing moments offered as buttons: this many days after opening, at 17:00.
CLOSE_AFTER = (7, 14)
#: Publishing is refused when closing would come sooner than this (a preview left open).
MARGIN = timedelta(minutes=5)

compose = feature.dialog(DIALOG, role=Role.CIVIL_SERVANT, subject="drafts.subject.consult_compose")


def _written(data: dict[str, Any]) -> list[Reply]:
    """The poll as written so far (title, introduction, each question with its options or
    ends, the one being typed, the follow-up), given back with the word that it stopped
    when its writer may no longer compose one (a role revoked): never lost unseen."""
    lines: list[str] = []

    def add(value: object, mark: str = "") -> None:
        # A text as typed, or kept under the language it was typed in (a question's).
        texts = value.values() if isinstance(value, dict) else [value]
        lines.extend(f"{mark}{text}" for text in texts if isinstance(text, str) and text.strip())

    add(data.get("title"))
    add(data.get("intro"))
    for asked in data.get("questions") or []:
        if isinstance(asked, dict):
            add(asked.get("text"))
            for option in [*(asked.get("options") or []), asked.get("low"), asked.get("high")]:
                add(option, "• ")
    add(data.get("question"))
    for option in data.get("options") or []:
        add(option, "• ")
    add(data.get("follow_up"))
    if not lines:
        return []
    return [Reply(key="general.typed_not_kept", params={"text": "\n".join(lines)})]


compose.written = _written


def _stop() -> list[Button]:
    return [Button(label="consultations.btn_stop", payload="cancel")]


def _ask(key: str, **params: object) -> Reply:
    return Reply(key=key, params=params, buttons=[_stop()])


@feature.command(
    "nieuwepeiling",
    translations={"en": "newpoll"},
    role=Role.CIVIL_SERVANT,
    describe="consultations.cmd_compose",
    words=True,
)
@feature.action("cs.compose", role=Role.CIVIL_SERVANT)
async def start(ctx: Context) -> Response:
    """Begin a new consultation with its title."""
    # Residents read it in the municipality's language (or their own, where there is a
    # text in it): what a civil servant writes is that language's, whatever language the
    # bot speaks to them in.
    written = ctx.catalog.default
    dialog = Dialog(name=DIALOG, step="title", data={"lang": written, "questions": []})
    # "/nieuwepeiling Nieuwe speeltuin" is that title already: the introduction is next.
    typed = ctx.value.strip() if ctx.event.command is not None else ""
    if typed:
        return await _title(ctx, dialog, typed)
    return respond(_ask("consultations.compose_intro", max=MAX_TITLE), dialog=dialog)


def _texts(dialog: Dialog, text: str) -> dict[str, str]:
    """A civil servant's text, kept under the language it is written in."""
    return {str(dialog.data.get("lang", "nl")): text}


# The texts -------------------------------------------------------------------------------------


@compose.step("title", expects=Expects.TEXT)
async def title(ctx: Context, dialog: Dialog) -> Response:
    return await _title(ctx, dialog)


async def _title(ctx: Context, dialog: Dialog, typed: str | None = None) -> Response:
    """The title: typed at its question, or ``typed`` after the command (shown back with
    the reason when it cannot be the title)."""
    text = read_text(ctx, MAX_TITLE, min_length=3, text=typed)
    if isinstance(text, Reply):
        again = _ask("consultations.ask_title", max=MAX_TITLE)
        return respond(*given_back_text(typed), text, again, dialog=dialog)
    # One line wherever it shows (the list of polls, the invitation), however typed.
    nxt = dialog.to("intro", title=one_line(text))
    return respond(_ask("consultations.ask_intro", max=MAX_INTRO), dialog=nxt)


@compose.step("intro", expects=Expects.TEXT)
async def intro(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, MAX_INTRO)
    if isinstance(text, Reply):
        return respond(text, _ask("consultations.ask_intro", max=MAX_INTRO), dialog=dialog)
    nxt = dialog.to("kind", intro=text)
    return respond(_ask_kind(nxt), dialog=nxt)


def _ask_kind(dialog: Dialog) -> Reply:
    number = len(dialog.data["questions"]) + 1
    return Reply(
        key="consultations.ask_kind",
        params={"number": number, "max": MAX_QUESTIONS},
        buttons=[
            [dialog.button("consultations.kind_one", QuestionKind.ONE.value)],
            [dialog.button("consultations.kind_several", QuestionKind.SEVERAL.value)],
            [dialog.button("consultations.kind_scale", QuestionKind.SCALE.value)],
            [dialog.button("consultations.kind_text", QuestionKind.TEXT.value)],
            _stop(),
        ],
    )


@compose.step("kind")
async def kind(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice not in {k.value for k in QuestionKind}:
        return respond(Reply(key="answers.use_buttons"), _ask_kind(dialog), dialog=dialog)
    nxt = dialog.to("question", kind=choice)
    return respond(_ask("consultations.ask_question", max=MAX_QUESTION), dialog=nxt)


@compose.step("question", expects=Expects.TEXT)
async def question_text(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, MAX_QUESTION, min_length=3)
    if isinstance(text, Reply):
        return respond(text, _ask("consultations.ask_question", max=MAX_QUESTION), dialog=dialog)
    chosen = QuestionKind(dialog.data["kind"])
    if chosen in (QuestionKind.ONE, QuestionKind.SEVERAL):
        nxt = dialog.to("options", question=text, options=[])
        return respond(_ask_options(nxt), dialog=nxt)
    if chosen is QuestionKind.SCALE:
        nxt = dialog.to("ends", question=text)
        return respond(_ask("consultations.ask_ends", max=MAX_END), dialog=nxt)
    asked = Question(kind=chosen, text=_texts(dialog, text))
    return _added(dialog, asked)


def _ask_options(dialog: Dialog) -> Reply:
    """Ask for the options; once some are typed, show them with the way on."""
    collected: list[str] = dialog.data.get("options") or []
    if not collected:
        return _ask("consultations.ask_options", count=MAX_OPTIONS, max=MAX_OPTION)
    count = len(collected)
    if count < 2:
        hint = Reply(key="consultations.options_next_first", params={"max": MAX_OPTION})
    elif count < MAX_OPTIONS:
        hint = Reply(key="consultations.options_next")
    else:
        hint = Reply(key="consultations.options_full", params={"max": MAX_OPTIONS})
    lines = [
        Reply(key="consultations.option_line", params={"number": number, "option": option})
        for number, option in enumerate(collected, start=1)
    ]
    buttons = []
    if count >= 2:
        buttons.append([dialog.button("consultations.btn_options_done", "done")])
    buttons.append([dialog.button("consultations.btn_drop_option", "drop")])
    buttons.append(_stop())
    return Reply(
        key="consultations.options_so_far",
        params={"count": count, "max": MAX_OPTIONS},
        parts=[*lines, hint],
        buttons=buttons,
    )


@compose.step("options", expects=Expects.TEXT)
async def options(ctx: Context, dialog: Dialog) -> Response:
    """The options: all in one message, or one (or a few) per message, collected in the
    dialog (so a restart loses none) until "Klaar"."""
    collected: list[str] = list(dialog.data.get("options") or [])
    if ctx.event.button is not None:
        if ctx.value == "done" and len(collected) >= 2:
            return _added(dialog, _choices(dialog, collected))
        if ctx.value == "drop" and collected:
            nxt = _afresh(dialog.to("options", options=collected[:-1]))
            return respond(_ask_options(nxt), dialog=nxt)
        return respond(Reply(key="answers.use_buttons"), _ask_options(dialog), dialog=dialog)
    text = read_text(ctx, MAX_OPTIONS * (MAX_OPTION + 2))
    if isinstance(text, Reply):
        return respond(text, _ask_options(dialog), dialog=dialog)
    lines = [one_line(line) for line in _pieces(text)]
    # A line that shows nothing (only spaces, bullets or invisible marks) is no option.
    found = [option for line in lines if visible_length(option := line.lstrip("-•*").strip())]
    problem = _options_problem(collected, found)
    if problem is not None:
        return respond(problem, _ask_options(dialog), dialog=dialog)
    if not collected and len(found) >= 2:
        # Every option in one message: the question is complete.
        return _added(dialog, _choices(dialog, found))
    nxt = dialog.to("options", options=[*collected, *found])
    return respond(_ask_options(nxt), dialog=nxt)


def _options_problem(collected: list[str], found: list[str]) -> Reply | None:
    """Why the options typed now cannot be added to those collected (none is, then)."""
    if not found:
        return Reply(key="consultations.option_empty")
    too_long = [option for option in found if len(option) > MAX_OPTION]
    if too_long:
        return Reply(
            key="consultations.option_too_long", params={"option": too_long[0], "max": MAX_OPTION}
        )
    if len(collected) + len(found) > MAX_OPTIONS:
        return Reply(key="consultations.options_too_many", params={"max": MAX_OPTIONS})
    every = [*collected, *found]
    if len({_same(option) for option in every}) != len(every):
        return Reply(key="consultations.options_twice")
    return None


def _choices(dialog: Dialog, chosen: list[str]) -> Question:
    return Question(
        kind=QuestionKind(dialog.data["kind"]),
        text=_texts(dialog, dialog.data["question"]),
        options=[_texts(dialog, option) for option in chosen],
    )


@compose.step("ends", expects=Expects.TEXT)
async def ends(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, 2 * MAX_END + 2)
    if isinstance(text, Reply):
        return respond(text, _ask("consultations.ask_ends", max=MAX_END), dialog=dialog)
    words = [one_line(line) for line in _pieces(text) if visible_length(line)]
    if len(words) != 2 or any(len(word) > MAX_END for word in words):
        problem = Reply(key="consultations.ends_two", params={"max": MAX_END})
        return respond(problem, _ask("consultations.ask_ends", max=MAX_END), dialog=dialog)
    asked = Question(
        kind=QuestionKind.SCALE,
        text=_texts(dialog, dialog.data["question"]),
        low=_texts(dialog, words[0]),
        high=_texts(dialog, words[1]),
    )
    return _added(dialog, asked)


def _afresh(dialog: Dialog) -> Dialog:
    """The same step with new buttons: after something was taken away, the buttons of the
    message before (a double tap on "Laatste vraag weghalen") are old and take nothing
    more away."""
    return dialog.model_copy(update={"token": secrets.token_hex(3)})


def _same(option: str) -> str:
    """What two options that look the same have in common: their visible characters,
    whatever their case or width ("Ｓchommel", "schom\u200bmel" and "Schommel" are one)."""
    folded = unicodedata.normalize("NFKC", option).casefold()
    return "".join(char for char in folded if unicodedata.category(char)[0] not in "CZ")


def _pieces(text: str) -> list[str]:
    """Typed items: one per line, or separated by ";" (a chat that sends every line at once
    is not a given: a terminal sends each line as a message)."""
    return [piece for line in text.splitlines() for piece in line.split(";")]


def _added(dialog: Dialog, asked: Question) -> Response:
    questions = [*dialog.data["questions"], asked.model_dump(mode="json")]
    nxt = dialog.to("more", questions=questions, kind=None, question=None, options=None)
    return respond(_ask_more(nxt), dialog=nxt)


def _ask_more(dialog: Dialog) -> Reply:
    count = len(dialog.data["questions"])
    buttons = []
    if count < MAX_QUESTIONS:
        buttons.append([dialog.button("consultations.btn_add_question", "add")])
    buttons.append([dialog.button("consultations.btn_drop_question", "drop")])
    buttons.append([dialog.button("consultations.btn_questions_done", "done")])
    buttons.append(_stop())
    return Reply(
        key="consultations.ask_more",
        params={"count": count, "max": MAX_QUESTIONS},
        buttons=buttons,
    )


@compose.step("more")
async def more(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    count = len(dialog.data["questions"])
    if choice == "add" and count < MAX_QUESTIONS:
        nxt = dialog.to("kind")
        return respond(_ask_kind(nxt), dialog=nxt)
    if choice == "drop":
        questions = dialog.data["questions"][:-1]
        if not questions:
            nxt = dialog.to("kind", questions=[])
            return respond(Reply(key="consultations.dropped_all"), _ask_kind(nxt), dialog=nxt)
        nxt = _afresh(dialog.to("more", questions=questions))
        return respond(_ask_more(nxt), dialog=nxt)
    if choice == "done":
        nxt = dialog.to("follow_up")
        return respond(_ask("consultations.ask_follow_up", max=MAX_FOLLOW_UP), dialog=nxt)
    return respond(Reply(key="answers.use_buttons"), _ask_more(dialog), dialog=dialog)


@compose.step("follow_up", expects=Expects.TEXT)
async def follow_up(ctx: Context, dialog: Dialog) -> Response:
    text = read_text(ctx, MAX_FOLLOW_UP)
    if isinstance(text, Reply):
        again = _ask("consultations.ask_follow_up", max=MAX_FOLLOW_UP)
        return respond(text, again, dialog=dialog)
    return await AUDIENCE.start(ctx, dialog.to(audiences.STEP, follow_up=text))


# Who is asked ---------------------------------------------------------------------------------


async def _may_answer(ctx: Context, chosen: Audience) -> int:
    return await ctx.repos.consultations.audience_count(chosen)


async def _may_answer_each(
    ctx: Context, kind: AudienceKind, values: Sequence[str]
) -> dict[str, int]:
    return await ctx.repos.consultations.audience_counts(kind, values)


@compose.step(audiences.STEP)
async def audience(ctx: Context, dialog: Dialog) -> Response:
    return await AUDIENCE.choose(ctx, dialog)


@compose.step(*audiences.PICKERS)
async def pick_audience(ctx: Context, dialog: Dialog) -> Response:
    return await AUDIENCE.pick(ctx, dialog)


async def _chosen(ctx: Context, dialog: Dialog) -> Response:
    """An audience was chosen: on to the times, unless there is nobody in it."""
    if await ctx.repos.consultations.audience_count(audiences.audience_of(dialog)) == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    return respond(_ask_opening(dialog), dialog=dialog)


AUDIENCE = audiences.AudienceSteps(
    count=_may_answer,
    counts=_may_answer_each,
    then="opening",
    chosen=_chosen,
    section="consultations",
    everyone="consultations.btn_audience_all",
    stop=Button(label="consultations.btn_stop", payload="cancel"),
)


async def describe(ctx: Context, chosen: Audience) -> str:
    """Who an audience is, in words."""
    return await audiences.describe(ctx, chosen, "consultations")


# When -------------------------------------------------------------------------------------------


def _ask_opening(dialog: Dialog) -> Reply:
    return Reply(
        key="consultations.ask_opening",
        buttons=[
            [dialog.button("consultations.btn_open_now", "now")],
            [dialog.button("consultations.btn_open_later", "later")],
            _stop(),
        ],
    )


@compose.step("opening")
async def opening(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "now":
        nxt = dialog.to("closes", opens_at=None)
        return respond(_ask_closing(ctx, nxt), dialog=nxt)
    if choice == "later":
        nxt = dialog.to("opens")
        return respond(_ask_moment(ctx, nxt, "consultations.ask_opens", ctx.now), dialog=nxt)
    return respond(Reply(key="answers.use_buttons"), _ask_opening(dialog), dialog=dialog)


def _ask_moment(ctx: Context, dialog: Dialog, key: str, start: datetime) -> Reply:
    """Ask for a moment after ``start``, with buttons for the usual ones."""
    local = ctx.local(start).replace(second=0, microsecond=0)
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0)
    monday = (local + timedelta(days=7 - local.weekday())).replace(hour=9, minute=0)
    choices = [dialog.button("composer.btn_tomorrow", typed(tomorrow), time="9:00")]
    if monday != tomorrow:  # on a Sunday "morgen" is that Monday: one button for it
        day = when.day_month(monday, ctx.lang)
        choices.append(dialog.button("composer.btn_monday", typed(monday), date=day))
    return Reply(
        key=key,
        params={"example": when.typed_day(local + timedelta(days=3)) + " 9:30"},
        buttons=[*rows(choices), _stop()],
    )


def _closing_choices(ctx: Context, dialog: Dialog) -> list[Button]:
    """The usual closing moments: 7 and 14 days after opening, at 17:00."""
    local = ctx.local(_opens(ctx, dialog)).replace(second=0, microsecond=0)
    return [
        dialog.button(
            "consultations.btn_close_after",
            typed((local + timedelta(days=days)).replace(hour=17, minute=0)),
            days=days,
        )
        for days in CLOSE_AFTER
    ]


def _typed_closing(ctx: Context, dialog: Dialog) -> str | None:
    """The closing choice typed as its button says it, with or without its time ("Na 7
    dagen" for "Na 7 dagen, 17:00"): the moment it stands for, or None."""
    if ctx.event.button is not None or ctx.event.text is None:
        return None
    names: dict[str, list[str]] = {}
    for days in CLOSE_AFTER:
        label = ctx.catalog.text(
            ctx.lang, "consultations.btn_close_after", {"days": days}, markup=False
        )
        names[str(days)] = [label, label.replace("،", ",").split(",")[0]]
    chosen = typed_choice(ctx, names)
    if chosen is None:
        return None
    local = ctx.local(_opens(ctx, dialog)).replace(second=0, microsecond=0)
    return typed((local + timedelta(days=int(chosen))).replace(hour=17, minute=0))


def _ask_closing(ctx: Context, dialog: Dialog) -> Reply:
    opens = _opens(ctx, dialog)
    local = ctx.local(opens).replace(second=0, microsecond=0)
    choices = _closing_choices(ctx, dialog)
    return Reply(
        key="consultations.ask_closes",
        params={
            "opens": shown_time(opens, ctx.timezone, ctx.lang),
            "example": when.typed_day(local + timedelta(days=10)) + " 17:00",
        },
        buttons=[*rows(choices), _stop()],
    )


def _opens(ctx: Context, dialog: Dialog) -> datetime:
    stored = dialog.data.get("opens_at")
    return datetime.fromisoformat(stored) if stored else ctx.now


def _read_moment(ctx: Context, after: datetime, chosen: str | None = None) -> datetime | Reply:
    """The moment typed (or chosen), in UTC, after ``after`` and within a year of it;
    ``chosen``: a choice typed by its name, already read."""
    if chosen is not None:
        answer: str | Reply = chosen
    else:
        answer = ctx.value if ctx.event.button is not None else read_text(ctx, 60)
    if isinstance(answer, Reply):
        return answer
    moment = parse_moment(answer, ctx.local(ctx.now))
    if moment is None:
        return Reply(key="composer.when_invalid", params={"typed": answer})
    if moment.astimezone(UTC) <= after:
        return Reply(
            key="consultations.when_too_soon",
            params={
                "when": when.moment(moment, ctx.lang),
                "after": shown_time(after, ctx.timezone, ctx.lang),
            },
        )
    if not when.within_a_year(moment, ctx.local(after)):
        return Reply(key="composer.when_too_far")
    return moment.astimezone(UTC)


@compose.step("opens", expects=Expects.TEXT)
async def opens(ctx: Context, dialog: Dialog) -> Response:
    moment = _read_moment(ctx, ctx.now)
    if isinstance(moment, Reply):
        again = _ask_moment(ctx, dialog, "consultations.ask_opens", ctx.now)
        return respond(moment, again, dialog=dialog)
    nxt = dialog.to("closes", opens_at=moment.isoformat())
    return respond(_ask_closing(ctx, nxt), dialog=nxt)


@compose.step("closes", expects=Expects.TEXT)
async def closes(ctx: Context, dialog: Dialog) -> Response:
    after = _opens(ctx, dialog) + SHORTEST - timedelta(seconds=1)
    moment = _read_moment(ctx, after, _typed_closing(ctx, dialog))
    if isinstance(moment, Reply):
        return respond(moment, _ask_closing(ctx, dialog), dialog=dialog)
    return await _preview(ctx, dialog.to("preview", closes_at=moment.isoformat()))


# Preview and publishing -----------------------------------------------------------------------


def _content(dialog: Dialog) -> Content:
    return Content(
        title=_texts(dialog, dialog.data["title"]),
        intro=_texts(dialog, dialog.data["intro"]),
        follow_up=_texts(dialog, dialog.data["follow_up"]),
        questions=[Question.model_validate(q) for q in dialog.data["questions"]],
    )


async def _preview(ctx: Context, dialog: Dialog) -> Response:
    """Save the consultation as a draft and show it exactly as residents will get it."""
    chosen = audiences.audience_of(dialog)
    count = await ctx.repos.consultations.audience_count(chosen)
    if count == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    opens_at = dialog.data.get("opens_at")
    closes_at = datetime.fromisoformat(dialog.data["closes_at"])
    draft_id = await ctx.repos.consultations.save_draft(
        ctx.user.id,
        _content(dialog),
        audience=chosen,
        opens_at=datetime.fromisoformat(opens_at) if opens_at else None,
        closes_at=closes_at,
        now=ctx.now,
    )
    draft = await ctx.repos.consultations.get(draft_id)
    assert draft is not None
    shown = dialog.to("preview", draft_id=draft_id)
    until = shown_time(closes_at, ctx.timezone, ctx.lang)
    first, *_ = invitation(draft, 0, ctx.lang, profile=ctx.profile, until=until)
    questions = [
        question(draft, 0, number, ctx.lang, None) for number in range(1, draft.total + 1)
    ]
    head = Reply(
        key="consultations.preview_intro",
        params={
            "count": count,
            "audience": await describe(ctx, chosen),
            "opens": shown_time(_opens(ctx, dialog), ctx.timezone, ctx.lang)
            if opens_at
            else ctx.catalog.text(ctx.lang, "consultations.now", {}, markup=False),
            "closes": until,
        },
    )
    return respond(head, first, *questions, _preview_question(shown), dialog=shown)


def _preview_question(dialog: Dialog) -> Reply:
    return Reply(
        key="consultations.preview_question",
        buttons=[
            [dialog.button("consultations.btn_publish", "publish")],
            [dialog.button("composer.btn_other_audience", "audience")],
            [dialog.button("consultations.btn_other_times", "times")],
            _stop(),
        ],
    )


@compose.step("preview")
async def preview(ctx: Context, dialog: Dialog) -> Response:
    choice = ctx.value if ctx.event.button is not None else None
    if choice == "audience":
        return await AUDIENCE.start(ctx, dialog)
    if choice == "times":
        nxt = dialog.to("opening")
        return respond(_ask_opening(nxt), dialog=nxt)
    if choice != "publish":
        return respond(Reply(key="answers.use_buttons"), _preview_question(dialog), dialog=dialog)
    draft = await ctx.repos.consultations.get(int(dialog.data["draft_id"]))
    if draft is None or draft.author_user_id != ctx.user.id:
        return respond(menu_reply(ctx, "consultations.gone"), end_dialog=True)
    if await ctx.repos.consultations.audience_count(draft.audience) == 0:
        return await AUDIENCE.nobody(ctx, dialog)
    assert draft.closes_at is not None
    if draft.closes_at < ctx.now + MARGIN or (
        draft.opens_at is not None and draft.opens_at <= ctx.now
    ):
        # The moments chosen went by while the preview was open: choose them again.
        nxt = dialog.to("opening")
        return respond(Reply(key="consultations.times_passed"), _ask_opening(nxt), dialog=nxt)
    return await _publish(ctx, draft)


# Taking a half-composed consultation up again -------------------------------------------------


@compose.ask("title", "intro", "kind", "question", "options", "ends", "more", "follow_up")
@compose.ask(audiences.STEP, *audiences.PICKERS, "opening", "opens", "closes", "preview")
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The question of the step the consultation is at, asked again to go on with it
    (the preview shown again, with its buttons)."""
    step = dialog.step
    if step == "preview":
        return await _preview(ctx, dialog)
    if step == audiences.STEP or step in audiences.PICKERS:
        return await AUDIENCE.asked(ctx, dialog)
    if step == "title":
        asked = _ask("consultations.ask_title", max=MAX_TITLE)
    elif step == "intro":
        asked = _ask("consultations.ask_intro", max=MAX_INTRO)
    elif step == "kind":
        asked = _ask_kind(dialog)
    elif step == "question":
        asked = _ask("consultations.ask_question", max=MAX_QUESTION)
    elif step == "options":
        asked = _ask_options(dialog)
    elif step == "ends":
        asked = _ask("consultations.ask_ends", max=MAX_END)
    elif step == "more":
        asked = _ask_more(dialog)
    elif step == "follow_up":
        asked = _ask("consultations.ask_follow_up", max=MAX_FOLLOW_UP)
    elif step == "opening":
        asked = _ask_opening(dialog)
    elif step == "opens":
        asked = _ask_moment(ctx, dialog, "consultations.ask_opens", ctx.now)
    else:
        asked = _ask_closing(ctx, dialog)
    return respond(asked, dialog=dialog)


async def _publish(ctx: Context, draft: Consultation) -> Response:
    """Open it now (asking everyone at once) or schedule it; in the audit log either way."""
    assert draft.closes_at is not None
    detail = {
        "audience": draft.audience.kind.value,
        "audience_value": draft.audience.value,
        "questions": draft.total,
        "closes_at": draft.closes_at.isoformat(),
    }
    if draft.opens_at is None:
        asked = await publish(Surroundings.of(ctx), draft.id, ctx.now)
        if asked is None:
            return respond(menu_reply(ctx, "consultations.gone"), end_dialog=True)
        await ctx.repos.audit.record(
            "consultation.publish",
            now=ctx.now,
            actor_user_id=ctx.user.id,
            subject=f"consultation:{draft.id}",
            detail={**detail, "invited": asked},
        )
        published = await ctx.repos.consultations.get(draft.id)
        assert published is not None
        at = next_moment(published, ctx.timezone)
        return respond(
            menu_reply(
                ctx,
                "consultations.published",
                count=asked,
                closes=shown_time(draft.closes_at, ctx.timezone, ctx.lang),
            ),
            end_dialog=True,
            timers=[Timer(job=job(draft.id), at=at)] if at else [],
        )
    if not await ctx.repos.consultations.schedule(draft.id, draft.opens_at, ctx.now):
        return respond(menu_reply(ctx, "consultations.gone"), end_dialog=True)
    await ctx.repos.audit.record(
        "consultation.publish",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"consultation:{draft.id}",
        detail={**detail, "opens_at": draft.opens_at.isoformat()},
    )
    return respond(
        menu_reply(
            ctx,
            "consultations.scheduled",
            opens=shown_time(draft.opens_at, ctx.timezone, ctx.lang),
            closes=shown_time(draft.closes_at, ctx.timezone, ctx.lang),
        ),
        end_dialog=True,
        timers=[Timer(job=job(draft.id), at=draft.opens_at)],
    )
