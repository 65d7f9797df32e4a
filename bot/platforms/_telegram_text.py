"""Telegram's limits on what a message holds, measured the way Telegram measures them.

Telegram counts a text's length in UTF-16 code units (an emoji is two) *after* parsing its
HTML: tags count for nothing and ``&amp;`` counts as one. A text may be 4,096 units, a
caption 1,024, and callback data 64 bytes. Counting code points of the HTML instead gets
both sides wrong: 1,000 ``&`` look five times too long, 2,000 emoji half as long as they are.

A reply over the limit is sent as several messages, cut between its parts (the lines of a
list, the comments of a thread) where it can be: :func:`pack` puts as many whole parts in a
message as fit. A part too long for a message on its own is split so that every piece parses
on its own: a cut never falls inside a tag or an entity, tags open at a cut are closed before
it and opened again after it, and a cut is made at a line break outside any tag where one is
near enough, then at any line break, then at a space, and only then between characters:
whole characters as a reader sees them (:mod:`storage.graphemes`), so a long row of emoji
never leaves half a family (👩‍👩 here, 👧 in the next message) or a flag's single letter.

A message carries at most 100 inline buttons, 8 to a row (limits Telegram does not document
but enforces: python-telegram-bot's ``InlineKeyboardMarkupLimit``). Features page their long
lists; should a reply still have more, :func:`keyboards` lays them out over several messages
instead of having Telegram refuse the reply.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from storage import graphemes

#: Telegram's limits (``telegram.constants``), in UTF-16 code units and bytes.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
#: Inline buttons a message may carry, and a row of them.
BUTTON_LIMIT = 100
ROW_LIMIT = 8

_B = TypeVar("_B")

_TOKEN = re.compile(
    r"(?P<tag><(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>)"
    # Telegram knows numeric entities and these four; any other "&" is a character.
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|lt|gt|amp|quot);)"
)


_SPACE = frozenset(" \t\n")


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class _Token:
    """A piece of text that is never cut: a tag, an entity, or one character."""

    raw: str
    #: UTF-16 units it shows as (0 for a tag).
    units: int
    #: For a tag: its name, and whether it closes.
    tag: str | None = None
    closes: bool = False


def _characters(text: str, whole: int | None = None) -> list[_Token]:
    """One token a code point; with ``whole``, one a character as a reader sees it (a
    family emoji, a flag, a letter and its accent), unless it is longer than ``whole``
    units: a message must take every token, so such a one is cut by code points."""
    if whole is None:
        return [_Token(char, 2 if char > "\uffff" else 1) for char in text]
    tokens: list[_Token] = []
    for cluster in graphemes.clusters(text):
        units = utf16_len(cluster)
        if len(cluster) == 1 or units > whole:
            tokens += _characters(cluster)
        else:
            tokens.append(_Token(cluster, units))
    return tokens


def _tokens(text: str, markup: bool, whole: int | None = None) -> list[_Token]:
    """``text`` as tokens; with ``whole`` (a message's limit), characters as a reader sees
    them stay one token where they fit in a message (see :func:`_characters`)."""
    if not markup:
        return _characters(text, whole)
    tokens: list[_Token] = []
    position = 0
    for match in _TOKEN.finditer(text):
        tokens += _characters(text[position : match.start()], whole)
        raw = match.group()
        if match.group("tag"):
            tokens.append(_Token(raw, 0, match.group("name").lower(), bool(match.group("close"))))
        else:
            tokens.append(_Token(raw, utf16_len(html.unescape(raw))))
        position = match.end()
    tokens += _characters(text[position:], whole)
    return tokens


def open_tags(text: str, already: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The opening tags (as written) still open after ``text``, given those open before it.

    For splitting a text that is kept line by line elsewhere (Matrix): a part that ends
    inside an element closes it, the next part opens it again.
    """
    stack = list(already)
    for token in _tokens(text, markup=True):
        if token.tag is None:
            continue
        if not token.closes:
            stack.append(token.raw)
        elif stack and _tag_name(stack[-1]) == token.tag:
            stack.pop()
    return tuple(stack)


def shown_tokens(text: str) -> list[tuple[str, str]]:
    """HTML ``text`` as the pieces a cut never falls inside (a tag, an entity, a
    character), each as written and as it shows (a tag shows nothing)."""
    return [
        (token.raw, "" if token.tag is not None else html.unescape(token.raw))
        for token in _tokens(text, markup=True)
    ]


def closing_tags(opened: tuple[str, ...]) -> str:
    """The closing tags of these opening tags, innermost first."""
    return "".join(f"</{_tag_name(tag)}>" for tag in reversed(opened))


def _tag_name(raw: str) -> str:
    match = _TOKEN.match(raw)
    return match.group("name").lower() if match else ""


def visible_length(text: str, *, markup: bool = True) -> int:
    """How long ``text`` is to Telegram: UTF-16 units of what it shows once parsed."""
    if not markup or ("<" not in text and "&" not in text):
        return utf16_len(text)
    return sum(token.units for token in _tokens(text, markup))


def fits(text: str, limit: int, *, markup: bool = True) -> bool:
    """Whether ``text`` is within ``limit`` as Telegram counts (cheaply, for short texts)."""
    # The HTML is never shorter than what it shows: most messages need no parsing.
    return utf16_len(text) <= limit or visible_length(text, markup=markup) <= limit


@dataclass(frozen=True, slots=True)
class _Cut:
    """A place a message may end: before the token at ``index``, which is dropped."""

    index: int
    #: Units shown in the message before this place.
    units: int
    #: Tags open there.
    open_tags: tuple[_Token, ...]


def split(text: str, limit: int = TEXT_LIMIT, *, markup: bool = True) -> list[str]:
    """``text`` as messages of at most ``limit`` units each, every one well-formed.

    With ``markup`` the text is Telegram HTML; without, plain text. Pieces that would show
    nothing (only white space) are left out.
    """
    if fits(text, limit, markup=markup):
        return [text]
    if limit < 2:
        raise ValueError("a message must hold at least one character")
    tokens = _tokens(text, markup, whole=limit)
    pieces: list[str] = []
    start = 0
    reopened: tuple[_Token, ...] = ()
    while start < len(tokens):
        while start < len(tokens) and tokens[start].raw in _SPACE:
            start += 1  # a message does not begin with the white space a cut left
        end, next_start, open_tags = _next_cut(tokens, start, reopened, limit)
        while end > start and tokens[end - 1].raw in _SPACE:
            end -= 1
        body = "".join(token.raw for token in tokens[start:end])
        piece = (
            "".join(tag.raw for tag in reopened)
            + body
            + "".join(f"</{tag.tag}>" for tag in reversed(open_tags))
        )
        if any(token.tag is None and not token.raw.isspace() for token in tokens[start:end]):
            pieces.append(piece)
        start, reopened = next_start, open_tags
    return pieces


def _next_cut(
    tokens: list[_Token], start: int, reopened: tuple[_Token, ...], limit: int
) -> tuple[int, int, tuple[_Token, ...]]:
    """Where the message from ``start`` ends: (end, where the next begins, tags open)."""
    stack = list(reopened)
    units = 0
    # The best place of each kind so far: a line break outside tags, any line break, a space.
    between_parts: _Cut | None = None
    line_break: _Cut | None = None
    space: _Cut | None = None
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.tag is not None:
            if not token.closes:
                stack.append(token)
            elif stack and stack[-1].tag == token.tag:
                stack.pop()
            continue
        if units + token.units > limit:
            # A line break or space in the second half of the message; else the last one
            # there is (rather than cut a word); else between two characters.
            for least in (limit // 2, 1):
                for cut in (between_parts, line_break, space):
                    if cut is not None and cut.units >= least:
                        return cut.index, cut.index + 1, cut.open_tags
            return index, index, tuple(stack)
        if token.raw == "\n":
            cut = _Cut(index, units, tuple(stack))
            line_break = cut
            if not stack:
                between_parts = cut
        elif token.raw in _SPACE:
            space = _Cut(index, units, tuple(stack))
        units += token.units
    return len(tokens), len(tokens), tuple(stack)


def pack(blocks: list[str], limit: int = TEXT_LIMIT, *, markup: bool = True) -> list[str]:
    """Texts joined by line breaks into as few messages as hold them, each within ``limit``.

    Whole blocks go together; only a block longer than a message is split (:func:`split`).
    """
    whole = "\n".join(blocks)
    if fits(whole, limit, markup=markup):
        return [whole] if blocks else []
    messages: list[str] = []
    current: str | None = None
    for block in blocks:
        if current is not None:
            joined = f"{current}\n{block}"
            if fits(joined, limit, markup=markup):
                current = joined
                continue
            messages.append(current)
            block = block.lstrip("\n") or block  # a message does not begin with blank lines
        pieces = split(block, limit, markup=markup) or [block]
        messages += pieces[:-1]
        current = pieces[-1]
    if current is not None:
        messages.append(current)
    return messages


def keyboards(rows: Sequence[Sequence[_B]]) -> list[list[list[_B]]]:
    """An inline keyboard's rows as Telegram takes them: a row of more than
    :data:`ROW_LIMIT` buttons cut into rows of that many, and at most :data:`BUTTON_LIMIT`
    buttons to a message (whole rows), the first message's keyboard first."""
    fitting = [
        list(row[start : start + ROW_LIMIT])
        for row in rows
        for start in range(0, len(row), ROW_LIMIT)
    ]
    messages: list[list[list[_B]]] = []
    count = BUTTON_LIMIT
    for row in fitting:
        if count + len(row) > BUTTON_LIMIT:
            messages.append([])
            count = 0
        messages[-1].append(row)
        count += len(row)
    return messages
