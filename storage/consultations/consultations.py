"""Consultations: composed as drafts, opened (now or when due), closed (when due or early).

Opening a poll asks its audience *at that moment*: a response row for each person (with
``invited_at``) in one statement, returned so the caller can queue the invitation in the
outbox in the same transaction. An evaluation is opened once (seeded from the profile) and
asks its experiment's participants at its moments (see :mod:`storage.consultations.responses`).

Who is in an audience (the "Wist je dat" audiences; a consultation is not news, so "all" and
a neighbourhood are everyone who agreed to take part, not only news subscribers):

- ``all``: everyone who consented and can be reached;
- ``theme``: "Wist je dat" subscribers who did not switch that theme off;
- ``neighbourhood``: everyone living in that neighbourhood;
- ``experiment``: everyone taking part in that experiment.

Nobody under a ban is in any of them: every answer would be refused them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter

from storage.clock import iso, parse
from storage.community.moderation import NOT_BANNED
from storage.consultations.model import (
    Consultation,
    ConsultationKind,
    ConsultationStatus,
    Content,
    Moment,
    Question,
)
from storage.db import Database
from storage.news.broadcasts import AUTHOR_ROLE, Audience, AudienceKind, counted_each
from storage.users import Role

#: Who can be asked: reachable, and not banned (a ban refuses every answer).
_REACHABLE = (
    "u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL AND u.unreachable_at IS NULL"
    f" AND {NOT_BANNED}"
)
#: Each audience as a query of ``user_id``s (with one parameter, except ``all``).
AUDIENCES = {
    AudienceKind.ALL: f"SELECT u.id AS user_id FROM users u WHERE {_REACHABLE}",
    AudienceKind.THEME: "SELECT s.user_id AS user_id FROM news_subscriptions s"
    f" JOIN users u ON u.id = s.user_id WHERE {_REACHABLE} AND s.neighbourhood_only = 0"
    " AND NOT EXISTS (SELECT 1 FROM news_muted_themes m"
    " WHERE m.user_id = s.user_id AND m.theme = ?)",
    AudienceKind.NEIGHBOURHOOD: f"SELECT u.id AS user_id FROM users u WHERE {_REACHABLE}"
    " AND u.neighbourhood = ?",
    AudienceKind.EXPERIMENT: "SELECT p.user_id AS user_id FROM experiment_participants p"
    f" JOIN users u ON u.id = p.user_id WHERE {_REACHABLE} AND p.experiment_id = ?",
}
#: A poll row (of ``consultations``, unaliased) whose author may still have it asked: a poll
#: speaks for the municipality as a "Wist je dat" does, so it needs its composer's role. One
#: whose author was erased has nobody left to check and stays the municipality's.
#: The roles that may have a poll asked, as an SQL list.
ASKER_ROLES = Role.sql_allowing(AUTHOR_ROLE)
_AUTHORISED = (
    "(consultations.author_user_id IS NULL OR EXISTS (SELECT 1 FROM users a"
    f" WHERE a.id = consultations.author_user_id AND a.role IN {ASKER_ROLES}))"
)
_QUESTIONS = TypeAdapter(list[Question])
_MOMENTS = TypeAdapter(list[Moment])


class Counts(BaseModel):
    """How far the people asked are: asked, started (answered something), finished; and
    those whose invitation was withdrawn before it went out (an evaluation's "how is it
    going?" when the experiment ended), who were not asked."""

    invited: int = 0
    started: int = 0
    finished: int = 0
    withdrawn: int = 0


def _params(audience: Audience) -> tuple[str | None, ...]:
    return () if audience.kind is AudienceKind.ALL else (audience.value,)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def consultation(row: Any) -> Consultation:
    """A consultation from a row with the consultations table's columns."""
    return Consultation(
        id=row["id"],
        kind=ConsultationKind(row["kind"]),
        title=json.loads(row["title"]),
        intro=json.loads(row["intro"]),
        follow_up=json.loads(row["follow_up"]),
        questions=_QUESTIONS.validate_json(row["questions"]),
        moments=_MOMENTS.validate_json(row["moments"]),
        answer_days=row["answer_days"],
        audience=Audience(kind=AudienceKind(row["audience_kind"]), value=row["audience_value"]),
        experiment_id=row["experiment_id"],
        author_user_id=row["author_user_id"],
        status=ConsultationStatus(row["status"]),
        opens_at=parse(row["opens_at"]),
        closes_at=parse(row["closes_at"]),
        reminded_at=parse(row["reminded_at"]),
        closed_at=parse(row["closed_at"]),
        invited=row["invited"],
        created_at=parse(row["created_at"]),
        updated_at=parse(row["updated_at"]),
    )


class Consultations:
    """The consultations table, and who is asked when one opens."""

    def __init__(self, db: Database):
        self.db = db

    # Audiences ------------------------------------------------------------------------------

    async def audience_count(self, audience: Audience) -> int:
        """How many people an audience reaches right now."""
        sql = f"SELECT COUNT(*) FROM ({AUDIENCES[audience.kind]})"
        return int(await self.db.fetchval(sql, _params(audience), long=True))

    async def audience_counts(self, kind: AudienceKind, values: Sequence[str]) -> dict[str, int]:
        """How many people each audience of ``kind`` (one per value) reaches right now."""
        if not values:
            return {}
        sql, params = counted_each(AUDIENCES[kind], values)
        return {str(v): int(n) for v, n in await self.db.fetchall(sql, params, long=True)}

    async def in_audience(self, audience: Audience, user_id: int) -> bool:
        """Whether this person is in the audience right now."""
        sql = f"SELECT 1 FROM ({AUDIENCES[audience.kind]}) WHERE user_id = ? LIMIT 1"
        return await self.db.fetchval(sql, (*_params(audience), user_id)) is not None

    # Composing ------------------------------------------------------------------------------

    async def save_draft(
        self,
        author_user_id: int,
        content: Content,
        *,
        audience: Audience,
        opens_at: datetime | None,
        closes_at: datetime,
        now: datetime,
    ) -> int:
        """Store a composed poll as a draft; the author's older drafts are dropped."""
        await self.db.execute(
            "DELETE FROM consultations WHERE author_user_id = ? AND status = 'draft'",
            (author_user_id,),
        )
        stamp = iso(now)
        return await self.db.execute(
            "INSERT INTO consultations (kind, title, intro, follow_up, questions,"
            " audience_kind, audience_value, author_user_id, status, opens_at, closes_at,"
            " created_at, updated_at) VALUES ('poll', ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?)",
            (
                _json(content.title),
                _json(content.intro),
                _json(content.follow_up),
                _QUESTIONS.dump_json(content.questions).decode(),
                audience.kind.value,
                audience.value,
                author_user_id,
                iso(opens_at) if opens_at else None,
                iso(closes_at),
                stamp,
                stamp,
            ),
        )

    async def get(self, consultation_id: int) -> Consultation | None:
        row = await self.db.fetchone(
            "SELECT * FROM consultations WHERE id = ?", (consultation_id,)
        )
        return consultation(row) if row else None

    async def schedule(self, consultation_id: int, opens_at: datetime, now: datetime) -> bool:
        """A draft opens at ``opens_at``; False when it is no draft (any more)."""
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET status = 'scheduled', opens_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'draft'",
            (iso(opens_at), iso(now), consultation_id),
        )
        return changed == 1

    async def cancel(self, consultation_id: int, now: datetime) -> bool:
        """A scheduled (or draft) poll never opens; False when it already did."""
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET status = 'cancelled', updated_at = ?"
            " WHERE id = ? AND status IN ('draft', 'scheduled')",
            (iso(now), consultation_id),
        )
        return changed == 1

    async def refuse(self, consultation_id: int, now: datetime) -> str | None:
        """Cancel a scheduled poll whose author may no longer ask residents (their role
        changed after they scheduled it); returns that author's role now, or None when the
        poll was not cancelled."""
        row = await self.db.fetchone(
            "UPDATE consultations SET status = 'cancelled', updated_at = ?"
            f" WHERE id = ? AND kind = 'poll' AND status = 'scheduled' AND NOT {_AUTHORISED}"
            " RETURNING author_user_id",
            (iso(now), consultation_id),
        )
        if row is None:
            return None
        role = await self.db.fetchval(
            "SELECT role FROM users WHERE id = ?", (row["author_user_id"],)
        )
        return str(role)

    async def withdraw(self, author_user_id: int, now: datetime) -> list[int]:
        """Cancel every draft and scheduled poll of an author who may no longer ask
        residents (their role was taken away); returns the ids of the scheduled ones."""
        rows = await self.db.fetchall(
            "SELECT id FROM consultations WHERE author_user_id = ? AND kind = 'poll'"
            " AND status = 'scheduled' ORDER BY id",
            (author_user_id,),
        )
        await self.db.execute(
            "UPDATE consultations SET status = 'cancelled', updated_at = ?"
            " WHERE author_user_id = ? AND kind = 'poll' AND status IN ('draft', 'scheduled')",
            (iso(now), author_user_id),
        )
        return [int(row["id"]) for row in rows]

    # Opening and closing ----------------------------------------------------------------------

    async def open(
        self, consultation_id: int, now: datetime, *, ask: bool = True
    ) -> list[int] | None:
        """Open a draft now, or a scheduled poll that is due, and ask its audience.

        Returns the user ids asked (each gets a response row), or None when nothing was
        opened (already open, cancelled, unknown, or scheduled for later). With
        ``ask=False`` nobody is asked (a poll whose time passed while nobody could be).
        """
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET status = 'open', opens_at = ?, updated_at = ?"
            " WHERE id = ? AND kind = 'poll'"
            " AND (status = 'draft' OR (status = 'scheduled' AND opens_at <= ?))",
            (stamp, stamp, consultation_id, stamp),
        )
        if changed != 1:
            return None
        if not ask:
            return []
        found = await self.get(consultation_id)
        assert found is not None
        audience = AUDIENCES[found.audience.kind]
        rows = await self.db.fetchall(
            "INSERT OR IGNORE INTO consultation_responses"
            " (consultation_id, moment, user_id, invited_at)"
            f" SELECT ?, 0, user_id, ? FROM ({audience}) ORDER BY user_id RETURNING user_id",
            (consultation_id, stamp, *_params(found.audience)),
            long=True,
        )
        invited = [int(row[0]) for row in rows]
        await self.db.execute(
            "UPDATE consultations SET invited = ? WHERE id = ?", (len(invited), consultation_id)
        )
        return invited

    async def move_close(self, consultation_id: int, closes_at: datetime, now: datetime) -> bool:
        """Another closing time for a poll not closed yet (also: close early, with ``now``)."""
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET closes_at = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('draft', 'scheduled', 'open')",
            (iso(closes_at), iso(now), consultation_id),
        )
        return changed == 1

    async def set_follow_up(
        self, consultation_id: int, follow_up: dict[str, str], now: datetime
    ) -> bool:
        """What the municipality will do with the answers; False once it closed or its
        closing time came (its results may be on their way)."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET follow_up = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('draft', 'scheduled', 'open')"
            " AND (closes_at IS NULL OR closes_at > ?)",
            (_json(follow_up), stamp, consultation_id, stamp),
        )
        return changed == 1

    async def close(self, consultation_id: int, now: datetime) -> bool:
        """Close an open consultation whose closing time has come; True for the one caller
        that closed it (so its results are sent once)."""
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET status = 'closed', closed_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'open' AND closes_at IS NOT NULL AND closes_at <= ?",
            (stamp, stamp, consultation_id, stamp),
        )
        return changed == 1

    async def mark_reminded(self, consultation_id: int, now: datetime) -> bool:
        """Note that the reminder went out; True for the one caller that may send it."""
        changed = await self.db.execute_rowcount(
            "UPDATE consultations SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL",
            (iso(now), consultation_id),
        )
        return changed == 1

    async def with_work(self) -> list[Consultation]:
        """Every consultation with something still to do at a moment: a poll to open, or
        one to remind about or close (the job works out which is due)."""
        rows = await self.db.fetchall(
            "SELECT * FROM consultations WHERE status = 'scheduled'"
            " OR (status = 'open' AND closes_at IS NOT NULL) ORDER BY id"
        )
        return [consultation(row) for row in rows]

    # Lists ----------------------------------------------------------------------------------

    async def of_staff(self, kind: ConsultationKind, *, closed: int = 5) -> list[Consultation]:
        """Open and scheduled consultations of one kind, then its last ``closed`` closed ones."""
        rows = await self.db.fetchall(
            "SELECT * FROM consultations WHERE kind = ? AND status IN ('open', 'scheduled')"
            " ORDER BY id",
            (kind.value,),
        )
        done = await self.db.fetchall(
            "SELECT * FROM consultations WHERE kind = ? AND status = 'closed'"
            " ORDER BY closed_at DESC, id DESC LIMIT ?",
            (kind.value, closed),
        )
        return [consultation(row) for row in [*rows, *done]]

    async def published(self) -> list[Consultation]:
        """Every consultation residents could answer (open or closed), oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM consultations WHERE status IN ('open', 'closed') ORDER BY id",
            long=True,
        )
        return [consultation(row) for row in rows]

    async def open_polls(self) -> list[Consultation]:
        rows = await self.db.fetchall(
            "SELECT * FROM consultations WHERE kind = 'poll' AND status = 'open' ORDER BY id"
        )
        return [consultation(row) for row in rows]

    async def open_evaluations(self) -> list[Consultation]:
        rows = await self.db.fetchall(
            "SELECT * FROM consultations WHERE kind = 'evaluation' AND status = 'open' ORDER BY id"
        )
        return [consultation(row) for row in rows]

    async def counts(self, consultation_id: int, moment: int | None = None) -> Counts:
        """How many were asked (invited, or answering without an invitation), started and
        finished, and how many were not asked after all: their invitation was withdrawn
        before it went out (at one moment, or at all)."""
        where = "consultation_id = ?" + (" AND moment = ?" if moment is not None else "")
        params: tuple[int, ...] = (consultation_id,)
        if moment is not None:
            params += (moment,)
        row = await self.db.fetchone(
            "SELECT COUNT(*) - COUNT(withdrawn_at) AS invited, COUNT(started_at) AS started,"
            " COUNT(finished_at) AS finished, COUNT(withdrawn_at) AS withdrawn"
            f" FROM consultation_responses WHERE {where}",
            params,
        )
        assert row is not None
        return Counts(invited=row[0], started=row[1], finished=row[2], withdrawn=row[3])

    # Evaluations ----------------------------------------------------------------------------

    async def seed_evaluation(
        self,
        seed: str,
        experiment_id: int,
        content: Content,
        *,
        moments: list[Moment],
        answer_days: int,
        now: datetime,
    ) -> bool:
        """Bring an evaluation of the profile in for an experiment, once; True when new.

        A known one keeps what it asks: answers given so far belong to its questions.
        """
        stamp = iso(now)
        changed = await self.db.execute_rowcount(
            "INSERT INTO consultations (kind, title, intro, follow_up, questions, moments,"
            " answer_days, audience_kind, audience_value, experiment_id, seed, status,"
            " opens_at, created_at, updated_at)"
            " VALUES ('evaluation', ?, ?, ?, ?, ?, ?, 'experiment', ?, ?, ?, 'open', ?, ?, ?)"
            " ON CONFLICT (seed, experiment_id) DO NOTHING",
            (
                _json(content.title),
                _json(content.intro),
                _json(content.follow_up),
                _QUESTIONS.dump_json(content.questions).decode(),
                _MOMENTS.dump_json(moments).decode(),
                answer_days,
                str(experiment_id),
                experiment_id,
                seed,
                stamp,
                stamp,
                stamp,
            ),
        )
        return changed == 1

    async def experiment_of(self, slug: str) -> tuple[int, dict[str, str]] | None:
        """The id and titles of the experiment with this slug."""
        row = await self.db.fetchone("SELECT id, title FROM experiments WHERE slug = ?", (slug,))
        if row is None:
            return None
        return int(row[0]), dict(json.loads(row[1]))

    async def started_in_chat(self) -> list[tuple[int, dict[str, str]]]:
        """The ids and titles of the running experiments that no profile seeded (started in
        the chat from an idea, a proposal or a budget round), oldest first."""
        rows = await self.db.fetchall(
            "SELECT id, title FROM experiments WHERE slug IS NULL AND status = 'running'"
            " ORDER BY id"
        )
        return [(int(row[0]), dict(json.loads(row[1]))) for row in rows]

    async def experiment_status(self, experiment_id: int) -> str | None:
        found = await self.db.fetchval(
            "SELECT status FROM experiments WHERE id = ?", (experiment_id,)
        )
        return None if found is None else str(found)
