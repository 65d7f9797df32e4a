"""Moments as people type them ("12-12-2026 9:30", "2026-12-12 09:30", "morgen 9:00"), and
as they read them: the one place dates and times are written for people, in their language
(Babel, CLDR), from a moment already in the municipality's time zone (``ctx.local``).

Typed times are local (the municipality's time zone); the result is timezone-aware. Machine
formats (ISO 8601 in exports, iCalendar) are not made here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from babel.dates import format_date, format_skeleton, format_time

from handlers.locales import babel_locale

_TIME = r"(?:om\s+|at\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(?:uur|u|h)?"
#: A comma may follow the day: "12-12-2026, 19:30", or "١٢-١٢-٢٠٢٦، ١٩:٣٠" from an Arabic
#: keyboard (its own comma; digits of any script are read as the digits they are).
_DAY_FIRST = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}})\s*[,،]?\s+{_TIME}$")
_YEAR_FIRST = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:\s+|t){_TIME}$")
_RELATIVE = re.compile(rf"^(vandaag|today|morgen|tomorrow|overmorgen)\s+{_TIME}$")
_DAYS_AHEAD = {"vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2}


def parse_moment(text: str, now: datetime) -> datetime | None:
    """The moment meant by ``text``, in ``now``'s time zone, or None when it is unclear.

    ``now`` is the current moment in the local time zone (for "morgen 9:00"). A clock time
    that exists twice (the hour the clocks go back) is its first time, unless that passed
    and the second is still to come: then that one, the time meant by someone typing it
    during that hour. Compare the result with others in UTC (``astimezone``): two moments
    in the same zone compare by their clock times, and those repeat in that hour.
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
    first = datetime.combine(on, at, tzinfo=now.tzinfo)
    second = first.replace(fold=1)
    try:
        first.astimezone(UTC)
    except OverflowError:
        # The first hours of the year 1 (local time ahead of UTC): no moment to compare.
        return None
    if first.utcoffset() != second.utcoffset() and (
        first.astimezone(UTC) <= now.astimezone(UTC) < second.astimezone(UTC)
    ):
        return second
    return first


def within_a_year(moment: datetime, now: datetime) -> bool:
    """Whether a typed ``moment`` is at most a year after ``now`` (a local moment): on or
    before the same day next year where the municipality is, at any time of that day.

    The one rule for "too far ahead" wherever a moment is typed. A year from the 29th of
    February ends on the 28th (the last day of February next year).
    """
    today = now.date()
    try:
        last = today.replace(year=today.year + 1)
    except ValueError:
        last = today.replace(year=today.year + 1, day=28)
    return moment.astimezone(now.tzinfo).date() <= last


def typed(moment: datetime) -> str:
    """A local moment written the way :func:`parse_moment` reads it back."""
    return f"{moment:%Y-%m-%d %H:%M}"


def example(moment: datetime) -> str:
    """A local moment as people are asked to type one (the one example format)."""
    return f"{moment:%d-%m-%Y %H:%M}"


def typed_day(moment: date) -> str:
    """A day the way people type it ("12-12-2026"), for an example beside a question."""
    return f"{moment:%d-%m-%Y}"


def day(moment: date, lang: str) -> str:
    """A day as people read it: "4 dec 2026", "4 Dec 2026", "4 Ara 2026"."""
    calendar_day = moment.date() if isinstance(moment, datetime) else moment
    return _day(calendar_day, lang)


@lru_cache(maxsize=4096)
def _day(moment: date, lang: str) -> str:
    # Every card and list line shows a few days, mostly the same recent ones; Babel takes
    # some 20 microseconds to write one.
    return format_date(moment, "medium", locale=babel_locale(lang))


def day_month(moment: date, lang: str) -> str:
    """A day in the coming weeks, without its year: "4 dec", "4 Dec"."""
    return format_skeleton("MMMd", moment, locale=babel_locale(lang))


def clock(moment: datetime, lang: str) -> str:
    """A time of day: "10:05"; "10:05 ص" in Arabic."""
    return format_time(moment, "short", tzinfo=moment.tzinfo, locale=babel_locale(lang))


def moment(moment: datetime, lang: str) -> str:
    """A local moment as people read it: "4 dec 2026, 10:05"."""
    return _together(day(moment, lang), clock(moment, lang), lang)


def recent(moment: datetime, lang: str) -> str:
    """A moment of the last weeks, without its year: "4 dec, 10:05"."""
    return _together(day_month(moment, lang), clock(moment, lang), lang)


def _together(on: str, at: str, lang: str) -> str:
    pattern = babel_locale(lang).datetime_formats["medium"]
    return str(pattern).replace("{1}", on).replace("{0}", at)


# A span of time in a message stored once and read later (the outbox), perhaps by many
# people in many languages: kept as its moments, written when it is shown. -----------------

#: The key of a Reply parameter that is a span of local time (see :func:`span`).
SPAN = "span"


def span(starts: datetime, ends: datetime) -> dict[str, list[str]]:
    """A Reply parameter for "8 dec 2026, 19:30–21:30", written in the reader's language
    when the message is shown (:func:`shown`). ``starts`` and ``ends`` are local moments;
    they are kept with their offset, so the time read is the local one."""
    return {SPAN: [starts.isoformat(), ends.isoformat()]}


def shown(value: dict[str, object], lang: str) -> str | None:
    """A parameter made by :func:`span` in ``lang``; None for any other mapping."""
    moments = value.get(SPAN)
    if len(value) != 1 or not isinstance(moments, list) or len(moments) != 2:
        return None
    try:
        starts, ends = (datetime.fromisoformat(str(moment)) for moment in moments)
    except ValueError:
        return None
    if ends.date() == starts.date():
        return f"{moment(starts, lang)}–{clock(ends, lang)}"
    return f"{moment(starts, lang)}–{moment(ends, lang)}"
