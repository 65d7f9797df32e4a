"""The audit log: one general record call; people linked by id, unlinked when erased."""

from __future__ import annotations

from bot.app import App
from storage.audit import CLI, SYSTEM, USER
from storage.clock import utcnow


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
