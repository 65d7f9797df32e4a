"""How Replies look in Matrix: an HTML ``formatted_body`` beside a plain ``body``.

Bot messages are ``m.notice`` (other bots do not answer notices, so two bots never loop).
Buttons become numbered options under the text, numbered across all replies to one event,
exactly as the router numbered them, so typing "2" or the label chooses. A text too long
for one Matrix event is split at line breaks.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from typing import Any

from bot.render import numbered_lines
from handlers.catalog import Catalog
from handlers.contract import Document, Reply

#: Size of body and formatted_body together, as JSON: with encryption on top, an event
#: stays well under the homeserver's 64 KiB limit.
MAX_JSON_BYTES = 24_000
#: A single line longer than a message is cut into pieces of this many characters.
CUT_CHARS = 1_000
HTML_FORMAT = "org.matrix.custom.html"


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
    """A text (plain and HTML) with its option lines, split to fit Matrix events."""
    plain_lines = text.split("\n") if text else []
    html_lines = marked.split("\n") if marked else []
    if len(plain_lines) != len(html_lines):
        # The two renderings should match line for line; if not, escape the plain text.
        html_lines = [html.escape(line, quote=False) for line in plain_lines]
    pairs = list(zip(plain_lines, html_lines, strict=True))
    pairs += [(line, html.escape(line, quote=False)) for line in options.split("\n") if line]
    chunks: list[list[tuple[str, str]]] = [[]]
    size = 0
    for plain_line, html_line in _fitting(pairs):
        grow = _json_size(plain_line) + _json_size(html_line) + 6
        if chunks[-1] and size + grow > MAX_JSON_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append((plain_line, html_line))
        size += grow
    return [
        Outgoing(
            body="\n".join(plain for plain, _ in chunk),
            html="<br>".join(marked_line for _, marked_line in chunk),
        )
        for chunk in chunks
        if chunk
    ]


def _json_size(text: str) -> int:
    return len(json.dumps(text))


def _fitting(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Lines as they are, but a line too long for a message is cut (and loses its markup)."""
    fitted = []
    for plain, marked in pairs:
        if _json_size(plain) + _json_size(marked) <= MAX_JSON_BYTES:
            fitted.append((plain, marked))
            continue
        for start in range(0, len(plain), CUT_CHARS):
            piece = plain[start : start + CUT_CHARS]
            fitted.append((piece, html.escape(piece, quote=False)))
    return fitted


def transaction_id(key: str, index: int) -> str:
    """A stable transaction id for message ``index`` sent because of ``key``.

    The homeserver answers a repeated transaction id with the event it already made, so a
    reply sent again after a crash is not posted twice.
    """
    digest = hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:32]
    return f"samenspel.{digest}"
