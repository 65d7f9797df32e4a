"""Retention: residents who stay silent too long are warned, then erased.

The warning is stored with its time (``retention_notices``), so a restart neither repeats
nor forgets it. Anyone seen after their warning (``users.last_seen_at``) came back: they are
spared and their warning dropped, so a later silence starts the count again. Staff accounts
are left to the municipality: only people with the resident's role are counted, and a warned
resident given a staff role since (by the operator, while they stayed silent) is spared too.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

DEFAULT_RETENTION_MONTHS = 24
#: How long before the erasure a resident is warned: calendar days where the municipality
#: is (the date the warning names), see :func:`storage.clock.days_later`.
WARNING_DAYS = 30
#: The same as a span: who is warned has been silent this much less than the whole period.
WARNING = timedelta(days=WARNING_DAYS)


def months_before(moment: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier (the 31st becomes the month's end)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


class Notice(BaseModel):
    """A warning sent: when, and from when on the resident may be erased."""

    warned_at: datetime
    erase_after: datetime


_RESIDENT = "u.role = 'inwoner'"
_SILENT_RESIDENT = f"{_RESIDENT} AND u.last_seen_at < :silent_since"
#: A warned person who no longer waits for the erasure: seen since, or staff now.
_CAME_BACK = f"(u.last_seen_at > n.warned_at OR NOT {_RESIDENT})"


class Retention:
    """The retention_notices table, and the queries that find who is due."""

    def __init__(self, db: Database):
        self.db = db

    async def to_warn(self, silent_since: datetime) -> list[int]:
        """Residents who agreed to take part, silent since before then, not warned yet."""
        rows = await self.db.fetchall(
            f"SELECT u.id FROM users u WHERE {_SILENT_RESIDENT} AND u.consent_at IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM retention_notices n WHERE n.user_id = u.id)"
            " ORDER BY u.last_seen_at, u.id",
            {"silent_since": iso(silent_since)},
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def warn(
        self, user_id: int, silent_since: datetime, now: datetime, erase_after: datetime
    ) -> bool:
        """Record the warning, and from when on the resident may be erased, if this
        resident is still silent and not warned yet."""
        changed = await self.db.execute_rowcount(
            "INSERT INTO retention_notices (user_id, warned_at, erase_after)"
            f" SELECT u.id, :now, :erase_after FROM users u WHERE u.id = :user_id"
            f" AND {_SILENT_RESIDENT} ON CONFLICT DO NOTHING",
            {
                "user_id": user_id,
                "now": iso(now),
                "erase_after": iso(erase_after),
                "silent_since": iso(silent_since),
            },
        )
        return changed == 1

    async def returned(self) -> list[int]:
        """Warned residents who have been seen since their warning, or are staff now."""
        rows = await self.db.fetchall(
            "SELECT n.user_id FROM retention_notices n JOIN users u ON u.id = n.user_id"
            f" WHERE {_CAME_BACK} ORDER BY n.user_id",
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def forgive(self, user_id: int) -> bool:
        """Drop the warning of a resident who came back (or is staff now); False if they
        did not."""
        changed = await self.db.execute_rowcount(
            "DELETE FROM retention_notices AS n WHERE n.user_id = ? AND EXISTS"
            f" (SELECT 1 FROM users u WHERE u.id = n.user_id AND {_CAME_BACK})",
            (user_id,),
        )
        return changed == 1

    async def due(self, now: datetime) -> list[int]:
        """Warned residents whose time is up and who stayed silent."""
        rows = await self.db.fetchall(
            "SELECT n.user_id FROM retention_notices n JOIN users u ON u.id = n.user_id"
            f" WHERE n.erase_after <= ? AND NOT {_CAME_BACK}"
            " ORDER BY n.erase_after, n.user_id",
            (iso(now),),
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def is_due(self, user_id: int, now: datetime) -> bool:
        """Whether this resident is (still) due for erasure right now."""
        found = await self.db.fetchval(
            "SELECT 1 FROM retention_notices n JOIN users u ON u.id = n.user_id"
            f" WHERE n.user_id = ? AND n.erase_after <= ? AND NOT {_CAME_BACK}",
            (user_id, iso(now)),
        )
        return found is not None

    async def never_joined(self, silent_since: datetime) -> list[int]:
        """People who never agreed to take part (only their platform id is stored), silent
        since before then: there is no chat to warn, and nothing of theirs to keep."""
        rows = await self.db.fetchall(
            f"SELECT u.id FROM users u WHERE {_SILENT_RESIDENT} AND u.consent_at IS NULL"
            # In the order of the users_silent index: the few silent ones, not everyone.
            " ORDER BY u.last_seen_at, u.id",
            {"silent_since": iso(silent_since)},
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def is_stranger_due(self, user_id: int, silent_since: datetime) -> bool:
        found = await self.db.fetchval(
            f"SELECT 1 FROM users u WHERE u.id = :user_id AND {_SILENT_RESIDENT}"
            " AND u.consent_at IS NULL",
            {"user_id": user_id, "silent_since": iso(silent_since)},
        )
        return found is not None

    async def notice(self, user_id: int) -> Notice | None:
        """This resident's warning, if they have one."""
        row = await self.db.fetchone(
            "SELECT warned_at, erase_after FROM retention_notices WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return None
        warned_at, erase_after = parse(row["warned_at"]), parse(row["erase_after"])
        assert warned_at is not None and erase_after is not None
        return Notice(warned_at=warned_at, erase_after=erase_after)
