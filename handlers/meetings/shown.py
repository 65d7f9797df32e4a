"""How a meeting looks to people: its card, the invitation, the reminders, the calendar file.

Shown times are local (the municipality's time zone): in the reader's language on a card
shown to one person, in numbers only in a message stored once for many (an invitation, a
reminder), so that it reads the same in every language. The calendar file carries the start and end
in that time zone with its VTIMEZONE, a stable UID per meeting and a SEQUENCE that grows with
every change, so a calendar app updates the entry it already has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import handlers.when as shown_time
from handlers.contract import Button, Document, Reply
from handlers.profile import Profile
from storage.meetings.meetings import Meeting, MeetingDraft


def when(meeting: MeetingDraft, zone: ZoneInfo, lang: str | None = None) -> str:
    """ "12 dec 2026, 19:30–21:00" in the reader's language (the end's day too when it ends
    on another day); without a language, in numbers only ("2026-12-12 19:30–21:00"), for a
    message stored once and read in every language."""
    starts, ends = meeting.starts_at.astimezone(zone), meeting.ends_at.astimezone(zone)
    same_day = ends.date() == starts.date()
    if lang is None:
        first = shown_time.typed(starts)
        last = shown_time.typed(ends)[-5:] if same_day else shown_time.typed(ends)
    else:
        first = shown_time.moment(starts, lang)
        last = shown_time.clock(ends, lang) if same_day else shown_time.moment(ends, lang)
    return f"{first}–{last}"


def where(meeting: MeetingDraft) -> str:
    """The address (with its map link), or the online link."""
    if meeting.online_link:
        return meeting.online_link
    address = meeting.address or ""
    return f"{address} ({meeting.map_link})" if meeting.map_link else address


def card(
    meeting: MeetingDraft,
    zone: ZoneInfo,
    *,
    lang: str | None = None,
    going: int = 0,
    waiting: int = 0,
    key: str = "meetings.card",
    buttons: list[list[Button]] | None = None,
) -> Reply:
    """A meeting as residents see it, with its places."""
    return Reply(
        key=key,
        params={
            "title": meeting.title,
            "when": when(meeting, zone, lang),
            "where": where(meeting),
            "description": meeting.description,
            "going": going,
            "capacity": meeting.capacity,
            "waiting": waiting,
        },
        buttons=buttons or [],
    )


def invitation(meeting: Meeting, zone: ZoneInfo, signature: Reply) -> Reply:
    """The "Wist je dat" that invites people to a meeting (stored as the broadcast)."""
    shown = card(
        meeting,
        zone,
        key="meetings.invitation",
        buttons=[
            [Button(label="meetings.btn_go", payload=f"mt.go:{meeting.id}")],
            [Button(label="meetings.btn_all", payload="mt.list")],
        ],
    )
    return shown.model_copy(update={"parts": [*shown.parts, signature]})


def reminder(meeting: Meeting, zone: ZoneInfo, *, hour: bool) -> Reply:
    """The reminder the day before, or the hour before."""
    return Reply(
        key="meetings.reminder_hour" if hour else "meetings.reminder_day",
        params={"title": meeting.title, "when": when(meeting, zone), "where": where(meeting)},
        buttons=[[Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")]],
    )


def calendar_file(meeting: Meeting, profile: Profile, now: datetime, zone: ZoneInfo) -> Document:
    """The meeting as an .ics file (RFC 5545), in the municipality's time zone."""
    # Imported when a file is made: icalendar is not needed to start answering.
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    calendar = Calendar()
    calendar.add("prodid", f"-//Samenspel//{profile.slug}//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = CalendarEvent()
    event.add("uid", f"meeting-{meeting.id}@{profile.slug}.samenspel")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", meeting.starts_at.astimezone(zone))
    event.add("dtend", meeting.ends_at.astimezone(zone))
    event.add("sequence", meeting.version)
    event.add("summary", meeting.title)
    event.add("description", meeting.description)
    event.add("location", meeting.online_link or meeting.address or "")
    if meeting.online_link or meeting.map_link:
        event.add("url", meeting.online_link or meeting.map_link)
    event.add("status", "CANCELLED" if meeting.cancelled else "CONFIRMED")
    calendar.add_component(event)
    # Only the rules around the meeting: a small file that still says what the offset is.
    first = meeting.starts_at.astimezone(zone).date()
    calendar.add_missing_timezones(
        first_date=date(first.year - 1, 1, 1), last_date=date(first.year + 2, 1, 1)
    )
    return Document(
        filename=f"bijeenkomst-{meeting.id}.ics",
        data=calendar.to_ical(),
        mime_type="text/calendar",
    )


def with_calendar(reply: Reply, document: Document) -> Reply:
    """A reply that carries the calendar file."""
    return reply.model_copy(update={"document": document})


def moved_up(meeting: Meeting, profile: Profile, now: datetime, zone: ZoneInfo) -> list[Reply]:
    """What someone from the waitlist hears when a place came free for them: the news and
    the calendar file."""
    return [
        Reply(
            key="meetings.moved_up",
            params={"title": meeting.title, "when": when(meeting, zone)},
            buttons=[[Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")]],
        ),
        with_calendar(Reply(key="meetings.calendar"), calendar_file(meeting, profile, now, zone)),
    ]
