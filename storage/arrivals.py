"""What the router needs to know about the sender of an event, read in one statement.

Every event starts here: who sent it, where they are in a dialog, and whether a mute or
ban may apply. One query answers all three (a person has at most one dialog, and the
sanctions_user index finds their few sanctions), so a tap in a list costs one trip to the
database before the handler runs. The same row says whether they come back after the bot
could not reach them (marking them seen clears that, so it is taken from the row first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.clock import iso, parse
from storage.community.moderation import ACTIVE
from storage.db import Database
from storage.dialogs import StoredDialog, UnreadableDialog, dialog_from_row
from storage.users import User, Users, seen_lately, user_from_row

_ARRIVAL = (
    "SELECT u.*, d.name AS dialog_name, d.step AS dialog_step, d.data AS dialog_data,"
    " d.token AS dialog_token, d.updated_at AS dialog_updated_at,"
    f" EXISTS (SELECT 1 FROM sanctions WHERE user_id = u.id AND {ACTIVE}) AS restricted"
    " FROM users u LEFT JOIN dialogs d ON d.user_id = u.id"
    " WHERE u.platform = ? AND u.platform_user_id = ?"
)


@dataclass(frozen=True)
class Arrival:
    """The sender of an event as stored, with their dialog."""

    #: None only for someone unknown while nothing could be written.
    user: User | None
    dialog: StoredDialog | None
    #: Whether a mute or ban is in force now (which one is read when it matters).
    restricted: bool
    #: Why the stored dialog could not be read (then ``dialog`` is None), else None.
    unreadable_dialog: str | None = None
    #: They come back now after the bot could not reach them: from when they may have
    #: missed something (see :mod:`storage.returns`). Read from the row before marking
    #: them seen cleared it, so only once per return; None for everyone else, and when
    #: nothing could be written (then they are still away).
    away_since: datetime | None = None


class Arrivals:
    """Reads (and on first contact creates) the sender of an event."""

    def __init__(self, db: Database, users: Users):
        self.db = db
        self.users = users

    async def arrive(
        self, platform: str, platform_user_id: str, now: datetime, *, writable: bool = True
    ) -> Arrival:
        """The sender, created on first contact and marked seen (to the minute, as
        :meth:`Users.seen`); with ``writable=False`` only what is stored is read."""
        row = await self.db.fetchone(_ARRIVAL, (iso(now), platform, platform_user_id))
        if row is None:
            user = await self.users.touch(platform, platform_user_id, now) if writable else None
            return Arrival(user, None, False)
        away_since = None
        if writable and not seen_lately(row, now):
            user = await self.users.touch(platform, platform_user_id, now)
            if row["unreachable_at"] is not None:
                away_since = parse(row["away_since"] or row["unreachable_at"])
        else:
            user = user_from_row(row)
        try:
            dialog, unreadable = dialog_from_row(row, "dialog_"), None
        except UnreadableDialog as exc:
            dialog, unreadable = None, str(exc)
        return Arrival(user, dialog, bool(row["restricted"]), unreadable, away_since)
