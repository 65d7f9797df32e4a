"""How a meeting looks to people: its card, the invitation, the reminders, the calendar file.

Shown times are local (the municipality's time zone), written in the reader's language when
the message is shown: a message stored once for many (an invitation, a reminder) keeps the
moments themselves (:func:`handlers.when.span`). The calendar file carries the start and end
in that time zone with its VTIMEZONE, a stable UID per meeting and a SEQUENCE that grows with
every change, so a calendar app updates the entry it already has. A cancelled meeting's file
is a cancellation (RFC 5546: METHOD:CANCEL, the same UID, a higher SEQUENCE): opened, it takes
the meeting out of the calendar instead of putting it in.

A calendar ignores a file whose SEQUENCE is lower than one it already read (RFC 5546 2.1.5),
so the SEQUENCE a person gets never goes down (:func:`sequence`): it counts the meeting's
changes and the times that person gave up their place, each of which sent them a file that
took the meeting out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import handlers.when as shown_time
from handlers.contract import Button, Document, Reply
from handlers.profile import Profile
from storage.meetings.meetings import HOUR_BEFORE, Meeting, MeetingDraft, day_before


def when(meeting: MeetingDraft, zone: ZoneInfo) -> dict[str, list[str]]:
    """The parameter that reads "12 dec 2026, 19:30–21:00" in the reader's language (the
    end's day too when it ends on another day), also in a message read days later."""
    return shown_time.span(meeting.starts_at.astimezone(zone), meeting.ends_at.astimezone(zone))


def reminders_to_come(meeting: Meeting, zone: ZoneInfo, now: datetime) -> list[Reply]:
    """What a place given ``now`` says about its reminders: only the ones still to come (a
    reminder whose moment passed is skipped for it, see ``Meetings._placed``)."""
    if now < day_before(meeting.starts_at, zone):
        return [Reply(key="meetings.remind_day_and_hour")]
    if now < meeting.starts_at - HOUR_BEFORE:
        return [Reply(key="meetings.remind_hour")]
    return []


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
    going: int = 0,
    waiting: int = 0,
    key: str = "meetings.card",
    buttons: list[list[Button]] | None = None,
) -> Reply:
    """A meeting as residents see it, with its places; its title and description as staff
    wrote them (with the note that says so, for a reader in another language)."""
    return Reply(
        key=key,
        original=True,
        params={
            "title": meeting.title,
            "when": when(meeting, zone),
            "where": where(meeting),
            "description": meeting.description,
            "going": going,
            "capacity": meeting.capacity,
            "waiting": waiting,
        },
        buttons=buttons or [],
    )


def invitation(meeting: Meeting, zone: ZoneInfo, signature: Reply) -> Reply:
    """The "Wist je dat" that invites people to a meeting (stored as the broadcast); once
    the meeting is cancelled, what the news shows of it instead (no "Ik kom")."""
    everything = [Button(label="meetings.btn_all", payload="mt.list")]
    if meeting.cancelled:
        shown = card(meeting, zone, key="meetings.invitation_cancelled", buttons=[everything])
    else:
        go = [Button(label="meetings.btn_go", payload=f"mt.go:{meeting.id}")]
        shown = card(meeting, zone, key="meetings.invitation", buttons=[go, everything])
    return shown.model_copy(update={"parts": [*shown.parts, signature]})


def reminder(meeting: Meeting, zone: ZoneInfo, *, hour: bool) -> Reply:
    """The reminder the day before, or the hour before."""
    return Reply(
        key="meetings.reminder_hour" if hour else "meetings.reminder_day",
        params={"title": meeting.title, "when": when(meeting, zone), "where": where(meeting)},
        buttons=[[Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")]],
    )


def sequence(meeting: Meeting, given_up: int, *, left: bool = False) -> int:
    """The SEQUENCE of the file a person gets now: the meeting's version (a move or its
    cancellation raises it), and two for each time they gave up their place before
    (``given_up``): one for the file that took it out (``left``: this one), one for the next
    file that puts it back. So every file a person gets counts higher than the one before it
    (or as high, when nothing changed), whatever happened in between."""
    return meeting.version + 2 * given_up + (1 if left and not meeting.cancelled else 0)


def by_given_up(user_ids: list[int], given_up: dict[int, int]) -> dict[int, list[int]]:
    """These people by how often they gave up their place (see :meth:`Meetings.given_up`):
    the people of one group get the same calendar file."""
    groups: dict[int, list[int]] = {}
    for user_id in user_ids:
        groups.setdefault(given_up.get(user_id, 0), []).append(user_id)
    return groups


def calendar_file(
    meeting: Meeting,
    profile: Profile,
    now: datetime,
    zone: ZoneInfo,
    *,
    given_up: int,
    left: bool = False,
) -> Document:
    """The meeting as an .ics file (RFC 5545), in the municipality's time zone: to put it in
    a calendar (or update it there), or, once cancelled or once the person gave up their
    place (``left``), to take it out again. ``given_up``: how often the person it is for
    gave up their place before (:func:`sequence`)."""
    # Imported when a file is made: icalendar is not needed to start answering.
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    calendar = Calendar()
    calendar.add("prodid", f"-//Samenspel//{profile.slug}//NL")
    calendar.add("version", "2.0")
    # The same UID and a higher SEQUENCE than the file that put it in, so a calendar app
    # knows which entry to remove.
    withdrawn = meeting.cancelled or left
    calendar.add("method", "CANCEL" if withdrawn else "PUBLISH")
    event = CalendarEvent()
    event.add("uid", f"meeting-{meeting.id}@{profile.slug}.samenspel")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", _in_file(meeting.starts_at, zone))
    event.add("dtend", _in_file(meeting.ends_at, zone))
    event.add("sequence", sequence(meeting, given_up, left=left))
    organizer = profile.publication.contact if profile.publication is not None else ""
    if "@" in organizer:
        # RFC 5546 asks for one on a published or cancelled event; some calendar apps
        # match a cancellation by it.
        event.add("organizer", f"mailto:{organizer}", parameters={"CN": profile.name("nl")})
    event.add("summary", meeting.title)
    event.add("description", meeting.description)
    event.add("location", meeting.online_link or meeting.address or "")
    if meeting.online_link or meeting.map_link:
        event.add("url", meeting.online_link or meeting.map_link)
    event.add("status", "CANCELLED" if withdrawn else "CONFIRMED")
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


def _in_file(moment: datetime, zone: ZoneInfo) -> datetime:
    """A moment as the calendar file gives it: on the municipality's clock, unless that
    clock shows its time twice (the hour the clocks go back) and it is the second time: a
    calendar reads such a time as the first (RFC 5545 3.3.5), so that one is given in UTC."""
    local = moment.astimezone(zone)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def calendar_reply(
    meeting: Meeting,
    profile: Profile,
    now: datetime,
    zone: ZoneInfo,
    *,
    given_up: int,
    left: bool = False,
) -> Reply:
    """The calendar file with the line that says what to do with it: put the meeting in the
    calendar, or, once it is cancelled or the person gave up their place, take it out."""
    key = "meetings.calendar_cancelled" if meeting.cancelled or left else "meetings.calendar"
    document = calendar_file(meeting, profile, now, zone, given_up=given_up, left=left)
    return Reply(key=key, document=document)


def moved_up(
    meeting: Meeting, profile: Profile, now: datetime, zone: ZoneInfo, *, given_up: int
) -> list[Reply]:
    """What someone from the waitlist hears when a place came free for them: the news and
    the calendar file (``given_up``: how often they gave up a place there before)."""
    return [
        Reply(
            key="meetings.moved_up",
            params={"title": meeting.title, "when": when(meeting, zone)},
            buttons=[[Button(label="meetings.btn_not_going", payload=f"mt.no:{meeting.id}")]],
            parts=reminders_to_come(meeting, zone, now),
        ),
        calendar_reply(meeting, profile, now, zone, given_up=given_up),
    ]
