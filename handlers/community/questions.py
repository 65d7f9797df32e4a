"""Questions to the connector: ask, add to a thread, and read the answers under /mijnvragen.

A question may be meant for one civil servant (from their card): it still goes to the
connector, who passes it on. The connector's answer comes back in this chat (the outbox).

    /vraag or a card's "Stel een vraag" ──► text ──► sent (thread #id)
    /mijnvragen ──► one message: a line and a button per thread, newest activity first,
        │           eight to a page   ◄ vorige / volgende ►
        └─ a thread ──► q.show:<id>: every message ──Iets toevoegen──► text ──► added
    q.show:<id> (the welcome back's button) ──► that thread ──Iets toevoegen──► ...

However many threads someone has, each is a tap away, and the list is one message (Telegram
shows about one message a second in a chat): the messages of a thread are read when it is
opened.
"""

from __future__ import annotations

from handlers import paging
from handlers.answers import (
    excerpt,
    parse_id,
    read_text,
    text_length,
    visible_length,
    without_controls,
)
from handlers.contract import Button, Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Expects, Feature
from handlers.start.menu import stale_button
from storage import graphemes
from storage.community.questions import Question, Side
from storage.news.staff import StaffCard

feature = Feature("questions")
feature.menu_entry("questions.menu", "q.new", order=50)
feature.menu_entry("questions.btn_mine", "q.mine", order=51)

DIALOG = "question"
MAX_LENGTH = 2000
#: The words of a question a line in the list shows.
LINE_START = 60


# Not declared as posting: a muted resident can still ask the connector (to object, too).
@feature.command(
    "vraag",
    translations={"en": "question"},
    describe="questions.cmd",
    role=Role.RESIDENT,
    words=True,
)
@feature.action("q.new", role=Role.RESIDENT)
async def ask(ctx: Context) -> Response:
    """Start a question to the connector (``q.new:<user id>``: meant for that card)."""
    connector = ctx.profile.connector(ctx.lang)
    data: dict[str, int | str] = {}
    intro = Reply(key="questions.ask", params={"connector": connector})
    if ctx.event.button is not None and ctx.value:
        staff_id = parse_id(ctx.value)
        card = await ctx.repos.staff.shown(staff_id) if staff_id else None
        if card is None:
            return respond(
                Reply(
                    key="staff.not_found",
                    buttons=[[Button(label="staff.btn_all", payload="staff")]],
                )
            )
        if card.user_id != ctx.user.id:
            # Only the card's owner: the name is read from the card whenever it is shown,
            # so a card that goes (its owner erased, or no longer staff) leaves no name
            # behind here.
            data = {"staff_user_id": card.user_id}
            intro = Reply(
                key="questions.ask_staff", params={"connector": connector, "name": card.name}
            )
        # Their own card (an older button): a question to the connector, not to themselves.
    elif ctx.event.command is not None and ctx.value:
        # "/vraag Hoe laat ..." asks straight away. A new question begun with a button and
        # not typed yet is this one (for the card it was begun from): it ends here.
        begun = ctx.dialog
        if (
            begun is None
            or (begun.name, begun.step) != (DIALOG, "text")
            or "question_id" in begun.data
        ):
            return await _store(ctx, Dialog(name=DIALOG, step="text"))
        response = await _store(ctx, begun)
        sent = response.dialog is None
        return response.model_copy(update={"end_dialog": True}) if sent else response
    dialog = Dialog(name=DIALOG, step="text", data=data)
    return respond(intro.model_copy(update={"buttons": _stop()}), dialog=dialog)


def _stop() -> list[list[Button]]:
    return [[Button(label="questions.btn_stop", payload="cancel")]]


question = feature.dialog(DIALOG, subject="drafts.subject.question", role=Role.RESIDENT)


@question.step("text", expects=Expects.TEXT)
async def question_step(ctx: Context, dialog: Dialog) -> Response:
    """The text of a new question, or of an addition to a thread."""
    return await _store(ctx, dialog)


@question.ask("text")
async def ask_again(ctx: Context, dialog: Dialog) -> Response:
    """The question (or the addition to a thread) asked again, to go on with it."""
    connector = ctx.profile.connector(ctx.lang)
    card = await _card(ctx, dialog)
    if "question_id" in dialog.data:
        prompt = Reply(key="questions.add_prompt", params={"id": dialog.data["question_id"]})
    elif card is not None:
        prompt = Reply(
            key="questions.ask_staff", params={"connector": connector, "name": card.name}
        )
    else:
        prompt = Reply(key="questions.ask", params={"connector": connector})
    return respond(prompt.model_copy(update={"buttons": _stop()}), dialog=dialog)


async def send_typed(ctx: Context, text: str) -> Response:
    """Send ``text`` (a message typed outside any dialog) as a new question to the connector.

    A message is kept up to 4,096 units while it waits, a question holds 2,000: a longer one
    goes whole, as the question and what is added to it, cut between paragraphs, lines or
    words (nothing typed is lost, nor asked to be typed again)."""
    cleaned = without_controls(text).strip()
    if text_length(cleaned) <= MAX_LENGTH:
        return await _store(ctx, Dialog(name=DIALOG, step="text"), text=text)
    # A part of only what does not show (zero-width spaces) would reach the connector blank.
    first, *rest = [part for part in split_text(cleaned, MAX_LENGTH) if visible_length(part)]
    question_id = await ctx.repos.questions.ask(ctx.user.id, first, ctx.now)
    for part in rest:
        await ctx.repos.questions.add_message(
            question_id, Side.RESIDENT, ctx.user.id, part, ctx.now
        )
    connector = ctx.profile.connector(ctx.lang)
    sent = Reply(
        key="questions.sent", params={"id": question_id, "connector": connector}, buttons=_done()
    )
    if not rest:
        return respond(sent)
    return respond(Reply(key="questions.sent_in_parts", params={"max": MAX_LENGTH}), sent)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-16 units, each cut at the last paragraph
    break, line break or space that leaves the part at least half full (else at the limit,
    never inside a character)."""
    parts: list[str] = []
    rest = text
    while text_length(rest) > limit:
        end = _fitting(rest, limit)
        cut = next(
            (
                found
                for mark in ("\n\n", "\n", " ")
                if (found := rest.rfind(mark, 0, end + 1)) >= end // 2
            ),
            end,
        )
        part, rest = rest[:cut].strip(), rest[cut:].strip()
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units, ending between two
    whole characters as a reader sees them (an emoji family, a flag, a letter with its
    mark); a first character longer than the limit alone is cut by code points."""
    used = end = 0
    for cluster in graphemes.clusters(text):
        used += text_length(cluster)
        if used > limit:
            break
        end += len(cluster)
    if end:
        return end
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _done() -> list[list[Button]]:
    return [
        [Button(label="questions.btn_mine", payload="q.mine")],
        [Button(label="menu.back", payload="menu")],
    ]


async def _store(ctx: Context, dialog: Dialog, *, text: str | None = None) -> Response:
    typed = text if text is not None else ctx.value if ctx.event.command is not None else None
    answer = read_text(ctx, MAX_LENGTH, min_length=2, text=typed, what="questions.your_question")
    if isinstance(answer, Reply):
        return respond(answer.model_copy(update={"buttons": _stop()}), dialog=dialog)
    connector = ctx.profile.connector(ctx.lang)
    done = _done()
    thread = dialog.data.get("question_id")
    if thread is not None:
        question = await _own(ctx, int(thread))
        if question is None:
            return respond(Reply(key="questions.not_found", buttons=done))
        await ctx.repos.questions.add_message(
            question.id, Side.RESIDENT, ctx.user.id, answer, ctx.now
        )
        return respond(
            Reply(
                key="questions.added",
                params={"id": question.id, "connector": connector},
                buttons=done,
            )
        )
    card = await _card(ctx, dialog)
    question_id = await ctx.repos.questions.ask(
        ctx.user.id, answer, ctx.now, staff_user_id=card.user_id if card else None
    )
    sent = Reply(
        key="questions.sent", params={"id": question_id, "connector": connector}, buttons=done
    )
    if card is None and dialog.data.get("staff_user_id"):
        # Meant for a civil servant whose card went while it was typed: the connector,
        # who passes every question on anyway, gets it.
        return respond(Reply(key="questions.staff_gone", params={"connector": connector}), sent)
    return respond(sent)


async def _card(ctx: Context, dialog: Dialog) -> StaffCard | None:
    """The card of the civil servant a new question is meant for, while residents may still
    see it (None: meant for the connector, or the card went meanwhile)."""
    staff_id = dialog.data.get("staff_user_id")
    if not isinstance(staff_id, int):
        return None
    return await ctx.repos.staff.shown(staff_id)


async def _own(ctx: Context, question_id: int) -> Question | None:
    question = await ctx.repos.questions.get(question_id)
    if question is None or question.user_id != ctx.user.id:
        return None
    return question


@feature.command(
    "mijnvragen",
    translations={"en": "myquestions"},
    describe="questions.cmd_mine",
    role=Role.RESIDENT,
)
@feature.action("q.mine", role=Role.RESIDENT)
async def my_questions(ctx: Context) -> Response:
    """``q.mine[:<page>]``: a page of this person's question threads, newest activity
    first, a line and a button each (the button opens the thread with its messages)."""
    wanted = paging.asked(ctx)
    if wanted is None:
        return await stale_button(ctx)
    closing = [
        [Button(label="questions.btn_new", payload="q.new")],
        [Button(label="menu.back", payload="menu")],
    ]
    repo = ctx.repos.questions
    shown = paging.page(wanted, await repo.count_of_user(ctx.user.id))
    threads = await repo.of_user(ctx.user.id, limit=shown.size, offset=shown.offset)
    if not threads:
        return respond(
            Reply(
                key="questions.none",
                params={"connector": ctx.profile.connector(ctx.lang)},
                buttons=closing,
            )
        )
    buttons = [
        [
            Button(
                label="questions.btn_open",
                payload=f"q.show:{question.id}:{shown.number}",
                params={"id": question.id, "start": paging.short(_start(question))},
            )
        ]
        for question in threads
    ]
    buttons += paging.turn(shown, lambda label, n: Button(label=label, payload=f"q.mine:{n}"))
    return respond(
        Reply(
            key="questions.mine_title",
            params={"count": shown.total},
            parts=[*(_line(ctx, question) for question in threads), *paging.where(shown)],
            # The first words of each question are the resident's own: no note says that
            # they are shown as written (the thread, with the connector's answers, does).
            buttons=[*buttons, *closing],
        )
    )


def _start(question: Question) -> str:
    """The question that began a thread (its first message)."""
    return question.messages[0].text if question.messages else ""


def _status(ctx: Context, question: Question) -> str:
    status = "questions.status_open" if question.is_open else "questions.status_closed"
    return ctx.catalog.text(ctx.lang, status, {}, markup=False)


def _line(ctx: Context, question: Question) -> Reply:
    """One thread in the list: its number, open or closed, when it last changed, and the
    first words of the question."""
    return Reply(
        key="questions.mine_line",
        params={
            "id": question.id,
            "status": _status(ctx, question),
            "when": ctx.show_date(question.updated_at),
            "start": excerpt(_start(question), LINE_START),
        },
    )


def message_lines(ctx: Context, question: Question, *, resident: str, staff: str) -> list[Reply]:
    """Every message of a thread, one line each: ``resident``'s key or ``staff``'s."""
    connector = ctx.profile.connector(ctx.lang)
    return [
        Reply(
            key=resident if message.side is Side.RESIDENT else staff,
            params={
                "when": ctx.show_short(message.at),
                "text": message.text,
                "connector": connector,
            },
        )
        for message in question.messages
    ]


async def _thread(ctx: Context, question: Question) -> Reply:
    parts = message_lines(
        ctx, question, resident="questions.msg_you", staff="questions.msg_connector"
    )
    card = await ctx.repos.staff.get(question.staff_user_id) if question.staff_user_id else None
    if card is not None:
        parts.insert(0, Reply(key="questions.meant_for", params={"name": card.name}))
    return Reply(
        key="questions.thread",
        original=True,
        params={"id": question.id, "status": _status(ctx, question)},
        parts=parts,
        buttons=[
            [
                Button(
                    label="questions.btn_add",
                    payload=f"q.add:{question.id}",
                    params={"id": question.id},
                )
            ]
        ],
    )


@feature.action("q.show", role=Role.RESIDENT)
async def show(ctx: Context) -> Response:
    """One of one's own threads with every message (``q.show:<id>[:<page>]``): opened from
    the list (back to its page), or an answer that came while the bot could not reach them,
    from the welcome back."""
    raw_id, _, raw_page = ctx.value.partition(":")
    question_id = parse_id(raw_id)
    page = paging.number(raw_page) if raw_page else 1
    question = await _own(ctx, question_id) if question_id and page else None
    back = "q.mine" if page in (None, 1) else f"q.mine:{page}"
    buttons = [
        [Button(label="questions.btn_mine", payload=back)],
        [Button(label="menu.back", payload="menu")],
    ]
    if question is None:
        return respond(Reply(key="questions.not_found", buttons=buttons))
    thread = await _thread(ctx, question)
    return respond(thread.model_copy(update={"buttons": [*thread.buttons, *buttons]}))


@feature.action("q.add", role=Role.RESIDENT)
async def add(ctx: Context) -> Response:
    """Write more in one's own thread (``q.add:<id>``)."""
    question_id = parse_id(ctx.value)
    question = await _own(ctx, question_id) if question_id else None
    if question is None:
        return respond(
            Reply(
                key="questions.not_found",
                buttons=[[Button(label="questions.btn_mine", payload="q.mine")]],
            )
        )
    dialog = Dialog(name=DIALOG, step="text", data={"question_id": question.id})
    return respond(
        Reply(key="questions.add_prompt", params={"id": question.id}, buttons=_stop()),
        dialog=dialog,
    )
