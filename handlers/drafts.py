"""Open dialogs are drafts: never dropped without asking, and always a way back to them.

A person in the middle of a dialog (an idea half written, a message being composed) who
does something that would end it is asked first; a screen they open meanwhile offers the
way back; typing ``stop`` asks before anything is thrown away::

    dialog at step S ──/menu, /idee, another dialog──► @open: "je bent nog bezig met je idee"
                                                          ├ Verder ──► S, its question again
                                                          └ Weggooien ──► gone; then what was asked
    dialog at step S ──"stop"──► @stop: "stoppen met je idee?"
                                   ├ Ja ──► gone
                                   └ Nee ──► S, its question again
    dialog at step S, an hour quiet ──typed──► "welkom terug: je was bezig met je idee"
                                                 + S, its question again (the text is not used)

The two questions are steps of the dialog itself (``@open``, ``@stop``) that remember the
step and button token they interrupted, so "Verder" makes the old buttons work again. The
discard button carries what was asked (``^<token>|/idee`` or ``^<token>|ideas.list``); the
router drops the dialog and handles that request as if it came just now, with every check.

The router reaches these rules through the :class:`handlers.feature.Registry`
(``take_discard``, ``beside_draft``, ``discarded``), like every other rule it enforces:
it holds no feature's words and imports none of their modules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from handlers.contract import Button, Dialog, Event, Reply, Response, given_back, respond

if TYPE_CHECKING:
    from handlers.feature import Context

#: A dialog button value that asks the current step's question again.
RESUME = "@resume"
#: The steps of the questions above; the step and token they interrupted.
OPEN = "@open"
STOP = "@stop"
FROM = "@from"
TOKEN = "@token"
THEN = "@then"
#: A discard button's payload: ``^<dialog token>|<the request to handle afterwards>``.
DISCARD = "^"
#: Telegram refuses button data over 64 bytes.
MAX_PAYLOAD = 64
#: About as many characters as a button on a phone shows before it cuts a label off.
BUTTON_WIDTH = 30
#: After this long without a word, a typed message first hears where its writer was.
RETURN_AFTER = timedelta(hours=1)


def returning(ctx: Context, dialog: Dialog) -> bool:
    """Whether someone types into a dialog they left alone for a long time."""
    if ctx.event.button is not None or ctx.event.command is not None:
        return False
    last = dialog.updated_at
    return last is not None and ctx.now - last > RETURN_AFTER


def is_core_step(step: str) -> bool:
    """Whether a step is one of the draft questions rather than a feature's own."""
    return step in (OPEN, STOP)


def is_draft(ctx: Context) -> bool:
    """Whether the open dialog is a draft (leaving it would lose what was written)."""
    dialog = ctx.dialog
    spec = ctx.registry.dialogs.get(dialog.name) if dialog is not None else None
    return spec is not None and spec.draft


def subject(ctx: Context, dialog: Dialog) -> str:
    """What the draft is, in words ("je idee"), from the dialog's declaration; its data
    fills in the words ("je wijzigingen in idee #{idea}")."""
    spec = ctx.registry.dialogs.get(dialog.name)
    declared = spec.subject if spec is not None else "drafts.subject.default"
    key = declared if isinstance(declared, str) else declared(dialog)
    params = {k: v for k, v in dialog.data.items() if isinstance(v, str | int)}
    return ctx.catalog.text(ctx.lang, key, params, markup=False)


def interrupted(dialog: Dialog) -> Dialog:
    """The dialog as it was before a draft question interrupted it (itself otherwise)."""
    if not is_core_step(dialog.step):
        return dialog
    data = {k: v for k, v in dialog.data.items() if k not in (FROM, TOKEN, THEN)}
    return Dialog(
        name=dialog.name,
        step=str(dialog.data.get(FROM, dialog.step)),
        data=data,
        token=str(dialog.data.get(TOKEN, dialog.token)),
    )


def _asking(dialog: Dialog, step: str, **extra: str) -> Dialog:
    """The dialog moved to a draft question, remembering where it was."""
    base = interrupted(dialog)
    return Dialog(
        name=base.name,
        step=step,
        data={**base.data, FROM: base.step, TOKEN: base.token, **extra},
    )


def resume_button(ctx: Context, dialog: Dialog) -> Button:
    """A button back to the draft: the question of the step it is at.

    A long subject ("wat je aan het doen was") would make a label a phone cuts off:
    then the button only says "Ga verder" (the message with it says what was going on)."""
    about = subject(ctx, dialog)
    label = ctx.catalog.text(ctx.lang, "drafts.btn_continue", {"subject": about}, markup=False)
    if len(label) > BUTTON_WIDTH:
        return dialog.button("drafts.btn_go_on", RESUME)
    return dialog.button("drafts.btn_continue", RESUME, subject=about)


def discard_payload(dialog: Dialog, then: str) -> str:
    """A discard button's payload; ``then`` is left out when it does not fit."""
    payload = f"{DISCARD}{dialog.token}|{then}"
    if len(payload.encode()) > MAX_PAYLOAD:
        payload = f"{DISCARD}{dialog.token}|menu"
    return payload


def discarding(payload: str) -> tuple[str, str] | None:
    """(dialog token, request) of a discard button's payload; None for any other payload."""
    if not payload.startswith(DISCARD):
        return None
    token, separator, then = payload[1:].partition("|")
    if not separator or not token or then.startswith(DISCARD):
        return None
    return token, then or "menu"


def request_of(ctx: Context) -> str:
    """The request an event makes, written so a discard button can make it again."""
    event = ctx.event
    if event.command is not None:
        return f"/{event.command} {event.args}".rstrip()
    return event.button or "menu"


def draft_open(ctx: Context, dialog: Dialog, *, then: str = "menu") -> Response:
    """Say a draft is open; offer to go on with it, or to throw it away and do ``then``.

    A command typed with words too long for the discard button ("/nieuwbericht Wist je
    dat ...") is not done by it: those words are given back first, so none are lost (a
    link's code, ``/start idee_42``, is one word and nothing anyone wrote)."""
    asking = _asking(dialog, OPEN, **{THEN: then})
    event = ctx.event
    typed = (event.args or "").strip() if event.command is not None else ""
    kept: list[Reply] = []
    written = len(typed.split()) > 1
    if written and discard_payload(asking, then) != f"{DISCARD}{asking.token}|{then}":
        kept = [Reply(key="general.typed_not_kept", params={"text": typed})]
    return respond(*kept, _question(ctx, asking), dialog=asking)


def ask_stop(ctx: Context, dialog: Dialog) -> Response:
    """Someone typed "stop" in a dialog: ask before throwing the draft away."""
    asking = _asking(dialog, STOP)
    return respond(_question(ctx, asking), dialog=asking)


def again(ctx: Context, dialog: Dialog) -> Response:
    """Something else than a choice came at a draft question: the same question again,
    after what they typed (it is no answer to either button, and not kept)."""
    typed = given_back(ctx.event)
    return respond(Reply(key="drafts.choose"), *typed, _question(ctx, dialog), dialog=dialog)


def _question(ctx: Context, asking: Dialog) -> Reply:
    about = subject(ctx, asking)
    if asking.step == STOP:
        return Reply(
            key="drafts.stop_question",
            params={"subject": about},
            buttons=[
                [asking.button("drafts.btn_stop_yes", "yes", subject=about)],
                [asking.button("drafts.btn_stop_no", RESUME, subject=about)],
            ],
        )
    then = str(asking.data.get(THEN, "menu"))
    return Reply(
        key="drafts.open",
        params={"subject": about},
        buttons=[
            [resume_button(ctx, asking)],
            [
                Button(
                    label="drafts.btn_discard",
                    payload=discard_payload(asking, then),
                    params={"subject": about},
                )
            ],
        ],
    )


def discarded(ctx: Context, dialog: Dialog) -> Reply:
    """The line that says a draft was thrown away."""
    return Reply(key="drafts.discarded", params={"subject": subject(ctx, dialog)})


def with_way_back(ctx: Context, dialog: Dialog, replies: list[Reply]) -> list[Reply]:
    """Replies to something done beside an open dialog, ending in the way back to it."""
    if not replies:
        return replies
    if any(
        button.payload.startswith(f"~{dialog.token}:")
        for reply in replies
        for row in reply.buttons
        for button in row
    ):
        return replies  # the dialog's own buttons are there already
    last = replies[-1]
    back = [[resume_button(ctx, dialog)]]
    return [*replies[:-1], last.model_copy(update={"buttons": [*last.buttons, *back]})]


def words(ctx: Context, key: str) -> set[str]:
    """The plain words (in every language) that mean ``key`` ("stop", "stoppen", ...)."""
    found: set[str] = set()
    for lang in ctx.catalog.languages:
        text = ctx.catalog.text(lang, f"drafts.words.{key}", {}, markup=False)
        found.update(word.strip().casefold() for word in text.split(",") if word.strip())
    return found


def plain_word(ctx: Context, *keys: str) -> str | None:
    """Which of ``keys`` the typed text is, said alone (``"Stop!"`` is ``stop``)."""
    event = ctx.event
    if event.text is None or event.button is not None:
        return None
    typed = _letters_and_spaces(ctx.text.casefold()).strip()
    if not typed or len(typed) > 20:
        return None
    return next((key for key in keys if typed in words(ctx, key)), None)


#: Question marks (Latin, Arabic, full-width): typed alone, someone unsure what to do.
_QUESTION_MARKS = frozenset("?؟？¿ ")


def asks_for_help(ctx: Context, *, typed_answer: bool) -> bool:
    """Whether the typed text asks how this works: only question marks ("?", "??", "؟"),
    or "help" alone. Where the answer is typed (a title, a comment), the word counts only
    asked ("Hulp?"): a poll's description may well be "Uitleg"."""
    event = ctx.event
    if event.text is None or event.button is not None:
        return False
    typed = ctx.text.strip()
    if typed and set(typed) <= _QUESTION_MARKS:
        return True
    if typed_answer and not typed.endswith(tuple(_QUESTION_MARKS)):
        return False
    return plain_word(ctx, "help") == "help"


def help_at(ctx: Context, dialog: Dialog, question: Response) -> Response:
    """``question`` (the step asked again), after a word on how a dialog is answered."""
    hint = Reply(key="drafts.help", params={"subject": subject(ctx, dialog)})
    return question.model_copy(update={"replies": [hint, *question.replies]})


def _letters_and_spaces(text: str) -> str:
    """``text`` without punctuation, symbols and emoji (letters, digits and spaces kept)."""
    if text.isascii():
        # Every text typed in a dialog passes here, descriptions of hundreds of characters
        # too: one translate instead of a test per character.
        return text.translate(_ASCII_PUNCTUATION)
    return "".join(ch for ch in text if ch.isalnum() or ch.isspace())


_ASCII_PUNCTUATION = dict.fromkeys(
    n for n in range(128) if not (chr(n).isalnum() or chr(n).isspace())
)


def take_discard(event: Event, dialog: Dialog | None) -> tuple[Event, Dialog | None]:
    """A discard button: the request it carries, and the dialog it throws away.

    The request (``/idee`` or a button payload) is handled as if it came now, with every
    check; a discard button of another dialog than the open one discards nothing.
    """
    found = discarding(event.button) if event.button is not None else None
    if found is None:
        return event, None
    token, then = found
    if then.startswith("/"):
        command, _, args = then[1:].partition(" ")
        asked = event.model_copy(update={"button": None, "command": command, "args": args})
    else:
        asked = event.model_copy(update={"button": then})
    if dialog is None or dialog.token != token:
        return asked, None
    return asked, dialog


#: The action that says again where a person was (see ``handlers.start.menu.resume``).
RESUME_ACTION = "resume"


def replaces(draft: Dialog, response: Response) -> bool:
    """Whether a response starts another dialog in place of the open one, losing it."""
    new = response.dialog
    if new is None or response.end_dialog:
        return False
    if new.name != draft.name:
        return True
    kept = interrupted(draft).data
    return any(key not in new.data or new.data[key] != value for key, value in kept.items())


def _resumes(ctx: Context, draft: Dialog, response: Response) -> bool:
    """Whether the response is the draft itself, asked again (a chat opened anew asks for
    that): no other dialog taking its place. Its own question may change its data (a step
    that saves as it asks: a poll's preview) or take it back a step (a budget round's only
    project whose idea went meanwhile: the projects question again)."""
    new = response.dialog
    return ctx.event.button == RESUME_ACTION and new is not None and new.name == draft.name


def beside(ctx: Context, draft: Dialog, response: Response, *, starts: bool) -> Response:
    """The response to a command or button done while ``draft`` is open; the draft stays.

    What would start another dialog in its place asks first; anything else ends in the
    way back to it.
    """
    if starts and replaces(draft, response) and not _resumes(ctx, draft, response):
        return draft_open(ctx, draft, then=request_of(ctx))
    if response.dialog is None:
        response.replies = with_way_back(ctx, draft, response.replies)
    return response
