"""Rendering shared by the adapters: catalog text and numbered options.

Telegram shows buttons natively; the console and Matrix show them as numbered options under
the message, numbered across all replies to one event, so '3' means the same everywhere.
Where the answer is typed (a title, a number of days), they are shown by label instead, and
typing the label chooses one: a number typed there is the answer, not an option.
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
    by_label = any(message.by_label for message in replies)
    last = max((i for i, m in enumerate(replies) if m.buttons), default=-1)
    for index, message in enumerate(replies):
        text = catalog.render(lang, message, markup=markup)
        lines = []
        for row in message.buttons:
            cells = []
            for button in row:
                number += 1
                # Isolated, so that in an Arabic line "[6]" is not pulled into the Latin
                # label before it (the reader would see it beside the wrong option).
                label = catalog.isolated(lang, catalog.label(lang, button))
                cells.append(f"[{label}]" if by_label else f"[{number}] {label}")
            lines.append("   ".join(cells))
        if by_label and index == last:
            # The answer is typed here: say how an option is chosen instead.
            lines.append(catalog.text(lang, "general.type_a_label", {}, markup=False))
        rendered.append((message, text, "\n".join(lines)))
    return rendered
