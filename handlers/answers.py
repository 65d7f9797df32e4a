"""Reading what people type in a dialog: text within limits, ids in button payloads; and
asking before something that cannot be undone.

Irreversible or heavy actions (delete, withdraw, merge, ban, lift a ban) ask first, with a
question that names what will happen and a button that does it::

    if not ctx.confirmed:
        return respond(confirmation("ideas.withdraw_confirm", yes=..., no=..., number=5))
    ...do it...

The "yes" button is the same button marked with :data:`CONFIRMED`; the router takes the mark
off its value and sets ``ctx.confirmed`` (in a dialog too: ``dialog.button(...)``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from handlers.catalog import BIDI_FORMATTING
from handlers.contract import Button, Reply
from handlers.feature import CONFIRMED, Context
from handlers.pictures import NOT_A_PICTURE
from storage import graphemes

#: Control characters nobody means to type (C0 but tab and newline, and DEL): a terminal's
#: colour codes, a NUL from a bridge. They would reach notices, exports and the public site.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def without_controls(text: str) -> str:
    """``text`` with each control character (see :data:`_CONTROL`) made a space."""
    return _CONTROL.sub(" ", text)


#: The bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to
#: U+2069). Typed in a name or title, one turns around what follows it on its line, the
#: bot's own words included ("‮ (nieuw)" reads "(wein) "). Right-to-left letters and the
#: direction marks (LRM, RLM, ALM) are no such characters and stay.
_BIDI_CONTROLS = re.compile(f"[{BIDI_FORMATTING}]")


def one_line(text: str) -> str:
    """A name or title as the one line it is wherever it shows (a list, a button, after
    its label): line breaks and runs of spaces made one space, control characters and
    bidirectional embeddings, overrides and isolates left out. The text's own letters, in
    any direction, are kept: they show in their order wherever the value is isolated."""
    return " ".join(_BIDI_CONTROLS.sub("", without_controls(text)).split())


def text_length(text: str) -> int:
    """How long a text is as chat platforms count it: in UTF-16 units, an emoji counts two.

    Limits on what residents type are measured this way, so what they typed always fits the
    message that shows it (Telegram allows 4,096 units a message, 1,024 a caption).
    """
    return len(text.encode("utf-16-le")) // 2


def read_text(
    ctx: Context,
    max_length: int,
    *,
    min_length: int = 1,
    text: str | None = None,
    what: str = "answers.your_answer",
) -> str | Reply:
    """The typed text (or ``text``, e.g. a command's arguments), or why it cannot be used.

    A sticker, photo or voice message where text is expected, empty text, and text that is
    too short or too long (measured by :func:`text_length`) each get their own kind answer;
    nothing is stored for them. ``what`` names what is asked for ("je vraag"), as in "Typ je
    vraag".
    """
    event = ctx.event
    named = {"what": ctx.catalog.text(ctx.lang, what, {}, markup=False)}
    if event.photo is not None or event.unsupported is not None or event.location is not None:
        return Reply(key="answers.text_please", params=named)
    text = without_controls(ctx.text if text is None else text).strip()
    if not visible_length(text):
        return Reply(key="answers.empty", params=named)
    length = text_length(text)
    if length > max_length:
        return Reply(key="answers.too_long", params={"max": max_length, "length": length})
    if visible_length(text) < min_length:
        return Reply(key="answers.too_short", params={"count": min_length})
    return text


def given_back_text(typed: str | None) -> list[Reply]:
    """Words typed after a command that could not be used, shown back so none are lost
    (nothing when there were none)."""
    if not typed:
        return []
    return [Reply(key="general.typed_not_kept", params={"text": typed})]


def visible_length(text: str) -> int:
    """How many characters of ``text`` show: not spaces, controls, or the invisible marks
    (zero-width spaces, joiners, direction marks) a text can be made of to look empty."""
    if text.isascii():
        # Most texts: the same count without asking for each character's category (an
        # idea's description cost 150 microseconds that way).
        return len(text.translate(_ASCII_UNSEEN))
    return sum(1 for char in text if unicodedata.category(char)[0] not in "CZ")


#: The ASCII characters that do not show: controls (categories Cc) and the space (Zs).
_ASCII_UNSEEN = dict.fromkeys([*range(0x21), 0x7F])


#: What a message needs to be one: at least this many characters that show, in at least
#: two words ("iets" and a stray "?" are none).
MESSAGE_LENGTH = 10
MESSAGE_WORDS = 2
#: Typed at a question it does not answer, text of this many words is something written
#: (not a "weet ik niet"): it is given back with the question, not lost without a word.
WRITTEN_WORDS = 4


def words_of(text: str) -> list[str]:
    """The words of ``text``: lower case, without punctuation, emoji or accents that are
    marks of their own (Arabic's vowel signs: "شكرًا" is "شكرا")."""
    return "".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace()).split()


def a_message(text: str) -> bool:
    """Whether ``text`` looks like something written to someone, not a stray word (nor a
    row of emoji or punctuation: ten thumbs up say what one says)."""
    return (
        visible_length(text) >= MESSAGE_LENGTH
        and len(text.split()) >= MESSAGE_WORDS
        and bool(words_of(text))
    )


def something_written(text: str) -> bool:
    """Whether ``text``, typed at a question it does not answer, is something the person
    wrote (a sentence, not a stray word or a "weet ik niet"): to give back with the
    question again, so it is not lost without a word."""
    return len(words_of(text)) >= WRITTEN_WORDS and a_message(text)


def photo_hint(ctx: Context, key: str) -> Reply:
    """What to say when a photo was asked for and none came: ``key``, or, for a file that is
    not a picture (see :mod:`handlers.pictures`), that it could not be opened as one."""
    if ctx.event.unsupported == NOT_A_PICTURE:
        return Reply(key="answers.not_a_picture")
    return Reply(key=key)


def sure(button: Button) -> Button:
    """The same button, marked as the confirmation of what it does."""
    return button.model_copy(update={"payload": button.payload + CONFIRMED})


def confirmation(key: str, *, yes: Button, no: Button, **params: Any) -> Reply:
    """Ask before something that cannot be undone; ``key`` names exactly what will happen.

    ``yes`` does it (it comes back with ``ctx.confirmed`` set), ``no`` goes back.
    """
    return Reply(key=key, params=params, buttons=[[sure(yes)], [no]])


def as_ascii_digits(text: str) -> str:
    """``text`` with the digits of any script as 0-9, for a number someone typed ("١٢" and
    "１２" are 12; "²" is no digit and stays as it is)."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def digits(value: str) -> bool:
    """Whether ``value`` is a plain number: ASCII digits only (``"²".isdigit()`` is true,
    and ``int("²")`` fails)."""
    return value.isascii() and value.isdigit()


#: The largest database id read from a payload, a link or a typed answer (SQLite's own end
#: is 2**63 - 1: a larger number cannot even be looked up).
MAX_ID = 10**12 - 1


def whole_number(value: str, high: int, *, low: int = 0) -> int | None:
    """A plain whole number from ``low`` to ``high`` (a page, a count, an id), or None.

    Never one too long to read or to look up: a forged button's forty nines are None, as
    are "²" and "-1". Every number read from a payload or a typed answer goes through here.
    """
    if not digits(value) or len(value) > len(str(high)):
        return None
    number = int(value)
    return number if low <= number <= high else None


def parse_id(value: str) -> int | None:
    """A positive database id from a payload or deep link, or None."""
    return whole_number(value.strip(), MAX_ID, low=1)


def excerpt(text: str, length: int = 80) -> str:
    """The start of a text, on one line, cut at a word with an ellipsis (a first word too
    long for it between whole characters)."""
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    cut = graphemes.cut(flat, length - 1).rsplit(" ", 1)[0]
    return f"{cut}…"


def _squashed(text: str) -> str:
    """``text`` as compared with a name: only its letters and digits, lower case, without
    accents ("Velsen-Noord", "velsen noord!" and "Vélsen Noord" are the same); digits of
    any script as 0-9 ("٣ ساعات" is "3 ساعات")."""
    # Turkish writes a dotless ı whose capital I folds to a dotted i: "HAYIR" is "hayır".
    plain = unicodedata.normalize("NFKD", text.casefold().replace("ı", "i"))
    return as_ascii_digits("".join(ch for ch in plain if ch.isalnum()))


def typed_choice(ctx: Context, names: dict[str, list[str]]) -> str | None:
    """Which choice the typed text names, where the question offers buttons.

    ``names`` maps each choice's value to what it may be called: the button's label in every
    language, a place's name, a word such as "ja". Case, accents, spaces, punctuation and
    emoji do not count. Only a whole name counts ("Noord" is no place), and a text that
    names two choices names none; a button press is read by its value, not here.
    """
    event = ctx.event
    if event.text is None or event.button is not None:
        return None
    return named_choice(ctx.text, names)


def named_choice(text: str, names: dict[str, list[str]]) -> str | None:
    """Which choice ``text`` names, as :func:`typed_choice` reads it (for a choice typed
    after a command, such as ``/taal English``)."""
    if len(text) > 60:
        return None
    typed = _squashed(text)
    if not typed:
        return None
    found = {value for value, called in names.items() if typed in map(_squashed, called)}
    return found.pop() if len(found) == 1 else None


def labels(ctx: Context, button: Button) -> list[str]:
    """A button's label in every language of the catalog (someone may type any of them)."""
    return [ctx.catalog.label(lang, button) for lang in ctx.catalog.languages]
