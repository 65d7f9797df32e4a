"""Who gets a notification, grouped by the language they read.

Notifications are rendered in the recipient's language when sent; names that live in the
municipality profile rather than in the catalogs (a theme, a department) are filled in per
language group when the notification is queued.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.db import Database

#: Ids per query, well below SQLite's limit on bound parameters.
CHUNK = 500


class Recipients:
    """Reads the languages of the people a notification goes to."""

    def __init__(self, db: Database):
        self.db = db

    async def by_language(self, user_ids: Sequence[int], default: str) -> dict[str, list[int]]:
        """The given people grouped by their chosen language (``default`` if none)."""
        unique = sorted(set(user_ids))
        groups: dict[str, list[int]] = {}
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = await self.db.fetchall(
                f"SELECT id, language FROM users WHERE id IN ({marks}) ORDER BY id",
                chunk,
                long=True,
            )
            for row in rows:
                groups.setdefault(row["language"] or default, []).append(int(row["id"]))
        return groups
