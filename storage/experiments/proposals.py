"""Residents' proposals for new experiments: status, the reason for it, history, followers.

The connector's queue reads proposals by status (:meth:`Proposals.queue`) and moves them on
with :meth:`Proposals.set_status`, which keeps the history and tells who follows them apart.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class ProposalStatus(StrEnum):
    """Where a proposal is in the connector's process."""

    SUBMITTED = "ingediend"
    IN_REVIEW = "in_behandeling"
    #: Approved without money from the municipality.
    APPROVED = "goedgekeurd"
    #: Paid for in full (up to the profile's full financing limit), with the amount.
    FUNDED = "gefinancierd"
    #: The municipality pays part, with the amount.
    COFUNDED = "cofinanciering"
    REJECTED = "afgewezen"


class Proposal(BaseModel):
    """One proposal; ``author_user_id`` is None once its author has been erased."""

    id: int
    author_user_id: int | None
    what: str
    place: str
    partners: str
    budget_cents: int
    full_financing: bool
    status: ProposalStatus
    reason: str | None
    amount_decided_cents: int | None
    experiment_id: int | None
    created_at: datetime
    updated_at: datetime


class ProposalChange(BaseModel):
    """One step in a proposal's history."""

    status: ProposalStatus
    reason: str | None
    amount_cents: int | None
    at: datetime


def _proposal(row: aiosqlite.Row) -> Proposal:
    return Proposal(
        id=row["id"],
        author_user_id=row["author_user_id"],
        what=row["what"],
        place=row["place"],
        partners=row["partners"],
        budget_cents=row["budget_cents"],
        full_financing=bool(row["full_financing"]),
        status=ProposalStatus(row["status"]),
        reason=row["reason"],
        amount_decided_cents=row["amount_decided_cents"],
        experiment_id=row["experiment_id"],
        created_at=parse(row["created_at"]),
        updated_at=parse(row["updated_at"]),
    )


class Proposals:
    """The experiment_proposals, history and followers tables."""

    def __init__(self, db: Database):
        self.db = db

    async def submit(
        self,
        author_user_id: int,
        *,
        what: str,
        place: str,
        partners: str,
        budget_cents: int,
        full_financing: bool,
        now: datetime,
    ) -> int:
        """Store a new proposal as submitted; its author follows it. Returns its id."""
        stamp = iso(now)
        proposal_id = await self.db.execute(
            "INSERT INTO experiment_proposals (author_user_id, what, place, partners,"
            " budget_cents, full_financing, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                author_user_id,
                what,
                place,
                partners,
                budget_cents,
                int(full_financing),
                ProposalStatus.SUBMITTED.value,
                stamp,
                stamp,
            ),
        )
        await self._record(proposal_id, ProposalStatus.SUBMITTED, None, None, author_user_id, now)
        await self.follow(proposal_id, author_user_id, now)
        return proposal_id

    async def get(self, proposal_id: int) -> Proposal | None:
        row = await self.db.fetchone(
            "SELECT * FROM experiment_proposals WHERE id = ?", (proposal_id,)
        )
        return _proposal(row) if row else None

    async def set_status(
        self,
        proposal_id: int,
        status: ProposalStatus,
        *,
        reason: str | None,
        by_user_id: int | None,
        now: datetime,
        amount_cents: int | None = None,
    ) -> bool:
        """Move a proposal on (with the reason and any amount decided); False if it is gone."""
        changed = await self.db.execute_rowcount(
            "UPDATE experiment_proposals SET status = ?, reason = ?,"
            " amount_decided_cents = COALESCE(?, amount_decided_cents), updated_at = ?"
            " WHERE id = ?",
            (status.value, reason, amount_cents, iso(now), proposal_id),
        )
        if changed != 1:
            return False
        await self._record(proposal_id, status, reason, amount_cents, by_user_id, now)
        return True

    async def link_experiment(self, proposal_id: int, experiment_id: int) -> None:
        """Remember the experiment an approved proposal became."""
        await self.db.execute(
            "UPDATE experiment_proposals SET experiment_id = ? WHERE id = ?",
            (experiment_id, proposal_id),
        )

    async def _record(
        self,
        proposal_id: int,
        status: ProposalStatus,
        reason: str | None,
        amount_cents: int | None,
        by_user_id: int | None,
        now: datetime,
    ) -> None:
        await self.db.execute(
            "INSERT INTO experiment_proposal_history"
            " (proposal_id, status, reason, amount_cents, by_user_id, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (proposal_id, status.value, reason, amount_cents, by_user_id, iso(now)),
        )

    async def history(self, proposal_id: int) -> list[ProposalChange]:
        rows = await self.db.fetchall(
            "SELECT status, reason, amount_cents, at FROM experiment_proposal_history"
            " WHERE proposal_id = ? ORDER BY id",
            (proposal_id,),
        )
        return [
            ProposalChange(
                status=ProposalStatus(row["status"]),
                reason=row["reason"],
                amount_cents=row["amount_cents"],
                at=parse(row["at"]),
            )
            for row in rows
        ]

    async def queue(self, status: ProposalStatus = ProposalStatus.SUBMITTED) -> list[Proposal]:
        """Proposals in one status, oldest first (the connector's work list)."""
        rows = await self.db.fetchall(
            "SELECT * FROM experiment_proposals WHERE status = ? ORDER BY created_at, id",
            (status.value,),
        )
        return [_proposal(row) for row in rows]

    async def followed_by(self, user_id: int) -> list[Proposal]:
        """The proposals this person follows (their own among them), newest first."""
        rows = await self.db.fetchall(
            "SELECT p.* FROM experiment_proposals p"
            " JOIN experiment_proposal_followers f ON f.proposal_id = p.id"
            " WHERE f.user_id = ? ORDER BY p.id DESC",
            (user_id,),
        )
        return [_proposal(row) for row in rows]

    async def follow(self, proposal_id: int, user_id: int, now: datetime) -> bool:
        changed = await self.db.execute_rowcount(
            "INSERT INTO experiment_proposal_followers (proposal_id, user_id, since)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (proposal_id, user_id, iso(now)),
        )
        return changed == 1

    async def unfollow(self, proposal_id: int, user_id: int) -> bool:
        changed = await self.db.execute_rowcount(
            "DELETE FROM experiment_proposal_followers WHERE proposal_id = ? AND user_id = ?",
            (proposal_id, user_id),
        )
        return changed == 1

    async def followers(self, proposal_id: int) -> list[int]:
        """Who hears about changes to this proposal."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM experiment_proposal_followers WHERE proposal_id = ?"
            " ORDER BY since",
            (proposal_id,),
        )
        return [int(row[0]) for row in rows]
