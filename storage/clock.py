"""Times as the database keeps them: ISO 8601 text in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


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
