"""Pictures, stored once by content and shown on any platform."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, Field

from storage.clock import iso
from storage.db import Database


class Media(BaseModel):
    """One stored picture."""

    id: int
    mime_type: str
    data: bytes = Field(repr=False)


class MediaStore:
    """The media and media_refs tables."""

    def __init__(self, db: Database):
        self.db = db

    async def save(self, data: bytes, mime_type: str, now: datetime) -> int:
        """Store a picture (or find the identical one) and return its id."""
        digest = hashlib.sha256(data).hexdigest()
        found = await self.db.fetchval("SELECT id FROM media WHERE sha256 = ?", (digest,))
        if found is not None:
            return int(found)
        return await self.db.execute(
            "INSERT INTO media (sha256, mime_type, data, created_at) VALUES (?, ?, ?, ?)",
            (digest, mime_type, data, iso(now)),
        )

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
