"""Reports: residents flag a comment or an idea that does not belong; the connector decides.

A resident reports something once, with a reason; enough open reports hide it until the
connector decides, which resolves them. Comments and ideas have a table of reports each
(``comment_reports``, ``idea_reports``) and one interface here: :class:`Reports` reads either
as a :class:`Flagged` item, and keeps them in one queue, longest waiting first (the
connector's ``/meldingen``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.community.moderation import ReportReason
from storage.db import Database
from storage.ideas.ideas import Removal
from storage.users import Role


class Flag(StrEnum):
    """What can be reported."""

    COMMENT = "comment"
    IDEA = "idea"


#: Each kind's table of reports and the column naming what was reported.
_TABLES = {
    Flag.COMMENT: ("comment_reports", "comment_id"),
    Flag.IDEA: ("idea_reports", "idea_id"),
}
#: Each kind read the same way. ``gone``: it can no longer be reported (its idea is out of
#: view; for an idea, out of view otherwise than by reports).
_ITEMS = {
    Flag.COMMENT: (
        "SELECT c.id, c.idea_id, i.title AS idea_title, c.author_user_id, u.role AS author_role,"
        " c.body, c.created_at, c.edited_at, NULL AS photo_id,"
        " c.hidden_at IS NOT NULL AS hidden, NULL AS removal,"
        " i.removed_at IS NOT NULL AS gone FROM idea_comments c JOIN ideas i ON i.id = c.idea_id"
        " LEFT JOIN users u ON u.id = c.author_user_id WHERE c.id = ?"
    ),
    Flag.IDEA: (
        "SELECT i.id, i.id AS idea_id, i.title AS idea_title, i.author_user_id,"
        " u.role AS author_role, i.description AS body, i.created_at, NULL AS edited_at,"
        " i.photo_id,"
        " i.removed_at IS NOT NULL AS hidden, i.removal,"
        " i.removed_at IS NOT NULL AND i.removal IS NOT 'reports' AS gone"
        " FROM ideas i LEFT JOIN users u ON u.id = i.author_user_id WHERE i.id = ?"
    ),
}


class Report(BaseModel):
    """One resident's report."""

    reporter_user_id: int | None
    reason: ReportReason
    note: str | None
    created_at: datetime


class Flagged(BaseModel):
    """A comment or an idea as reporting and moderation see it, with its open reports."""

    kind: Flag
    id: int
    #: The idea it is, or is under: its number is in every message about it.
    idea_id: int
    idea_title: str
    author_user_id: int | None
    author_role: Role | None
    #: The comment, or the idea's description.
    body: str
    created_at: datetime
    #: For a comment: when its author last changed it (None: never).
    edited_at: datetime | None = None
    #: For an idea: its photo (an author may change it while the idea is new).
    photo_id: int | None = None
    #: Out of public view now.
    hidden: bool
    #: For an idea: why it is out of view.
    removal: Removal | None
    #: It can no longer be reported or decided about.
    gone: bool
    reports: list[Report]

    @property
    def personal(self) -> bool:
        """Warnings, mutes and bans are for residents (not for staff or an erased author)."""
        return self.author_user_id is not None and self.author_role is Role.RESIDENT


class ReportRef(BaseModel):
    """A comment or an idea with open reports, as it stands in the queue."""

    kind: Flag
    id: int


#: Everything with open reports, with the moment of its first open report.
_OPEN = " UNION ALL ".join(
    f"SELECT '{kind.value}' AS kind, {column} AS id, MIN(created_at) AS first, MIN(id) AS n"
    f" FROM {table} WHERE resolved_at IS NULL GROUP BY {column}"
    for kind, (table, column) in _TABLES.items()
)


class Reports:
    """The comment_reports and idea_reports tables, and the queue over both."""

    def __init__(self, db: Database):
        self.db = db

    async def add(
        self,
        kind: Flag,
        item_id: int,
        reporter_user_id: int,
        reason: ReportReason,
        now: datetime,
        *,
        note: str | None = None,
    ) -> bool:
        """Record a report; False if this person reported it before."""
        table, column = _TABLES[kind]
        added = await self.db.execute_rowcount(
            f"INSERT INTO {table} ({column}, reporter_user_id, reason, note, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (item_id, reporter_user_id, reason.value, note, iso(now)),
        )
        return added > 0

    async def has_reported(self, kind: Flag, item_id: int, user_id: int) -> bool:
        table, column = _TABLES[kind]
        found = await self.db.fetchval(
            f"SELECT 1 FROM {table} WHERE {column} = ? AND reporter_user_id = ?",
            (item_id, user_id),
        )
        return found is not None

    async def open_count(self, kind: Flag, item_id: int) -> int:
        """Reports of it the connector has not decided on yet."""
        table, column = _TABLES[kind]
        total = await self.db.fetchval(
            f"SELECT COUNT(*) FROM {table} WHERE {column} = ? AND resolved_at IS NULL",
            (item_id,),
        )
        return int(total)

    async def flagged(self, kind: Flag, item_id: int) -> Flagged | None:
        """It (hidden or not) with its author's role and its open reports; None if unknown."""
        row = await self.db.fetchone(_ITEMS[kind], (item_id,))
        if row is None:
            return None
        table, column = _TABLES[kind]
        reports = await self.db.fetchall(
            f"SELECT * FROM {table} WHERE {column} = ? AND resolved_at IS NULL ORDER BY id",
            (item_id,),
        )
        return _flagged(kind, row, [_report(report) for report in reports])

    async def ever_reported(self, kind: Flag, item_id: int) -> bool:
        """Whether anyone reported it, open or decided."""
        table, column = _TABLES[kind]
        found = await self.db.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = ?)", (item_id,)
        )
        return bool(found)

    async def resolve(self, kind: Flag, item_id: int, now: datetime) -> int:
        """Close its open reports (the connector decided); returns how many."""
        table, column = _TABLES[kind]
        return await self.db.execute_rowcount(
            f"UPDATE {table} SET resolved_at = ? WHERE {column} = ? AND resolved_at IS NULL",
            (iso(now), item_id),
        )

    async def waiting(self) -> int:
        """How many comments and ideas have open reports."""
        return int(await self.db.fetchval(f"SELECT COUNT(*) FROM ({_OPEN})"))

    async def next_reported(self, after: ReportRef | None = None) -> ReportRef | None:
        """The reported item to look at next: longest waiting first.

        ``after`` skips to the one after it (to look at it later).
        """
        rows = await self.db.fetchall(f"SELECT kind, id FROM ({_OPEN}) ORDER BY first, kind, n")
        order = [ReportRef(kind=Flag(row["kind"]), id=int(row["id"])) for row in rows]
        if not order:
            return None
        if after in order:
            position = order.index(after) + 1
            return order[position] if position < len(order) else None
        return order[0]


def _report(row: aiosqlite.Row) -> Report:
    return Report(
        reporter_user_id=row["reporter_user_id"],
        reason=ReportReason(row["reason"]),
        note=row["note"],
        created_at=parse(row["created_at"]),
    )


def _flagged(kind: Flag, row: aiosqlite.Row, reports: list[Report]) -> Flagged:
    created_at = parse(row["created_at"])
    assert created_at is not None
    return Flagged(
        kind=kind,
        id=row["id"],
        idea_id=row["idea_id"],
        idea_title=row["idea_title"],
        author_user_id=row["author_user_id"],
        author_role=Role(row["author_role"]) if row["author_role"] else None,
        body=row["body"],
        created_at=created_at,
        edited_at=parse(row["edited_at"]),
        photo_id=row["photo_id"],
        hidden=bool(row["hidden"]),
        removal=Removal(row["removal"]) if row["removal"] else None,
        gone=bool(row["gone"]),
        reports=reports,
    )
