"""Personal data: every table is classified; export holds one person's data and only theirs;
erasure leaves no trace of them in any column of any table."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from bot.admin.cli import main
from bot.app import App
from storage.clock import iso, utcnow
from storage.privacy.personal import (
    TABLES,
    Cause,
    ContentChoice,
    Kind,
    table_names,
)
from tests.privacy import (
    ANNA_PHOTO,
    file_traces,
    seed_neighbours,
    seed_quotes,
    supporter_counts_match,
    traces,
)


async def test_every_table_in_the_database_is_classified(app: App) -> None:
    in_database = set(await table_names(app.db))
    classified = {table.name for table in TABLES}
    assert sorted(in_database - classified) == [], (
        "classify these tables in storage/personal.py TABLES (personal, public content or"
        " operational) and say how they are exported and erased"
    )
    assert sorted(classified - in_database) == [], "TABLES names tables that do not exist"
    assert len(classified) == len(TABLES), "a table is classified twice"


async def test_every_link_to_a_person_is_handled_by_the_erasure(app: App) -> None:
    rules = {table.name: table for table in TABLES}
    unhandled = []
    for name in await table_names(app.db):
        keys = await app.db.fetchall(f'PRAGMA foreign_key_list("{name}")')
        for key in keys:
            if key["table"] != "users":
                continue
            rule = rules[name]
            statements = " ".join(rule.erase + rule.keep_content + rule.delete_content)
            column = key["from"]
            if rule.kind is Kind.OPERATIONAL or not re.search(rf"\b{column}\b", statements):
                unhandled.append(f"{name}.{column}")
    assert unhandled == []


async def test_the_export_holds_everything_about_a_resident_and_nothing_about_others(
    app: App,
) -> None:
    seeded = await seed_neighbours(app)
    anna, bob, carla = seeded.anna, seeded.bob, seeded.carla
    data = await app.repos.personal.export(anna.user_id, utcnow())
    assert data is not None
    sections = data.sections
    counts = data.counts()
    assert counts["users"] == 1 and sections["users"].rows[0]["display_name"] == anna.name
    assert [i["number"] for i in sections["ideas"].rows] == [anna.idea]
    assert [s["idea"] for s in sections["idea_supports"].rows] == [bob.idea]
    assert {f["idea"] for f in sections["idea_follows"].rows} == {anna.idea, bob.idea}
    assert {c["body"] for c in sections["idea_comments"].rows} == set(anna.texts[2:4])
    assert counts["experiment_participants"] == 1
    assert sections["experiment_proposals"].rows[0]["what"] == anna.texts[4]
    assert sections["news_subscriptions"].rows[0]["neighbourhood_only"] == 0
    assert sections["news_muted_themes"].rows == [{"theme": "klimaat"}]
    assert [m["side"] for m in sections["question_messages"].rows] == ["resident", "connector"]
    assert sections["dialogs"].rows[0]["data"]["title"] == anna.texts[6]
    assert sections["chat_options"].rows[0]["options"][0] == ["Ja", "~abc:yes"]
    assert sections["outbox"].rows[0]["payload"][0]["params"]["text"] == "Hallo Anna"
    assert sections["media"].rows[0]["data_base64"] is not None
    [registration] = sections["meeting_registrations"].rows
    assert (registration["meeting"], registration["status"]) == (seeded.meeting, "going")
    history = sections["idea_status_history"].rows
    assert [h["status"] for h in history] == ["ingediend", "in_behandeling"]
    assert [h["by_you"] for h in history] == [1, 0]

    document = data.to_json().decode("utf-8")
    json.loads(document)
    for value in [*anna.identity, *anna.texts]:
        assert value in document, value
    for other in (bob, carla, seeded.dirk):
        for value in other.identity:
            assert value not in document, value
    for value in bob.texts:
        assert value not in document, value


async def test_a_large_picture_is_listed_without_its_bytes(app: App) -> None:
    seeded = await seed_neighbours(app)
    data = await app.repos.personal.export(seeded.anna.user_id, utcnow(), media_limit=10)
    assert data is not None
    [picture] = data.sections["media"].rows
    assert picture["data_base64"] is None and picture["bytes"] == len(ANNA_PHOTO)


async def test_erasing_and_keeping_content_leaves_no_trace_of_the_person(app: App) -> None:
    seeded = await seed_neighbours(app)
    await seed_quotes(app, seeded)
    anna, bob = seeded.anna, seeded.bob
    repos = app.repos
    assert await traces(app.db, anna.identity), "the search can see the person before"
    assert file_traces(app, anna.identity), "and so can a look at the files"

    erasure = await repos.personal.erase(
        anna.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=utcnow()
    )

    assert erasure is not None and erasure.pseudonym.startswith("anon-")
    # Not in any column of any table (the audit log, replies waiting, others' quotes
    # included), and not in the bytes of the file or its write-ahead log.
    assert await traces(app.db, anna.identity) == []
    assert file_traces(app, anna.identity) == []
    reasons = [e.reason for e in await repos.audit.recent()]
    assert reasons == [f"Dubbel met '{anna.texts[0]}', samengevoegd", None]
    assert await app.db.fetchval("SELECT COUNT(*) FROM handled_events") == 1, "Dirk's"
    assert await repos.users.get(anna.user_id) is None
    idea = await repos.ideas.get(anna.idea)
    assert idea is not None and idea.author_user_id is None
    assert idea.supporters == 2 and idea.comments == 2
    bobs = await repos.ideas.get(bob.idea)
    assert bobs is not None and bobs.supporters == 0 and bobs.comments == 2
    assert await supporter_counts_match(app.db)
    page = await repos.comments.latest(bob.idea)
    first = page.comments[0]
    assert (first.body, first.author_user_id) == (anna.texts[2], None)
    proposal = await repos.proposals.get(seeded.proposal)
    assert proposal is not None and proposal.author_user_id is None
    assert await repos.proposals.followers(seeded.proposal) == [bob.user_id]
    assert await repos.questions.get(seeded.question) is None
    assert await repos.media.get(idea.photo_id or 0) is not None, "the idea keeps its photo"
    # Her place at the meeting is gone; Bob still waits (he moves up when someone registers).
    assert await repos.meetings.people(seeded.meeting) == [bob.user_id]
    # Other people's rows are untouched.
    assert await repos.users.get(bob.user_id) is not None
    assert len(await repos.outbox.for_user(seeded.dirk.user_id)) == 1
    recorded = await app.db.fetchone("SELECT cause, content, pseudonym FROM erasures")
    assert tuple(recorded) == ("request", "kept", erasure.pseudonym)


async def test_erasing_and_deleting_content_leaves_no_trace_of_the_person_or_their_words(
    app: App,
) -> None:
    seeded = await seed_neighbours(app)
    await seed_quotes(app, seeded)
    anna, bob = seeded.anna, seeded.bob
    repos = app.repos
    index_holds = "SELECT COUNT(*) FROM ideas_fts_data WHERE instr(block, CAST(? AS BLOB)) > 0"
    assert await app.db.fetchval(index_holds, ("speeltuin",)) == 1
    everything = [*anna.identity, *anna.texts, "Xjqwplein", "Xjqwburen"]
    assert file_traces(app, everything)

    erasure = await repos.personal.erase(
        anna.user_id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=utcnow()
    )

    assert erasure is not None
    assert await traces(app.db, everything) == []
    assert file_traces(app, everything) == []
    assert [e.reason for e in await repos.audit.recent()] == [None, None]
    assert await app.db.fetchval("SELECT COUNT(*) FROM handled_events") == 0
    assert await app.db.fetchval(index_holds, ("speeltuin",)) == 0
    blob = await app.db.fetchval(
        "SELECT COUNT(*) FROM media WHERE instr(data, ?) > 0", (b"ANNA-PHOTO",)
    )
    assert blob == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM media_refs") == 0
    assert await repos.ideas.get(anna.idea) is None
    assert await repos.meetings.registration(seeded.meeting, anna.user_id) is None
    assert await repos.ideas.similar("Xjqwspeeltuin") == []
    bobs = await repos.ideas.get(bob.idea)
    assert bobs is not None and bobs.supporters == 0 and bobs.comments == 1
    assert await supporter_counts_match(app.db)
    assert await repos.proposals.get(seeded.proposal) is None
    # Dirk's copies of Anna's title (a button, a notification) went with it; Bob's own
    # words and Dirk's account stay.
    assert await repos.outbox.for_user(seeded.dirk.user_id) == []
    assert await repos.chat_options.load("telegram", seeded.dirk.chat_id) == []
    assert await traces(app.db, [*bob.identity, bob.texts[0], bob.texts[3]])
    assert await repos.users.get(seeded.dirk.user_id) is not None


async def test_a_connector_erased_leaves_answers_and_statuses_without_a_name(app: App) -> None:
    seeded = await seed_neighbours(app)
    carla = seeded.carla
    await app.repos.personal.erase(
        carla.user_id, content=ContentChoice.DELETE, cause=Cause.ADMIN, now=utcnow()
    )
    assert await traces(app.db, carla.identity) == []
    thread = await app.repos.questions.get(seeded.question)
    assert thread is not None
    assert [(m.side.value, m.author_user_id) for m in thread.messages][1] == ("connector", None)
    history = await app.repos.ideas.history(seeded.anna.idea)
    assert history[-1].reason == "We kijken ernaar" and history[-1].by_user_id is None
    assert await app.db.fetchval("SELECT COUNT(*) FROM broadcasts") == 0, "drafts go"


async def test_erasing_someone_unknown_changes_nothing(app: App) -> None:
    erased = await app.repos.personal.erase(
        404, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=utcnow()
    )
    assert erased is None
    assert await app.db.fetchval("SELECT COUNT(*) FROM erasures") == 0
    assert await app.repos.personal.export(404, utcnow()) is None


async def test_a_shared_picture_stays_while_someone_else_uses_it(app: App) -> None:
    seeded = await seed_neighbours(app)
    now = utcnow()
    async with app.db.transaction():
        same = await app.repos.media.save(ANNA_PHOTO, "image/jpeg", now)
        await app.repos.ideas.create(
            category="wonen",
            title="Dezelfde foto",
            description="Bob stuurde toevallig dezelfde foto in.",
            neighbourhood=None,
            photo_id=same,
            author_user_id=seeded.bob.user_id,
            now=now,
        )
    await app.repos.personal.erase(
        seeded.anna.user_id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=now
    )
    assert await app.repos.media.get(same) is not None


async def test_the_audit_log_keeps_only_a_pseudonym_of_an_erased_person(app: App) -> None:
    seeded = await seed_neighbours(app)
    anna, carla = seeded.anna, seeded.carla
    async with app.db.transaction():
        await app.repos.audit.record(
            "comment.hide",
            now=utcnow(),
            actor_user_id=carla.user_id,
            subject="comment:7",
            subject_user_id=anna.user_id,
            reason="scheldwoord",
        )
    store = app.repos.personal
    exported = await store.export(anna.user_id, utcnow())
    assert exported is not None and exported.counts()["audit_log"] == 1

    erasure = await store.erase(
        anna.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=utcnow()
    )

    assert erasure is not None
    row = await app.db.fetchone("SELECT * FROM audit_log")
    assert row is not None
    assert (row["action"], row["subject"], row["reason"]) == (
        "comment.hide",
        "comment:7",
        "scheldwoord",
    )
    assert row["subject_user_id"] is None and row["subject_pseudonym"] == erasure.pseudonym
    assert row["actor_user_id"] == carla.user_id and row["actor_pseudonym"] is None
    assert await traces(app.db, anna.identity) == []


async def test_an_admin_exports_and_erases_a_person_from_the_command_line(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """For requests that arrive by mail or post rather than in the chat."""
    anna = (await seed_neighbours(app)).anna
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))

    def samenspel(*args: str) -> int:
        return main(list(args))

    out = tmp_path / "anna.json"
    export = ("export-person", "telegram", anna.platform_user_id, "--out", str(out))
    assert await asyncio.to_thread(samenspel, *export) == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["sections"]["users"]["rows"][0]["display_name"] == anna.name
    assert "written to" in capsys.readouterr().out

    erase = ("erase-person", "telegram", anna.platform_user_id)
    assert await asyncio.to_thread(samenspel, *erase, "--delete-content") == 0
    assert "their content was deleted" in capsys.readouterr().out
    assert await traces(app.db, [*anna.identity, *anna.texts]) == []
    assert await asyncio.to_thread(samenspel, *erase) == 2
    assert "nobody with id" in capsys.readouterr().err


async def test_options_written_to_a_chat_someone_left_go_with_them(app: App) -> None:
    """A message was delivered to Anna's old direct chat, and its options were remembered
    for that chat after she moved to a new one (the send was under way): her export and
    erasure find them by the outbox's chats."""
    seeded = await seed_neighbours(app)
    anna, now, old = seeded.anna, utcnow(), "c-old-7001112223"
    async with app.db.transaction():
        await app.repos.users.move_chat(anna.user_id, old, now)
        await app.repos.outbox.enqueue(
            anna.user_id, [{"key": "raw", "params": {"text": "Doe je mee?"}}], kind="t", now=now
        )
        # Sent there before she moved (what still waits moves with her).
        await app.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ? WHERE user_id = ?",
            (iso(now), anna.user_id),
        )
        await app.repos.users.move_chat(anna.user_id, "c-new-7001112223", now)
        await app.repos.chat_options.save(
            "telegram", old, [("Ik kom", "mt.go:1", True)], now, only_if_newer=True
        )
    data = await app.repos.personal.export(anna.user_id, now)
    assert data is not None and len(data.sections["chat_options"].rows) == 1
    await app.repos.personal.erase(
        anna.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=now
    )
    assert await app.repos.chat_options.load("telegram", old) == []
    assert await traces(app.db, [old]) == []


#: Columns a table's export leaves out, and why (every other column is in it, so a column
#: added later cannot be forgotten). In every table: ``id``, a row's internal number, where
#: nothing else refers to it, and the person's own user id, by which the rows were found.
OWN = "your own internal number, by which these rows were found"
STAFF = "the internal number of the staff member who did it"
PROFILE = "your account or chat on the platform, in the users section"
NOT_EXPORTED = {
    "dialogs": {"user_id": OWN, "token": "a random check of the step's buttons"},
    "chat_options": {"platform": PROFILE, "chat_id": PROFILE},
    "outbox": {
        "user_id": OWN,
        "platform": PROFILE,
        "chat_id": PROFILE,
        "batch": "the internal label of the broadcast it belonged to",
        "parts_sent": "delivery's count of a message's parts already sent",
        "dedupe_key": "the platform's id of the message a late reply answers",
        "expires_at": "when a message stops being worth sending (a meeting began)",
    },
    "ideas": {"author_user_id": OWN, "comments": "how many comments everyone wrote: public"},
    "idea_comments": {"author_user_id": OWN},
    "experiment_proposals": {"author_user_id": OWN},
    "broadcasts": {"author_user_id": OWN, "payload": "the same message as text, as sent"},
    "comment_reports": {"reporter_user_id": OWN},
    "idea_reports": {"reporter_user_id": OWN},
    "sanctions": {"user_id": OWN, "by_user_id": STAFF, "lifted_by_user_id": STAFF},
    "experiment_rooms": {
        "linked_by": OWN,
        "chat_id": "the group's id: not about you",
        "gone_at": "when the bot was removed from the group: not about you",
    },
    "room_reports": {"author_user_id": OWN, "author_platform_id": PROFILE},
    "room_reporters": {"reporter_user_id": OWN},
    "room_sanctions": {
        "user_id": OWN,
        "by_user_id": STAFF,
        "lifted_by_user_id": STAFF,
        "target": PROFILE,
        "pseudonym": "set only once the person it is about was erased",
    },
    "room_tasks": {
        "target": "the account acted on: yours (the users section) or, for a task you"
        " ordered as staff, another person's",
        "last_error": "the platform's last refusal, about that account",
    },
    "connections": {"user_b": "the other person's internal number", "by_user_id": STAFF},
    "outbox_batches": {
        "author_user_id": OWN,
        "progress_ref": "the id of the progress message in your chat",
        "progress_shown": "how far that progress message counted",
    },
    "invites": {
        "code_hash": "a hash of the code: a secret, not about you",
        "redeemed_by": "you, or the person who used your invitation (made_by_you says which)",
    },
    "budget_rounds": {"author_user_id": OWN},
    "budget_ballots": {"user_id": OWN, "round_id": "shown as the round's name"},
    "budget_choices": {"user_id": OWN, "project_id": "shown as the project's title and cost"},
    "budget_votes": {"user_id": OWN, "project_id": "shown as the project's title and cost"},
    "consultations": {"author_user_id": OWN, "seed": "the internal key of an evaluation"},
    "consultation_answers": {"response_id": "shown as the consultation and its moment"},
    "consultation_responses": {"user_id": OWN},
    "meetings": {
        "author_user_id": OWN,
        "broadcast_id": "the internal number of its announcement",
        "version": "a counter of its changes",
    },
    "audit_log": {
        "subject_user_id": "you, or the person you acted on as staff (by_you says which)",
        "actor_pseudonym": "set only once the person was erased",
        "subject_pseudonym": "set only once the person was erased",
    },
    "undecrypted_messages": dict.fromkeys(
        ("event_id", "device_id", "sender", "session_id", "sender_key", "source"),
        "the encrypted message as it came, which nobody could read",
    ),
    "handled_events": {"platform": PROFILE, "user_id": OWN},
    "telegram_inbox": {"sender": PROFILE, "attempts": "how often answering it was tried"},
}
for _table in (
    "idea_supports",
    "idea_follows",
    "experiment_participants",
    "experiment_proposal_followers",
    "news_subscriptions",
    "news_muted_themes",
    "news_lapsed",
    "staff_cards",
    "retention_notices",
    "room_welcomes",
    "consultation_preferences",
    "budget_preferences",
    "meeting_registrations",
    "meeting_places_given_up",
):
    NOT_EXPORTED[_table] = {"user_id": OWN}


async def test_every_column_of_what_is_exported_is_in_the_export_or_listed_with_a_reason(
    app: App,
) -> None:
    """A table's export names each of its columns in what it selects, unless
    :data:`NOT_EXPORTED` says why not (and that list names only columns left out)."""
    forgotten, listed_but_exported = {}, {}
    for table in TABLES:
        if table.export is None:
            continue
        columns = [
            row["name"] for row in await app.db.fetchall(f'PRAGMA table_info("{table.name}")')
        ]
        # What the export selects: before its own table's FROM.
        selected = table.export[: table.export.index(f" FROM {table.name}")]
        exported = {c for c in columns if re.search(rf"\b{c}\b", selected)}
        reasons = NOT_EXPORTED.get(table.name, {})
        missing = [c for c in columns if c not in exported and c not in reasons and c != "id"]
        if missing:
            forgotten[table.name] = missing
        stale = [c for c in reasons if c in exported or c not in columns]
        if stale:
            listed_but_exported[table.name] = stale
    assert forgotten == {}, "export these columns, or say in NOT_EXPORTED why not"
    assert listed_but_exported == {}
    assert set(NOT_EXPORTED) <= {table.name for table in TABLES if table.export is not None}


async def test_my_data_holds_the_newer_fields_of_my_rows(app: App) -> None:
    seeded = await seed_neighbours(app)
    anna, bob, now = seeded.anna, seeded.bob, utcnow()
    async with app.db.transaction():
        await app.repos.comments.edit_own(1, anna.user_id, "Xjqw bewerkt", now)
        await app.db.execute("UPDATE ideas SET withdrawn_at = ? WHERE id = ?", ("2026", anna.idea))
        await app.repos.connections.propose(
            (anna.user_id, anna.idea),
            (bob.user_id, bob.idea),
            by_user_id=seeded.carla.user_id,
            now=now,
        )
    data = await app.repos.personal.export(anna.user_id, now)
    assert data is not None
    comments = {row["id"]: row for row in data.sections["idea_comments"].rows}
    assert comments[1]["edited_at"] is not None
    [idea] = data.sections["ideas"].rows
    assert idea["withdrawn_at"] == "2026"
    [connection] = data.sections["connections"].rows
    assert (connection["your_idea"], connection["other_idea"]) == (anna.idea, bob.idea)
