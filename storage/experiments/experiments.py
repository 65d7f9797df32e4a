"""Experiments residents can join, and who takes part in each."""

from __future__ import annotations

from datetime import datetime

import aiosqlite
from pydantic import BaseModel, ConfigDict

from storage.clock import iso, parse
from storage.db import Database
from storage.localized import Localized


class NewExperiment(BaseModel):
    """What it takes to start an experiment (from the profile, or an approved proposal)."""

    model_config = ConfigDict(frozen=True)

    slug: str | None = None
    title: Localized
    summary: Localized
    place: Localized
    organiser: Localized
    neighbourhood: str | None = None
    theme: str | None = None


class Experiment(NewExperiment):
    """A stored experiment with the number of residents taking part."""

    id: int
    status: str
    participants: int
    created_at: datetime


_TEXTS = ("title", "summary", "place", "organiser")
_SELECT = (
    "SELECT e.*, (SELECT COUNT(*) FROM experiment_participants p"
    " WHERE p.experiment_id = e.id) AS participants FROM experiments e"
)


def _experiment(row: aiosqlite.Row) -> Experiment:
    texts = {name: Localized.model_validate_json(row[name]) for name in _TEXTS}
    return Experiment(
        id=row["id"],
        slug=row["slug"],
        neighbourhood=row["neighbourhood"],
        theme=row["theme"],
        status=row["status"],
        participants=int(row["participants"]),
        created_at=parse(row["created_at"]),
        **texts,
    )


def _values(new: NewExperiment) -> list[str | None]:
    values: list[str | None] = [new.slug]
    for name in _TEXTS:
        text: Localized = getattr(new, name)
        values.append(text.model_dump_json())
    return [*values, new.neighbourhood, new.theme]


def _running(matching: str | None) -> tuple[str, tuple[str, ...]]:
    """The condition (and its parameters) for running experiments with ``matching`` in the
    title: the stored title holds every language's text, so any of them is searched."""
    if not matching:
        return "e.status = 'running'", ()
    return (
        "e.status = 'running' AND EXISTS (SELECT 1 FROM json_each(e.title) t"
        " WHERE instr(casefold(t.value), ?) > 0)",
        (matching.casefold(),),
    )


_COLUMNS = "slug, title, summary, place, organiser, neighbourhood, theme, created_at"


class Experiments:
    """The experiments and experiment_participants tables."""

    def __init__(self, db: Database):
        self.db = db

    async def seed(self, experiments: list[NewExperiment], now: datetime) -> None:
        """Bring the profile's experiments in, keyed by slug, at every start-up.

        A new slug is added; a known one takes the profile's texts, theme and neighbourhood
        (an editor's fix reaches residents), and keeps its id, status and participants.
        """
        for new in experiments:
            await self.db.execute(
                f"INSERT INTO experiments ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (slug) DO UPDATE SET title = excluded.title,"
                " summary = excluded.summary, place = excluded.place,"
                " organiser = excluded.organiser,"
                " neighbourhood = excluded.neighbourhood, theme = excluded.theme",
                (*_values(new), iso(now)),
            )

    async def create(self, new: NewExperiment, now: datetime) -> int:
        """Start a new experiment; returns its id."""
        return await self.db.execute(
            f"INSERT INTO experiments ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
            (*_values(new), iso(now)),
        )

    async def link_idea(self, experiment_id: int, idea_id: int) -> None:
        """Remember the idea an experiment grew out of (a quick win)."""
        await self.db.execute(
            "UPDATE experiments SET idea_id = ? WHERE id = ?", (idea_id, experiment_id)
        )

    async def of_idea(self, idea_id: int) -> Experiment | None:
        """The experiment that grew out of an idea, if one did (the latest)."""
        row = await self.db.fetchone(
            f"{_SELECT} WHERE e.idea_id = ? ORDER BY e.id DESC LIMIT 1", (idea_id,)
        )
        return _experiment(row) if row else None

    async def get(self, experiment_id: int) -> Experiment | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE e.id = ?", (experiment_id,))
        return _experiment(row) if row else None

    async def running(
        self, *, limit: int = -1, offset: int = 0, matching: str | None = None
    ) -> list[Experiment]:
        """The experiments residents can join, oldest first: ``limit`` of them from
        ``offset`` (a page of a list; all of them by default), only those whose title has
        ``matching`` in it (in any language) when given."""
        where, params = _running(matching)
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE {where} ORDER BY e.id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return [_experiment(row) for row in rows]

    async def count_running(self, *, matching: str | None = None) -> int:
        """How many experiments residents can join (with ``matching`` in the title)."""
        where, params = _running(matching)
        sql = f"SELECT COUNT(*) FROM experiments e WHERE {where}"
        return int(await self.db.fetchval(sql, params))

    async def running_by_slug(self, slug: str) -> Experiment | None:
        """The running experiment with this slug (the profile's name for it)."""
        row = await self.db.fetchone(
            f"{_SELECT} WHERE e.slug = ? AND e.status = 'running'", (slug,)
        )
        return _experiment(row) if row else None

    async def end(self, experiment_id: int) -> bool:
        """Close an experiment for joining; its participants stay."""
        changed = await self.db.execute_rowcount(
            "UPDATE experiments SET status = 'ended' WHERE id = ? AND status = 'running'",
            (experiment_id,),
        )
        return changed == 1

    async def join(self, experiment_id: int, user_id: int, now: datetime) -> bool:
        """Take part; False when this person already does."""
        changed = await self.db.execute_rowcount(
            "INSERT INTO experiment_participants (experiment_id, user_id, joined_at)"
            " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (experiment_id, user_id, iso(now)),
        )
        return changed == 1

    async def leave(self, experiment_id: int, user_id: int) -> bool:
        """Stop taking part; False when this person did not take part. An update to the
        participants still on its way to them stops too (its copy not yet sent)."""
        changed = await self.db.execute_rowcount(
            "DELETE FROM experiment_participants WHERE experiment_id = ? AND user_id = ?",
            (experiment_id, user_id),
        )
        if changed == 1:
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = 'left the audience'"
                " WHERE user_id = ? AND status = 'pending' AND batch IN"
                " (SELECT 'broadcast:' || id FROM broadcasts WHERE status = 'released'"
                " AND audience_kind = 'experiment' AND audience_value = ?)",
                (user_id, str(experiment_id)),
            )
        return changed == 1

    async def takes_part(self, experiment_id: int, user_id: int) -> bool:
        found = await self.db.fetchval(
            "SELECT 1 FROM experiment_participants WHERE experiment_id = ? AND user_id = ?",
            (experiment_id, user_id),
        )
        return found is not None

    async def taking_part(self, user_id: int) -> list[int]:
        """The ids of the experiments someone takes part in."""
        rows = await self.db.fetchall(
            "SELECT experiment_id FROM experiment_participants WHERE user_id = ?"
            " ORDER BY experiment_id",
            (user_id,),
        )
        return [int(row[0]) for row in rows]

    async def participants(self, experiment_id: int) -> list[int]:
        """The user ids of everyone taking part."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM experiment_participants WHERE experiment_id = ?"
            " ORDER BY joined_at",
            (experiment_id,),
        )
        return [int(row[0]) for row in rows]
