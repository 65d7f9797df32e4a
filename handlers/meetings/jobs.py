"""The reminders of a meeting: a day before it begins and an hour before, to everyone with a
place. The scheduler only triggers them (job ``meeting:<id>``); each registration records
which reminder it had, so a restart, or the job running twice, sends nothing twice.

    registered ──its clock time, the day before──► day reminder ──starts - 1 hour──► hour reminder
    (the bot was down past the hour mark: only the hour reminder; past the start: none;
     on the meeting's own day the day's "tomorrow" is not sent)

"The day before" and "its own day" are calendar days where the meeting takes place (the
municipality's time zone), not 24 hours: around a change of the clocks those differ.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from handlers.contract import Timer
from handlers.meetings.shown import by_given_up, moved_up, reminder
from handlers.profile import Profile
from storage import Repositories
from storage.meetings.meetings import HOUR_BEFORE, Meeting, Place, Reminder, day_before

log = logging.getLogger(__name__)


def job(meeting_id: int) -> str:
    """The timer job of one meeting."""
    return f"meeting:{meeting_id}"


async def next_moment(repos: Repositories, meeting: Meeting, zone: ZoneInfo) -> datetime | None:
    """When the meeting's job should run next (None: no reminder left to send)."""
    if meeting.cancelled:
        return None
    if await repos.meetings.to_remind(meeting.id, Reminder.DAY):
        return day_before(meeting.starts_at, zone)
    if await repos.meetings.to_remind(meeting.id, Reminder.HOUR):
        return meeting.starts_at - HOUR_BEFORE
    return None


async def timer(repos: Repositories, meeting_id: int, zone: ZoneInfo) -> Timer:
    """The timer of a meeting as its registrations are now (call after changing them)."""
    meeting = await repos.meetings.get(meeting_id)
    at = await next_moment(repos, meeting, zone) if meeting is not None else None
    return Timer(job=job(meeting_id), at=at)


async def pending(repos: Repositories, zone: ZoneInfo) -> list[tuple[int, datetime]]:
    """(id, when) of every meeting with a reminder still to send (for start-up)."""
    found = []
    for meeting in await repos.meetings.with_reminders():
        at = await next_moment(repos, meeting, zone)
        if at is not None:
            found.append((meeting.id, at))
    return found


async def remind(
    repos: Repositories, profile: Profile, zone: ZoneInfo, meeting_id: int, now: datetime
) -> list[Timer]:
    """Send whichever reminder is due; returns the timer for the next one.

    A place left free without a cancellation (its holder erased their data) is given to
    the first waiting here too, before the reminder, so they get it and are reminded.
    """
    async with repos.db.transaction():
        meeting = await repos.meetings.get(meeting_id)
        if meeting is None or meeting.cancelled:
            return [Timer(job=job(meeting_id), at=None)]
        await pass_on(repos, profile, zone, [meeting_id], now)
        day = await repos.meetings.to_remind(meeting_id, Reminder.DAY)
        hour = await repos.meetings.to_remind(meeting_id, Reminder.HOUR)
        if now >= meeting.starts_at:
            # It began (the bot was down): a reminder now would come too late.
            await repos.meetings.mark_reminded(meeting_id, day, Reminder.DAY, now)
            await repos.meetings.mark_reminded(meeting_id, hour, Reminder.HOUR, now)
        elif now >= meeting.starts_at - HOUR_BEFORE:
            await _send(repos, meeting, zone, hour, hour=True, now=now)
            await repos.meetings.mark_reminded(meeting_id, day, Reminder.DAY, now)
            await repos.meetings.mark_reminded(meeting_id, hour, Reminder.HOUR, now)
        elif now >= day_before(meeting.starts_at, zone):
            # It says "tomorrow": on the meeting's own day (the bot was down) it is skipped,
            # and the hour's reminder is the one to come.
            if now < its_day(meeting, zone):
                await _send(repos, meeting, zone, day, hour=False, now=now)
            await repos.meetings.mark_reminded(meeting_id, day, Reminder.DAY, now)
        return [await timer(repos, meeting_id, zone)]


def its_day(meeting: Meeting, zone: ZoneInfo) -> datetime:
    """The moment the meeting's day begins where it takes place (in UTC)."""
    local = meeting.starts_at.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)


async def held(repos: Repositories, user_id: int, now: datetime) -> list[int]:
    """The meetings to come where this person holds a place (not a spot on a waiting list)."""
    mine = await repos.meetings.mine(user_id, now)
    return [meeting_id for meeting_id, place in mine.items() if place is Place.GOING]


async def pass_on(
    repos: Repositories, profile: Profile, zone: ZoneInfo, meeting_ids: list[int], now: datetime
) -> int:
    """Give the places left free without a cancellation (their holder's data was erased) to
    whoever waited first, and tell them, as a cancellation does; returns how many moved up.

    Call it inside a transaction.
    """
    told = 0
    for meeting_id in meeting_ids:
        moved = await repos.meetings.fill(meeting_id, now, zone=zone)
        meeting = await repos.meetings.get(meeting_id)
        if not moved or meeting is None:
            continue
        given_up = await repos.meetings.given_up(meeting_id, moved)
        for times, group in by_given_up(moved, given_up).items():
            told_up = moved_up(meeting, profile, now, zone, given_up=times)
            await repos.outbox.fan_out(
                group,
                [reply.model_dump(mode="json") for reply in told_up],
                kind="meeting",
                batch=f"meeting:{meeting_id}:moved",
                now=now,
                expires_at=meeting.starts_at,
            )
        told += len(moved)
    return told


async def unreachable(
    repos: Repositories, profile: Profile, zone: ZoneInfo, user_id: int, now: datetime
) -> int:
    """Someone turned out unreachable (they blocked the bot): a place they moved up into
    whose message never reached them goes to the next waiting who can be told, who is told;
    they keep their turn on the waitlist (:meth:`storage.meetings.meetings.Meetings.unannounced`).
    Returns how many moved up. Runs inside the transaction that marks them unreachable.
    """
    meetings = await repos.meetings.unannounced(user_id, now)
    if not meetings:
        return 0
    moved = await pass_on(repos, profile, zone, meetings, now)
    log.info(
        "places unreachable people never heard of passed on meetings=%d moved_up=%d",
        len(meetings),
        moved,
    )
    return moved


async def _send(
    repos: Repositories,
    meeting: Meeting,
    zone: ZoneInfo,
    people: list[int],
    *,
    hour: bool,
    now: datetime,
) -> None:
    if not people:
        return
    payload = [reminder(meeting, zone, hour=hour).model_dump(mode="json")]
    which = "hour" if hour else "day"
    queued = await repos.outbox.fan_out(
        people,
        payload,
        kind="meeting",
        batch=f"meeting:{meeting.id}:{which}",
        now=now,
        # A reminder after it began is worse than none; "tomorrow" is untrue on the day.
        expires_at=meeting.starts_at if hour else its_day(meeting, zone),
    )
    log.info("meeting reminder id=%d which=%s queued=%d", meeting.id, which, queued)
