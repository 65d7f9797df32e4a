"""Meetings (bijeenkomsten) and who registered for them.

A registration is ``going`` (has a place) or ``waiting`` (on the waitlist, in the order people
asked). When someone with a place cancels, the first on the waitlist gets it, in the same
transaction: :meth:`Meetings.cancel_registration` says who moved up, so the handler can tell
them. Reminders are stored per registration (sent or skipped), so a restart neither repeats
nor forgets one.

How often someone gave up their place at a meeting is kept apart from the registration
(which giving up deletes): each time, their calendar was sent a file that took the meeting
out, and every file after it must count higher for their calendar to read it (see
:func:`handlers.meetings.shown.sequence`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.clock import days_later, iso, parse
from storage.community.moderation import NOT_BANNED
from storage.db import Database
from storage.privacy.open_data import PUBLIC_AUDIENCES

#: The last reminder goes an hour before the meeting begins (the other: :func:`day_before`).
HOUR_BEFORE = timedelta(hours=1)


def day_before(starts: datetime, zone: tzinfo) -> datetime:
    """When the day's reminder ("tomorrow") goes: at the meeting's clock time on the day
    before, where it takes place (returned in UTC).

    Not simply 24 hours before: across a change of the clocks that is an hour off, and for
    a meeting around midnight it falls two days before or on the meeting's own day. A clock
    time that does not exist on the day before (the hour skipped in spring) reads as the
    time of the old offset, an hour later on the clock, still on that day.
    """
    return days_later(starts, -1, zone)


class MeetingStatus(StrEnum):
    PLANNED = "planned"
    CANCELLED = "cancelled"


class Place(StrEnum):
    GOING = "going"
    WAITING = "waiting"


class Reminder(StrEnum):
    """The two reminders, by the column that records them."""

    DAY = "reminded_day_at"
    HOUR = "reminded_hour_at"


class MeetingDraft(BaseModel):
    """What staff filled in for a meeting."""

    title: str
    description: str
    address: str | None = None
    map_link: str | None = None
    online_link: str | None = None
    neighbourhood: str | None = None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    experiment_id: int | None = None
    theme: str | None = None
    lang: str = "nl"


class Meeting(MeetingDraft):
    """A meeting as stored, with how many come and wait."""

    id: int
    broadcast_id: int | None
    author_user_id: int | None
    status: MeetingStatus
    version: int
    created_at: datetime
    going: int = 0
    waiting: int = 0

    @property
    def full(self) -> bool:
        return self.going >= self.capacity

    @property
    def cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED


class Registration(BaseModel):
    """One person's place at a meeting (or on its waitlist)."""

    meeting_id: int
    user_id: int
    status: Place
    registered_at: datetime
    #: Their number on the waitlist (1 is next), for those waiting.
    position: int | None = None


class Subject(BaseModel):
    """One thing meetings can be about: an experiment, a theme or a neighbourhood."""

    model_config = ConfigDict(frozen=True)

    column: Literal["experiment_id", "theme", "neighbourhood"]
    value: int | str


class Subjects(BaseModel):
    """What upcoming meetings are about, each thing once."""

    experiments: set[int]
    themes: set[str]
    neighbourhoods: set[str]


class MeetingPage(BaseModel):
    """A page of meetings, and how many there are on all pages together."""

    total: int
    meetings: list[Meeting]


_COUNTS = (
    "(SELECT COUNT(*) FROM meeting_registrations r WHERE r.meeting_id = m.id"
    " AND r.status = 'going') AS going,"
    " (SELECT COUNT(*) FROM meeting_registrations r WHERE r.meeting_id = m.id"
    " AND r.status = 'waiting') AS waiting"
)


def _meeting(row: aiosqlite.Row) -> Meeting:
    starts, ends, created = (
        parse(row["starts_at"]),
        parse(row["ends_at"]),
        parse(row["created_at"]),
    )
    assert starts is not None and ends is not None and created is not None
    return Meeting(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        address=row["address"],
        map_link=row["map_link"],
        online_link=row["online_link"],
        neighbourhood=row["neighbourhood"],
        starts_at=starts,
        ends_at=ends,
        capacity=row["capacity"],
        experiment_id=row["experiment_id"],
        theme=row["theme"],
        lang=row["lang"],
        broadcast_id=row["broadcast_id"],
        author_user_id=row["author_user_id"],
        status=MeetingStatus(row["status"]),
        version=row["version"],
        created_at=created,
        going=row["going"],
        waiting=row["waiting"],
    )


class Meetings:
    """The meetings, meeting_registrations and meeting_places_given_up tables."""

    def __init__(self, db: Database):
        self.db = db

    # Meetings ---------------------------------------------------------------------------------

    async def create(self, draft: MeetingDraft, author_user_id: int, now: datetime) -> int:
        return await self.db.execute(
            "INSERT INTO meetings (title, description, address, map_link, online_link,"
            " neighbourhood, starts_at, ends_at, capacity, experiment_id, theme, lang,"
            " author_user_id, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?)",
            (
                draft.title,
                draft.description,
                draft.address,
                draft.map_link,
                draft.online_link,
                draft.neighbourhood,
                iso(draft.starts_at),
                iso(draft.ends_at),
                draft.capacity,
                draft.experiment_id,
                draft.theme,
                draft.lang,
                author_user_id,
                iso(now),
                iso(now),
            ),
        )

    async def set_broadcast(self, meeting_id: int, broadcast_id: int) -> None:
        await self.db.execute(
            "UPDATE meetings SET broadcast_id = ? WHERE id = ?", (broadcast_id, meeting_id)
        )

    async def get(self, meeting_id: int) -> Meeting | None:
        row = await self.db.fetchone(
            f"SELECT m.*, {_COUNTS} FROM meetings m WHERE m.id = ?", (meeting_id,)
        )
        return _meeting(row) if row else None

    async def upcoming(
        self,
        now: datetime,
        *,
        about: Subject | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> MeetingPage:
        """A page of the planned meetings that have not ended yet, soonest first, perhaps
        only those of one experiment, theme or neighbourhood; with how many there are."""
        where = "m.status = 'planned' AND m.ends_at > ?"
        params: list[object] = [iso(now)]
        if about is not None:
            where += f" AND m.{about.column} = ?"
            params.append(about.value)
        total = await self.db.fetchval(f"SELECT COUNT(*) FROM meetings m WHERE {where}", params)
        rows = await self.db.fetchall(
            f"SELECT m.*, {_COUNTS} FROM meetings m WHERE {where}"
            " ORDER BY m.starts_at, m.id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return MeetingPage(total=int(total or 0), meetings=[_meeting(row) for row in rows])

    async def ended(self, now: datetime, *, limit: int = 20, offset: int = 0) -> MeetingPage:
        """A page of the planned meetings that ended by ``now``, the latest first (for staff
        to read afterwards who came); with how many there are."""
        where = "m.status = 'planned' AND m.ends_at <= ?"
        total = await self.db.fetchval(
            f"SELECT COUNT(*) FROM meetings m WHERE {where}", (iso(now),)
        )
        rows = await self.db.fetchall(
            f"SELECT m.*, {_COUNTS} FROM meetings m WHERE {where}"
            " ORDER BY m.starts_at DESC, m.id DESC LIMIT ? OFFSET ?",
            (iso(now), limit, offset),
        )
        return MeetingPage(total=int(total or 0), meetings=[_meeting(row) for row in rows])

    async def upcoming_subjects(self, now: datetime) -> Subjects:
        """What the planned meetings that have not ended yet are about: their experiments,
        themes and neighbourhoods (to offer only filters that show something)."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT experiment_id, theme, neighbourhood FROM meetings"
            " WHERE status = 'planned' AND ends_at > ?",
            (iso(now),),
        )
        return Subjects(
            experiments={int(r[0]) for r in rows if r[0] is not None},
            themes={str(r[1]) for r in rows if r[1] is not None},
            neighbourhoods={str(r[2]) for r in rows if r[2] is not None},
        )

    async def move(
        self,
        meeting_id: int,
        starts_at: datetime,
        ends_at: datetime,
        now: datetime,
        *,
        zone: tzinfo,
    ) -> bool:
        """Give a planned meeting that has not begun another time; the reminders start
        over for everyone. False when it was cancelled, has begun by ``now``, or is gone.
        ``zone`` is where it takes place (whose day "tomorrow" is)."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE meetings SET starts_at = ?, ends_at = ?, version = version + 1,"
            " updated_at = ? WHERE id = ? AND status = 'planned' AND starts_at > ?",
            (iso(starts_at), iso(ends_at), stamp, meeting_id, stamp),
        )
        if changed != 1:
            return False
        await self._published_changed(meeting_id)
        # The reminders start over for the new time (those whose moment already passed are
        # skipped, as for a place given now); when each person got their place stays as it
        # was (their data shows it).
        day, hour = self._passed(starts_at, now, zone)
        await self.db.execute(
            "UPDATE meeting_registrations SET"
            " reminded_day_at = CASE WHEN status = 'going' THEN ? END,"
            " reminded_hour_at = CASE WHEN status = 'going' THEN ? END"
            " WHERE meeting_id = ?",
            (day, hour, meeting_id),
        )
        return True

    async def cancel(self, meeting_id: int, now: datetime) -> list[int] | None:
        """Cancel a planned meeting that has not begun; returns who was registered or
        waiting (their registrations are removed), or None when it was not planned or had
        begun by ``now`` (a meeting that took place stays as it was, with its people)."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE meetings SET status = 'cancelled', version = version + 1, updated_at = ?"
            " WHERE id = ? AND status = 'planned' AND starts_at > ?",
            (stamp, meeting_id, stamp),
        )
        if changed != 1:
            return None
        await self._published_changed(meeting_id)
        people = await self.people(meeting_id)
        await self.db.execute(
            "DELETE FROM meeting_registrations WHERE meeting_id = ?", (meeting_id,)
        )
        # No file about it goes to anyone after the one that says it is cancelled.
        await self.db.execute(
            "DELETE FROM meeting_places_given_up WHERE meeting_id = ?", (meeting_id,)
        )
        return people

    async def _published_changed(self, meeting_id: int) -> None:
        """The public site and feed show an invitation everyone could read with its meeting's
        time and whether it goes ahead: a move or cancellation makes the published folder
        stale, so it is made again within minutes, not at the weekly export (see
        :class:`storage.privacy.open_data.OpenData`)."""
        marks = ", ".join("?" for _ in PUBLIC_AUDIENCES)
        await self.db.execute(
            "UPDATE open_data_state SET changes = changes + 1 WHERE id = 1 AND EXISTS"
            " (SELECT 1 FROM news n JOIN meetings m ON m.broadcast_id = n.broadcast_id"
            f" WHERE m.id = ? AND n.audience_kind IN ({marks}))",
            (meeting_id, *PUBLIC_AUDIENCES),
        )

    # Registrations ----------------------------------------------------------------------------

    async def registration(self, meeting_id: int, user_id: int) -> Registration | None:
        row = await self.db.fetchone(
            "SELECT r.*, CASE WHEN r.status = 'waiting' THEN (SELECT COUNT(*)"
            " FROM meeting_registrations w WHERE w.meeting_id = r.meeting_id"
            " AND w.status = 'waiting' AND (w.registered_at, w.user_id)"
            " <= (r.registered_at, r.user_id)) END AS position"
            " FROM meeting_registrations r WHERE r.meeting_id = ? AND r.user_id = ?",
            (meeting_id, user_id),
        )
        if row is None:
            return None
        registered = parse(row["registered_at"])
        assert registered is not None
        return Registration(
            meeting_id=row["meeting_id"],
            user_id=row["user_id"],
            status=Place(row["status"]),
            registered_at=registered,
            position=row["position"],
        )

    async def register(
        self, meeting_id: int, user_id: int, now: datetime, *, zone: tzinfo
    ) -> tuple[Place, list[int]] | None:
        """Register for a planned meeting that has not begun: a place while there is one,
        else the waitlist. Returns their place and who else got one just now (a place left
        free, by an erasure, goes to who waited first, not to whoever asks next); None when
        the meeting is not open for it or they are registered already."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "INSERT INTO meeting_registrations (meeting_id, user_id, status, registered_at)"
            " SELECT m.id, :user_id, 'waiting', :now FROM meetings m WHERE m.id = :meeting_id"
            " AND m.status = 'planned' AND m.starts_at > :now ON CONFLICT DO NOTHING",
            {"meeting_id": meeting_id, "user_id": user_id, "now": stamp},
        )
        if changed != 1:
            return None
        moved = await self.fill(meeting_id, now, zone=zone)
        found = await self.registration(meeting_id, user_id)
        assert found is not None
        return found.status, [other for other in moved if other != user_id]

    async def _placed(self, meeting_id: int, user_id: int, now: datetime, zone: tzinfo) -> None:
        """They have a place from now on: reminders whose moment already passed are skipped."""
        starts = parse(
            await self.db.fetchval("SELECT starts_at FROM meetings WHERE id = ?", (meeting_id,))
        )
        assert starts is not None
        day, hour = self._passed(starts, now, zone)
        await self.db.execute(
            "UPDATE meeting_registrations SET status = 'going', placed_at = ?,"
            " reminded_day_at = ?, reminded_hour_at = ? WHERE meeting_id = ? AND user_id = ?",
            (iso(now), day, hour, meeting_id, user_id),
        )

    @staticmethod
    def _passed(starts: datetime, now: datetime, zone: tzinfo) -> tuple[str | None, str | None]:
        """(day, hour): ``now`` as the record of a reminder whose moment passed already
        (it is skipped), None for one still to come."""
        stamp = iso(now)
        return (
            stamp if day_before(starts, zone) <= now else None,
            stamp if starts - HOUR_BEFORE <= now else None,
        )

    async def cancel_registration(
        self, meeting_id: int, user_id: int, now: datetime, *, zone: tzinfo
    ) -> tuple[Place, int | None] | None:
        """Cancel someone's registration; returns what they had and who moved up into the
        place they left (if anyone), or None when they were not registered. Giving up a
        place counts in :meth:`given_up` (a spot on the waitlist does not: no calendar
        file had put it in their calendar)."""
        found = await self.registration(meeting_id, user_id)
        if found is None:
            return None
        await self.db.execute(
            "DELETE FROM meeting_registrations WHERE meeting_id = ? AND user_id = ?",
            (meeting_id, user_id),
        )
        if found.status is Place.GOING:
            await self.db.execute(
                "INSERT INTO meeting_places_given_up (meeting_id, user_id, times, last_at)"
                " VALUES (?, ?, 1, ?) ON CONFLICT (meeting_id, user_id)"
                " DO UPDATE SET times = times + 1, last_at = excluded.last_at",
                (meeting_id, user_id, iso(now)),
            )
        moved = await self.fill(meeting_id, now, zone=zone) if found.status is Place.GOING else []
        return found.status, (moved[0] if moved else None)

    async def fill(self, meeting_id: int, now: datetime, *, zone: tzinfo) -> list[int]:
        """Give free places of a planned meeting that has not begun to the first waiting
        (``zone``: where it takes place, whose day the day's reminder goes on).

        Someone waiting whom the bot cannot reach now (they blocked it) is passed over: they
        would never hear the place is theirs, and the next one waiting could have used it.
        They keep their turn, for the next place once they are back. So is someone banned,
        who may not sign up either (their turn is kept, should the ban be lifted)."""
        meeting = await self.get(meeting_id)
        if meeting is None or meeting.cancelled or meeting.starts_at <= now:
            return []
        free = meeting.capacity - meeting.going
        if free <= 0:
            return []
        rows = await self.db.fetchall(
            "SELECT r.user_id FROM meeting_registrations r JOIN users u ON u.id = r.user_id"
            " WHERE r.meeting_id = ? AND r.status = 'waiting' AND u.unreachable_at IS NULL"
            f" AND {NOT_BANNED} ORDER BY r.registered_at, r.user_id LIMIT ?",
            (meeting_id, free),
        )
        moved = [int(row[0]) for row in rows]
        for user_id in moved:
            await self._placed(meeting_id, user_id, now, zone)
        return moved

    async def unannounced(self, user_id: int, now: datetime) -> list[int]:
        """Put this person, who cannot be reached any more, back on the waitlist of every
        meeting to come where they moved up into a place and the message saying so never
        reached them (still waiting to be sent, or it met their block; none of its parts
        arrived); returns those meetings, whose places are free again for the next waiting
        (:meth:`fill`).

        They never knew the place was theirs, and would not come: kept, it is lost to whoever
        waits behind them. They keep their turn (when they registered), as anyone waiting
        who cannot be reached does. A place they asked for themselves, or whose message
        reached them, stays theirs.
        """
        rows = await self.db.fetchall(
            "SELECT r.meeting_id FROM meeting_registrations r"
            " JOIN meetings m ON m.id = r.meeting_id"
            " WHERE r.user_id = ?1 AND r.status = 'going' AND m.status = 'planned'"
            " AND m.starts_at > ?2 AND r.placed_at IS NOT NULL AND EXISTS (SELECT 1 FROM"
            " (SELECT o.status, o.parts_sent FROM outbox o WHERE o.user_id = r.user_id"
            " AND o.batch = 'meeting:' || r.meeting_id || ':moved'"
            " AND o.created_at >= r.placed_at ORDER BY o.id DESC LIMIT 1) last"
            " WHERE last.status IN ('pending', 'unreachable') AND last.parts_sent = 0)"
            " ORDER BY r.meeting_id",
            (user_id, iso(now)),
        )
        meetings = [int(row[0]) for row in rows]
        for meeting_id in meetings:
            await self.db.execute(
                "UPDATE meeting_registrations SET status = 'waiting', placed_at = NULL,"
                " reminded_day_at = NULL, reminded_hour_at = NULL"
                " WHERE meeting_id = ? AND user_id = ?",
                (meeting_id, user_id),
            )
        return meetings

    async def given_up(self, meeting_id: int, user_ids: Collection[int]) -> dict[int, int]:
        """How often each of these people gave up a place at this meeting (0 for most)."""
        counts = dict.fromkeys(user_ids, 0)
        rows = await self.db.fetchall(
            "SELECT user_id, times FROM meeting_places_given_up WHERE meeting_id = ?"
            " AND user_id IN (SELECT value FROM json_each(?))",
            (meeting_id, json.dumps(sorted(counts))),
        )
        counts.update({int(row[0]): int(row[1]) for row in rows})
        return counts

    async def people(self, meeting_id: int) -> list[int]:
        """Everyone registered or waiting."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM meeting_registrations WHERE meeting_id = ?"
            " ORDER BY registered_at, user_id",
            (meeting_id,),
        )
        return [int(row[0]) for row in rows]

    async def guests(self, meeting_id: int) -> list[tuple[str, Place]]:
        """(chat name, place) of everyone registered, in the order they registered."""
        rows = await self.db.fetchall(
            "SELECT u.display_name, r.status FROM meeting_registrations r"
            " JOIN users u ON u.id = r.user_id WHERE r.meeting_id = ?"
            " ORDER BY r.status = 'waiting', r.registered_at, r.user_id",
            (meeting_id,),
        )
        return [(str(row[0] or ""), Place(row[1])) for row in rows]

    async def mine(self, user_id: int, now: datetime) -> dict[int, Place]:
        """The meetings this person is registered for that have not ended, and their place."""
        rows = await self.db.fetchall(
            "SELECT r.meeting_id, r.status FROM meeting_registrations r"
            " JOIN meetings m ON m.id = r.meeting_id WHERE r.user_id = ? AND m.ends_at > ?",
            (user_id, iso(now)),
        )
        return {int(row[0]): Place(row[1]) for row in rows}

    # Reminders and clean-up -------------------------------------------------------------------

    async def to_remind(self, meeting_id: int, reminder: Reminder) -> list[int]:
        """Who has a place and has not had this reminder."""
        rows = await self.db.fetchall(
            f"SELECT user_id FROM meeting_registrations WHERE meeting_id = ?"
            f" AND status = 'going' AND {reminder.value} IS NULL ORDER BY user_id",
            (meeting_id,),
        )
        return [int(row[0]) for row in rows]

    async def mark_reminded(
        self, meeting_id: int, user_ids: list[int], reminder: Reminder, now: datetime
    ) -> None:
        for user_id in user_ids:
            await self.db.execute(
                f"UPDATE meeting_registrations SET {reminder.value} = ?"
                " WHERE meeting_id = ? AND user_id = ?",
                (iso(now), meeting_id, user_id),
            )

    async def with_reminders(self) -> list[Meeting]:
        """Planned meetings with a reminder still to send."""
        rows = await self.db.fetchall(
            f"SELECT m.*, {_COUNTS} FROM meetings m WHERE m.status = 'planned' AND EXISTS"
            " (SELECT 1 FROM meeting_registrations r WHERE r.meeting_id = m.id"
            " AND r.status = 'going'"
            " AND (r.reminded_day_at IS NULL OR r.reminded_hour_at IS NULL))"
        )
        return [_meeting(row) for row in rows]

    async def forget_registrations(self, ended_before: datetime) -> int:
        """Remove the registrations of meetings that ended before then (and how often
        people gave up a place there); returns how many registrations."""
        await self.db.execute(
            "DELETE FROM meeting_places_given_up WHERE meeting_id IN"
            " (SELECT id FROM meetings WHERE ends_at < ?)",
            (iso(ended_before),),
        )
        return await self.db.execute_rowcount(
            "DELETE FROM meeting_registrations WHERE meeting_id IN"
            " (SELECT id FROM meetings WHERE ends_at < ?)",
            (iso(ended_before),),
        )

    async def published(self) -> list[Meeting]:
        """Every meeting that was not cancelled (for open data: no registrations, no names)."""
        rows = await self.db.fetchall(
            f"SELECT m.*, {_COUNTS} FROM meetings m WHERE m.status = 'planned'"
            " ORDER BY m.starts_at, m.id"
        )
        return [_meeting(row) for row in rows]
