"""What the open-data export publishes: public content and counts, never people.

No query here reads a column that points at a person (authors, supporters, participants are
only ever counted), no comment text is read, removed ideas and news meant only for an
experiment's participants are left out. Times are returned as stored (UTC).

Beside them, the one piece of state the export keeps: whether the published folder is stale.
Triggers (migration ``open_data_refresh``) count every time content leaves public view (an
idea hidden, removed, withdrawn or deleted, a status reason emptied, any erasure) in the same
transaction; the export records the count it published (:meth:`OpenData.mark_published`).
A meeting moved or cancelled whose invitation is public news counts too (the site shows its
time and whether it goes ahead): its storage counts it in the same transaction. So does a
budget round cancelled before it opened (a trigger of migration ``budget_round_author``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.clock import iso, parse
from storage.db import Database

Row = dict[str, Any]

_LATEST = (
    "(SELECT h.{column} FROM idea_status_history h WHERE h.idea_id = i.id"
    " AND h.{column} IS NOT NULL ORDER BY h.id DESC LIMIT 1)"
)

#: News audiences that everyone could read ("experiment" updates went to participants only).
PUBLIC_AUDIENCES = ("all", "theme", "neighbourhood")


def _nl_en(column: str) -> str:
    """An experiment's text as the export's ``<column>_nl`` and ``<column>_en`` fields (the
    Dutch text where it has no English one)."""
    nl = f"json_extract(e.{column}, '$.nl')"
    return f"{nl} AS {column}_nl, COALESCE(json_extract(e.{column}, '$.en'), {nl}) AS {column}_en"


class OpenData:
    """The open-data export's queries, and whether the published folder is stale."""

    def __init__(self, db: Database):
        self.db = db

    async def changes(self) -> int:
        """How many times public content left view so far (a count that only grows)."""
        return int(await self.db.fetchval("SELECT changes FROM open_data_state WHERE id = 1"))

    async def stale(self) -> bool:
        """Whether content left view since the published folder was made."""
        return bool(
            await self.db.fetchval("SELECT changes > published FROM open_data_state WHERE id = 1")
        )

    async def mark_published(self, changes: int) -> None:
        """The published folder now shows everything up to ``changes`` (a count read before
        the export read its rows)."""
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE open_data_state SET published = max(published, ?) WHERE id = 1",
                (changes,),
            )

    async def clean_ups(self) -> list[int]:
        """The erasures whose clean-up (:meth:`PersonalStore.scrub`) is not finished yet:
        until it is, a staff reason may still name the person."""
        rows = await self.db.fetchall("SELECT id FROM erasure_scrubs ORDER BY id")
        return [int(row[0]) for row in rows]

    async def oldest_clean_up(self) -> datetime | None:
        """When the oldest unfinished clean-up began; None if there is none."""
        return parse(await self.db.fetchval("SELECT MIN(created_at) FROM erasure_scrubs"))

    async def ideas(self) -> list[Row]:
        """Every idea not removed, with its latest theme, department and merge target."""
        rows = await self.db.fetchall(
            "SELECT i.id AS number, i.category,"
            f" {_LATEST.format(column='theme')} AS theme,"
            f" {_LATEST.format(column='department')} AS department,"
            f" {_LATEST.format(column='merged_into')} AS merged_into,"
            " i.neighbourhood, i.title, i.description AS text, i.status, i.supporters,"
            " (SELECT COUNT(*) FROM idea_comments c WHERE c.idea_id = i.id"
            " AND c.hidden_at IS NULL) AS comments,"
            " i.created_at AS submitted_at, i.updated_at, i.title_changed_at,"
            " i.restored_at AS shown_again_at"
            " FROM ideas i WHERE i.removed_at IS NULL ORDER BY i.id",
            long=True,
        )
        return [dict(row) for row in rows]

    async def idea_history(self) -> list[Row]:
        """Every status change of every idea not removed, oldest first."""
        rows = await self.db.fetchall(
            "SELECT h.id, h.idea_id AS idea, h.status, h.reason, h.theme, h.department,"
            " h.merged_into, h.at, h.reason_changed_at FROM idea_status_history h"
            " JOIN ideas i ON i.id = h.idea_id WHERE i.removed_at IS NULL ORDER BY h.id",
            long=True,
        )
        return [dict(row) for row in rows]

    async def removed_entries(self, since: datetime) -> list[Row]:
        """The feed's status-change entries whose idea left public view at ``since`` or later
        (hidden, removed, withdrawn or erased) and is still out of view: the entry's number,
        the idea's number, when the entry first appeared and when the idea was taken away.
        Nothing of what the entry showed (title, reason) is kept for them."""
        rows = await self.db.fetchall(
            "SELECT entry, idea, published_at, removed_at FROM feed_removals"
            " WHERE removed_at >= ? ORDER BY entry",
            (iso(since),),
            long=True,
        )
        return [dict(row) for row in rows]

    async def experiments(self) -> list[Row]:
        """Every experiment with the number of residents taking part."""
        rows = await self.db.fetchall(
            "SELECT e.id, e.slug,"
            f" {_nl_en('title')}, {_nl_en('summary')}, {_nl_en('place')}, {_nl_en('organiser')},"
            " e.neighbourhood,"
            " e.theme, e.status, (SELECT COUNT(*) FROM experiment_participants p"
            " WHERE p.experiment_id = e.id) AS participants, e.created_at AS started_at"
            " FROM experiments e ORDER BY e.id",
            long=True,
        )
        return [dict(row) for row in rows]

    async def news(self) -> list[Row]:
        """Published "Wist je dat" news everyone could read, with its text (not its signer).

        An invitation to a meeting carries the meeting as it is now (its title, whether it
        goes ahead, its time, its address; never an online link, which is for those invited), and
        ``updated_at`` moves on when the meeting is moved or cancelled, as the chat's "Wist
        je dat" shows it then too."""
        marks = ", ".join("?" for _ in PUBLIC_AUDIENCES)
        rows = await self.db.fetchall(
            "SELECT n.id, n.published_at, n.audience_kind AS audience,"
            " n.audience_value AS audience_code, b.text, n.payload,"
            " m.title AS meeting_title,"
            " m.status AS meeting_status, m.starts_at AS meeting_starts_at,"
            " m.ends_at AS meeting_ends_at,"
            " CASE WHEN m.online_link IS NOT NULL THEN 'online' ELSE m.address END"
            " AS meeting_place,"
            " MAX(n.published_at, COALESCE(m.updated_at, n.published_at)) AS updated_at"
            " FROM news n LEFT JOIN broadcasts b ON b.id = n.broadcast_id"
            " LEFT JOIN meetings m ON m.broadcast_id = n.broadcast_id"
            f" WHERE n.audience_kind IN ({marks}) ORDER BY n.published_at, n.id",
            PUBLIC_AUDIENCES,
            long=True,
        )
        items = []
        for row in rows:
            item = dict(row)
            payload = item.pop("payload")
            if item["text"] is None:
                item["text"] = _payload_text(payload)
            items.append(item)
        return items

    async def idea_totals(self, dimension: str) -> dict[str | None, tuple[int, int]]:
        """Ideas (not removed) and their supporters, per category, status or neighbourhood."""
        if dimension not in ("category", "status", "neighbourhood"):
            raise ValueError(f"not a dimension of ideas: {dimension}")
        rows = await self.db.fetchall(
            f"SELECT {dimension} AS code, COUNT(*) AS ideas, SUM(supporters) AS supporters"
            f" FROM ideas WHERE removed_at IS NULL GROUP BY {dimension}",
            long=True,
        )
        return {row["code"]: (int(row["ideas"]), int(row["supporters"])) for row in rows}


def _payload_text(payload: str) -> str | None:
    """The news text inside stored replies (``params.text`` of the first reply)."""
    try:
        replies = json.loads(payload)
        text = replies[0]["params"]["text"]
    except (ValueError, LookupError, TypeError):
        return None
    return text if isinstance(text, str) else None
