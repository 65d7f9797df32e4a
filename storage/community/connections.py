"""Connecting two residents: each is asked first; details go out only when both say yes.

A connection joins two people (``a`` and ``b``, ordered by user id so a pair has one open
request at most), usually through two ideas that look alike. Each person answers for
themselves with yes (and the contact line they want to share) or no. The contact lines are
cleared once they have been handed out, and when a request ends without that: one side said
no, it was called off (one of the two was banned), or it expired (not both answered in time).

A request one of the two erased their data from while the other still waited for it (to be
answered, or for the erased person's line) has ``ended``: it stays for the one left, with the
erased person's side empty, so that a late answer hears it ended (:meth:`Connections.end`,
:meth:`Connections.waiting_on`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel

from storage.clock import days_later, iso, parse
from storage.db import Database


class ConnectionStatus(StrEnum):
    """Where a request to connect stands."""

    ASKED = "asked"
    CONNECTED = "connected"
    DECLINED = "declined"
    #: Not both answered in time: nothing was shared, and the contact lines are gone.
    EXPIRED = "expired"
    #: One of the two erased their data while the other still waited for it; their side
    #: of the row is empty.
    ENDED = "ended"


class Connection(BaseModel):
    """A request to connect two residents, and their answers."""

    id: int
    #: None: this side erased their data since (an ``ended`` request).
    user_a: int | None
    user_b: int | None
    idea_a: int | None
    idea_b: int | None
    answer_a: str | None
    answer_b: str | None
    contact_a: str | None
    contact_b: str | None
    status: ConnectionStatus
    by_user_id: int | None
    created_at: datetime
    closed_at: datetime | None
    #: Whose copy of the other's contact line was kept for their return when both said yes.
    line_kept_for: int | None = None

    def involves(self, user_id: int) -> bool:
        return user_id in (self.user_a, self.user_b)

    def other(self, user_id: int) -> int:
        """The other person of the pair (of a request still open or connected: both are
        there)."""
        other = self.user_b if user_id == self.user_a else self.user_a
        assert other is not None, f"connection {self.id} has one side only"
        return other

    def idea_of(self, user_id: int) -> int | None:
        """The idea through which this person was connected."""
        return self.idea_a if user_id == self.user_a else self.idea_b

    def answer_of(self, user_id: int) -> str | None:
        return self.answer_a if user_id == self.user_a else self.answer_b

    def contact_of(self, user_id: int) -> str | None:
        return self.contact_a if user_id == self.user_a else self.contact_b

    def said_yes(self) -> list[int]:
        """Who of the two said yes (an open or expired request has one at most)."""
        return [
            user_id
            for user_id, answer in ((self.user_a, self.answer_a), (self.user_b, self.answer_b))
            if answer == "yes" and user_id is not None
        ]


def _connection(row: aiosqlite.Row) -> Connection:
    return Connection(
        id=row["id"],
        user_a=row["user_a"],
        user_b=row["user_b"],
        idea_a=row["idea_a"],
        idea_b=row["idea_b"],
        answer_a=row["answer_a"],
        answer_b=row["answer_b"],
        contact_a=row["contact_a"],
        contact_b=row["contact_b"],
        status=ConnectionStatus(row["status"]),
        by_user_id=row["by_user_id"],
        created_at=parse(row["created_at"]),
        closed_at=parse(row["closed_at"]),
        line_kept_for=row["line_kept_for"],
    )


class Connections:
    """The connections table."""

    def __init__(self, db: Database):
        self.db = db

    async def propose(
        self,
        first: tuple[int, int | None],
        second: tuple[int, int | None],
        *,
        by_user_id: int | None,
        now: datetime,
    ) -> Connection | None:
        """Ask two people, each given as (user id, idea id); None if they are asked already."""
        (user_a, idea_a), (user_b, idea_b) = sorted([first, second], key=lambda p: p[0])
        if user_a == user_b:
            raise ValueError("a person cannot be connected with themselves")
        row = await self.db.fetchone(
            "INSERT INTO connections (user_a, user_b, idea_a, idea_b, by_user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
            (user_a, user_b, idea_a, idea_b, by_user_id, iso(now)),
        )
        return _connection(row) if row else None

    async def get(self, connection_id: int) -> Connection | None:
        row = await self.db.fetchone("SELECT * FROM connections WHERE id = ?", (connection_id,))
        return _connection(row) if row else None

    async def answer(
        self, connection_id: int, user_id: int, *, contact: str | None, now: datetime
    ) -> Connection:
        """Record one person's answer: their contact line for yes, None for no.

        A no declines the request; a yes from both connects it. Answering a request that is
        no longer open raises ValueError.
        """
        found = await self.get(connection_id)
        if found is None or not found.involves(user_id):
            raise LookupError(f"connection {connection_id} is not this person's")
        if found.status is not ConnectionStatus.ASKED:
            raise ValueError(f"connection {connection_id} is {found.status.value}")
        side = "a" if user_id == found.user_a else "b"
        answer = "no" if contact is None else "yes"
        await self.db.execute(
            f"UPDATE connections SET answer_{side} = ?, contact_{side} = ? WHERE id = ?",
            (answer, contact, connection_id),
        )
        await self.db.execute(
            "UPDATE connections SET status = CASE"
            " WHEN answer_a = 'no' OR answer_b = 'no' THEN 'declined'"
            " WHEN answer_a = 'yes' AND answer_b = 'yes' THEN 'connected' ELSE status END,"
            " closed_at = CASE WHEN answer_a = 'no' OR answer_b = 'no'"
            " OR (answer_a = 'yes' AND answer_b = 'yes') THEN ? ELSE closed_at END"
            " WHERE id = ?",
            (iso(now), connection_id),
        )
        updated = await self.get(connection_id)
        assert updated is not None
        return updated

    async def call_off(self, connection_id: int, now: datetime) -> bool:
        """End a request that can no longer go ahead (one of the two may not be reached by
        the other's details), without an answer of either; False if it was not open."""
        changed = await self.db.execute_rowcount(
            "UPDATE connections SET status = 'declined', closed_at = ?, contact_a = NULL,"
            " contact_b = NULL WHERE id = ? AND status = 'asked'",
            (iso(now), connection_id),
        )
        return changed == 1

    async def end(self, connection_id: int, now: datetime) -> bool:
        """End a request because one of the two is being erased while the other still waits
        for it (open, or connected with a line not handed over yet); False if it was neither.
        Both contact lines are forgotten; the erasure empties the erased person's side. A
        connected request keeps the moment it connected (the message with the line that now
        goes nowhere was queued in it)."""
        changed = await self.db.execute_rowcount(
            "UPDATE connections SET status = 'ended', closed_at = COALESCE(closed_at, ?),"
            " contact_a = NULL,"
            " contact_b = NULL, line_kept_for = NULL"
            " WHERE id = ? AND status IN ('asked', 'connected')",
            (iso(now), connection_id),
        )
        return changed == 1

    async def waiting_on(self, user_id: int) -> list[tuple[Connection, str]]:
        """The requests both said yes to whose message with ``user_id``'s contact line has
        not reached the other yet: queued (``pending``), or kept until the other is back
        (``unreachable``); with that message's status. The message was queued in the same
        moment the request connected."""
        rows = await self.db.fetchall(
            "SELECT c.*, o.status AS line_status FROM connections c JOIN outbox o"
            " ON o.kind = 'connect' AND o.status IN ('pending', 'unreachable')"
            " AND json_extract(o.payload, '$[0].key') = 'connect.made'"
            " AND o.created_at = c.closed_at"
            " AND o.user_id = CASE WHEN c.user_a = ?1 THEN c.user_b ELSE c.user_a END"
            " WHERE c.status = 'connected' AND (c.user_a = ?1 OR c.user_b = ?1)"
            " ORDER BY c.id, o.id",
            (user_id,),
        )
        found: dict[int, tuple[Connection, str]] = {}
        for row in rows:
            found.setdefault(int(row["id"]), (_connection(row), str(row["line_status"])))
        return list(found.values())

    async def stop_lines_to(self, user_id: int) -> list[Connection]:
        """Cancel every message with the other's contact line, of a request both said yes
        to, that has not reached ``user_id`` yet (queued, or met their block without being
        kept for their return: :meth:`kept_for` has those), forgetting the line in it;
        returns those requests. For someone just banned (nobody's line reaches them), or
        being erased."""
        rows = await self.db.fetchall(
            "SELECT c.*, o.id AS line_row FROM connections c JOIN outbox o"
            " ON o.kind = 'connect' AND o.status IN ('pending', 'unreachable')"
            " AND json_extract(o.payload, '$[0].key') = 'connect.made'"
            " AND o.created_at = c.closed_at AND o.user_id = ?1"
            " WHERE c.status = 'connected' AND (c.user_a = ?1 OR c.user_b = ?1)"
            " AND c.line_kept_for IS NOT ?1 ORDER BY c.id, o.id",
            (user_id,),
        )
        stopped: dict[int, Connection] = {}
        for row in rows:
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', payload = '[]' WHERE id = ?",
                (row["line_row"],),
            )
            stopped.setdefault(int(row["id"]), _connection(row))
        return list(stopped.values())

    async def keep_line_for(self, connection_id: int, user_id: int) -> None:
        """Note that ``user_id``'s copy of the other's line waits for their return."""
        await self.db.execute(
            "UPDATE connections SET line_kept_for = ? WHERE id = ?", (user_id, connection_id)
        )

    async def line_handed(self, row_id: int) -> Connection | None:
        """The request whose kept line the outbox row ``row_id`` holds, now that it was
        handed over to its person; None if it is none (or was noted handed already)."""
        row = await self.db.fetchone(
            "UPDATE connections SET line_kept_for = NULL WHERE status = 'connected'"
            " AND line_kept_for = (SELECT o.user_id FROM outbox o WHERE o.id = ?1)"
            " AND closed_at = (SELECT o.created_at FROM outbox o WHERE o.id = ?1"
            " AND o.kind = 'connect' AND json_extract(o.payload, '$[0].key') = 'connect.made')"
            " RETURNING *",
            (row_id,),
        )
        return _connection(row) if row else None

    async def kept_for(self, user_id: int) -> list[Connection]:
        """The requests whose other's line waits for ``user_id``'s return."""
        rows = await self.db.fetchall(
            "SELECT * FROM connections WHERE line_kept_for = ? ORDER BY id", (user_id,)
        )
        return [_connection(row) for row in rows]

    async def no_line_kept_for(self, user_id: int) -> None:
        """Forget that lines wait for ``user_id`` (the kept messages were dropped: they were
        banned)."""
        await self.db.execute(
            "UPDATE connections SET line_kept_for = NULL WHERE line_kept_for = ?", (user_id,)
        )

    async def forget_contacts(self, connection_id: int) -> None:
        """Clear the contact lines once they were handed out (or are no longer needed)."""
        await self.db.execute(
            "UPDATE connections SET contact_a = NULL, contact_b = NULL WHERE id = ?",
            (connection_id,),
        )

    async def open_of(self, user_id: int) -> list[Connection]:
        """The requests still open that this person is one of the two of."""
        rows = await self.db.fetchall(
            "SELECT * FROM connections WHERE (user_a = ? OR user_b = ?) AND status = 'asked'"
            " ORDER BY id",
            (user_id, user_id),
        )
        return [_connection(row) for row in rows]

    async def pending(self, answer_days: int, zone: tzinfo) -> list[tuple[int, datetime]]:
        """(id, when it expires) of every open request, for re-arming timers: ``answer_days``
        calendar days after it was asked, at that clock time in ``zone``."""
        rows = await self.db.fetchall(
            "SELECT id, created_at FROM connections WHERE status = 'asked' ORDER BY id"
        )
        found = []
        for row in rows:
            created_at = parse(row["created_at"])
            assert created_at is not None
            found.append((int(row["id"]), days_later(created_at, answer_days, zone)))
        return found

    async def expire_due(self, answer_days: int, zone: tzinfo, now: datetime) -> list[Connection]:
        """End every open request whose ``answer_days`` calendar days (in ``zone``) are
        over, forgetting its contact lines in the same statement; returns them.

        Running it twice hands out nothing twice: a request is returned once.
        """
        # A calendar day is 23 to 25 hours: the requests asked up to a day later are looked
        # at, and each one's own end decides.
        maybe = await self.db.fetchall(
            "SELECT id, created_at FROM connections WHERE status = 'asked' AND created_at <= ?",
            (iso(now - timedelta(days=answer_days - 1)),),
        )
        due = []
        for row in maybe:
            asked = parse(row["created_at"])
            assert asked is not None
            if days_later(asked, answer_days, zone) <= now:
                due.append(int(row["id"]))
        if not due:
            return []
        marks = ", ".join("?" * len(due))
        rows = await self.db.fetchall(
            "UPDATE connections SET status = 'expired', closed_at = ?, contact_a = NULL,"
            f" contact_b = NULL WHERE status = 'asked' AND id IN ({marks}) RETURNING *",
            (iso(now), *due),
        )
        return sorted((_connection(row) for row in rows), key=lambda c: c.id)
