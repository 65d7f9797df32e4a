"""The audit log: who did what to whom, when and why.

Every change of someone's rights (a grant, an invite redeemed, a revocation) is recorded
here, and so is staff work that later features do (moderating a comment, setting an idea's
status). One general :meth:`Audit.record` serves them all: ``action`` says what happened
(``role.grant``, ``idea.status``), ``subject`` what it happened to (``user`` with
``subject_user_id``, ``idea:17``), ``detail`` the facts as a small JSON object.

People are linked by id only, in the actor and subject columns, so erasing a person unlinks
them from the log as well (their erasure's pseudonym takes the id's place). Keep names,
message text and people's ids out of ``detail``: the log outlives the people in it, and an
id there would still point at them (:meth:`Audit.record` refuses a detail that names
people's ids).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

#: The operator at the server's command line.
CLI = "cli"
#: A person through the chat (``actor_user_id``).
USER = "user"
#: The bot itself (delivery, a scheduled job).
SYSTEM = "system"


def _names_people(key: str) -> bool:
    """Whether a detail's key says it holds people's ids (``user``, ``users``,
    ``by_user_id``): those are not pseudonymised on erasure."""
    return key.removesuffix("s") in ("user", "user_id") or key.endswith(
        ("_user", "_users", "_user_id", "_user_ids")
    )


class AuditEntry(BaseModel):
    """One recorded action."""

    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    subject: str
    subject_user_id: int | None
    detail: dict[str, Any]
    reason: str | None


class Audit:
    """The audit_log table."""

    def __init__(self, db: Database):
        self.db = db

    async def record(
        self,
        action: str,
        *,
        now: datetime,
        actor_user_id: int | None = None,
        actor: str | None = None,
        subject: str = "user",
        subject_user_id: int | None = None,
        detail: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> int:
        """Write one entry in the caller's transaction; returns its id.

        Args:
            action: What happened, ``area.verb`` (``role.grant``, ``comment.hide``).
            now: When.
            actor_user_id: The person who did it, if it was a person in a chat.
            actor: ``"cli"``, ``"user"`` or ``"system"``; defaults to ``"user"`` when
                ``actor_user_id`` is given, else ``"system"``.
            subject: What it was done to: ``"user"`` (with ``subject_user_id``) or
                ``"<kind>:<id>"``.
            subject_user_id: The person it was done to, if any.
            detail: The facts (old and new value, a count), JSON-serialisable.
            reason: Why, in the actor's words, if they gave one.
        """
        people = sorted(key for key in detail or {} if _names_people(key))
        if people:
            raise ValueError(f"people's ids belong in actor or subject, not detail: {people}")
        who = actor or (USER if actor_user_id is not None else SYSTEM)
        return await self.db.execute(
            "INSERT INTO audit_log (at, actor, actor_user_id, action, subject,"
            " subject_user_id, detail, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                iso(now),
                who,
                actor_user_id,
                action,
                subject,
                subject_user_id,
                json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
                reason,
            ),
        )

    async def recent(self, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        """The latest entries, newest first; ``action`` filters on one action or a prefix
        ending in a dot (``"role."``)."""
        if action is None:
            rows = await self.db.fetchall(
                "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
            )
        elif action.endswith("."):
            rows = await self.db.fetchall(
                "SELECT * FROM audit_log WHERE substr(action, 1, ?) = ? ORDER BY id DESC LIMIT ?",
                (len(action), action, limit),
            )
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT ?",
                (action, limit),
            )
        return [_entry(row) for row in rows]

    async def noted_since(
        self, action: str, subject: str, since: datetime, *, op: str | None = None
    ) -> bool:
        """Whether ``action`` was recorded about ``subject`` at or after ``since`` (with
        ``op`` as its detail's ``op``, if given)."""
        found = await self.db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE subject = ? AND at >= ?"
            " AND action = ? AND (? IS NULL OR json_extract(detail, '$.op') = ?))",
            (subject, iso(since), action, op, op),
        )
        return bool(found)

    async def about_user(self, user_id: int) -> list[AuditEntry]:
        """Everything done to one person, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log WHERE subject_user_id = ? ORDER BY id", (user_id,)
        )
        return [_entry(row) for row in rows]

    async def about(self, subject: str) -> list[AuditEntry]:
        """Everything done to one thing (``"idea:17"``), oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM audit_log WHERE subject = ? ORDER BY id", (subject,)
        )
        return [_entry(row) for row in rows]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=parse(row["at"]),
        actor=row["actor"],
        actor_user_id=row["actor_user_id"],
        action=row["action"],
        subject=row["subject"],
        subject_user_id=row["subject_user_id"],
        detail=json.loads(row["detail"]),
        reason=row["reason"],
    )
