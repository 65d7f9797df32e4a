"""What someone types outside any dialog: a word that means a command, or a message.

Residents write to a civic bot as they write to a person: "De lantaarnpaal bij de school
is al weken kapot" or "Wanneer is de BBQ-plek open?", without a command first. Such a
message is not answered with "I don't understand" and lost: the bot asks what to do with
it, and keeps it meanwhile (in the dialog, like any answer).

    a message ──► "What shall I do with it?" ──❓ to the connector──► a question (#id)
                      │   ▲                    ──💡 an idea───────► /idee with it as the
                      │   └── another message: added to it             description
                      │       (an hour or more later: it replaces it)
                      └──✖️ not sent──► the menu

A word alone (``menu``, ``help``, ``stop``, ``hallo``, ``bedankt``) means what it says,
and so does a pleasantry of a few words ("ok dank je wel", "Goedemorgen allemaal"): it is
no message for anyone. While the question is open, ``stop``, ``menu`` and ``help`` end it
(saying the message was not sent); a thank-you, a greeting or an "ok" is taken for someone
who thinks the message went, and hears that it still waits; a number alone ("2" on Telegram,
whose buttons have none) is someone choosing, asked to press a button; a "?" or "…" alone
(no word at all) is someone unsure, told that the message waits for a choice. Whatever else takes
the message's place (``/idee``, a poll's typed answer) gives it back, not sent. A message
too short to be anything ("iets") gets the general answer, as do a row of emoji and a photo
or sticker. Where options are numbered (Matrix, the console), such text gets the options on
screen again under the same numbers instead (a poll's question asked again in full, where
a message is no answer either); on Telegram, a number alone is asked to tap a button.
A message longer than a question holds goes whole, in parts of the one question.
"""

from __future__ import annotations

from handlers import drafts
from handlers.answers import (
    a_message,
    excerpt,
    labels,
    something_written,
    text_length,
    typed_choice,
    visible_length,
    words_of,
)
from handlers.community import questions
from handlers.contract import Button, Dialog, Reply, Response, Role, given_back, respond
from handlers.feature import Context, Fallback, Feature, menu_reply
from handlers.ideas import submit
from handlers.start.menu import PLAIN_WORDS, show_help
from handlers.start.onboarding import welcome

feature = Feature("typed_message")

DIALOG = "typed_message"
#: The words shown of the message in the question (the whole of it is right above it).
SHOWN = 80
#: The longest message kept while it waits (UTF-16 units): a few messages written one
#: after the other, not an endless stream.
MAX_KEPT = 4096
#: Words alone that mean a command or a greeting, also while the question is open.
WORDS = (*PLAIN_WORDS, "thanks")
#: The words a pleasantry is made of: thanks and greetings with what goes around them, a
#: short yes ("ja hoor", "dat klopt") and a "no, thank you" ("Nee hoor, bedankt!").
COURTESY = ("thanks", "hello", "yes", "agree", "ok", "decline", "courtesy")
#: Emoji that say "ok" alone (with any skin tone): a thumbs up is a yes, not a message.
OK_EMOJI = frozenset("👍👌✅🆗✔☑🙂😊")
#: What goes with an emoji without changing it: skin tones, the emoji form, spaces.
_EMOJI_MARKS = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff\ufe0f ")
#: A pleasantry is short; a longer text made of such words is read as a message.
COURTESY_WORDS = 8


@feature.fallback(Fallback.NOT_UNDERSTOOD)
async def not_understood(ctx: Context) -> Response:
    """Something arrived outside any dialog that no command or button explains."""
    if not ctx.user.consented:
        # A first message without /start (common on Matrix), or someone who declined
        # typing a question anyway: begin with the welcome. What they wrote was sent
        # nowhere, so it comes back first (a greeting, a thank-you, an "ok" or "menu" is no
        # message to keep).
        said = drafts.plain_word(ctx, *WORDS) or _pleasantry(ctx)
        typed = [] if said else given_back(ctx.event)
        welcomed = await welcome(ctx)
        return welcomed.model_copy(update={"replies": [*typed, *welcomed.replies]})
    event = ctx.event
    if event.photo is not None or event.unsupported is not None:
        return respond(menu_reply(ctx, "general.cannot_use_media"))
    if not ctx.text:
        return respond(menu_reply(ctx, "general.empty"))
    word = await _word(ctx)
    if word is not None:
        return word
    kind = _pleasantry(ctx)
    if kind is not None:
        return respond(menu_reply(ctx, _PLEASANTRY_ANSWERS[kind]))
    again = await _options_again(ctx)
    if again is not None:
        return again
    if _a_choice_number(ctx.text) and not ctx.platform.numbered_options:
        # "2" where buttons have no numbers (Telegram): someone choosing, as in the
        # question what to do with a message; the buttons they meant still work.
        return respond(menu_reply(ctx, "general.press_a_button"))
    if not a_message(ctx.text) or ctx.user.role.allows(Role.CONNECTOR):
        # The connector is whom such a message would go to: for them it is no question.
        return respond(menu_reply(ctx, "general.not_understood"))
    length = text_length(ctx.text)
    if length > MAX_KEPT:
        # Only where messages may be longer than Telegram's (Matrix, the console): nothing
        # could send it, so it is not kept. The length told is what may be kept (and sent
        # as a question, in parts where it is longer than one holds).
        too_long = Reply(key="answers.too_long", params={"max": MAX_KEPT, "length": length})
        return respond(too_long.model_copy(update={"buttons": ctx.main_menu()}))
    return await _offer(ctx, Dialog(name=DIALOG, step="choose", data={"text": ctx.text}))


async def _options_again(ctx: Context) -> Response | None:
    """Where buttons are numbered options (Matrix, the console): text that chooses none of
    the options on screen ("?", "9" of three, "weet ik niet" at a poll's question) is told
    it was not understood, with the same options under the same numbers, so that the next
    "2" still means what it meant (the main menu would take their numbers). A question's
    options come with the question, asked again by its feature, which also says when it
    can no longer be answered. A message typed beside options that answer no question
    (an idea's card) is still a message. None where no options were offered."""
    if not ctx.platform.numbered_options or ctx.event.is_group:
        return None
    offered = await ctx.repos.chat_options.load(ctx.event.platform, ctx.event.chat_id)
    shown = [(label, payload) for label, payload, numbered in offered if numbered]
    if not shown:
        return None
    hint = Reply(key="general.not_understood_options")
    asked = await ctx.registry.ask_again(ctx, [payload for _, payload in shown])
    if asked is not None:
        written = something_written(ctx.text)
        back = given_back(ctx.event) if written else []
        return asked.model_copy(update={"replies": [hint, *back, *asked.replies]})
    if a_message(ctx.text) and not ctx.user.role.allows(Role.CONNECTOR):
        return None
    if not all(ctx.registry.admits(payload, ctx.user) for _, payload in shown):
        # A step's buttons of a dialog gone (expired), or a role revoked since: they
        # would only answer that they no longer work. The general answer instead.
        return None
    menu = [button.payload for row in ctx.main_menu() for button in row]
    if [payload for _, payload in shown] == menu:
        return None  # the general answer shows them, under the same numbers
    # The labels as they were shown (in the language of then): data, escaped when shown.
    buttons = [[Button.raw(label, payload)] for label, payload in shown]
    return respond(hint.model_copy(update={"buttons": buttons}))


async def _word(ctx: Context) -> Response | None:
    """The answer to a word said alone that means something, or None."""
    word = drafts.plain_word(ctx, *WORDS)
    if word == "menu":
        return respond(menu_reply(ctx))
    if word == "help":
        return await show_help(ctx)
    if word == "stop":
        return respond(menu_reply(ctx, "general.nothing_to_cancel"))
    if word == "hello":
        return respond(menu_reply(ctx, "general.hello"))
    if word == "thanks":
        return respond(menu_reply(ctx, "general.thanks"))
    return None


_PLEASANTRY_ANSWERS = {"thanks": "general.thanks", "hello": "general.hello", "ok": "general.ok"}


def _pleasantry(ctx: Context) -> str | None:
    """``thanks``, ``hello`` or ``ok`` when the text is only a pleasantry of a few words,
    in any language ("ok dank je wel", "Thank you very much", "Oké, is goed hoor", "👍");
    None for anything else ("Bedankt, maar de lamp is nog kapot" is a message)."""
    if ctx.event.text is None or ctx.event.button is not None:
        return None
    said = words_of(ctx.text)
    if not said and _only_ok_emoji(ctx.text):
        return "ok"
    if not said or len(said) > COURTESY_WORDS:
        return None
    phrases = {key: [words_of(p) for p in drafts.words(ctx, key)] for key in COURTESY}
    if not _covered(said, [phrase for found in phrases.values() for phrase in found]):
        return None
    spaced = f" {' '.join(said)} "
    for key in ("thanks", "hello"):
        if any(phrase and f" {' '.join(phrase)} " in spaced for phrase in phrases[key]):
            return key
    return "ok"


def _covered(said: list[str], phrases: list[list[str]]) -> bool:
    """Whether ``said`` is whole phrases one after the other (the longest first at each
    place): "liever niet hoor" is, "niet duidelijk" is not ("niet" is only a pleasantry in
    "liever niet" or "niet akkoord")."""
    at = 0
    while at < len(said):
        lengths = [len(p) for p in phrases if p and said[at : at + len(p)] == p]
        if not lengths:
            return False
        at += max(lengths)
    return True


def _only_ok_emoji(text: str) -> bool:
    """Whether ``text`` is only a thumbs up or the like ("👍", "👍🏽👍🏽", "👌")."""
    shown = {char for char in text if char not in _EMOJI_MARKS and not char.isspace()}
    return bool(shown) and shown <= OK_EMOJI


def _a_choice_number(text: str) -> bool:
    """Whether ``text`` is a number alone, as someone types to choose an option ("2",
    "3.")."""
    said = words_of(text)
    return len(said) == 1 and said[0].isdecimal() and len(said[0]) <= 2


typed = feature.dialog(
    DIALOG,
    role=Role.RESIDENT,
    draft=False,
    words="text",
    subject="drafts.subject.typed_message",
)


@typed.step("choose")
async def choose(ctx: Context, dialog: Dialog) -> Response:
    """What to do with the message: a question, an idea, or nothing; another message
    typed meanwhile is added to it."""
    text = str(dialog.data.get("text", ""))
    if ctx.event.button is None:
        if ctx.event.text is None or not ctx.text:
            # A photo or sticker now: the message waits for a choice.
            return await _offer(ctx, dialog, hint=Reply(key="general.typed_choose"))
        word = drafts.plain_word(ctx, *WORDS)
        if word == "stop":
            return respond(menu_reply(ctx, "general.typed_dropped"), end_dialog=True)
        if word in ("menu", "help"):
            ctx.dialog = None  # the word ends the question ("help" has no way back to it)
            answered = await _word(ctx)
            if answered is not None:
                dropped = Reply(key="general.typed_dropped")
                replies = [dropped, *answered.replies]
                return answered.model_copy(update={"replies": replies, "end_dialog": True})
        if word is not None or _pleasantry(ctx) is not None:
            # "Bedankt!", "ok" or "hallo" instead of a choice: they may think it was sent.
            return await _offer(ctx, dialog, hint=Reply(key="general.typed_not_sent"))
        if not words_of(ctx.text):
            # "?", "??", "…" or a row of emoji: no words to add to the message, but someone
            # unsure what happens now. Told what it waits for; the message stays as it was.
            return await _offer(ctx, dialog, hint=Reply(key="general.typed_help"))
        if _a_choice_number(ctx.text):
            # "2" where the choices are buttons without numbers (Telegram), or a number no
            # option has: someone trying to choose, not the rest of the message.
            return await _offer(ctx, dialog, hint=Reply(key="general.typed_choose"))
        named = typed_choice(ctx, _choices(ctx, dialog))
        if named is not None:
            # A button's label typed instead of pressed ("Niet versturen"): that choice,
            # not more of the message.
            return await _chosen(ctx, dialog, named)
        if drafts.returning(ctx, dialog) and text_length(ctx.text) <= MAX_KEPT:
            # Written long after the message left waiting: something new, not the rest of
            # it. The old one is not sent along (its buttons no longer work).
            fresh = Dialog(name=DIALOG, step="choose", data={"text": ctx.text})
            return await _offer(ctx, fresh, hint=Reply(key="general.typed_earlier_not_sent"))
        longer = f"{text}\n\n{ctx.text}"
        if text_length(longer) > MAX_KEPT:
            # Not added (it is right above): first what to do with what there is.
            return await _offer(ctx, dialog, hint=Reply(key="general.typed_too_long"))
        # People write in more than one message: the next is part of it.
        return await _offer(ctx, dialog.to("choose", text=longer))
    return await _chosen(ctx, dialog, ctx.value)


def _choices(ctx: Context, dialog: Dialog) -> dict[str, list[str]]:
    """What each choice's button is called, in every language (to be typed instead): the
    question's with the connector's name in that language."""
    return {
        "question": [
            ctx.catalog.label(
                lang,
                dialog.button(
                    "general.btn_typed_question", "question", connector=ctx.profile.connector(lang)
                ),
            )
            for lang in ctx.catalog.languages
        ],
        "idea": labels(ctx, dialog.button("general.btn_typed_idea", "idea")),
        "drop": labels(ctx, dialog.button("general.btn_typed_drop", "drop")),
    }


async def _chosen(ctx: Context, dialog: Dialog, choice: str) -> Response:
    """The message sent as a question, begun as an idea, or dropped."""
    text = str(dialog.data.get("text", ""))
    if choice == "question":
        if ctx.user.role.allows(Role.CONNECTOR):
            # Made connector since the question was asked: it would go to themselves.
            connector = ctx.profile.connector(ctx.lang)
            you_are = Reply(key="general.typed_you_are_connector", params={"connector": connector})
            return await _offer(ctx, dialog, hint=you_are)
        sent = await questions.send_typed(ctx, text)
        # Sent (whole, in parts where it is long), or why not with the question asked anew:
        # either way this is over.
        return sent if sent.dialog is not None else sent.model_copy(update={"end_dialog": True})
    if choice == "idea":
        if not submit.fits_description(text):
            # A button of an earlier offer, before more was added: the message stays.
            low, high = submit.DESCRIPTION_LENGTH
            # Counted as the description's limits count: what shows, up to its units.
            length = text_length(text) if text_length(text) > high else visible_length(text)
            unfit = Reply(
                key="general.typed_idea_unfit", params={"min": low, "max": high, "length": length}
            )
            return await _offer(ctx, dialog, hint=unfit)
        begun = await submit.begin_described(ctx, text)
        if begun.dialog is None:
            # Not now (a mute, the day's limit): the message can still go as a question.
            return await _offer(ctx, dialog, before=begun.replies)
        return begun
    if choice == "drop":
        return respond(menu_reply(ctx, "general.typed_dropped"), end_dialog=True)
    return await _offer(ctx, dialog, hint=Reply(key="general.typed_choose"))


@typed.ask("choose")
async def _ask(ctx: Context, dialog: Dialog) -> Response:
    return await _offer(ctx, dialog)


async def _offer(
    ctx: Context,
    dialog: Dialog,
    *,
    hint: Reply | None = None,
    before: list[Reply] | None = None,
) -> Response:
    """The question what to do with the message, with a button for each way it may go."""
    text = str(dialog.data.get("text", ""))
    connector = ctx.profile.connector(ctx.lang)
    buttons = []
    if not ctx.user.role.allows(Role.CONNECTOR):
        # The connector is whom the question would go to (made one while it waited).
        asking = dialog.button("general.btn_typed_question", "question", connector=connector)
        buttons.append([asking])
    if submit.fits_description(text) and await ctx.registry.refusal(ctx, submit.DIALOG) is None:
        buttons.append([dialog.button("general.btn_typed_idea", "idea")])
    buttons.append([dialog.button("general.btn_typed_drop", "drop")])
    question = Reply(
        key="general.typed_what_now",
        params={"text": excerpt(text, SHOWN), "connector": connector},
        buttons=buttons,
    )
    replies = [*(before or []), *([hint] if hint else []), question]
    return respond(*replies, dialog=dialog)
