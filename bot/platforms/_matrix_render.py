"""How Replies look in Matrix: an HTML ``formatted_body`` beside a plain ``body``.

Bot messages are ``m.notice`` (other bots do not answer notices, so two bots never loop).
Buttons become numbered options under the text, numbered across all replies to one event,
exactly as the router numbered them, so typing "2" or the label chooses. A text too long
for one Matrix event is split at line breaks, the HTML at the same ones as the plain text,
with any element open there closed and opened again. A single line too long for one is cut
after a space, else between whole characters (:func:`cut_line`): its messages joined are
the line, nothing dropped or added.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from typing import Any

from bot.platforms._telegram_text import closing_tags, open_tags, shown_tokens, utf16_len
from bot.render import numbered_lines
from handlers.catalog import Catalog
from handlers.contract import Document, Reply
from storage import graphemes

#: Size of body and formatted_body together, as JSON: with encryption on top, an event
#: stays well under the homeserver's 64 KiB limit.
MAX_JSON_BYTES = 24_000
#: A single line longer than a message is cut into pieces of at most this many characters
#: (UTF-16 units as shown, so a piece's JSON stays far below the limit even with escapes).
CUT_CHARS = 1_000
HTML_FORMAT = "org.matrix.custom.html"
#: Where a cut line may break between words: after a space.
_SPACES = frozenset(" \t")


@dataclass(frozen=True)
class Outgoing:
    """One Matrix message to send: a text notice, a picture or a file."""

    body: str = ""
    html: str = ""
    photo_id: int | None = None
    document: Document | None = None

    def text_content(self) -> dict[str, Any]:
        """The ``m.room.message`` content of a text notice."""
        return {
            "msgtype": "m.notice",
            "body": self.body,
            "format": HTML_FORMAT,
            "formatted_body": self.html,
        }


def render(catalog: Catalog, lang: str, replies: list[Reply]) -> list[Outgoing]:
    """Every message these replies become, in order: media first, then its text."""
    plain = numbered_lines(catalog, lang, replies, markup=False)
    marked = numbered_lines(catalog, lang, replies, markup=True)
    messages: list[Outgoing] = []
    for (reply, text, options), (_, marked_text, _) in zip(plain, marked, strict=True):
        if reply.photo_id is not None:
            messages.append(Outgoing(photo_id=reply.photo_id))
        if reply.document is not None:
            messages.append(Outgoing(document=reply.document))
        messages.extend(text_messages(text, marked_text, options))
    return messages


def text_messages(text: str, marked: str, options: str = "") -> list[Outgoing]:
    """A text (plain and HTML) with its option lines, split to fit Matrix events.

    The HTML is split at the same line breaks as the plain text. An element open at a split
    (an ``<i>`` around a quoted text of several lines) is closed at the end of one message
    and opened again at the start of the next, so each ``formatted_body`` is well-formed.
    """
    plain_lines = text.split("\n") if text else []
    html_lines = marked.split("\n") if marked else []
    if len(plain_lines) != len(html_lines):
        # The two renderings should match line for line; if not, escape the plain text.
        html_lines = [html.escape(line, quote=False) for line in plain_lines]
    pairs = list(zip(plain_lines, html_lines, strict=True))
    pairs += [(line, html.escape(line, quote=False)) for line in options.split("\n") if line]
    chunks: list[list[_Line]] = [[]]
    size = 0
    for line in _fitting(pairs):
        grow = _json_size(line.plain) + _json_size(line.html) + 6
        tags = len(_reopened(line.before)) + len(closing_tags(line.after)) + 6
        if chunks[-1] and size + grow + tags > MAX_JSON_BYTES:
            chunks.append([])
            size = len(_reopened(line.before))
        chunks[-1].append(line)
        size += grow
    return [_message(chunk) for chunk in chunks if chunk]


@dataclass(frozen=True)
class _Line:
    """One line of a message: plain and HTML, and the elements open before and after it."""

    plain: str
    html: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    #: A piece of a line cut in pieces that goes on from the piece before it: in the same
    #: message it follows without a line break.
    goes_on: bool = False


def _message(lines: list[_Line]) -> Outgoing:
    """One message of these lines: its HTML opens what is open before the first line and
    closes what is still open after the last."""
    marked = _reopened(lines[0].before)
    body = ""
    for index, line in enumerate(lines):
        if index and not line.goes_on:
            previous = lines[index - 1]
            if previous.after != line.before:
                marked += closing_tags(previous.after)
            marked += "<br>"
            body += "\n"
            if previous.after != line.before:
                marked += _reopened(line.before)
        marked += line.html
        body += line.plain
    marked += closing_tags(lines[-1].after)
    return Outgoing(body=body, html=marked)


def _reopened(tags: tuple[str, ...]) -> str:
    return "".join(tags)


def _json_size(text: str) -> int:
    return len(json.dumps(text))


def _fitting(pairs: list[tuple[str, str]]) -> list[_Line]:
    """The lines with the elements open around each; a line too long for a message is cut
    into pieces that each open and close their own elements."""
    fitted = []
    opened: tuple[str, ...] = ()
    for plain, marked in pairs:
        after = open_tags(marked, opened)
        if _json_size(plain) + _json_size(marked) <= MAX_JSON_BYTES:
            fitted.append(_Line(plain, marked, opened, after))
        else:
            fitted += cut_line(marked, opened)
        opened = after
    return fitted


def cut_line(marked: str, opened: tuple[str, ...] = ()) -> list[_Line]:
    """A line (HTML, with ``opened`` elements open before it) in pieces of at most
    :data:`CUT_CHARS` units as shown, each with the elements open around it.

    A cut falls after a space (in the second half of a piece where there is one), else
    between two whole characters as a reader sees them (never inside an emoji sequence, a
    flag or a letter with its accent), and only in one character longer than a piece
    between code points. Nothing is dropped or added: the pieces joined are the line.
    """
    tokens = shown_tokens(marked)
    shown = "".join(text for _, text in tokens)
    # Where each token begins in what the line shows, and where a reader's characters do.
    offsets = [0]
    for _, text in tokens:
        offsets.append(offsets[-1] + len(text))
    starts = {0}
    at = 0
    for cluster in graphemes.clusters(shown):
        at += len(cluster)
        starts.add(at)
    pieces: list[_Line] = []
    begin = 0
    while begin < len(tokens):
        end = _piece_end(tokens, begin, offsets, starts)
        raw = "".join(written for written, _ in tokens[begin:end])
        after = open_tags(raw, opened)
        plain = shown[offsets[begin] : offsets[end]]
        pieces.append(_Line(plain, raw, opened, after, goes_on=bool(pieces)))
        begin, opened = end, after
    return pieces


def _piece_end(
    tokens: list[tuple[str, str]], begin: int, offsets: list[int], starts: set[int]
) -> int:
    """Where the piece from token ``begin`` ends (the index of the first token after it)."""
    units = 0
    space = half_space = whole = None
    index = begin
    while index < len(tokens):
        shows = tokens[index][1]
        grow = utf16_len(shows)
        if units and units + grow > CUT_CHARS:
            break
        units += grow
        index += 1
        if shows and offsets[index] in starts:
            whole = index
            if shows in _SPACES:
                space = index
                if units >= CUT_CHARS // 2:
                    half_space = index
    else:
        return index
    return next(cut for cut in (half_space, space, whole, index) if cut is not None)


def transaction_id(key: str, index: int) -> str:
    """A stable transaction id for message ``index`` sent because of ``key``.

    The homeserver answers a repeated transaction id with the event it already made, so a
    reply sent again after a crash is not posted twice.
    """
    digest = hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:32]
    return f"samenspel.{digest}"
