"""The comment thread under each idea: one thread for everyone, whatever app they use.

Moderation may hide a comment (``hidden_at``, ``hidden_reason``); hidden comments are never
returned and never counted.
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database
from storage.users import Role


class Comment(BaseModel):
    """One visible comment; the role its author wrote it in says how to show them (never
    their name, and not the role they hold now: a resident who later becomes the
    connector wrote it as a resident)."""

    id: int
    idea_id: int
    author_user_id: int | None
    author_role: Role | None
    body: str
    created_at: datetime
    edited_at: datetime | None = None


class CommentPage(BaseModel):
    """Some comments of a thread, oldest first, and how many visible comments it has."""

    comments: list[Comment]
    total: int
    offset: int

    @property
    def has_older(self) -> bool:
        return self.offset + len(self.comments) < self.total

    @property
    def has_newer(self) -> bool:
        return self.offset > 0


def _comment(row: aiosqlite.Row) -> Comment:
    role = row["author_role"]
    return Comment(
        id=row["id"],
        idea_id=row["idea_id"],
        author_user_id=row["author_user_id"],
        author_role=Role(role) if role is not None else None,
        body=row["body"],
        created_at=parse(row["created_at"]),
        edited_at=parse(row["edited_at"]),
    )


_SELECT = (
    "SELECT c.id, c.idea_id, c.author_user_id, c.body, c.created_at, c.edited_at,"
    " c.author_role FROM idea_comments c"
)


class Comments:
    """The idea_comments table."""

    def __init__(self, db: Database):
        self.db = db

    async def add(self, idea_id: int, author_user_id: int, body: str, now: datetime) -> Comment:
        """Place a comment under an idea, with the role its author writes it in."""
        comment_id = await self.db.execute(
            "INSERT INTO idea_comments (idea_id, author_user_id, body, created_at, author_role)"
            " VALUES (?, ?, ?, ?, (SELECT role FROM users WHERE id = ?))",
            (idea_id, author_user_id, body, iso(now), author_user_id),
        )
        row = await self.db.fetchone(f"{_SELECT} WHERE c.id = ?", (comment_id,))
        assert row is not None
        return _comment(row)

    async def latest(self, idea_id: int, *, limit: int = 5, offset: int = 0) -> CommentPage:
        """The newest visible comments after skipping ``offset`` newer ones, oldest first."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE c.idea_id = ? AND c.hidden_at IS NULL"
            " ORDER BY c.id DESC LIMIT ? OFFSET ?",
            (idea_id, limit, offset),
        )
        return CommentPage(
            comments=[_comment(row) for row in reversed(rows)],
            total=await self.count(idea_id),
            offset=offset,
        )

    async def count(self, idea_id: int) -> int:
        """How many visible comments an idea has (kept on its row by triggers)."""
        total = await self.db.fetchval("SELECT comments FROM ideas WHERE id = ?", (idea_id,))
        return int(total or 0)

    async def own(self, comment_id: int, author_user_id: int) -> Comment | None:
        """A visible comment this person wrote; None if there is no such comment."""
        row = await self.db.fetchone(
            f"{_SELECT} WHERE c.id = ? AND c.author_user_id = ? AND c.hidden_at IS NULL",
            (comment_id, author_user_id),
        )
        return _comment(row) if row is not None else None

    async def edit_own(
        self, comment_id: int, author_user_id: int, body: str, now: datetime
    ) -> bool:
        """Change one's own visible comment; False if it is not theirs or not visible."""
        changed = await self.db.execute_rowcount(
            "UPDATE idea_comments SET body = ?, edited_at = ?"
            " WHERE id = ? AND author_user_id = ? AND hidden_at IS NULL",
            (body, iso(now), comment_id, author_user_id),
        )
        return changed > 0

    async def delete_own(self, comment_id: int, author_user_id: int) -> bool:
        """Delete one's own visible comment for good (its reports go with it)."""
        changed = await self.db.execute_rowcount(
            "DELETE FROM idea_comments WHERE id = ? AND author_user_id = ? AND hidden_at IS NULL",
            (comment_id, author_user_id),
        )
        return changed > 0

    async def hide(self, comment_id: int, reason: str, now: datetime) -> bool:
        """Hide a comment from everyone (moderation); False if it was hidden already."""
        changed = await self.db.execute_rowcount(
            "UPDATE idea_comments SET hidden_at = ?, hidden_reason = ?"
            " WHERE id = ? AND hidden_at IS NULL",
            (iso(now), reason, comment_id),
        )
        return changed > 0

    async def unhide(self, comment_id: int) -> bool:
        """Show a hidden comment again (moderation kept it); False if it was not hidden."""
        changed = await self.db.execute_rowcount(
            "UPDATE idea_comments SET hidden_at = NULL, hidden_reason = NULL"
            " WHERE id = ? AND hidden_at IS NOT NULL",
            (comment_id,),
        )
        return changed > 0
