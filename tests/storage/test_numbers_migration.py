"""The numbers people see (a question's, a person's in the audit log, a comment's) are never
given out twice, also on a database written before: the migration that builds those tables
again keeps every row, every link, index and trigger, and changes nothing in the schema but
the AUTOINCREMENT keyword."""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import storage.db as dbmod
from storage.db import Database

STAMP = "2025-01-01T00:00:00Z"
REBUILT = (
    "users",
    "media",
    "idea_comments",
    "broadcasts",
    "questions",
    "sanctions",
    "connections",
    "experiment_proposals",
    "consultations",
    "room_reports",
    "room_sanctions",
)

#: A database as the bot left it at the migration before: a row in every rebuilt table, the
#: rows that refer to them, and an audit log naming numbers whose rows are gone since.
FILLED = f"""
INSERT INTO users (id, platform, platform_user_id, chat_id, display_name, neighbourhood,
    role, created_at, last_seen_at)
VALUES (1, 'telegram', '101', '101', 'Anna', 'IJmuiden', 'inwoner', '{STAMP}', '{STAMP}'),
       (2, 'telegram', '102', '102', 'Bob', NULL, 'inwoner', '{STAMP}', '{STAMP}'),
       (3, 'matrix', '@ria:hs', '!ria', 'Ria', NULL, 'verbinder', '{STAMP}', '{STAMP}');
INSERT INTO dialogs (user_id, name, step, data, token, updated_at)
VALUES (1, 'idea', 'title', '{{}}', 't', '{STAMP}');
INSERT INTO media (id, sha256, mime_type, data, created_at)
VALUES (1, 'abc', 'image/jpeg', x'ffd8ff', '{STAMP}');
INSERT INTO media_refs (media_id, platform, ref) VALUES (1, 'telegram', 'file-1');
INSERT INTO staff_cards (user_id, name, work, photo_id, updated_at)
VALUES (3, 'Ria', 'verbinden', 1, '{STAMP}');
INSERT INTO ideas (id, category, title, description, photo_id, author_user_id, created_at,
    updated_at)
VALUES (1, 'wonen', 'Bankje', 'Een bankje bij de haven', 1, 1, '{STAMP}', '{STAMP}'),
       (2, 'groen', 'Bomen', 'Meer bomen in de straat', NULL, 2, '{STAMP}', '{STAMP}');
INSERT INTO idea_comments (id, idea_id, author_user_id, body, created_at)
VALUES (1, 1, 2, 'Goed plan', '{STAMP}'), (2, 1, 1, 'Dank je', '{STAMP}');
INSERT INTO idea_comments (id, idea_id, author_user_id, body, created_at, hidden_at)
VALUES (3, 2, 2, 'Verborgen', '{STAMP}', '{STAMP}');
INSERT INTO comment_reports (comment_id, reporter_user_id, reason, created_at)
VALUES (1, 1, 'spam', '{STAMP}');
INSERT INTO sanctions (id, user_id, kind, comment_id, reason, by_user_id, created_at, ends_at)
VALUES (1, 2, 'mute', 1, 'Spam', 3, '{STAMP}', '2025-01-02T00:00:00Z');
INSERT INTO broadcasts (id, author_user_id, text, photo_id, audience_kind, payload, status,
    created_at)
VALUES (1, 3, 'Wist je dat?', 1, 'all', '[]', 'released', '{STAMP}');
INSERT INTO news (broadcast_id, audience_kind, payload, published_at)
VALUES (1, 'all', '[]', '{STAMP}');
INSERT INTO questions (id, user_id, staff_user_id, status, created_at, updated_at)
VALUES (1, 1, 3, 'open', '{STAMP}', '{STAMP}'), (2, 2, NULL, 'closed', '{STAMP}', '{STAMP}');
INSERT INTO question_messages (question_id, side, author_user_id, text, at)
VALUES (1, 'resident', 1, 'Wanneer?', '{STAMP}'), (1, 'connector', 3, 'Morgen', '{STAMP}');
INSERT INTO connections (id, user_a, user_b, idea_a, idea_b, by_user_id, created_at)
VALUES (1, 1, 2, 1, 2, 3, '{STAMP}');
INSERT INTO experiments (id, slug, created_at) VALUES (1, 'proef', '{STAMP}');
INSERT INTO experiment_proposals (id, author_user_id, what, place, partners, budget_cents,
    full_financing, experiment_id, created_at, updated_at)
VALUES (1, 1, 'Moestuin', 'Park', 'Buren', 50000, 1, 1, '{STAMP}', '{STAMP}');
INSERT INTO experiment_proposal_history (proposal_id, status, by_user_id, at)
VALUES (1, 'in_behandeling', 3, '{STAMP}');
INSERT INTO experiment_proposal_followers (proposal_id, user_id, since) VALUES (1, 2, '{STAMP}');
INSERT INTO budget_rounds (id, name, total_cents, opens_at, closes_at, created_at)
VALUES (1, 'Ronde', 100000, '{STAMP}', '2025-02-01T00:00:00Z', '{STAMP}');
INSERT INTO budget_projects (round_id, title, description, cost_cents, photo_id, proposal_id)
VALUES (1, 'Moestuin', 'In het park', 50000, 1, 1);
INSERT INTO consultations (id, kind, title, intro, follow_up, questions, audience_kind,
    experiment_id, seed, author_user_id, status, created_at, updated_at)
VALUES (1, 'evaluation', '{{}}', '{{}}', '{{}}', '[]', 'experiment', 1, 'start', 3, 'open',
    '{STAMP}', '{STAMP}');
INSERT INTO consultation_responses (id, consultation_id, user_id) VALUES (1, 1, 2);
INSERT INTO consultation_answers (response_id, question, text, answered_at)
VALUES (1, 1, 'Prima', '{STAMP}');
INSERT INTO experiment_rooms (id, experiment_id, platform, chat_id, linked_by, linked_at)
VALUES (1, 1, 'matrix', '!kamer', 3, '{STAMP}');
INSERT INTO room_reports (id, room_id, message_id, author_platform_id, author_user_id, body,
    created_at)
VALUES (1, 1, '$m1', '@bob:hs', 2, 'Lelijk', '{STAMP}');
INSERT INTO room_reporters (report_id, reporter_user_id, reported_at) VALUES (1, 1, '{STAMP}');
INSERT INTO room_sanctions (id, room_id, report_id, user_id, kind, reason, by_user_id,
    created_at, target)
VALUES (1, 1, 1, 2, 'ban', 'Lelijk', 3, '{STAMP}', '@bob:hs');
INSERT INTO meetings (title, description, address, starts_at, ends_at, capacity, lang,
    broadcast_id, author_user_id, status, created_at, updated_at)
VALUES ('Avond', 'Praten', 'Plein 1', '{STAMP}', '2025-01-01T02:00:00Z', 10, 'nl', 1, 3,
    'planned', '{STAMP}', '{STAMP}');
INSERT INTO audit_log (at, actor, action, subject, detail)
VALUES ('{STAMP}', 'system', 'question.answer', 'question:9', '{{"question": 9}}'),
       ('{STAMP}', 'system', 'connection.propose', 'connection:4', '{{"users": [1, 40]}}'),
       ('{STAMP}', 'system', 'user.unrestrict', 'user', '{{"sanctions": [6, 7]}}'),
       ('{STAMP}', 'system', 'user.warn', 'user', '{{"comment": 12, "idea": 1}}'),
       ('{STAMP}', 'system', 'proposal.status', 'proposal:5', '{{}}'),
       ('{STAMP}', 'system', 'room.lift', 'room:1', '{{"sanctions": [8]}}'),
       ('{STAMP}', 'system', 'room.hide', 'room_report:3', '{{}}'),
       ('{STAMP}', 'system', 'consultation.open', 'consultation:2', 'not json');
"""


def _schema(conn: sqlite3.Connection) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {row[1]: tuple(row) for row in rows}


def _bare(sql: str) -> str:
    """A table's CREATE statement without comments, spacing, quotes and AUTOINCREMENT."""
    sql = re.sub(r"--[^\n]*", "", sql).replace("AUTOINCREMENT", "")
    return re.sub(r"\s+", "", sql).replace('"', "").replace("IFNOTEXISTS", "")


def _pragmas(conn: sqlite3.Connection, table: str) -> list[list[tuple[Any, ...]]]:
    indexes = conn.execute(f"PRAGMA index_list({table})").fetchall()
    return [
        [tuple(r) for r in conn.execute(f"PRAGMA table_xinfo({table})")],
        [tuple(r) for r in conn.execute(f"PRAGMA foreign_key_list({table})")],
        sorted(tuple(r) for r in indexes),
        *(
            [tuple(r) for r in conn.execute(f"PRAGMA index_xinfo({index[1]})")]
            for index in sorted(indexes, key=lambda row: row[1])
        ),
    ]


def _contents(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND sql NOT LIKE 'CREATE VIRTUAL%'"
            " AND name NOT IN ('sqlite_sequence', 'schema_version')"
        )
    ]
    return {t: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {t}")) for t in tables}


@pytest.fixture
async def before_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[sqlite3.Connection, Database]:
    """A database filled at the migration before, and the same one migrated; the first is a
    copy kept aside to compare with."""
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_numbers_never_reused.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        await db.atomic_script(FILLED)
    finally:
        await db.close()
    kept = sqlite3.connect(":memory:")
    with sqlite3.connect(path) as source:
        source.backup(kept)
    # Up to this migration only: a later one may change rows on purpose.
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] <= mine])
    return kept, await Database.open(path)


async def test_the_schema_is_the_same_but_for_autoincrement(
    before_and_after: tuple[sqlite3.Connection, Database],
) -> None:
    before, db = before_and_after
    try:
        after = db.conn
        old, new = _schema(before), _schema(after)
        assert sorted(old) == sorted(new)
        for name, (kind, _, table, sql) in old.items():
            if kind == "table" and name in REBUILT:
                assert "AUTOINCREMENT" not in sql
                assert "AUTOINCREMENT" in new[name][3], name
                assert _bare(new[name][3]) == _bare(sql), name
                assert new[name][:3] == (kind, name, table)
            else:
                # Indexes and triggers made again exactly as they were; the rest untouched.
                assert new[name] == old[name], name
        for (name,) in before.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if not name.startswith(("sqlite_", "ideas_fts")):
                assert _pragmas(after, name) == _pragmas(before, name), name
    finally:
        await db.close()


async def test_every_row_and_link_comes_through_and_the_keys_stay_enforced(
    before_and_after: tuple[sqlite3.Connection, Database],
) -> None:
    before, db = before_and_after
    try:
        assert _contents(db.conn) == _contents(before)
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        # The links still act: a person's erasure empties or deletes what refers to them.
        async with db.transaction():
            await db.execute("DELETE FROM users WHERE id = 2")
        assert await db.fetchval("SELECT author_user_id FROM idea_comments WHERE id = 1") is None
        assert await db.fetchval("SELECT COUNT(*) FROM sanctions") == 0
        assert await db.fetchval("SELECT COUNT(*) FROM connections") == 0
        assert await db.fetchval("SELECT COUNT(*) FROM room_sanctions") == 0
        assert await db.fetchval("SELECT user_id FROM questions WHERE id = 2") is None
        # Comments are still counted on their idea (the triggers are back).
        assert await db.fetchval("SELECT comments FROM ideas WHERE id = 1") == 2
        async with db.transaction():
            await db.execute("DELETE FROM idea_comments WHERE id = 2")
            await db.execute(
                "INSERT INTO idea_comments (idea_id, body, created_at) VALUES (1, 'x', ?)",
                (STAMP,),
            )
        assert await db.fetchval("SELECT comments FROM ideas WHERE id = 1") == 2
    finally:
        await db.close()


async def test_numbers_go_on_above_every_one_seen_even_after_the_newest_row_is_deleted(
    before_and_after: tuple[sqlite3.Connection, Database],
) -> None:
    _, db = before_and_after
    try:
        seq = {
            row["name"]: row["seq"]
            for row in await db.fetchall("SELECT name, seq FROM sqlite_sequence")
        }
        # Above the rows kept, and above the numbers the audit log names (question 9, user
        # 40, sanctions 6 and 7, comment 12, proposal 5, room sanction 8, room report 3,
        # consultation 2 in an entry whose facts are unreadable).
        assert seq == {
            "idea_status_history": 0,
            "ideas": 2,
            "users": 40,
            "media": 1,
            "idea_comments": 12,
            "broadcasts": 1,
            "questions": 9,
            "sanctions": 7,
            "connections": 4,
            "experiment_proposals": 5,
            "consultations": 2,
            "room_reports": 3,
            "room_sanctions": 8,
        }
        async with db.transaction():
            await db.execute("DELETE FROM questions WHERE id = 2")
            await db.execute("DELETE FROM users WHERE id = 3")
            asked = await db.execute(
                "INSERT INTO questions (user_id, created_at, updated_at) VALUES (1, ?, ?)",
                (STAMP, STAMP),
            )
            newcomer = await db.execute(
                "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
                " VALUES ('telegram', '999', ?, ?)",
                (STAMP, STAMP),
            )
        assert (asked, newcomer) == (10, 41)
        async with db.transaction():
            await db.execute("DELETE FROM questions WHERE id = ?", (asked,))
            again = await db.execute(
                "INSERT INTO questions (user_id, created_at, updated_at) VALUES (1, ?, ?)",
                (STAMP, STAMP),
            )
        assert again == 11
    finally:
        await db.close()


async def test_a_migration_that_breaks_a_reference_is_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Foreign keys are off while tables are built again, so the check before the commit is
    what stands between a faulty rebuild and a broken database."""
    shipped = dbmod.migrations()
    faulty = (
        f"{dbmod.REBUILDS_TABLES}\n"
        "CREATE TABLE questions_new (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER REFERENCES users(id), staff_user_id INTEGER, status TEXT NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);\n"
        "INSERT INTO questions_new SELECT id, user_id + 100, staff_user_id, status, created_at,"
        " updated_at FROM questions;\n"
        "DROP TABLE questions;\nALTER TABLE questions_new RENAME TO questions;\n"
    )
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    path = tmp_path / "faulty.db"
    db = await Database.open(path)
    try:
        await db.atomic_script(FILLED.split("INSERT INTO dialogs")[0])
        await db.execute(
            "INSERT INTO questions (user_id, created_at, updated_at) VALUES (1, ?, ?)",
            (STAMP, STAMP),
        )
    finally:
        await db.close()
    extra = (len(shipped) + 1, f"{len(shipped) + 1:04d}_faulty.sql", faulty)
    monkeypatch.setattr(dbmod, "migrations", lambda: [*shipped, extra])
    with pytest.raises(dbmod.DatabaseError, match="broke references"):
        await Database.open(path)
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(shipped)
        assert await db.fetchval("SELECT user_id FROM questions") == 1
        assert await db.fetchval("PRAGMA foreign_keys") == 1
    finally:
        await db.close()


async def test_a_reference_broken_before_the_migration_does_not_stop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written while foreign keys were off (the sqlite3 shell has them off by default)
    that points at nobody is no reason to refuse the upgrade: the bot must start. It is
    logged, without what the row holds, and a reference the rebuild breaks still stops it."""
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_numbers_never_reused.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "old.db"
    db = await Database.open(path)
    try:
        await db.atomic_script(FILLED)
    finally:
        await db.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO news_subscriptions (user_id, subscribed_at) VALUES (999, ?)", (STAMP,)
        )
        assert conn.execute("PRAGMA foreign_key_check").fetchall()
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] <= mine])
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        db = await Database.open(path)
    try:
        assert await db.schema_version() == mine
        assert await db.fetchval("SELECT COUNT(*) FROM news_subscriptions WHERE user_id = 999")
        assert await db.fetchval("SELECT COUNT(*) FROM ideas") == 2
    finally:
        await db.close()
    (warning,) = [r.getMessage() for r in caplog.records if "broken before" in r.getMessage()]
    assert "rows=1 tables=news_subscriptions" in warning

    # A rebuild that breaks one more reference, on top of the old one, is still refused.
    faulty = (
        f"{dbmod.REBUILDS_TABLES}\n"
        "CREATE TABLE questions_new (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER REFERENCES users(id), staff_user_id INTEGER, status TEXT NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL);\n"
        "INSERT INTO questions_new SELECT id, user_id + 100, staff_user_id, status, created_at,"
        " updated_at FROM questions;\n"
        "DROP TABLE questions;\nALTER TABLE questions_new RENAME TO questions;\n"
    )
    extra = (len(shipped) + 1, f"{len(shipped) + 1:04d}_faulty.sql", faulty)
    monkeypatch.setattr(dbmod, "migrations", lambda: [*shipped, extra])
    with pytest.raises(dbmod.DatabaseError, match="broke references: 2 in questions -> users"):
        await Database.open(path)
