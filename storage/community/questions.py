"""Questions residents ask the connector: a thread of messages, open until closed.

A question may be meant for one civil servant (their card); the connector passes it on.
The connector's side (answering, closing) uses :meth:`Questions.add_message` and
:meth:`Questions.close`; the answer reaches the resident through the outbox.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.clock import iso, parse
from storage.db import Database


class Side(StrEnum):
    """Who wrote a message in a question thread."""

    RESIDENT = "resident"
    CONNECTOR = "connector"


class QuestionMessage(BaseModel):
    """One message in a thread."""

    id: int
    side: Side
    author_user_id: int | None
    text: str
    at: datetime


class Question(BaseModel):
    """A thread with its messages, oldest first."""

    id: int
    user_id: int | None
    staff_user_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime
    messages: list[QuestionMessage]

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def _message(row: aiosqlite.Row) -> QuestionMessage:
    return QuestionMessage(
        id=row["id"],
        side=Side(row["side"]),
        author_user_id=row["author_user_id"],
        text=row["text"],
        at=parse(row["at"]),
    )


class InboxKey(BaseModel):
    """Where an open thread stands in the inbox: those waiting for an answer first (the
    resident wrote last), longest waiting first; then those answered, longest ago first.

    ``since`` is when the wait began (the resident's first message after the last answer),
    or when the answer was given; ``id`` orders threads of the same moment.
    """

    model_config = ConfigDict(frozen=True)

    answered: bool
    since: datetime
    id: int

    def values(self) -> tuple[int, str, int]:
        return int(self.answered), iso(self.since), self.id


class InboxPage(BaseModel):
    """A page of the inbox: its threads with their keys, and how many come before and after."""

    threads: list[Question]
    keys: list[InboxKey]
    earlier: int
    later: int


def parse_at(text: str) -> datetime:
    moment = parse(text)
    assert moment is not None
    return moment


#: Open threads with the columns of their :class:`InboxKey`: whether the connector wrote
#: last, and since when the thread waits (or was answered).
_INBOX = (
    "SELECT * FROM (SELECT q.*, COALESCE((SELECT m.side = 'connector' FROM question_messages m"
    " WHERE m.question_id = q.id ORDER BY m.id DESC LIMIT 1), 0) AS answered,"
    " COALESCE((SELECT MIN(m.at) FROM question_messages m WHERE m.question_id = q.id"
    " AND m.side = 'resident' AND m.id > COALESCE((SELECT MAX(c.id) FROM question_messages c"
    " WHERE c.question_id = q.id AND c.side = 'connector'), 0)), q.updated_at) AS since"
    " FROM questions q WHERE q.status = 'open')"
)


class Questions:
    """The questions and question_messages tables."""

    def __init__(self, db: Database):
        self.db = db

    async def ask(
        self, user_id: int, text: str, now: datetime, *, staff_user_id: int | None = None
    ) -> int:
        """Open a thread with the resident's first message; returns the question id."""
        stamp = iso(now)
        question_id = await self.db.execute(
            "INSERT INTO questions (user_id, staff_user_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?)",
            (user_id, staff_user_id, stamp, stamp),
        )
        await self.add_message(question_id, Side.RESIDENT, user_id, text, now)
        return question_id

    async def add_message(
        self, question_id: int, side: Side, author_user_id: int | None, text: str, now: datetime
    ) -> int:
        """Add a message to a thread (and reopen it when the resident writes again)."""
        message_id = await self.db.execute(
            "INSERT INTO question_messages (question_id, side, author_user_id, text, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (question_id, side.value, author_user_id, text, iso(now)),
        )
        reopen = ", status = 'open'" if side is Side.RESIDENT else ""
        await self.db.execute(
            f"UPDATE questions SET updated_at = ?{reopen} WHERE id = ?",
            (iso(now), question_id),
        )
        return message_id

    async def close(self, question_id: int, now: datetime) -> bool:
        changed = await self.db.execute_rowcount(
            "UPDATE questions SET status = 'closed', updated_at = ?"
            " WHERE id = ? AND status = 'open'",
            (iso(now), question_id),
        )
        return changed == 1

    async def get(self, question_id: int) -> Question | None:
        row = await self.db.fetchone("SELECT * FROM questions WHERE id = ?", (question_id,))
        if row is None:
            return None
        return (await self._with_messages([row]))[0]

    async def of_user(self, user_id: int, limit: int = 20, offset: int = 0) -> list[Question]:
        """This resident's threads, most recently active first."""
        rows = await self.db.fetchall(
            "SELECT * FROM questions WHERE user_id = ?"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return await self._with_messages(rows)

    async def count_of_user(self, user_id: int) -> int:
        """How many threads this resident has."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM questions WHERE user_id = ?", (user_id,)
        )
        assert row is not None
        return int(row["n"])

    async def open_threads(self) -> list[Question]:
        """Threads waiting for the connector, longest waiting first."""
        rows = await self.db.fetchall(
            "SELECT * FROM questions WHERE status = 'open' ORDER BY updated_at, id"
        )
        return await self._with_messages(rows)

    async def inbox(
        self, *, limit: int, after: InboxKey | None = None, before: InboxKey | None = None
    ) -> InboxPage:
        """A page of open threads for the connector's inbox, in :class:`InboxKey` order:
        the first ``limit`` after ``after`` (from the start without), or the last ``limit``
        before ``before``. A thread answered or closed meanwhile has moved or gone, but the
        threads after a page's last one are still after it: paging on skips none."""
        if before is not None:
            rows = await self.db.fetchall(
                f"{_INBOX} WHERE (answered, since, id) < (?, ?, ?)"
                " ORDER BY answered DESC, since DESC, id DESC LIMIT ?",
                (*before.values(), limit),
                long=True,
            )
            rows.reverse()
        else:
            where = " WHERE (answered, since, id) > (?, ?, ?)" if after is not None else ""
            rows = await self.db.fetchall(
                f"{_INBOX}{where} ORDER BY answered, since, id LIMIT ?",
                (*(after.values() if after is not None else ()), limit),
                long=True,
            )
        keys = [
            InboxKey(answered=bool(row["answered"]), since=parse_at(row["since"]), id=row["id"])
            for row in rows
        ]
        earlier = later = 0
        if keys:
            counts = await self.db.fetchone(
                f"SELECT COALESCE(SUM((answered, since, id) < (?, ?, ?)), 0) AS earlier,"
                f" COALESCE(SUM((answered, since, id) > (?, ?, ?)), 0) AS later FROM ({_INBOX})",
                (*keys[0].values(), *keys[-1].values()),
                long=True,
            )
            assert counts is not None
            earlier, later = int(counts["earlier"]), int(counts["later"])
        return InboxPage(
            threads=await self._with_messages(rows), keys=keys, earlier=earlier, later=later
        )

    async def count_open(self) -> tuple[int, int]:
        """(open threads, of which waiting for the connector's answer)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS open, COALESCE(SUM((SELECT m.side FROM question_messages m"
            " WHERE m.question_id = q.id ORDER BY m.id DESC LIMIT 1) = 'resident'), 0)"
            " AS waiting FROM questions q WHERE q.status = 'open'"
        )
        assert row is not None
        return int(row["open"]), int(row["waiting"])

    async def _with_messages(self, rows: list[aiosqlite.Row]) -> list[Question]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        found = await self.db.fetchall(
            f"SELECT * FROM question_messages WHERE question_id IN ({marks}) ORDER BY id", ids
        )
        messages: dict[int, list[QuestionMessage]] = {qid: [] for qid in ids}
        for message in found:
            messages[message["question_id"]].append(_message(message))
        return [
            Question(
                id=row["id"],
                user_id=row["user_id"],
                staff_user_id=row["staff_user_id"],
                status=row["status"],
                created_at=parse(row["created_at"]),
                updated_at=parse(row["updated_at"]),
                messages=messages[row["id"]],
            )
            for row in rows
        ]
