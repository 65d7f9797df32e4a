"""What someone missed while the bot could not reach them, read when they come back.

A person is marked unreachable when a platform refuses to deliver to them (they blocked the
bot, left the direct chat); from then on nothing is queued for them, and their "Wist je dat"
lapses (:meth:`storage.news.subscriptions.Subscriptions.lapse`). When they write again, the
router learns from the row it reads anyway that they were away (``users.away_since``, see
:class:`storage.arrivals.Arrival`), and only then is this one statement run: the answers to
and closings of their questions since, a lapsed subscription to turn on again, and the
requests to connect them with another resident that still wait for their answer (the
question may have met the block, and nobody else can answer it for them), and the contact
lines of those who said yes after them, kept in the outbox as messages that met the block
(or, where that person erased their data before the line was handed over, the word that
the request ended; or, where their own line waited for someone banned or erased meanwhile,
the word that it will not be handed over).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.clock import iso, parse
from storage.db import Database

#: Questions answered or closed since ``:since`` (the most recent first, ``:limit`` + 1 of
#: them, so that the caller knows there are more), then a lapsed subscription, then the
#: requests to connect still waiting for their answer and asked after ``:asked_after`` (the
#: question to them may have met the block: without it they could not answer).
_MISSED = (
    "SELECT * FROM (SELECT 'question' AS kind, q.id, (SELECT m.text FROM question_messages m"
    " WHERE m.question_id = q.id ORDER BY m.id LIMIT 1) AS text,"
    " EXISTS (SELECT 1 FROM question_messages m WHERE m.question_id = q.id"
    " AND m.side = 'connector' AND m.at >= :since) AS answered,"
    " q.status = 'closed' AND q.updated_at >= :since AS closed, NULL AS other, NULL AS asked_at"
    " FROM questions q WHERE q.user_id = :user_id AND q.updated_at >= :since"
    " AND (answered OR closed) ORDER BY q.updated_at DESC, q.id DESC LIMIT :limit + 1)"
    " UNION ALL SELECT 'news', NULL, NULL, 0, 0, NULL, NULL FROM news_lapsed l"
    " WHERE l.user_id = :user_id AND l.lapsed_at >= :since"
    " AND NOT EXISTS (SELECT 1 FROM news_subscriptions s WHERE s.user_id = :user_id)"
    " UNION ALL SELECT * FROM (SELECT 'connect', c.id, NULL, 0, 0,"
    " CASE WHEN c.user_a = :user_id THEN c.idea_b ELSE c.idea_a END, c.created_at"
    " FROM connections c WHERE c.status = 'asked' AND c.created_at > :asked_after"
    " AND ((c.user_a = :user_id AND c.answer_a IS NULL)"
    " OR (c.user_b = :user_id AND c.answer_b IS NULL)) AND NOT EXISTS (SELECT 1 FROM ideas i"
    " WHERE i.id IN (c.idea_a, c.idea_b) AND i.removed_at IS NOT NULL)"
    " ORDER BY c.id LIMIT :limit)"
    " UNION ALL SELECT 'line', o.id, o.payload, 0, 0, NULL, o.created_at FROM outbox o"
    " WHERE o.user_id = :user_id AND o.kind = 'connect' AND o.status = 'unreachable'"
    " AND json_extract(o.payload, '$[0].key')"
    " IN ('connect.made', 'connect.ended_told', 'connect.kept_lost')"
)


@dataclass(frozen=True)
class MissedQuestion:
    """One of the person's questions the connector answered or closed while they were away."""

    id: int
    #: The person's own first message of the thread (how they recognise it).
    text: str
    answered: bool
    closed: bool


@dataclass(frozen=True)
class MissedConnection:
    """A request to connect them with another resident that still waits for their answer."""

    id: int
    #: The other's idea, through which they were asked.
    other_idea: int | None
    asked_at: datetime


@dataclass(frozen=True)
class OwedLine:
    """The message with the other's contact line of a request both said yes to, which met
    the block (an outbox row); or the message in its place that the request ended, the
    other having erased their data."""

    row_id: int
    #: The message's replies, as the outbox keeps them (catalog keys and parameters).
    replies: list[dict[str, Any]]


@dataclass(frozen=True)
class Missed:
    """What a person who comes back missed."""

    questions: list[MissedQuestion]
    #: More questions than those listed were answered or closed.
    more: bool
    #: Their "Wist je dat" lapsed while they were away and can be turned on again.
    news: bool
    #: Requests to connect they can still answer.
    connections: list[MissedConnection] = field(default_factory=list)
    #: Contact lines of those they were put in touch with, not handed to them yet.
    lines: list[OwedLine] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.questions) or self.news or bool(self.connections) or bool(self.lines)


def _moment(text: str) -> datetime:
    moment = parse(text)
    assert moment is not None
    return moment


class Returns:
    """Reads what someone missed while the bot could not reach them."""

    def __init__(self, db: Database):
        self.db = db

    async def missed(
        self, user_id: int, since: datetime, *, limit: int, asked_after: datetime
    ) -> Missed:
        """What happened for ``user_id`` from ``since`` on that they were not told of: at
        most ``limit`` questions (the most recent first), and the requests to connect asked
        after ``asked_after`` (those that can still be answered) that wait for them."""
        rows = await self.db.fetchall(
            _MISSED,
            {
                "user_id": user_id,
                "since": iso(since),
                "limit": limit,
                "asked_after": iso(asked_after),
            },
        )
        questions = [
            MissedQuestion(
                id=int(row["id"]),
                text=row["text"] or "",
                answered=bool(row["answered"]),
                closed=bool(row["closed"]),
            )
            for row in rows
            if row["kind"] == "question"
        ]
        connections = [
            MissedConnection(
                id=int(row["id"]),
                other_idea=row["other"],
                asked_at=_moment(row["asked_at"]),
            )
            for row in rows
            if row["kind"] == "connect"
        ]
        lines = [
            OwedLine(int(row["id"]), json.loads(row["text"]))
            for row in rows
            if row["kind"] == "line"
        ]
        news = any(row["kind"] == "news" for row in rows)
        return Missed(questions[:limit], len(questions) > limit, news, connections, lines)
