"""The connector's triage: the queue of undecided ideas and proposals, and their decisions.

Every status change goes through here, so the process in :mod:`storage.ideas.statuses` holds for
all of them; the history itself is kept by :class:`~storage.ideas.ideas.Ideas` and
:class:`~storage.experiments.proposals.Proposals`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database
from storage.experiments.proposals import Proposal, Proposals, ProposalStatus
from storage.ideas.ideas import IdeaError, Ideas, IdeaStatus, StatusChange
from storage.ideas.statuses import check

_OPEN_IDEAS = "status IN ('ingediend', 'in_behandeling') AND removed_at IS NULL"
_OPEN_PROPOSALS = "status IN ('ingediend', 'in_behandeling')"
#: Of those, the ones nobody decided anything about yet, and the ones "in behandeling"
#: (the open terms repeated word for word, so SQLite still reads the queue's partial index).
_NEW_IDEAS = f"{_OPEN_IDEAS} AND status = 'ingediend'"
_NEW_PROPOSALS = "status = 'ingediend'"
_IN_REVIEW_IDEAS = f"{_OPEN_IDEAS} AND status = 'in_behandeling'"
_IN_REVIEW_PROPOSALS = "status = 'in_behandeling'"


class ItemKind(StrEnum):
    """What a queue item is."""

    IDEA = "idea"
    PROPOSAL = "proposal"


class QueueItem(BaseModel):
    """One idea or proposal waiting for a decision."""

    kind: ItemKind
    id: int
    created_at: datetime


class Merge(BaseModel):
    """What a merge did: the status change, and how many supports and follows moved."""

    change: StatusChange
    supports_moved: int
    follows_moved: int


class Triage:
    """Status decisions on ideas and proposals, checked against the allowed transitions."""

    def __init__(self, db: Database, ideas: Ideas, proposals: Proposals):
        self.db = db
        self.ideas = ideas
        self.proposals = proposals

    # The queue ---------------------------------------------------------------------------

    async def waiting(self) -> int:
        """How many ideas and proposals wait for a decision."""
        ideas = await self.db.fetchval(f"SELECT COUNT(*) FROM ideas WHERE {_OPEN_IDEAS}")
        proposals = await self.db.fetchval(
            f"SELECT COUNT(*) FROM experiment_proposals WHERE {_OPEN_PROPOSALS}"
        )
        return int(ideas) + int(proposals)

    async def in_review(self) -> int:
        """How many ideas and proposals are "in behandeling" (waiting for a final word)."""
        ideas = await self.db.fetchval(f"SELECT COUNT(*) FROM ideas WHERE {_IN_REVIEW_IDEAS}")
        proposals = await self.db.fetchval(
            f"SELECT COUNT(*) FROM experiment_proposals WHERE {_IN_REVIEW_PROPOSALS}"
        )
        return int(ideas) + int(proposals)

    async def next_item(
        self, after: QueueItem | None = None, *, new_only: bool = False
    ) -> QueueItem | None:
        """The oldest waiting item after ``after`` (from the start without one); with
        ``new_only``, only one nobody decided anything about yet (no "in behandeling").

        One queue over both tables in (created_at, kind, id) order: each table is asked for
        its first item after the cursor on its own index, and the earlier of the two wins.
        """
        ideas, proposals = (
            (_NEW_IDEAS, _NEW_PROPOSALS) if new_only else (_OPEN_IDEAS, _OPEN_PROPOSALS)
        )
        found = [
            await self._first(ItemKind.IDEA, "ideas", ideas, after),
            await self._first(ItemKind.PROPOSAL, "experiment_proposals", proposals, after),
        ]
        items = [item for item in found if item is not None]
        return min(items, key=lambda i: (i.created_at, i.kind.value, i.id), default=None)

    async def _first(
        self, kind: ItemKind, table: str, open_: str, after: QueueItem | None
    ) -> QueueItem | None:
        params: tuple[str | int, ...] = ()
        if after is None:
            condition = ""
        elif after.kind is kind:
            condition, params = " AND (created_at, id) > (?, ?)", (iso(after.created_at), after.id)
        elif kind.value > after.kind.value:
            # At the same moment, this kind comes after the cursor's kind.
            condition, params = " AND created_at >= ?", (iso(after.created_at),)
        else:
            condition, params = " AND created_at > ?", (iso(after.created_at),)
        row = await self.db.fetchone(
            f"SELECT id, created_at FROM {table} WHERE {open_}{condition}"
            " ORDER BY created_at, id LIMIT 1",
            params,
        )
        if row is None:
            return None
        return QueueItem(kind=kind, id=row["id"], created_at=parse(row["created_at"]))

    # Ideas -------------------------------------------------------------------------------

    async def set_idea_status(
        self,
        idea_id: int,
        status: IdeaStatus,
        *,
        now: datetime,
        by_user_id: int | None,
        reason: str | None = None,
        theme: str | None = None,
        department: str | None = None,
        reopen: bool = False,
    ) -> StatusChange:
        """Move an idea on; raises TransitionError if the process does not allow it.

        Merging has its own method (:meth:`merge`): it moves supporters and followers too.
        """
        if status == IdeaStatus.MERGED:
            raise IdeaError("use merge() to merge ideas")
        async with self.db.transaction():
            idea = await self.ideas.get(idea_id)
            if idea is None or idea.removed:
                raise IdeaError(f"idea #{idea_id} does not exist")
            check(idea.status, status, reopen=reopen)
            return await self.ideas.set_status(
                idea_id,
                status,
                now=now,
                reason=reason,
                theme=theme,
                department=department,
                by_user_id=by_user_id,
            )

    async def merge(
        self,
        idea_id: int,
        into: int,
        *,
        now: datetime,
        by_user_id: int | None,
        reason: str | None = None,
    ) -> Merge:
        """Merge an idea into another that says the same.

        Its supporters and followers move to ``into`` (nobody twice, and nobody supports
        their own idea); its author becomes a supporter of ``into``, so their voice still
        counts there. The merged idea keeps its history and points at ``into``.
        """
        async with self.db.transaction():
            idea = await self.ideas.get(idea_id)
            target = await self.ideas.get(into)
            if idea is None or idea.removed:
                raise IdeaError(f"idea #{idea_id} does not exist")
            if target is None or target.removed:
                raise IdeaError(f"idea #{into} does not exist")
            if target.status == IdeaStatus.MERGED:
                raise IdeaError(f"idea #{into} was merged itself")
            check(idea.status, IdeaStatus.MERGED)
            change = await self.ideas.set_status(
                idea_id,
                IdeaStatus.MERGED,
                now=now,
                reason=reason,
                merged_into=into,
                by_user_id=by_user_id,
            )
            supports = await self._move_supports(idea_id, into, target.author_user_id)
            if idea.author_user_id is not None and idea.author_user_id != target.author_user_id:
                await self.db.execute(
                    "INSERT OR IGNORE INTO idea_supports (idea_id, user_id, created_at)"
                    " VALUES (?, ?, ?)",
                    (into, idea.author_user_id, iso(now)),
                )
            follows = await self.db.execute_rowcount(
                "INSERT OR IGNORE INTO idea_follows (idea_id, user_id, created_at)"
                " SELECT ?, user_id, created_at FROM idea_follows WHERE idea_id = ?",
                (into, idea_id),
            )
            await self.db.execute("DELETE FROM idea_follows WHERE idea_id = ?", (idea_id,))
        return Merge(change=change, supports_moved=supports, follows_moved=follows)

    async def _move_supports(self, idea_id: int, into: int, target_author: int | None) -> int:
        """Move supports; the triggers keep both ideas' supporter counts right."""
        if target_author is not None:
            await self.db.execute(
                "DELETE FROM idea_supports WHERE idea_id = ? AND user_id = ?",
                (idea_id, target_author),
            )
        moved = await self.db.execute_rowcount(
            "UPDATE OR IGNORE idea_supports SET idea_id = ? WHERE idea_id = ?", (into, idea_id)
        )
        # What is left supported both ideas already: it counts once, on the target.
        await self.db.execute("DELETE FROM idea_supports WHERE idea_id = ?", (idea_id,))
        return moved

    # Proposals ---------------------------------------------------------------------------

    async def set_proposal_status(
        self,
        proposal_id: int,
        status: ProposalStatus,
        *,
        now: datetime,
        by_user_id: int | None,
        reason: str | None = None,
        amount_cents: int | None = None,
        reopen: bool = False,
    ) -> Proposal:
        """Move a proposal on; raises TransitionError if the process does not allow it.

        ``gefinancierd`` and ``cofinanciering`` need the amount decided; other statuses
        take none.
        """
        funded = status in (ProposalStatus.FUNDED, ProposalStatus.COFUNDED)
        if funded != (amount_cents is not None):
            raise ValueError(f"status {status.value}: amount given wrongly")
        async with self.db.transaction():
            proposal = await self.proposals.get(proposal_id)
            if proposal is None:
                raise LookupError(f"proposal #{proposal_id} does not exist")
            check(proposal.status, status, reopen=reopen)
            await self.proposals.set_status(
                proposal_id,
                status,
                reason=reason,
                by_user_id=by_user_id,
                now=now,
                amount_cents=amount_cents,
            )
            changed = await self.proposals.get(proposal_id)
        assert changed is not None
        return changed
