"""The connector's inbox: residents' questions (also those meant for a civil servant's card),
answered in the chat. The answer reaches the resident through the outbox (kind ``answer``)
with a button to reply; the thread goes on both ways until the connector closes it (a new
message from the resident opens it again, see ``handlers/questions.py``).

    /inbox ──► open threads: waiting for an answer first, newest first   ◄ vorige / volgende ►
       └─► thread ──► beantwoorden ──► text ──► sent; the inbox again
                  └─► afsluiten ──► closed; the resident is told
"""

from __future__ import annotations

from handlers.answers import excerpt, parse_id, read_text
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from handlers.notices import notify
from handlers.start.menu import stale_button
from storage.community.questions import Question, Side

feature = Feature("inbox")
feature.menu_entry("inbox.menu", "inbox", order=65, role=Role.CONNECTOR)

DIALOG = "inbox_answer"
PAGE_SIZE = 5
MAX_PAGE = 9999
MAX_ANSWER = 2000


def _when(ctx: Context, question: Question) -> str:
    return ctx.local(question.updated_at).strftime("%d-%m %H:%M")


@feature.command("inbox", role=Role.CONNECTOR, describe="inbox.cmd")
@feature.action("inbox", role=Role.CONNECTOR)
async def inbox(ctx: Context) -> Response:
    """A page of open threads; ``inbox:<page>`` pages."""
    raw = ctx.value if ctx.event.button is not None and ctx.value else "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        return await stale_button(ctx)
    return respond(await inbox_reply(ctx, int(raw)))


async def inbox_reply(ctx: Context, page: int = 1) -> Reply:
    """The inbox page (a page past the end shows the last one)."""
    questions = ctx.repos.questions
    total, waiting = await questions.count_open()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    threads = await questions.inbox(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    parts = [await _line(ctx, question) for question in threads] or [Reply(key="inbox.empty")]
    buttons = [
        [Button(label="inbox.btn_open", payload=f"inbox.open:{q.id}", params={"id": q.id})]
        for q in threads
    ]
    paging = []
    if page > 1:
        paging.append(Button(label="inbox.btn_previous", payload=f"inbox:{page - 1}"))
    if page < pages:
        paging.append(Button(label="inbox.btn_next", payload=f"inbox:{page + 1}"))
    if paging:
        buttons.append(paging)
    buttons.append([Button(label="menu.back", payload="menu")])
    return Reply(
        key="inbox.title",
        params={"open": total, "waiting": waiting, "page": page, "pages": pages},
        parts=parts,
        buttons=buttons,
    )


async def _line(ctx: Context, question: Question) -> Reply:
    last = question.messages[-1] if question.messages else None
    waiting = last is None or last.side is Side.RESIDENT
    card = await ctx.repos.staff.get(question.staff_user_id) if question.staff_user_id else None
    return Reply(
        key="inbox.line_waiting" if waiting else "inbox.line_answered",
        params={
            "id": question.id,
            "when": _when(ctx, question),
            "text": excerpt(last.text, 70) if last else "",
            "meant_for": card.name if card else ctx.profile.connector(ctx.lang),
        },
    )


@feature.action("inbox.open", role=Role.CONNECTOR)
async def open_thread(ctx: Context) -> Response:
    """``inbox.open:<id>``: the whole thread, with answer and close buttons."""
    question = await _question(ctx)
    if isinstance(question, Response):
        return question
    return respond(await thread_reply(ctx, question))


async def _question(ctx: Context, question_id: int | None = None) -> Question | Response:
    wanted = question_id if question_id is not None else parse_id(ctx.value)
    if wanted is None:
        return await stale_button(ctx)
    question = await ctx.repos.questions.get(wanted)
    if question is None:
        return respond(Reply(key="inbox.not_found", params={"id": wanted}), await inbox_reply(ctx))
    return question


async def thread_reply(ctx: Context, question: Question) -> Reply:
    """One thread as the connector reads it: who it is meant for, every message."""
    connector = ctx.profile.connector(ctx.lang)
    parts: list[Reply] = []
    card = await ctx.repos.staff.get(question.staff_user_id) if question.staff_user_id else None
    if card is not None:
        parts.append(Reply(key="questions.meant_for", params={"name": card.name}))
    if question.user_id is None:
        parts.append(Reply(key="inbox.resident_gone"))
    for message in question.messages:
        key = "inbox.msg_resident" if message.side is Side.RESIDENT else "inbox.msg_connector"
        parts.append(
            Reply(
                key=key,
                params={
                    "when": ctx.local(message.at).strftime("%d-%m %H:%M"),
                    "text": message.text,
                    "connector": connector,
                },
            )
        )
    buttons: list[list[Button]] = []
    if question.is_open and question.user_id is not None:
        buttons.append(
            [
                Button(label="inbox.btn_answer", payload=f"inbox.answer:{question.id}"),
                Button(label="inbox.btn_close", payload=f"inbox.close:{question.id}"),
            ]
        )
    elif question.is_open:
        buttons.append([Button(label="inbox.btn_close", payload=f"inbox.close:{question.id}")])
    buttons.append(
        [
            Button(label="inbox.btn_back", payload="inbox"),
            Button(label="menu.back", payload="menu"),
        ]
    )
    status = "questions.status_open" if question.is_open else "questions.status_closed"
    return Reply(
        key="inbox.thread",
        params={
            "id": question.id,
            "status": ctx.catalog.text(ctx.lang, status, {}, markup=False),
            "asked": ctx.local(question.created_at).strftime("%d-%m-%Y"),
        },
        parts=parts,
        buttons=buttons,
    )


# Answering --------------------------------------------------------------------------------


@feature.action("inbox.answer", role=Role.CONNECTOR)
async def begin_answer(ctx: Context) -> Response:
    """Ask for the answer's text."""
    question = await _question(ctx)
    if isinstance(question, Response):
        return question
    refusal = _cannot_answer(question)
    if refusal is not None:
        return respond(refusal, await thread_reply(ctx, question))
    return _ask(Dialog(name=DIALOG, step="text", data={"question": question.id}))


def _cannot_answer(question: Question) -> Reply | None:
    if question.user_id is None:
        return Reply(key="inbox.resident_gone")
    if not question.is_open:
        return Reply(key="inbox.is_closed", params={"id": question.id})
    return None


def _ask(dialog: Dialog, hint: Reply | None = None) -> Response:
    question = Reply(
        key="inbox.ask_answer",
        params={"id": dialog.data["question"], "max": MAX_ANSWER},
        buttons=[[dialog.button("inbox.btn_cancel", "cancel")]],
    )
    return respond(*([hint] if hint else []), question, dialog=dialog)


@feature.dialog(DIALOG, role=Role.CONNECTOR)
async def answer_step(ctx: Context) -> Response:
    """The answer's text: sent to the resident with a button to reply."""
    dialog = ctx.dialog
    assert dialog is not None
    question = await _question(ctx, int(dialog.data["question"]))
    if isinstance(question, Response):
        return Response(replies=question.replies, end_dialog=True)
    if ctx.event.button is not None:
        if ctx.value == "cancel":
            return Response(
                replies=[Reply(key="inbox.cancelled"), await thread_reply(ctx, question)],
                end_dialog=True,
            )
        return _ask(dialog, Reply(key="answers.use_buttons_or_type"))
    text = read_text(ctx, MAX_ANSWER, min_length=2)
    if isinstance(text, Reply):
        return _ask(dialog, text)
    refusal = _cannot_answer(question)
    if refusal is not None:
        # Closed meanwhile: give the typed answer back so nothing is lost.
        kept = Reply(key="inbox.not_sent", params={"text": text})
        return Response(
            replies=[refusal, kept, await thread_reply(ctx, question)], end_dialog=True
        )
    await ctx.repos.questions.add_message(question.id, Side.CONNECTOR, ctx.user.id, text, ctx.now)

    def build(lang: str) -> list[Reply]:
        return [
            Reply(
                key="inbox.answer_notice",
                params={"id": question.id, "connector": ctx.profile.connector(lang), "text": text},
                buttons=[
                    [
                        Button(
                            label="inbox.btn_reply",
                            payload=f"q.add:{question.id}",
                            params={"id": question.id},
                        )
                    ],
                    [Button(label="questions.btn_mine", payload="q.mine")],
                ],
            )
        ]

    queued = await notify(ctx, [question.user_id], kind="answer", build=build)
    await ctx.repos.audit.record(
        "question.answer",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"question:{question.id}",
        subject_user_id=question.user_id,
        detail={"question": question.id, "notified": queued},
    )
    key = "inbox.answered" if queued else "inbox.answered_unreachable"
    return Response(
        replies=[Reply(key=key, params={"id": question.id}), await inbox_reply(ctx)],
        end_dialog=True,
    )


@feature.action("inbox.close", role=Role.CONNECTOR)
async def close(ctx: Context) -> Response:
    """Close a thread; the resident is told and can still reply (which opens it again)."""
    question = await _question(ctx)
    if isinstance(question, Response):
        return question
    if not await ctx.repos.questions.close(question.id, ctx.now):
        return respond(
            Reply(key="inbox.is_closed", params={"id": question.id}), await inbox_reply(ctx)
        )

    def build(lang: str) -> list[Reply]:
        return [
            Reply(
                key="inbox.closed_notice",
                params={"id": question.id, "connector": ctx.profile.connector(lang)},
                buttons=[
                    [
                        Button(
                            label="inbox.btn_reply",
                            payload=f"q.add:{question.id}",
                            params={"id": question.id},
                        )
                    ]
                ],
            )
        ]

    queued = await notify(ctx, [question.user_id], kind="answer", build=build)
    await ctx.repos.audit.record(
        "question.close",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"question:{question.id}",
        subject_user_id=question.user_id,
        detail={"question": question.id, "notified": queued},
    )
    return respond(Reply(key="inbox.closed", params={"id": question.id}), await inbox_reply(ctx))
