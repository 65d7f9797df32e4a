"""Pictures, stored once by content and shown on any platform.

A picture is kept while something refers to it: a row (an idea, a staff card, a "Wist je
dat" message, a budget round's project), a dialog in progress, or a message still to be
sent. One that nothing refers to any more (replaced in a draft, a draft stopped, an idea's
photo changed) is deleted at once where that happens, and by :meth:`MediaStore.sweep`
otherwise (a draft that expired). Who sent each picture in is recorded
(``media_uploads``), so that their export and erasure find it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from storage.clock import iso
from storage.db import Database

#: The keys under which a dialog's data holds a picture, at any depth (a budget round's
#: projects are a list of their own).
DIALOG_PHOTO_KEYS = ("photo", "photo_id", "old_photo_id")
#: The key under which a reply (in the outbox, or waiting to be confirmed) holds a picture.
REPLY_PHOTO_KEY = "photo_id"
#: Tables whose references to a picture do not keep it: the platforms' copies of it, and who
#: sent it in.
_NOT_USES = ("media", "media_refs", "media_uploads")

_KEYS = ", ".join(f"'{key}'" for key in DIALOG_PHOTO_KEYS)


class Media(BaseModel):
    """One stored picture."""

    id: int
    mime_type: str
    data: bytes = Field(repr=False)


def dialog_photos(data: Any) -> set[int]:
    """The pictures a dialog's data holds, at any depth."""
    found: set[int] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in DIALOG_PHOTO_KEYS and isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
            else:
                found |= dialog_photos(value)
    elif isinstance(data, list):
        for item in data:
            found |= dialog_photos(item)
    return found


class MediaStore:
    """The media, media_refs and media_uploads tables."""

    def __init__(self, db: Database):
        self.db = db
        self._uses: list[tuple[str, str]] | None = None

    async def save(
        self, data: bytes, mime_type: str, now: datetime, *, by: int | None = None
    ) -> int:
        """Store a picture (or find the identical one) and return its id; ``by``: the person
        who sent it in (None for a picture the bot made itself, a chart)."""
        digest = hashlib.sha256(data).hexdigest()
        found = await self.db.fetchval("SELECT id FROM media WHERE sha256 = ?", (digest,))
        if found is not None:
            media_id = int(found)
        else:
            media_id = await self.db.execute(
                "INSERT INTO media (sha256, mime_type, data, created_at) VALUES (?, ?, ?, ?)",
                (digest, mime_type, data, iso(now)),
            )
        if by is not None:
            await self.db.execute(
                "INSERT INTO media_uploads (user_id, media_id, uploaded_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (by, media_id, iso(now)),
            )
        return media_id

    async def get(self, media_id: int) -> Media | None:
        row = await self.db.fetchone(
            "SELECT id, mime_type, data FROM media WHERE id = ?", (media_id,)
        )
        if row is None:
            return None
        return Media(id=row["id"], mime_type=row["mime_type"], data=bytes(row["data"]))

    async def platform_ref(self, media_id: int, platform: str) -> str | None:
        """The platform's own id for this picture, once it has been uploaded there."""
        ref = await self.db.fetchval(
            "SELECT ref FROM media_refs WHERE media_id = ? AND platform = ?",
            (media_id, platform),
        )
        return None if ref is None else str(ref)

    async def remember_ref(self, media_id: int, platform: str, ref: str) -> None:
        await self.db.execute(
            "INSERT INTO media_refs (media_id, platform, ref) VALUES (?, ?, ?)"
            " ON CONFLICT (media_id, platform) DO UPDATE SET ref = excluded.ref",
            (media_id, platform, ref),
        )

    # Pictures nothing refers to any more ------------------------------------------------

    async def drop_unused(self, candidates: Iterable[int]) -> int:
        """Delete those of these pictures that nothing refers to any more; returns how many.

        Someone else may hold the same picture (stored once) in a row, a draft or a message
        still to be sent: then it stays.
        """
        dropped = 0
        for media_id in sorted(set(candidates)):
            if not await self._in_use(media_id):
                await self.db.execute("DELETE FROM media WHERE id = ?", (media_id,))
                dropped += 1
        return dropped

    async def drop_left_behind(self, before: Any, after: Any = None) -> int:
        """Delete the pictures a dialog's data held ``before`` and no longer holds ``after``
        (replaced, or the dialog ended), unless something else refers to them."""
        return await self.drop_unused(dialog_photos(before) - dialog_photos(after))

    async def sweep(self, before: datetime, *, live_since: datetime) -> int:
        """Delete the pictures stored before ``before`` that nothing refers to: no row, no
        dialog touched since ``live_since`` (an older one has expired), no message still to
        be sent. Returns how many went."""
        uses = await self._uses_of_media()
        rows = " UNION ".join(
            f"SELECT {column} FROM {_quote(table)} WHERE {column} IS NOT NULL"
            for table, column in uses
        )
        in_rows = f" AND id NOT IN ({rows})" if rows else ""
        return await self.db.execute_rowcount(
            f"DELETE FROM media WHERE created_at < :before{in_rows}"
            " AND id NOT IN (SELECT t.value FROM dialogs d,"
            " json_tree(CASE WHEN json_valid(d.data) THEN d.data ELSE '{}' END) AS t"
            f" WHERE d.updated_at >= :live_since AND t.key IN ({_KEYS})"
            " AND t.type = 'integer')"
            f" AND id NOT IN ({_waiting_replies()})",
            {"before": iso(before), "live_since": iso(live_since)},
            long=True,
        )

    async def _in_use(self, media_id: int) -> bool:
        for table, column in await self._uses_of_media():
            found = await self.db.fetchval(
                f"SELECT 1 FROM {_quote(table)} WHERE {column} = ? LIMIT 1", (media_id,)
            )
            if found is not None:
                return True
        # Only rows whose text holds the number are read as JSON.
        params = {"id": media_id, "digits": str(media_id)}
        found = await self.db.fetchval(
            "SELECT 1 FROM dialogs d,"
            " json_tree(CASE WHEN json_valid(d.data) THEN d.data ELSE '{}' END) AS t"
            " WHERE instr(d.data, :digits) > 0"
            f" AND t.key IN ({_KEYS}) AND t.type = 'integer' AND t.value = :id LIMIT 1",
            params,
        )
        if found is not None:
            return True
        found = await self.db.fetchval(
            f"SELECT 1 FROM ({_waiting_replies(':digits')}) WHERE value = :id LIMIT 1", params
        )
        return found is not None

    async def _uses_of_media(self) -> list[tuple[str, str]]:
        """(table, column) of every foreign key to a picture that keeps it."""
        if self._uses is None:
            tables = await self.db.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            found = []
            for row in tables:
                name = str(row["name"])
                if name in _NOT_USES:
                    continue
                keys = await self.db.fetchall(f"PRAGMA foreign_key_list({_quote(name)})")
                found += [(name, str(key["from"])) for key in keys if key["table"] == "media"]
            self._uses = found
        return self._uses


def _waiting_replies(digits: str | None = None) -> str:
    """SELECT of the pictures in messages still to be sent: the outbox's, and direct replies
    kept until the platform confirmed them. With ``digits``, only rows whose text holds
    them are read as JSON."""
    outbox = "o.status = 'pending'" + (f" AND instr(o.payload, {digits}) > 0" if digits else "")
    handled = "h.pending IS NOT NULL" + (f" AND instr(h.pending, {digits}) > 0" if digits else "")
    return (
        "SELECT t.value AS value FROM outbox o,"
        " json_tree(CASE WHEN json_valid(o.payload) THEN o.payload ELSE '[]' END) AS t"
        f" WHERE {outbox} AND t.key = '{REPLY_PHOTO_KEY}' AND t.type = 'integer'"
        " UNION ALL SELECT t.value FROM handled_events h,"
        " json_tree(CASE WHEN json_valid(h.pending) THEN h.pending ELSE '[]' END) AS t"
        f" WHERE {handled} AND t.key = '{REPLY_PHOTO_KEY}' AND t.type = 'integer'"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
