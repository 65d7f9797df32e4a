"""Checking rendered HTML: the markup comes from the catalog, user text stays literal text.

Any adapter that renders HTML (Telegram messages, Matrix ``formatted_body``) can be checked
with :func:`assert_user_text_literal`: give it what the adapter sent, the user's texts, and
the same message rendered for plain user text (an idea titled "Gewoon een idee") as the
reference for what the catalog's markup looks like.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: The tags catalog entries may carry (see handlers/catalog.py); none has attributes.
CATALOG_TAGS = frozenset({"b", "i", "u", "code", "pre"})


@dataclass
class ParsedHtml:
    """Rendered HTML as a reader sees it: its tags in order, and its text."""

    tags: list[tuple[str, str, tuple[tuple[str, str | None], ...]]] = field(default_factory=list)
    text: str = ""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = ParsedHtml()
        self.open: list[str] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.tags.append(("start", tag, tuple(attrs)))
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.tags.append(("empty", tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise AssertionError(f"</{tag}> closes nothing open (open: {self.open})")
        self.open.pop()
        self.parsed.tags.append(("end", tag, ()))

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"an HTML comment in rendered text: {data!r}")

    def handle_decl(self, decl: str) -> None:
        raise AssertionError(f"a declaration in rendered text: {decl!r}")

    def handle_pi(self, data: str) -> None:
        raise AssertionError(f"a processing instruction in rendered text: {data!r}")


def parse_html(rendered: str) -> ParsedHtml:
    """Parse rendered HTML; unbalanced tags fail the test."""
    parser = _Parser()
    parser.feed(rendered)
    parser.close()
    if parser.open:
        raise AssertionError(f"tags left open: {parser.open} in {rendered[:200]!r}")
    parser.parsed.text = "".join(parser.chunks)
    return parser.parsed


def assert_catalog_markup(rendered: str) -> ParsedHtml:
    """Only the catalog's tags, without attributes, balanced; returns the parse."""
    parsed = parse_html(rendered)
    for kind, tag, attrs in parsed.tags:
        if tag not in CATALOG_TAGS or attrs or kind == "empty":
            raise AssertionError(f"markup the catalog never writes: <{tag} {attrs}>")
    return parsed


def assert_user_text_literal(
    rendered: str, literals: Sequence[str], *, reference: str | None = None
) -> None:
    """Users' texts appear literally and change nothing of the message's formatting.

    Args:
        rendered: The HTML as sent to the platform.
        literals: The user texts in it (an idea's title, a comment), exactly as typed.
        reference: The same message rendered for plain user texts; when given, the tags
            must be exactly its tags (the catalog's markup, nothing more, nothing less).
    """
    parsed = assert_catalog_markup(rendered)
    for literal in literals:
        if literal not in parsed.text:
            raise AssertionError(f"{literal!r} is not shown literally in {parsed.text!r}")
        escaped = html.escape(literal, quote=False)
        if escaped not in rendered:
            raise AssertionError(f"{literal!r} is not escaped as text in {rendered!r}")
    # Taking the users' texts out must leave exactly the same markup: none came from them.
    stripped = rendered
    for literal in literals:
        stripped = stripped.replace(html.escape(literal, quote=False), "")
    if parse_html(stripped).tags != parsed.tags:
        raise AssertionError(f"user text added markup to {rendered!r}")
    if reference is not None and parse_html(reference).tags != parsed.tags:
        raise AssertionError(
            f"markup differs from the catalog's:\n{rendered!r}\nreference:\n{reference!r}"
        )
