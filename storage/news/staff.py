"""Civil servants' introduction cards: who they are and what they work on."""

from __future__ import annotations

from datetime import datetime

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database

#: Cards are shown while their owner still holds a civil servant's role (or higher).
_STAFF_ROLES = "('ambtenaar', 'verbinder', 'admin')"


class StaffCard(BaseModel):
    """One civil servant's card. ``department_id`` is a profile department, else free text."""

    user_id: int
    name: str
    department_id: str | None
    department_text: str | None
    work: str
    photo_id: int | None
    updated_at: datetime


def _card(row: aiosqlite.Row) -> StaffCard:
    return StaffCard(
        user_id=row["user_id"],
        name=row["name"],
        department_id=row["department_id"],
        department_text=row["department_text"],
        work=row["work"],
        photo_id=row["photo_id"],
        updated_at=parse(row["updated_at"]),
    )


class StaffCards:
    """The staff_cards table."""

    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: int) -> StaffCard | None:
        """This person's card, whether or not it is shown."""
        row = await self.db.fetchone("SELECT * FROM staff_cards WHERE user_id = ?", (user_id,))
        return _card(row) if row else None

    async def shown(self, user_id: int) -> StaffCard | None:
        """The card as residents may see it: None when its owner is no longer staff."""
        row = await self.db.fetchone(
            "SELECT c.* FROM staff_cards c JOIN users u ON u.id = c.user_id"
            f" WHERE c.user_id = ? AND u.role IN {_STAFF_ROLES}",
            (user_id,),
        )
        return _card(row) if row else None

    async def all_shown(self) -> list[StaffCard]:
        """Every card residents may see, by name."""
        rows = await self.db.fetchall(
            "SELECT c.* FROM staff_cards c JOIN users u ON u.id = c.user_id"
            f" WHERE u.role IN {_STAFF_ROLES} ORDER BY c.name COLLATE NOCASE, c.user_id"
        )
        return [_card(row) for row in rows]

    async def save(
        self,
        user_id: int,
        *,
        name: str,
        department_id: str | None,
        department_text: str | None,
        work: str,
        photo_id: int | None,
        now: datetime,
    ) -> None:
        """Create or replace this person's card."""
        await self.db.execute(
            "INSERT INTO staff_cards (user_id, name, department_id, department_text, work,"
            " photo_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,"
            " department_id = excluded.department_id,"
            " department_text = excluded.department_text, work = excluded.work,"
            " photo_id = excluded.photo_id, updated_at = excluded.updated_at",
            (user_id, name, department_id, department_text, work, photo_id, iso(now)),
        )
