"""The audit log: one general record call; people linked by id, unlinked when erased."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import storage.db as dbmod
from bot.app import App
from storage.audit import CLI, SYSTEM, USER
from storage.clock import utcnow
from storage.db import Database


async def test_an_entry_records_actor_action_subject_detail_and_reason(app: App) -> None:
    now = utcnow()
    async with app.db.transaction():
        staff = await app.repos.users.seen("telegram", "1", now)
        resident = await app.repos.users.seen("telegram", "2", now)
        await app.repos.audit.record(
            "comment.hide",
            now=now,
            actor_user_id=staff.id,
            subject="comment:17",
            detail={"idea": 4},
            reason="scheldwoorden",
        )
        await app.repos.audit.record(
            "role.grant", now=now, actor=CLI, subject_user_id=resident.id, detail={"role": "x"}
        )
        await app.repos.audit.record("outbox.purge", now=now, subject="outbox")
    newest, middle, oldest = await app.repos.audit.recent()
    assert (oldest.actor, oldest.actor_user_id, oldest.action, oldest.subject) == (
        USER,
        staff.id,
        "comment.hide",
        "comment:17",
    )
    assert oldest.detail == {"idea": 4} and oldest.reason == "scheldwoorden"
    assert (middle.actor, middle.subject, middle.subject_user_id) == (CLI, "user", resident.id)
    assert newest.actor == SYSTEM
    assert [e.action for e in await app.repos.audit.recent(action="role.")] == ["role.grant"]
    assert [e.action for e in await app.repos.audit.about("comment:17")] == ["comment.hide"]
    assert [e.action for e in await app.repos.audit.about_user(resident.id)] == ["role.grant"]


async def test_erasing_a_person_unlinks_them_but_keeps_what_happened(app: App) -> None:
    now = utcnow()
    async with app.db.transaction():
        person = await app.repos.users.seen("telegram", "1", now)
        await app.repos.audit.record(
            "role.grant", now=now, actor_user_id=person.id, subject_user_id=person.id
        )
        await app.db.execute("DELETE FROM users WHERE id = ?", (person.id,))
    (entry,) = await app.repos.audit.recent()
    assert (entry.action, entry.actor_user_id, entry.subject_user_id) == ("role.grant", None, None)


@pytest.mark.parametrize("key", ["user", "users", "user_id", "by_user_id", "author_user_ids"])
async def test_an_entry_with_peoples_ids_in_its_detail_is_refused(app: App, key: str) -> None:
    """An erasure gives the actor and subject columns a pseudonym; it does not read the
    detail, so people's ids must not be written there."""
    with pytest.raises(ValueError, match=key):
        async with app.db.transaction():
            await app.repos.audit.record("connection.propose", now=utcnow(), detail={key: [1]})
    assert await app.repos.audit.recent() == []


async def test_ids_of_people_written_in_an_introductions_detail_before_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    [mine] = [number for number, name, _ in shipped if name.endswith("_audit_detail_people.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in shipped if m[0] < mine])
    path = tmp_path / "before.db"
    db = await Database.open(path)
    try:
        async with db.transaction():
            for action, detail in [
                ("connection.propose", {"ideas": [3, 4], "users": [7, 9]}),
                ("idea.status", {"from": "new", "to": "in_review"}),
            ]:
                await db.execute(
                    "INSERT INTO audit_log (at, actor, action, subject, detail)"
                    " VALUES ('2025-01-01T00:00:00Z', 'user', ?, 'x', ?)",
                    (action, json.dumps(detail)),
                )
    finally:
        await db.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        details = [json.loads(r[0]) for r in await db.fetchall("SELECT detail FROM audit_log")]
    finally:
        await db.close()
    assert details == [{"ideas": [3, 4]}, {"from": "new", "to": "in_review"}]
