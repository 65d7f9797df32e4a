"""Lists that grow with the town, shown a page at a time.

Running experiments, and every picker that offers them, can number in the hundreds: one
message with a line and a button for each would be a wall of text, and Telegram refuses a
message with more than 100 buttons. So such a list shows :data:`PAGE_SIZE` at a time, each
button's label cut to :data:`LABEL` characters, with a row to turn the page under it:

    line 1..8 ── [item] × 8 ── [⬅️ Vorige] [Volgende ➡️] ── the list's own buttons

A page number travels in the payload (``exp.list:2``, or a dialog's ``page:2``); a page past
the end shows the last one, so an old button still lands somewhere sensible, and a number we
could not have sent (``-1``, ``²``, forty nines) is no page at all. Every list that pages
(ideas, meetings, polls, experiments, one's questions, the audit log, the news, the civil
servants' cards) does so here; only the connector's inbox pages from a thread rather than by
number (threads move while it is read), and still turns with the same row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.answers import whole_number
from handlers.contract import Button, Reply
from storage import graphemes

if TYPE_CHECKING:
    from handlers.feature import Context

#: Items a page shows.
PAGE_SIZE = 8
#: The highest page number a payload may carry (the audit log of years at ten a page).
MAX_PAGE = 99999
#: The characters of a title a button shows (a longer one is cut with an ellipsis).
LABEL = 40
#: What a dialog button's value starts with when it turns the page (``page:2``).
TURN = "page:"
#: The labels of the buttons that turn the page back and on.
PREVIOUS, NEXT = "paging.btn_previous", "paging.btn_next"


@dataclass(frozen=True)
class Page:
    """Which page of a list is shown: its number (from 1), how many there are, of what total."""

    number: int
    pages: int
    total: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        """How many items come before this page."""
        return (self.number - 1) * self.size


def page(wanted: int, total: int, size: int = PAGE_SIZE) -> Page:
    """Page ``wanted`` of a list of ``total`` items (past the end: the last page)."""
    pages = max(1, -(-total // size))
    return Page(min(max(wanted, 1), pages), pages, total, size)


def number(text: str) -> int | None:
    """The page number in a payload, or None if it is not one we could have sent."""
    return whole_number(text, MAX_PAGE, low=1)


def asked(ctx: Context) -> int | None:
    """The page an action's button asks for (``ideas.mine:2``), the first for its command
    (whatever was typed after it), or None for a number we could not have sent."""
    if ctx.event.button is None or not ctx.value:
        return 1
    return number(ctx.value)


def turned(value: str | None) -> int | None:
    """The page a dialog button asks for (``page:2``), or None if it does not turn one."""
    if value is None or not value.startswith(TURN):
        return None
    return number(value.removeprefix(TURN))


def short(text: str, limit: int = LABEL) -> str:
    """A title short enough for a button, on one line: cut with an ellipsis when it is
    longer, between whole characters (never half an emoji before the "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return f"{graphemes.cut(text, limit - 1).rstrip()}…"


def turn(
    shown: Page,
    button: Callable[[str, int], Button],
    labels: tuple[str, str] = (PREVIOUS, NEXT),
) -> list[list[Button]]:
    """The row with ⬅️ Vorige and Volgende ➡️ (none when the list fits on one page).

    ``button(label, page)`` makes a button that shows ``page``: an action's payload, or a
    dialog button with ``f"{TURN}{page}"``. A list whose pages run in time may name its
    turns (``labels``: ⬅️ Nieuwer, Ouder ➡️).
    """
    return row(
        button(labels[0], shown.number - 1) if shown.number > 1 else None,
        button(labels[1], shown.number + 1) if shown.number < shown.pages else None,
    )


def row(back: Button | None, on: Button | None) -> list[list[Button]]:
    """The row to turn the page with the buttons there are: back first (none without)."""
    buttons = [b for b in (back, on) if b is not None]
    return [buttons] if buttons else []


def where(shown: Page) -> list[Reply]:
    """A line saying which page this is (nothing when the list fits on one page)."""
    if shown.pages == 1:
        return []
    return [Reply(key="paging.where", params={"page": shown.number, "pages": shown.pages})]
