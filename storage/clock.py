"""Times as the database keeps them: ISO 8601 text in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """A timezone-aware moment as stored text (UTC, seconds precision, trailing Z)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; attach a timezone")
    # isoformat is several times faster than strftime and gives the same text.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse(text: str | None) -> datetime | None:
    """Stored text back into an aware UTC datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def days_later(moment: datetime, days: int, zone: tzinfo) -> datetime:
    """The same clock time ``days`` calendar days later (earlier when negative) where
    ``zone`` is, in UTC: what a person means by "in two weeks" or "the day before".

    Not ``days`` times 24 hours: across a change of the clocks that is an hour off. A clock
    time that does not exist on that day (the hour skipped in spring) reads as the time of
    the old offset, an hour later on the clock, still on that day; one that exists twice
    (the hour repeated in autumn) is the first of the two.
    """
    local = moment.astimezone(zone)
    shifted = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)
    return shifted.astimezone(UTC)
