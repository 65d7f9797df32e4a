"""Where each person is in a multi-step conversation, written through on every step."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import aiosqlite
from pydantic import BaseModel

from storage.clock import iso, parse
from storage.db import Database


class StoredDialog(BaseModel):
    """A dialog as saved: its name, step, collected data and button token."""

    name: str
    step: str
    data: dict[str, Any]
    token: str
    updated_at: datetime


class UnreadableDialog(ValueError):
    """A stored dialog this code cannot read (its data is not a JSON object, say): stored
    by another version, or damaged."""


def dialog_from_row(row: aiosqlite.Row, prefix: str = "") -> StoredDialog | None:
    """The dialog in a row with the dialogs table's columns, named with ``prefix``.

    Raises:
        UnreadableDialog: the row holds a dialog that cannot be read.
    """
    if row[f"{prefix}name"] is None:
        return None
    try:
        return StoredDialog(
            name=row[f"{prefix}name"],
            step=row[f"{prefix}step"],
            data=json.loads(row[f"{prefix}data"]),
            token=row[f"{prefix}token"],
            updated_at=parse(row[f"{prefix}updated_at"]),
        )
    except (TypeError, ValueError) as exc:  # broken JSON, or not the shape of a dialog
        # Only the kind of error: the message would quote the data, which may be personal.
        raise UnreadableDialog(type(exc).__name__) from exc


class Dialogs:
    """The dialogs table: at most one active dialog per user."""

    def __init__(self, db: Database):
        self.db = db

    async def load(self, user_id: int) -> StoredDialog | None:
        """The person's dialog; None also for one that cannot be read (the router drops
        it at their next event)."""
        row = await self.db.fetchone("SELECT * FROM dialogs WHERE user_id = ?", (user_id,))
        try:
            return dialog_from_row(row) if row is not None else None
        except UnreadableDialog:
            return None

    async def save(
        self,
        user_id: int,
        name: str,
        step: str,
        data: dict[str, Any],
        token: str,
        now: datetime,
    ) -> None:
        await self.db.execute(
            "INSERT INTO dialogs (user_id, name, step, data, token, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, step = excluded.step,"
            " data = excluded.data, token = excluded.token, updated_at = excluded.updated_at",
            (user_id, name, step, json.dumps(data, ensure_ascii=False), token, iso(now)),
        )

    async def clear(self, user_id: int) -> None:
        await self.db.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,))

    async def forget_untouched(self, before: datetime) -> int:
        """Delete the dialogs nobody touched since ``before`` (long expired: what was typed
        in them stays no longer than needed); returns how many."""
        return await self.db.execute_rowcount(
            "DELETE FROM dialogs WHERE updated_at < ?", (iso(before),)
        )


#: An option offered in a chat without native buttons: its label, its payload, and whether
#: it was shown with a number. A message from the outbox that came in the middle of a dialog
#: shows its options by name only, after the dialog's numbered ones.
Option = tuple[str, str, bool]


class ChatOptions:
    """The numbered options last offered in a chat without native buttons."""

    def __init__(self, db: Database):
        self.db = db

    async def load(self, platform: str, chat_id: str) -> list[Option]:
        """The options, numbered ones first, in the order they were numbered."""
        raw = await self.db.fetchval(
            "SELECT options FROM chat_options WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        )
        # Stored as [label, payload], or [label, payload, false] for one shown by name.
        return [(str(o[0]), str(o[1]), len(o) < 3 or bool(o[2])) for o in json.loads(raw or "[]")]

    async def save(
        self,
        platform: str,
        chat_id: str,
        options: list[Option],
        now: datetime,
        *,
        only_if_newer: bool = False,
    ) -> None:
        """Remember the options offered at ``now``; with ``only_if_newer``, not over options
        offered after it (an outbox message recorded after a reply that came later). None
        offered forgets the ones before (a direct reply without buttons)."""
        if not options and not only_if_newer:
            await self.db.execute(
                "DELETE FROM chat_options WHERE platform = ? AND chat_id = ?", (platform, chat_id)
            )
            return
        newer = " WHERE excluded.updated_at >= chat_options.updated_at" if only_if_newer else ""
        await self.db.execute(
            "INSERT INTO chat_options (platform, chat_id, options, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO UPDATE SET"
            f" options = excluded.options, updated_at = excluded.updated_at{newer}",
            (platform, chat_id, json.dumps(_stored(options), ensure_ascii=False), iso(now)),
        )


def _stored(options: list[Option]) -> list[list[str | bool]]:
    return [
        [label, payload] if numbered else [label, payload, False]
        for label, payload, numbered in options
    ]
