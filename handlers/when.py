"""Moments as people type them ("12-12-2026 9:30", "2026-12-12 09:30", "morgen 9:00").

Typed times are local (the municipality's time zone); the result is timezone-aware.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_TIME = r"(?:om\s+|at\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(?:uur|u|h)?"
_DAY_FIRST = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}})\s*,?\s+{_TIME}$")
_YEAR_FIRST = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:\s+|t){_TIME}$")
_RELATIVE = re.compile(rf"^(vandaag|today|morgen|tomorrow|overmorgen)\s+{_TIME}$")
_DAYS_AHEAD = {"vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2}


def parse_moment(text: str, now: datetime) -> datetime | None:
    """The moment meant by ``text``, in ``now``'s time zone, or None when it is unclear.

    ``now`` is the current moment in the local time zone (for "morgen 9:00").
    """
    typed = " ".join(text.strip().lower().split())
    found = _DAY_FIRST.match(typed)
    if found:
        day, month, year, hour, minute = found.groups()
        return _build(now, year, month, day, hour, minute)
    found = _YEAR_FIRST.match(typed)
    if found:
        year, month, day, hour, minute = found.groups()
        return _build(now, year, month, day, hour, minute)
    found = _RELATIVE.match(typed)
    if found:
        word, hour, minute = found.groups()
        target = now.date() + timedelta(days=_DAYS_AHEAD[word])
        return _build(now, str(target.year), str(target.month), str(target.day), hour, minute)
    return None


def _build(
    now: datetime, year: str, month: str, day: str, hour: str, minute: str | None
) -> datetime | None:
    try:
        on = date(int(year), int(month), int(day))
        at = time(int(hour), int(minute or 0))
    except ValueError:
        return None
    return datetime.combine(on, at, tzinfo=now.tzinfo)


def typed(moment: datetime) -> str:
    """A local moment written the way :func:`parse_moment` reads it back."""
    return moment.strftime("%Y-%m-%d %H:%M")


def example(moment: datetime) -> str:
    """A local moment as people are asked to type one (the one example format)."""
    return moment.strftime("%d-%m-%Y %H:%M")


def date_parts(moment: datetime, months: str) -> dict[str, str]:
    """The pieces a catalog's date formats use; ``months`` lists the month names."""
    names = [name.strip() for name in months.split(",")]
    return {
        "day": str(moment.day),
        "dd": f"{moment.day:02d}",
        "mm": f"{moment.month:02d}",
        "month": names[moment.month - 1] if len(names) == 12 else f"{moment.month:02d}",
        "year": str(moment.year),
        "time": moment.strftime("%H:%M"),
    }
