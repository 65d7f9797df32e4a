"""Responses: who was asked, their answers question by question, reminders and reviews.

An answer is saved the moment it is given (one row per question of a response), so a break
or a restart loses nothing and the person goes on where they were. Giving an answer again
replaces it: one response per person, counted once however often they press. A response is
finished when every question has an answer ("zeg ik liever niet" counts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.community.moderation import NOT_BANNED
from storage.consultations.model import Answer, Response
from storage.db import Database

#: The participants an evaluation asks: reachable, and not banned (see
#: :mod:`storage.consultations.consultations`).
_PARTICIPANTS = (
    "SELECT p.user_id FROM experiment_participants p JOIN users u ON u.id = p.user_id"
    " WHERE p.experiment_id = ? AND u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL"
    f" AND u.unreachable_at IS NULL AND {NOT_BANNED}"
)


class Review(BaseModel):
    """A typed answer waiting for staff to decide whether it may be shown."""

    response_id: int
    consultation_id: int
    question: int
    text: str
    waiting: int


class Taken(BaseModel):
    """A person's response as their list of consultations shows it."""

    consultation_id: int
    moment: int
    answered: int
    finished: bool
    deadline: datetime | None


def _response(row: Any) -> Response:
    return Response(
        id=row["id"],
        consultation_id=row["consultation_id"],
        moment=row["moment"],
        user_id=row["user_id"],
        invited_at=parse(row["invited_at"]),
        deadline=parse(row["deadline"]),
        started_at=parse(row["started_at"]),
        finished_at=parse(row["finished_at"]),
        reminded_at=parse(row["reminded_at"]),
        withdrawn_at=parse(row["withdrawn_at"]),
    )


def _answer(row: Any) -> Answer:
    return Answer(
        question=row["question"],
        choices=json.loads(row["choices"]) if row["choices"] else [],
        text=row["text"],
        skipped=bool(row["skipped"]),
        review=row["review"],
        answered_at=parse(row["answered_at"]),
    )


class Responses:
    """The consultation_responses, consultation_answers and consultation_preferences tables."""

    def __init__(self, db: Database):
        self.db = db

    # A person's response ----------------------------------------------------------------------

    async def find(self, consultation_id: int, moment: int, user_id: int) -> Response | None:
        row = await self.db.fetchone(
            "SELECT * FROM consultation_responses"
            " WHERE consultation_id = ? AND moment = ? AND user_id = ?",
            (consultation_id, moment, user_id),
        )
        return _response(row) if row else None

    async def get(self, response_id: int) -> Response | None:
        row = await self.db.fetchone(
            "SELECT * FROM consultation_responses WHERE id = ?", (response_id,)
        )
        return _response(row) if row else None

    async def ensure(self, consultation_id: int, moment: int, user_id: int) -> Response:
        """This person's response, made now if they were not asked but may answer."""
        await self.db.execute(
            "INSERT OR IGNORE INTO consultation_responses (consultation_id, moment, user_id)"
            " VALUES (?, ?, ?)",
            (consultation_id, moment, user_id),
        )
        found = await self.find(consultation_id, moment, user_id)
        assert found is not None
        return found

    async def answers(self, response_id: int) -> dict[int, Answer]:
        """The answers given so far, by question number."""
        rows = await self.db.fetchall(
            "SELECT * FROM consultation_answers WHERE response_id = ? ORDER BY question",
            (response_id,),
        )
        return {int(row["question"]): _answer(row) for row in rows}

    async def answer(
        self,
        response: Response,
        question: int,
        *,
        total: int,
        now: datetime,
        choices: Sequence[int] = (),
        text: str | None = None,
        skipped: bool = False,
    ) -> bool:
        """Save (or replace) the answer to one question; True when this finished the
        response just now (every question answered for the first time). The same typed
        words sent again keep staff's decision about them: there is nothing new to read."""
        await self.db.execute(
            "INSERT INTO consultation_answers"
            " (response_id, question, choices, text, skipped, review, answered_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (response_id, question) DO UPDATE SET"
            " choices = excluded.choices, text = excluded.text, skipped = excluded.skipped,"
            " review = CASE WHEN consultation_answers.text IS excluded.text"
            " THEN consultation_answers.review ELSE excluded.review END,"
            " answered_at = excluded.answered_at",
            (
                response.id,
                question,
                json.dumps(sorted(set(choices))) if choices else None,
                text,
                int(skipped),
                "pending" if text is not None else None,
                iso(now),
            ),
        )
        return await self._progress(response, total, now)

    async def clear(self, response: Response, question: int, *, total: int, now: datetime) -> None:
        """Take back the answer to one question (the last option of several unticked)."""
        await self.db.execute(
            "DELETE FROM consultation_answers WHERE response_id = ? AND question = ?",
            (response.id, question),
        )
        await self._progress(response, total, now)

    async def _progress(self, response: Response, total: int, now: datetime) -> bool:
        """Mark the response begun, and finished while every question has an answer: one
        taken back after finishing makes it unfinished again (the staff's count and the
        reminder "begun, not finished" go by it), until that question is answered again."""
        answered = int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM consultation_answers WHERE response_id = ?",
                (response.id,),
            )
        )
        stamp = iso(now)
        row = await self.db.fetchone(
            "UPDATE consultation_responses SET started_at = COALESCE(started_at, ?),"
            " finished_at = CASE WHEN ? >= ? THEN COALESCE(finished_at, ?) END"
            " WHERE id = ? RETURNING finished_at",
            (stamp, answered, total, stamp, response.id),
        )
        return row is not None and response.finished_at is None and row[0] == stamp

    async def of_user(self, user_id: int) -> list[Taken]:
        """Every response of this person, with how many questions they answered."""
        rows = await self.db.fetchall(
            "SELECT r.consultation_id, r.moment, r.finished_at, r.deadline,"
            " (SELECT COUNT(*) FROM consultation_answers a WHERE a.response_id = r.id)"
            " AS answered FROM consultation_responses r WHERE r.user_id = ?"
            " ORDER BY r.consultation_id DESC, r.moment",
            (user_id,),
        )
        return [
            Taken(
                consultation_id=row["consultation_id"],
                moment=row["moment"],
                answered=row["answered"],
                finished=row["finished_at"] is not None,
                deadline=parse(row["deadline"]),
            )
            for row in rows
        ]

    async def respondents(self, consultation_id: int, moment: int) -> list[int]:
        """Everyone who answered at least one question (they get the results)."""
        rows = await self.db.fetchall(
            "SELECT r.user_id FROM consultation_responses r WHERE r.consultation_id = ?"
            " AND r.moment = ? AND EXISTS"
            " (SELECT 1 FROM consultation_answers a WHERE a.response_id = r.id)"
            " ORDER BY r.user_id",
            (consultation_id, moment),
            long=True,
        )
        return [int(row[0]) for row in rows]

    # Reminders --------------------------------------------------------------------------------

    async def set_reminders(self, user_id: int, on: bool, now: datetime) -> None:
        """Turn the reminder before a consultation closes on or off. Off, a reminder still on
        its way to them stops too."""
        await self.db.execute(
            "INSERT INTO consultation_preferences (user_id, reminders, updated_at)"
            " VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE"
            " SET reminders = excluded.reminders, updated_at = excluded.updated_at",
            (user_id, int(on), iso(now)),
        )
        if not on:
            # A reminder still waiting its turn (a batch for thousands takes minutes) would
            # come after "no more reminders".
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = 'reminders off'"
                " WHERE user_id = ? AND status = 'pending' AND kind = 'consultation'"
                " AND batch GLOB 'consultation:*:reminder'",
                (user_id,),
            )

    async def reminders_on(self, user_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT reminders FROM consultation_preferences WHERE user_id = ?", (user_id,)
        )
        return found is None or bool(found)

    async def remind_unfinished(
        self,
        consultation_id: int,
        now: datetime,
        *,
        moment: int | None = None,
        due_before: datetime | None = None,
        closes_at: datetime | None = None,
    ) -> dict[int, list[int]]:
        """Mark who gets the reminder now and return them as {moment: [user ids]}.

        That is everyone who started and did not finish, was not reminded before, did not
        turn reminders off, and (an evaluation) still takes part in its experiment; with
        ``due_before``, only responses whose own deadline (or ``closes_at``, where that comes
        first) comes before it, and is not past (an evaluation's answering period).
        """
        where = ""
        params: list[Any] = [iso(now), consultation_id]
        if moment is not None:
            where += " AND moment = ?"
            params.append(moment)
        if due_before is not None:
            where += (
                " AND deadline IS NOT NULL AND MIN(deadline, COALESCE(?, deadline)) <= ?"
                " AND deadline > ?"
            )
            params += [iso(closes_at) if closes_at else None, iso(due_before), iso(now)]
        rows = await self.db.fetchall(
            "UPDATE consultation_responses SET reminded_at = ?"
            " WHERE consultation_id = ? AND started_at IS NOT NULL AND finished_at IS NULL"
            f" AND reminded_at IS NULL{where} AND NOT EXISTS (SELECT 1 FROM"
            " consultation_preferences p WHERE p.user_id = consultation_responses.user_id"
            " AND p.reminders = 0)"
            # An evaluation reminds only those still taking part in its experiment.
            " AND NOT EXISTS (SELECT 1 FROM consultations c WHERE"
            " c.id = consultation_responses.consultation_id AND c.experiment_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM experiment_participants ep"
            " WHERE ep.experiment_id = c.experiment_id"
            " AND ep.user_id = consultation_responses.user_id))"
            " RETURNING moment, user_id",
            params,
            long=True,
        )
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(int(row[0]), []).append(int(row[1]))
        return found

    async def next_deadline(self, consultation_id: int, *, after: datetime) -> datetime | None:
        """The earliest deadline after ``after`` of a response that will want a reminder
        (started, not finished, not reminded, reminders not turned off)."""
        return parse(
            await self.db.fetchval(
                "SELECT MIN(r.deadline) FROM consultation_responses r"
                " WHERE r.consultation_id = ? AND r.started_at IS NOT NULL"
                " AND r.finished_at IS NULL AND r.reminded_at IS NULL AND r.deadline > ?"
                " AND NOT EXISTS (SELECT 1 FROM consultation_preferences p"
                " WHERE p.user_id = r.user_id AND p.reminders = 0)",
                (consultation_id, iso(after)),
            )
        )

    async def deadlines(
        self, consultation_id: int, moment: int, user_ids: Sequence[int]
    ) -> dict[datetime, list[int]]:
        """These people's deadlines at one moment, with who has each."""
        found: dict[datetime, list[int]] = {}
        for start in range(0, len(user_ids), 500):
            chunk = list(user_ids[start : start + 500])
            marks = ", ".join("?" for _ in chunk)
            rows = await self.db.fetchall(
                "SELECT deadline, user_id FROM consultation_responses"
                f" WHERE consultation_id = ? AND moment = ? AND user_id IN ({marks})"
                " ORDER BY user_id",
                (consultation_id, moment, *chunk),
            )
            for row in rows:
                deadline = parse(row[0])
                if deadline is not None:
                    found.setdefault(deadline, []).append(int(row[1]))
        return found

    # Evaluations ------------------------------------------------------------------------------

    async def give_time(self, response_id: int, deadline: datetime) -> None:
        """Let an evaluation's response be answered until ``deadline`` (an invitation given
        back to someone who joined its experiment again: a new period to answer it)."""
        await self.db.execute(
            "UPDATE consultation_responses SET deadline = ? WHERE id = ?",
            (iso(deadline), response_id),
        )

    async def end_unstarted(self, consultation_id: int, moment: int, now: datetime) -> list[int]:
        """Let nobody begin this moment's responses any more (their own deadline becomes
        ``now``); one begun or finished keeps its deadline. Returns whose ended."""
        rows = await self.db.fetchall(
            "UPDATE consultation_responses SET deadline = ?"
            " WHERE consultation_id = ? AND moment = ? AND started_at IS NULL"
            " AND (deadline IS NULL OR deadline > ?) RETURNING user_id",
            (iso(now), consultation_id, moment, iso(now)),
            long=True,
        )
        return sorted(int(row[0]) for row in rows)

    async def not_asked(
        self, consultation_id: int, moment: int, user_ids: list[int], now: datetime
    ) -> int:
        """These people's invitations at this moment were withdrawn before they went out:
        they were not asked after all (``withdrawn_at``), unless they began it from their
        list meanwhile. Returns how many."""
        if not user_ids:
            return 0
        return await self.db.execute_rowcount(
            "UPDATE consultation_responses SET withdrawn_at = ?"
            " WHERE consultation_id = ? AND moment = ? AND started_at IS NULL"
            " AND withdrawn_at IS NULL AND user_id IN (SELECT value FROM json_each(?))",
            (iso(now), consultation_id, moment, json.dumps(sorted(user_ids))),
            long=True,
        )

    async def invite_joined_before(
        self,
        consultation_id: int,
        moment: int,
        experiment_id: int,
        joined_before: datetime,
        *,
        now: datetime,
        deadline: datetime,
    ) -> list[int]:
        """Ask the participants who joined before ``joined_before`` and were not asked at
        this moment yet; returns their user ids."""
        rows = await self.db.fetchall(
            "INSERT OR IGNORE INTO consultation_responses"
            " (consultation_id, moment, user_id, invited_at, deadline)"
            f" SELECT ?, ?, p.user_id, ?, ? FROM ({_PARTICIPANTS} AND p.joined_at <= ?) p"
            " ORDER BY p.user_id RETURNING user_id",
            (consultation_id, moment, iso(now), iso(deadline), experiment_id, iso(joined_before)),
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def next_joined(
        self, consultation_id: int, moment: int, experiment_id: int, *, after: datetime
    ) -> datetime | None:
        """When the earliest participant who joined after ``after`` and was not asked at
        this moment yet joined."""
        return parse(
            await self.db.fetchval(
                "SELECT MIN(p.joined_at) FROM experiment_participants p"
                " WHERE p.experiment_id = ? AND p.joined_at > ? AND NOT EXISTS (SELECT 1 FROM"
                " consultation_responses r WHERE r.consultation_id = ? AND r.moment = ?"
                " AND r.user_id = p.user_id)",
                (experiment_id, iso(after), consultation_id, moment),
            )
        )

    # Typed answers and their review -----------------------------------------------------------

    async def next_review(self, consultation_id: int) -> Review | None:
        """The oldest typed answer of a consultation still waiting for a decision."""
        return await self._review(
            "r.consultation_id = ? AND a.review = 'pending'"
            " ORDER BY a.answered_at, a.response_id, a.question LIMIT 1",
            (consultation_id,),
        )

    async def pending_review(self, response_id: int, question: int) -> Review | None:
        """This typed answer, if it still waits for a decision (as it reads now)."""
        return await self._review(
            "a.response_id = ? AND a.question = ? AND a.review = 'pending'",
            (response_id, question),
        )

    async def _review(self, where: str, params: tuple[int, ...]) -> Review | None:
        row = await self.db.fetchone(
            "SELECT a.response_id, r.consultation_id, a.question, a.text,"
            " (SELECT COUNT(*) FROM consultation_answers b JOIN consultation_responses s"
            " ON s.id = b.response_id WHERE s.consultation_id = r.consultation_id"
            " AND b.review = 'pending') AS waiting"
            " FROM consultation_answers a JOIN consultation_responses r ON r.id = a.response_id"
            f" WHERE {where}",
            params,
        )
        if row is None:
            return None
        return Review(
            response_id=row[0],
            consultation_id=row[1],
            question=row[2],
            text=row[3],
            waiting=row[4],
        )

    async def waiting_reviews(self, consultation_id: int) -> int:
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM consultation_answers a JOIN consultation_responses r"
                " ON r.id = a.response_id WHERE r.consultation_id = ? AND a.review = 'pending'",
                (consultation_id,),
            )
        )

    async def decide(self, response_id: int, question: int, text: str, approved: bool) -> bool:
        """Approve or reject a typed answer still waiting and still reading ``text`` (the
        words staff read: a changed answer waits for a decision of its own); False when it
        is not waiting, or says something else now."""
        changed = await self.db.execute_rowcount(
            "UPDATE consultation_answers SET review = ?"
            " WHERE response_id = ? AND question = ? AND review = 'pending' AND text = ?",
            ("approved" if approved else "rejected", response_id, question, text),
        )
        return changed == 1

    async def approved_texts(
        self, consultation_id: int, moment: int, question: int, limit: int
    ) -> list[str]:
        """Typed answers staff approved for showing, newest first."""
        rows = await self.db.fetchall(
            "SELECT a.text FROM consultation_answers a JOIN consultation_responses r"
            " ON r.id = a.response_id WHERE r.consultation_id = ? AND r.moment = ?"
            " AND a.question = ? AND a.review = 'approved'"
            " ORDER BY a.answered_at DESC LIMIT ?",
            (consultation_id, moment, question, limit),
        )
        return [str(row[0]) for row in rows]
