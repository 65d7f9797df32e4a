"""How a consultation looks to residents: the invitation, one question, their answers so far.

The same functions make the composer's preview, the invitation queued for everyone asked,
and every question shown while answering, so the preview is exactly what residents get.

Buttons carry everything needed to answer (no dialog): ``<action>:<id>:<moment>:<question>``
and the value, at most about 30 bytes, well within Telegram's 64 bytes of callback data.

    cs.a:<id>:<m>:<q>:<n|x>   answer: option or scale value n, or x ("zeg ik liever niet");
                              ending in "!" where the answer given was shown: it replaces
                              that answer (and says so); without, a different one asks first
    cs.k:<id>:<m>:<q>         keep the answer given (instead of one pressed on an old message)
    cs.t:<id>:<m>:<q>:<n>     tick or untick option n of a several-choice question
    cs.n:<id>:<m>:<q>         done ticking: on to the next question
    cs.w:<id>:<m>:<q>         type the answer to a text question
    cs.q:<id>:<m>:<q>         show question q again (to change its answer)
    cs.o:<id>:<m>[:<page>]    open: the first unanswered question, or the answers given
    cs.r:<id>:<m>[:<page>]    the answers given, each to change
    cs.u:<id>:<m>[:<page>]    the results of a closed one

A button in the list of polls carries the page it was on (none for the first, as older
buttons have none), so "Terug naar de lijst" under what it opened goes back to that page.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import when
from handlers.contract import Button, Reply
from handlers.feature import CONFIRMED
from handlers.profile import Profile
from storage.consultations.model import (
    SKIP,
    Answer,
    Consultation,
    ConsultationKind,
    QuestionKind,
    pick,
)

#: The longest typed answer.
MAX_TEXT = 500


def brand(profile: Profile, lang: str) -> str:
    """What residents know consultations by ("Velsen vraagt")."""
    return profile.consultations.name(lang)


def shown_time(moment: datetime, timezone: ZoneInfo, lang: str) -> str:
    """A moment as residents read it, in the municipality's time zone and ``lang``."""
    return when.moment(moment.astimezone(timezone), lang)


def to_list(page: int = 1) -> Button:
    """ "Terug naar de lijst": the person's list of polls, at the page something was opened
    from."""
    return Button(
        label="consultations.btn_list", payload=f"cs.list:{page}" if page > 1 else "cs.list"
    )


def base(consultation: Consultation, moment: int, number: int) -> str:
    return f"{consultation.id}:{moment}:{number}"


def invitation(
    consultation: Consultation,
    moment: int,
    lang: str,
    *,
    profile: Profile,
    until: str | None,
) -> list[Reply]:
    """The message that asks someone: title, introduction, and the first question."""
    params = {
        "brand": brand(profile, lang),
        "title": pick(consultation.title, lang),
        "intro": pick(consultation.intro, lang),
        "count": consultation.total,
        "until": until or "",
    }
    key = "consultations.invitation" if until else "consultations.invitation_open"
    if consultation.kind is ConsultationKind.EVALUATION:
        key = "consultations.invitation_evaluation"
    original = lang not in consultation.title or lang not in consultation.intro
    return [
        Reply(key=key, params=params, original=original),
        question(consultation, moment, 1, lang, None),
    ]


def question(
    consultation: Consultation,
    moment: int,
    number: int,
    lang: str,
    current: Answer | None,
    *,
    typing: bool = False,
    may_type: bool = True,
) -> Reply:
    """Question ``number`` with its answer buttons; the current answer is marked.

    ``typing``: the person can type the answer straight away (a text question shown as a
    direct reply, with its dialog open); otherwise they press "Antwoord typen" first.
    ``may_type=False``: neither (a muted person can only skip a text question for now).

    Shown with an answer given, its answer buttons confirm a change: the person sees the
    answer they replace (see :func:`handlers.consultations.answer.answer`); without one, a
    different answer pressed here later (an old message) asks first.
    """
    asked = consultation.question(number)
    assert asked is not None
    at = base(consultation, moment, number)
    params = {
        "number": number,
        "total": consultation.total,
        "title": pick(consultation.title, lang),
        "text": pick(asked.text, lang),
    }
    key = "consultations.question"
    parts: list[Reply] = []
    buttons: list[list[Button]] = []
    skipped = current is not None and current.skipped
    chosen = set(current.choices) if current is not None else set()
    mark = CONFIRMED if current is not None else ""
    if asked.kind in (QuestionKind.ONE, QuestionKind.SEVERAL):
        several = asked.kind is QuestionKind.SEVERAL
        for index, option in enumerate(asked.options, start=1):
            label = "consultations.btn_chosen" if index in chosen else "raw"
            buttons.append(
                [
                    Button(
                        label=label,
                        payload=f"cs.t:{at}:{index}" if several else f"cs.a:{at}:{index}{mark}",
                        params={"text": pick(option, lang)},
                    )
                ]
            )
        if several:
            parts.append(Reply(key="consultations.hint_several"))
            buttons.append([Button(label="consultations.btn_next", payload=f"cs.n:{at}")])
    elif asked.kind is QuestionKind.SCALE:
        key = "consultations.question_scale"
        params["low"] = pick(asked.low, lang)
        params["high"] = pick(asked.high, lang)
        buttons.append(
            [
                Button(
                    label="consultations.btn_chosen" if value in chosen else "raw",
                    payload=f"cs.a:{at}:{value}{mark}",
                    params={"text": str(value)},
                )
                for value in asked.choices()
            ]
        )
    else:
        if current is not None and current.text is not None:
            parts.append(Reply(key="consultations.current_text", params={"text": current.text}))
        if may_type:
            hint = "consultations.hint_type" if typing else "consultations.hint_press"
            parts.append(Reply(key=hint, params={"max": MAX_TEXT}))
            buttons.append([Button(label="consultations.btn_type", payload=f"cs.w:{at}")])
    skip = "consultations.btn_skip_chosen" if skipped else "consultations.btn_skip"
    buttons.append([Button(label=skip, payload=f"cs.a:{at}:{SKIP}{mark}")])
    return Reply(key=key, params=params, parts=parts, buttons=buttons)


def answer_words(consultation: Consultation, answer: Answer, lang: str) -> str:
    """An answer in words (the person's own: their typed text too)."""
    asked = consultation.question(answer.question)
    if asked is None:
        return ""
    if answer.text is not None:
        return answer.text
    if asked.kind is QuestionKind.SCALE:
        return " ".join(f"{value}/5" for value in answer.choices)
    return ", ".join(
        pick(asked.options[index - 1], lang)
        for index in answer.choices
        if 1 <= index <= len(asked.options)
    )


def review(
    consultation: Consultation,
    moment: int,
    answers: dict[int, Answer],
    lang: str,
    *,
    page: int = 1,
) -> Reply:
    """Every question with the answer given (or not yet), each with a button to change it;
    back to the list at ``page``."""
    parts = []
    buttons = []
    for number, asked in enumerate(consultation.questions, start=1):
        given = answers.get(number)
        params = {"number": number, "question": pick(asked.text, lang)}
        if given is None:
            parts.append(Reply(key="consultations.review_open", params=params))
        elif given.skipped:
            parts.append(Reply(key="consultations.review_skipped", params=params))
        else:
            params["answer"] = answer_words(consultation, given, lang)
            parts.append(Reply(key="consultations.review_line", params=params))
        buttons.append(
            Button(
                label="consultations.btn_change",
                payload=f"cs.q:{base(consultation, moment, number)}",
                params={"number": number},
            )
        )
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    return Reply(
        key="consultations.review",
        params={"title": pick(consultation.title, lang)},
        parts=parts,
        buttons=[*rows, [to_list(page)]],
    )
