"""CSV cells that a spreadsheet shows as text, never runs as a formula.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula, so a title like ``=HYPERLINK("https://evil.example", "klik")`` would
become a live link, or worse, in the spreadsheet of whoever opens the file. What may come
before such a start hides it from a plain check while a spreadsheet still sees it: a tab, a
carriage return or a line feed (a cell may span lines), or spaces (an import may trim
them). Spreadsheets with an East Asian input method also take the
full-width forms ``＝ ＋ － ＠`` as the start of a formula. Text cells starting so get a leading
``'``, which spreadsheets show as text (OWASP's advice for CSV injection: the characters
``= + - @``, tab and carriage return; the rest here are ways around that list). Numbers are
written as they are: they cannot be formulas. Only CSV is guarded: JSON files keep every
text verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: What makes a spreadsheet read a cell as a formula: the ASCII signs and their full-width
#: forms (U+FF1D, U+FF0B, U+FF0D, U+FF20).
FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
#: Control characters a cell may not start with, formula after them or not: a spreadsheet may
#: drop them (or a reader's eye miss them) and read what follows as the cell's start.
HIDING_STARTS = ("\t", "\r", "\n", "\x00")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula."""
    if text.startswith(HIDING_STARTS):
        return True
    start = text.lstrip()  # spaces, the ideographic space and other white space
    return bool(start) and start[0] in FORMULA_SIGNS


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and looks_like_formula(value):
        return f"'{value}"
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
