"""The privacy migration on a database written by the code before it: invite codes waiting in
an onboarding and names signed into "Wist je dat" messages are gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import storage.db as dbmod
from storage.db import Database

SIGNED = [
    {
        "key": "news.item",
        "params": {"text": "Wist je dat?"},
        "parts": [{"key": "news.signed", "params": {"name": "Cas Zonnebloem", "department": "X"}}],
    }
]


async def test_codes_and_signatures_written_before_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_privacy_hardening.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        stamp = "2025-01-01T00:00:00Z"
        body = json.dumps(SIGNED)
        async with db.transaction():
            user = await db.execute(
                "INSERT INTO users (platform, platform_user_id, chat_id, consent_at,"
                " created_at, last_seen_at) VALUES ('test', 'a', 'a', ?, ?, ?)",
                (stamp, stamp, stamp),
            )
            await db.execute(
                "INSERT INTO dialogs (user_id, name, step, data, token, updated_at)"
                " VALUES (?, 'onboarding', 'consent', ?, 't', ?)",
                (user, json.dumps({"payload": "inv_Secret123Code"}), stamp),
            )
            broadcast = await db.execute(
                "INSERT INTO broadcasts (author_user_id, text, audience_kind, payload, status,"
                " created_at) VALUES (?, 'Wist je dat?', 'all', ?, 'released', ?)",
                (user, body, stamp),
            )
            await db.execute(
                "INSERT INTO news (broadcast_id, audience_kind, payload, published_at)"
                " VALUES (?, 'all', ?, ?)",
                (broadcast, body, stamp),
            )
            await db.execute(
                "INSERT INTO outbox (user_id, platform, chat_id, payload, kind, batch,"
                " not_before, created_at) VALUES (?, 'test', 'a', ?, 'broadcast', ?, ?, ?)",
                (user, body, f"broadcast:{broadcast}", stamp, stamp),
            )
    finally:
        await db.close()

    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        assert await db.fetchval("SELECT data FROM dialogs") == "{}"
        for table in ("broadcasts", "news", "outbox"):
            payload = json.loads(await db.fetchval(f"SELECT payload FROM {table}"))
            assert payload[0]["parts"][0]["key"] == "news.signed_municipality", table
            assert "Cas Zonnebloem" not in json.dumps(payload)
            assert payload[0]["params"] == {"text": "Wist je dat?"}
    finally:
        await db.close()
