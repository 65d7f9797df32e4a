"""CSV cells that a spreadsheet shows as text, never runs as a formula.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``=``, ``+``, ``-`` or
``@`` as a formula (and a leading tab or carriage return can hide such a start), so a title
like ``=HYPERLINK("https://evil.example", "klik")`` would become a live link, or worse, in
the spreadsheet of whoever opens the file. Text cells starting so get a leading ``'``, which
spreadsheets show as text (OWASP's advice for CSV injection). Numbers are written as they
are: they cannot be formulas. Only CSV is guarded: JSON files keep every text verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text that could start a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
