"""The connector's inbox: residents' questions (also those meant for a civil servant's card),
answered in the chat. The answer reaches the resident through the outbox (kind ``answer``)
with a button to reply; the thread goes on both ways until the connector closes it (a new
message from the resident opens it again, see ``handlers/community/questions.py``). Answering
and closing go through the review pipeline (:mod:`handlers.review`): a thread is its item.

    /inbox ──► open threads: waiting for an answer first, longest waiting first; then the
       │       answered ones, answered longest ago first   ◄ vorige / volgende ► (from the
       │       first or last thread shown, so a thread answered meanwhile skips nothing)
       └─► thread ──► beantwoorden ──► text ──► sent; the inbox again
                  └─► afsluiten ──► answered: closed; the resident is told
                                └─► no answer yet: a note for the resident? ──► typed, or
                                    "zonder toelichting" ──► closed; the resident is told

A thread's Beantwoorden and Afsluiten buttons name the last message the connector was shown
(``inbox.answer:<id>:<message>``): pressed after someone else wrote in the thread (another
connector's answer, the resident's new message), they show the thread as it is now instead,
so nobody answers or closes what they have not read.

A thread still waiting for an answer is not closed with one tap: the resident would hear
"closed" and never why. The connector is asked first, and may write a short note, which
goes to the resident and stays in the thread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from handlers import paging, when
from handlers.answers import MAX_ID, excerpt, parse_id, whole_number
from handlers.community.questions import message_lines
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from handlers.review import Decided, Desk, Kind, Notice, Outcome, Ref, announce, reads
from handlers.start.menu import stale_button
from storage.community.moderation import SanctionKind
from storage.community.questions import InboxKey, Question, QuestionMessage, Side

feature = Feature("inbox")
feature.menu_entry("inbox.menu", "inbox", order=65, role=Role.CONNECTOR)

DIALOG = "inbox_answer"
PAGE_SIZE = 5
#: The latest moment a paging payload may name (the year 9999), in microseconds.
MAX_MICROSECONDS = 253_402_300_799_999_999
MAX_ANSWER = 2000
ANSWER, CLOSE = "answer", "close"


def waiting(question: Question) -> bool:
    """Whether the thread waits for an answer: its last word is the resident's."""
    last = question.messages[-1] if question.messages else None
    return last is None or last.side is Side.RESIDENT


@feature.command("inbox", role=Role.CONNECTOR, describe="inbox.cmd")
@feature.action("inbox", role=Role.CONNECTOR)
async def inbox(ctx: Context) -> Response:
    """A page of open threads; ``inbox:>…`` pages on after a thread, ``inbox:<…`` back."""
    if ctx.event.button is None or not ctx.value:
        return respond(await inbox_reply(ctx))
    turn = _turn(ctx.value)
    if turn is None:
        return await stale_button(ctx)
    return respond(await inbox_reply(ctx, *turn))


async def inbox_reply(
    ctx: Context, direction: str | None = None, key: InboxKey | None = None
) -> Reply:
    """The inbox page after (``>``) or before (``<``) a thread's key; the first without.

    A page is found from where the one before it ended, not by counting: a thread answered
    meanwhile moves behind the waiting ones, and counting would skip as many waiting ones.
    """
    questions = ctx.repos.questions
    total, waiting = await questions.count_open()
    shown = await questions.inbox(
        limit=PAGE_SIZE,
        after=key if direction == ">" else None,
        before=key if direction == "<" else None,
    )
    if direction == ">" and not shown.keys and key is not None:
        # Nothing after it any more (closed meanwhile): the page that now ends the inbox,
        # the thread it was after included if it is still open.
        shown = await questions.inbox(limit=PAGE_SIZE, before=_END)
        direction = "<"
    if direction == "<" and len(shown.keys) < PAGE_SIZE:
        # Less than a page before it (threads answered meanwhile): the inbox from the start.
        shown = await questions.inbox(limit=PAGE_SIZE)
    threads = shown.threads
    parts = [await _line(ctx, question) for question in threads] or [Reply(key="inbox.empty")]
    buttons = [
        [Button(label="inbox.btn_open", payload=f"inbox.open:{q.id}", params={"id": q.id})]
        for q in threads
    ]
    buttons += paging.row(
        Button(label=paging.PREVIOUS, payload=_payload("<", shown.keys[0]))
        if shown.earlier
        else None,
        Button(label=paging.NEXT, payload=_payload(">", shown.keys[-1])) if shown.later else None,
    )
    buttons.append([Button(label="menu.back", payload="menu")])
    # Where the page stands, said so that "van" matches the buttons: threads answered
    # meanwhile can leave a page between two others' boundaries.
    page = shown.earlier // PAGE_SIZE + 1
    pages = page + -(-shown.later // PAGE_SIZE)
    return Reply(
        key="inbox.title",
        params={"open": total, "waiting": waiting, "page": page, "pages": pages},
        parts=parts,
        buttons=buttons,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: A key after every thread: the page before it is the one that ends the inbox.
_END = InboxKey(answered=True, since=datetime.max.replace(tzinfo=UTC), id=MAX_ID + 1)


def _payload(direction: str, key: InboxKey) -> str:
    """``inbox:>0.1717243200000000.42``: on after (or back before) thread #42, waiting
    (0) or answered (1) since that moment in microseconds; well within 64 bytes."""
    since = (key.since - _EPOCH) // _MICROSECOND
    return f"inbox:{direction}{int(key.answered)}.{since}.{key.id}"


def _turn(value: str) -> tuple[str, InboxKey] | None:
    """The direction and key in a paging payload, or None if we could not have sent it."""
    direction, rest = value[:1], value[1:]
    parts = rest.split(".")
    if direction not in ("<", ">") or len(parts) != 3 or parts[0] not in ("0", "1"):
        return None
    since = whole_number(parts[1], MAX_MICROSECONDS)
    question_id = parse_id(parts[2])
    if since is None or question_id is None:
        return None
    key = InboxKey(answered=parts[0] == "1", since=_EPOCH + since * _MICROSECOND, id=question_id)
    return direction, key


def _waiting_since(question: Question) -> datetime:
    """When the resident began to wait: their first message after the last answer (what
    the inbox is ordered by)."""
    since = question.updated_at
    for message in reversed(question.messages):
        if message.side is not Side.RESIDENT:
            break
        since = message.at
    return since


def _last_sent(question: Question) -> list[QuestionMessage]:
    """The thread's last message as it was sent: a long one goes in parts (one event, one
    moment), and the reader wants its start, not the start of its last part."""
    if not question.messages:
        return []
    last = question.messages[-1]
    sent = [last]
    for message in reversed(question.messages[:-1]):
        if message.side is not last.side or message.at != last.at:
            break
        sent.insert(0, message)
    return sent


async def _line(ctx: Context, question: Question) -> Reply:
    sent = _last_sent(question)
    card = await ctx.repos.staff.get(question.staff_user_id) if question.staff_user_id else None
    is_waiting = waiting(question)
    # A waiting line says since when it waits, as the inbox is ordered; an answered one
    # when it last changed.
    moment = _waiting_since(question) if is_waiting else question.updated_at
    return Reply(
        key="inbox.line_waiting" if is_waiting else "inbox.line_answered",
        params={
            "id": question.id,
            "when": when.recent(ctx.local(moment), ctx.lang),
            "text": excerpt(sent[0].text, 70) if sent else "",
            "meant_for": card.name if card else ctx.profile.connector(ctx.lang),
        },
        parts=[Reply(key="inbox.line_parts", params={"count": len(sent)})]
        if len(sent) > 1
        else [],
    )


@feature.action("inbox.open", role=Role.CONNECTOR)
async def open_thread(ctx: Context) -> Response:
    """``inbox.open:<id>``: the whole thread, with answer and close buttons."""
    question_id = parse_id(ctx.value)
    if question_id is None:
        return await stale_button(ctx)
    return await desk.show(ctx, Ref(Threads.name, question_id))


@feature.action("inbox.answer", role=Role.CONNECTOR)
async def begin_answer(ctx: Context) -> Response:
    """``inbox.answer:<id>:<message>``: ask for the answer's text."""
    return await _on_thread(ctx, ANSWER)


@feature.action("inbox.close", role=Role.CONNECTOR)
async def close(ctx: Context) -> Response:
    """``inbox.close:<id>:<message>``: close a thread (one still waiting for an answer asks
    first); the resident is told and can still reply (which opens it again)."""
    return await _on_thread(ctx, CLOSE)


async def _on_thread(ctx: Context, decision: str) -> Response:
    """Begin ``decision`` from a thread's button, unless someone else wrote in the thread
    after the message the button names (one from before buttons named it: as it is now)."""
    raw_id, named, raw_seen = ctx.value.partition(":")
    question_id = parse_id(raw_id)
    seen = whole_number(raw_seen, MAX_ID) if named else None
    if question_id is None or (named and seen is None):
        return await stale_button(ctx)
    question = await ctx.repos.questions.get(question_id) if seen is not None else None
    if question is not None and seen is not None:
        if seen not in ({message.id for message in question.messages} or {0}):
            return await stale_button(ctx)  # no message of this thread: not a button we sent
        if question.is_open and _written_since(ctx, question, seen):
            key = "inbox.answer_changed" if decision == ANSWER else "inbox.close_changed"
            return respond(
                Reply(key=key, params={"id": question.id}), await thread_reply(ctx, question)
            )
    return await desk.begin(ctx, Ref(Threads.name, question_id), decision)


async def thread_reply(ctx: Context, question: Question) -> Reply:
    """One thread as the connector reads it: who it is meant for, the language the asker
    reads (where it is not Dutch), every message."""
    parts: list[Reply] = []
    card = await ctx.repos.staff.get(question.staff_user_id) if question.staff_user_id else None
    if card is not None:
        parts.append(Reply(key="questions.meant_for", params={"name": card.name}))
    if question.user_id is None:
        parts.append(Reply(key="inbox.resident_gone"))
    # The answer goes as typed: the language the asker reads, where it is not Dutch.
    parts += await reads(ctx, question.user_id)
    parts += message_lines(
        ctx, question, resident="inbox.msg_resident", staff="inbox.msg_connector"
    )
    buttons: list[list[Button]] = []
    # The answer and close buttons name the last message shown: see _on_thread.
    shown = f"{question.id}:{_last_message(question)}"
    if question.is_open and question.user_id is not None:
        buttons.append(
            [
                Button(label="inbox.btn_answer", payload=f"inbox.answer:{shown}"),
                Button(label="inbox.btn_close", payload=f"inbox.close:{shown}"),
            ]
        )
    elif question.is_open:
        buttons.append([Button(label="inbox.btn_close", payload=f"inbox.close:{shown}")])
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
            "asked": when.day(ctx.local(question.created_at), ctx.lang),
        },
        parts=parts,
        buttons=buttons,
    )


# Answering and closing, on the review pipeline ----------------------------------------------


class Threads(Kind[Question]):
    """A resident's question thread; the connector answers it or closes it."""

    name = "question"
    letters = "q"

    async def load(self, ctx: Context, item_id: int) -> Question | None:
        return await ctx.repos.questions.get(item_id)

    async def missing(self, ctx: Context, item_id: int) -> Response:
        if ctx.dialog is not None and ctx.event.button is None and ctx.text:
            # An answer typed to a thread that went meanwhile: its resident was erased (their
            # questions go with them). The desk gives the typed answer back.
            return respond(Reply(key="inbox.resident_gone"), await inbox_reply(ctx))
        return respond(
            Reply(key="inbox.not_found", params={"id": item_id}), await inbox_reply(ctx)
        )

    async def card(self, ctx: Context, item: Question) -> Reply:
        return await thread_reply(ctx, item)

    def state(self, item: Question) -> str:
        return "open" if item.is_open else "closed"

    def made(self, item: Question) -> datetime:
        return item.created_at

    def owner(self, item: Question) -> int | None:
        return item.user_id

    def first_step(self, item: Question, decision: str) -> str | None:
        if decision == ANSWER:
            return "text"
        # Closing what has no answer yet asks first (a note for the resident, or none);
        # with its resident gone there is nobody to tell, and it closes at once.
        return "text" if waiting(item) and item.user_id is not None else None

    def reason_optional(self, decision: str) -> bool:
        return decision == CLOSE

    def begin_data(self, ctx: Context, item: Question, decision: str) -> dict[str, Any]:
        # The last message the connector saw: an answer someone else sends after it is
        # read before this one goes (two connectors must not both answer unawares).
        return {"seen": _last_message(item)}

    async def refuse(self, ctx: Context, item: Question, decision: str) -> Response | None:
        if decision == CLOSE:
            return None if item.is_open else await _closed_already(ctx, item)
        refusal = _cannot_answer(item)
        return respond(refusal, await thread_reply(ctx, item)) if refusal else None

    async def reason_question(self, ctx: Context, dialog: Dialog) -> Reply:
        key = "inbox.ask_close" if dialog.data["decision"] == CLOSE else "inbox.ask_answer"
        return Reply(key=key, params={"id": dialog.data["id"], "max": MAX_ANSWER})

    async def changed(
        self, ctx: Context, item: Question, dialog: Dialog, text: str | None
    ) -> Response | None:
        if dialog.data["decision"] != ANSWER:
            # Closing after being asked: not when the thread moved on meanwhile (the
            # connector would close what they have not read). It is shown as it is now.
            if not item.is_open or not _moved_on(ctx, item, dialog):
                return None
            return respond(
                Reply(key="inbox.close_changed", params={"id": item.id}),
                await thread_reply(ctx, item),
            )
        refusal = _cannot_answer(item) or _answered_meanwhile(ctx, item, dialog)
        if refusal is None:
            return None
        # Closed, or answered by someone else, meanwhile (the desk gives the typed answer
        # back, right after why; the thread shows where it stands now).
        return respond(refusal, await thread_reply(ctx, item))

    async def carry_out(
        self, ctx: Context, item: Question, dialog: Dialog, text: str | None
    ) -> Outcome:
        if dialog.data["decision"] == ANSWER:
            assert text is not None
            await ctx.repos.questions.add_message(
                item.id, Side.CONNECTOR, ctx.user.id, text, ctx.now
            )
            told = await _tell(ctx, item, "question.answer", "inbox.answer_notice", text)
            key = "inbox.answered" if told is not None else "inbox.answered_unreachable"
            done = Reply(
                key=key, params={"id": item.id}, parts=[*(told or []), *_added(ctx, item, dialog)]
            )
            return Decided(done)
        if not await ctx.repos.questions.close(item.id, ctx.now):
            return await _closed_already(ctx, item)
        if text is not None:
            # The note stays in the thread: under "Mijn vragen" the resident reads why.
            await ctx.repos.questions.add_message(
                item.id, Side.CONNECTOR, ctx.user.id, text, ctx.now
            )
        key = "inbox.closed_notice" if text is None else "inbox.closed_notice_note"
        told = await _tell(ctx, item, "question.close", key, text)
        key = "inbox.closed" if told is not None else "inbox.closed_unreachable"
        return Decided(Reply(key=key, params={"id": item.id}, parts=told or []))


def _cannot_answer(question: Question) -> Reply | None:
    if question.user_id is None:
        return Reply(key="inbox.resident_gone")
    if not question.is_open:
        return Reply(key="inbox.is_closed", params={"id": question.id})
    return None


def _last_message(question: Question) -> int:
    """The id of the thread's last message (0 for none)."""
    return question.messages[-1].id if question.messages else 0


def _written_since(ctx: Context, question: Question, seen: int, side: Side | None = None) -> bool:
    """Whether anyone else (on ``side``) wrote in the thread after message ``seen``."""
    return any(
        message.id > seen
        and message.author_user_id != ctx.user.id
        and (side is None or message.side is side)
        for message in question.messages
    )


def _moved_on(ctx: Context, question: Question, dialog: Dialog) -> bool:
    """Whether anyone else wrote in the thread after the connector last saw it."""
    seen = dialog.data.get("seen")
    return isinstance(seen, int) and _written_since(ctx, question, seen)


def _added(ctx: Context, question: Question, dialog: Dialog) -> list[Reply]:
    """What the resident wrote in the thread while the connector typed the answer that just
    went: it does not hold the answer up, but is shown now, so that nobody takes the thread
    for answered without having read it."""
    seen = dialog.data.get("seen")
    if not isinstance(seen, int):
        return []
    added = [m for m in question.messages if m.id > seen and m.side is Side.RESIDENT]
    if not added:
        return []
    lines = message_lines(
        ctx,
        question.model_copy(update={"messages": added}),
        resident="inbox.msg_resident",
        staff="inbox.msg_connector",
    )
    return [Reply(key="inbox.added_meanwhile", params={"id": question.id}), *lines]


def _answered_meanwhile(ctx: Context, question: Question, dialog: Dialog) -> Reply | None:
    """Another connector answered after this one began typing (a dialog begun before this
    was remembered is let through)."""
    seen = dialog.data.get("seen")
    if isinstance(seen, int) and _written_since(ctx, question, seen, Side.CONNECTOR):
        return Reply(key="inbox.answered_meanwhile", params={"id": question.id})
    return None


async def _closed_already(ctx: Context, question: Question) -> Response:
    return respond(
        Reply(key="inbox.is_closed", params={"id": question.id}), await inbox_reply(ctx)
    )


async def _tell(
    ctx: Context, question: Question, action: str, key: str, text: str | None
) -> list[Reply] | None:
    """Tell the resident (with a button to reply) and log it; None when they cannot be told
    now. A connector's own question (one asked to try it out) is not notified, as nothing
    is to whoever acts: what the resident would get is returned, for them to read here.

    Someone banned gets the answer without buttons: replying and their questions are
    closed to them, and each button would only say so."""
    asker = question.user_id
    sanction = await ctx.repos.sanctions.active(asker, ctx.now) if asker is not None else None
    banned = sanction is not None and sanction.kind is SanctionKind.BAN

    def build(lang: str) -> list[Reply]:
        params = {"id": question.id, "connector": ctx.profile.connector(lang)}
        buttons = [
            [
                Button(
                    label="inbox.btn_reply",
                    payload=f"q.add:{question.id}",
                    params={"id": question.id},
                )
            ]
        ]
        if text is not None:
            params["text"] = text
            buttons.append([Button(label="questions.btn_mine", payload="q.mine")])
        if banned:
            buttons = []
        # The connector's words as they were written, with the note that says so.
        return [Reply(key=key, params=params, buttons=buttons, original=text is not None)]

    counts = await announce(
        ctx,
        action,
        Notice([question.user_id], build, kind="answer"),
        detail={"question": question.id},
        subject=f"question:{question.id}",
        subject_user_id=question.user_id,
    )
    if question.user_id == ctx.user.id:
        return [reply.model_copy(update={"buttons": []}) for reply in build(ctx.lang)]
    return [] if counts["notified"] else None


async def _after(ctx: Context, ref: Ref, done: Reply) -> Response:
    """After an answer or closing: the inbox again."""
    return respond(done, await inbox_reply(ctx))


desk = Desk(
    feature,
    name="inbox",
    dialog=DIALOG,
    role=Role.CONNECTOR,
    kinds=[Threads()],
    after=_after,
    reason_step="text",
    max_reason=MAX_ANSWER,
    min_reason=2,
)
