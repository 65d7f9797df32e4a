"""Rendering shared by the adapters: catalog text and numbered options.

Telegram shows buttons natively; the console and Matrix show them as numbered options under
the message, numbered across all replies to one event, so '3' means the same everywhere.
"""

from __future__ import annotations

from handlers.catalog import Catalog
from handlers.contract import Button, Reply


def numbered_options(replies: list[Reply]) -> list[Button]:
    """Every button of these replies in the order they are numbered (1, 2, ...)."""
    return [button for message in replies for row in message.buttons for button in row]


def numbered_lines(
    catalog: Catalog, lang: str, replies: list[Reply], *, markup: bool
) -> list[tuple[Reply, str, str]]:
    """Each reply's text and its option lines ("[1] Ja   [2] Nee"), numbered across replies.

    Returns (reply, text, options) with options as one line per button row.
    """
    rendered = []
    number = 0
    for message in replies:
        text = catalog.render(lang, message, markup=markup)
        lines = []
        for row in message.buttons:
            cells = []
            for button in row:
                number += 1
                cells.append(f"[{number}] {catalog.label(lang, button)}")
            lines.append("   ".join(cells))
        rendered.append((message, text, "\n".join(lines)))
    return rendered
