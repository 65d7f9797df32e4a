"""Figures for staff: ideas by category, status and neighbourhood, time to a first status,
participants per experiment and subscribers. Counts only; nothing about any one person.
"""

from __future__ import annotations

from pydantic import BaseModel

from storage.db import Database
from storage.localized import Localized


class Count(BaseModel):
    """How many there are of one kind (``key`` None: without one, e.g. no neighbourhood)."""

    key: str | None
    count: int


class ExperimentCount(BaseModel):
    """An experiment and how many residents take part."""

    id: int
    title: Localized
    participants: int
    running: bool


class Overview(BaseModel):
    """Everything /stats shows."""

    ideas: int
    by_category: list[Count]
    by_status: list[Count]
    by_neighbourhood: list[Count]
    #: Ideas that got a first status after being sent in, and the average wait in hours.
    decided: int
    hours_to_first_status: float | None
    experiments: list[ExperimentCount]
    subscribers: int


_VISIBLE = "removed_at IS NULL"


class Stats:
    """Counting queries over ideas, experiments and subscriptions."""

    def __init__(self, db: Database):
        self.db = db

    async def overview(self) -> Overview:
        ideas = await self.db.fetchval(f"SELECT COUNT(*) FROM ideas WHERE {_VISIBLE}", long=True)
        first = await self.db.fetchone(
            "SELECT COUNT(*) AS n,"
            " AVG(julianday(f.first_at) - julianday(i.created_at)) * 24 AS hours"
            " FROM ideas i JOIN (SELECT idea_id, MIN(at) AS first_at FROM idea_status_history"
            " WHERE status != 'ingediend' GROUP BY idea_id) f ON f.idea_id = i.id"
            f" WHERE i.{_VISIBLE}",
            long=True,
        )
        assert first is not None
        experiments = await self.db.fetchall(
            "SELECT e.id, e.title, e.status, COUNT(p.user_id) AS n"
            " FROM experiments e LEFT JOIN experiment_participants p ON p.experiment_id = e.id"
            " GROUP BY e.id ORDER BY e.status = 'running' DESC, n DESC, e.id",
            long=True,
        )
        subscribers = await self.db.fetchval(
            "SELECT COUNT(*) FROM news_subscriptions s JOIN users u ON u.id = s.user_id"
            " WHERE u.unreachable_at IS NULL",
            long=True,
        )
        return Overview(
            ideas=int(ideas),
            by_category=await self._count("category"),
            by_status=await self._count("status"),
            by_neighbourhood=await self._count("neighbourhood"),
            decided=int(first["n"]),
            hours_to_first_status=first["hours"],
            experiments=[
                ExperimentCount(
                    id=row["id"],
                    title=Localized.model_validate_json(row["title"]),
                    participants=int(row["n"]),
                    running=row["status"] == "running",
                )
                for row in experiments
            ],
            subscribers=int(subscribers),
        )

    async def _count(self, column: str) -> list[Count]:
        rows = await self.db.fetchall(
            f"SELECT {column} AS key, COUNT(*) AS n FROM ideas WHERE {_VISIBLE}"
            f" GROUP BY {column} ORDER BY n DESC, {column}",
            long=True,
        )
        return [Count(key=row["key"], count=int(row["n"])) for row in rows]
