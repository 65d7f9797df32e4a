"""The migration that lets a request outlive the erasure of one of its two people keeps
every request as it was, never hands out a request's number twice, and lets only an ended
request lose one of its two sides."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.db import Database
from tests.storage.migrating import STAMP, all_shipped, opened_before

FILLED = f"""
INSERT INTO users (id, platform, platform_user_id, created_at, last_seen_at)
VALUES (1, 'telegram', '101', '{STAMP}', '{STAMP}'), (2, 'telegram', '102', '{STAMP}', '{STAMP}'),
       (3, 'telegram', '103', '{STAMP}', '{STAMP}');
INSERT INTO connections (id, user_a, user_b, answer_a, contact_a, by_user_id, created_at)
VALUES (1, 1, 2, 'yes', 'anna@example.org', 3, '{STAMP}'),
       (2, 1, 3, NULL, NULL, 3, '{STAMP}');
UPDATE connections SET status = 'connected', answer_b = 'yes', closed_at = '{STAMP}'
WHERE id = 2;
INSERT INTO connections (id, user_a, user_b, by_user_id, created_at)
VALUES (9, 2, 3, 3, '{STAMP}');
DELETE FROM connections WHERE id = 9;
"""


async def test_requests_are_kept_and_only_an_ended_one_may_lose_a_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    db = await opened_before(path, monkeypatch, "_connection_ended.sql")
    try:
        await db.atomic_script(FILLED)
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("UPDATE connections SET user_a = NULL WHERE id = 1")
    finally:
        await db.close()

    all_shipped(monkeypatch)
    db = await Database.open(path)
    try:
        rows = await db.fetchall(
            "SELECT id, user_a, user_b, status, answer_a, answer_b, contact_a, by_user_id,"
            " line_kept_for FROM connections ORDER BY id"
        )
        assert [tuple(r) for r in rows] == [
            (1, 1, 2, "asked", "yes", None, "anna@example.org", 3, None),
            (2, 1, 3, "connected", None, "yes", None, 3, None),
        ]
        new = await db.execute(
            "INSERT INTO connections (user_a, user_b, created_at) VALUES (2, 3, ?)", (STAMP,)
        )
        assert new == 10
        # One side empty: only for a request that ended, and never both.
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("UPDATE connections SET user_a = NULL WHERE id = 1")
        await db.execute("UPDATE connections SET status = 'ended', user_a = NULL WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute("UPDATE connections SET user_b = NULL WHERE id = 1")
        # The pair's one open request still holds.
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute(
                "INSERT INTO connections (user_a, user_b, created_at) VALUES (2, 3, ?)", (STAMP,)
            )
    finally:
        await db.close()
