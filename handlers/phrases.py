"""Words filled into other texts: a catalog text as plain words, an idea's public number."""

from __future__ import annotations

from typing import Any

from handlers.feature import Context


def phrase(ctx: Context, key: str, **params: Any) -> str:
    """A catalog text as plain words, to fill into another text (a status in a list line)."""
    return ctx.catalog.text(ctx.lang, key, params, markup=False)


def number(idea_id: int) -> str:
    """An idea's public number as shown: never grouped like a count (#1234, not #1.234)."""
    return str(idea_id)
