"""Retention: silent residents are warned 30 days ahead, once, and then erased; a restart
changes nothing of that, and whoever comes back is spared."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.admin.cli import main
from bot.admin.retention import RetentionReport, run_retention
from bot.app import App
from bot.settings import Settings
from handlers.contract import Quoted, Reply
from storage.clock import days_later, iso, utcnow
from storage.privacy.retention import months_before
from storage.users import Role
from tests.consultations import seen
from tests.handlers.experiments.test_rooms import bobs, group_command, linked
from tests.handlers.ideas.helpers import submit_idea
from tests.meetings import ZONE, evening, organise
from tests.people import civil_servant
from tests.people import person as resident
from tests.privacy import traces
from tests.support import Chat

#: A picture's first bytes: enough for the store, which keeps what it is given.
PICTURE = b"\xff\xd8\xff\xe0 a picture nothing refers to any more"


async def silent_since(app: App, platform_user_id: str, moment: datetime) -> int:
    """Pretend this person was last seen at ``moment``; returns their user id."""
    user = await app.repos.users.find("test", platform_user_id)
    assert user is not None
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE users SET last_seen_at = ? WHERE id = ?", (iso(moment), user.id)
        )
    return user.id


async def retention_messages(app: App, user_id: int) -> list[str]:
    return [row.payload[0]["key"] for row in await app.repos.outbox.for_user(user_id)]


async def test_a_silent_resident_is_warned_once_and_erased_30_days_later_across_restarts(
    settings: Settings,
) -> None:
    t0 = utcnow()
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna", name="Annabel Zwartkruis")
        await anna.onboard()
        await submit_idea(anna, "Xjqwspeeltuin bij de Zeeweg")
        bob = Chat(app, "bob")
        await bob.onboard()
        anna_id = await silent_since(app, "anna", months_before(t0, 24) + timedelta(days=10))
        report = await run_retention(app, t0)
        assert (report.warned, report.erased) == (1, 0)
        assert await retention_messages(app, anna_id) == ["retention.warning"]
        assert await run_retention(app, t0) == RetentionReport(), "a second run does nothing"
    finally:
        await app.close()

    # A restart, a day later: the warning is neither repeated nor forgotten.
    app = await App.open(settings)
    try:
        day_later = await run_retention(app, t0 + timedelta(days=1))
        assert (day_later.warned, day_later.erased) == (0, 0)
        assert await retention_messages(app, anna_id) == ["retention.warning"]
        notice = await app.repos.retention.notice(anna_id)
        erase_after = days_later(t0, 30, settings.zone)
        assert notice is not None and notice.erase_after == erase_after
        almost = await run_retention(app, erase_after - timedelta(hours=1))
        assert almost.erased == 0
    finally:
        await app.close()

    app = await App.open(settings)
    try:
        due = await run_retention(app, days_later(t0, 30, settings.zone))
        assert (due.warned, due.erased) == (0, 1)
        assert await app.repos.users.get(anna_id) is None
        assert await traces(app.db, ["Annabel Zwartkruis"]) == []
        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.author_user_id is None, "content stays anonymously"
        assert await app.repos.users.find("test", "bob") is not None
        erasure = await app.db.fetchone("SELECT cause, content FROM erasures")
        assert erasure is not None and tuple(erasure) == ("retention", "kept")
    finally:
        await app.close()


#: (when a silent resident is warned, the day the warning names: on Amsterdam's clock).
WARNED_ACROSS_A_CHANGE = [
    # Thirty times 24 hours ended at 23:30 on 31 October's clock: a day early.
    pytest.param(datetime(2027, 10, 2, 0, 30, tzinfo=ZONE), "1 nov 2027", id="autumn"),
    # Thirty times 24 hours ended at 00:30 on 30 March's clock: a day late.
    pytest.param(datetime(2027, 2, 27, 23, 30, tzinfo=ZONE), "29 mrt 2027", id="spring"),
]


@pytest.mark.parametrize(("warned", "named"), WARNED_ACROSS_A_CHANGE)
async def test_the_warning_names_the_day_30_calendar_days_on_and_erases_no_sooner(
    settings: Settings, warned: datetime, named: str
) -> None:
    now = warned.astimezone(UTC)
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna")
        await anna.onboard()
        anna_id = await silent_since(app, "anna", months_before(now, 24) + timedelta(days=1))
        assert (await run_retention(app, now)).warned == 1
        [row] = await app.repos.outbox.for_user(anna_id)
        [shown] = seen(app, row)
        assert f"Dat doen we op {named}." in shown.text
        notice = await app.repos.retention.notice(anna_id)
        erase_after = (warned + timedelta(days=30)).astimezone(UTC)  # on the clock: 30 days
        assert notice is not None and notice.erase_after == erase_after
        assert erase_after.astimezone(ZONE).time() == warned.time()
    finally:
        await app.close()

    # After a restart: not erased before the clock time on the day named, then erased.
    app = await App.open(settings)
    try:
        almost = await run_retention(app, erase_after - timedelta(minutes=1))
        assert almost.erased == 0 and await app.repos.users.get(anna_id) is not None
        due = await run_retention(app, erase_after)
        assert due.erased == 1 and await app.repos.users.get(anna_id) is None
    finally:
        await app.close()


async def test_a_resident_who_comes_back_within_30_days_is_spared(app: App) -> None:
    t0 = utcnow()
    anna = Chat(app, "anna")
    await anna.onboard()
    anna_id = await silent_since(app, "anna", months_before(t0, 24) + timedelta(days=1))
    assert (await run_retention(app, t0)).warned == 1

    await anna.send("/menu")
    later = await run_retention(app, t0 + timedelta(days=31))
    assert (later.spared, later.erased) == (1, 0)
    assert await app.repos.users.get(anna_id) is not None
    assert await app.repos.retention.notice(anna_id) is None

    # A new long silence starts the count again: a new warning.
    await silent_since(app, "anna", months_before(t0, 24))
    assert (await run_retention(app, t0 + timedelta(days=32))).warned == 1


async def test_only_residents_silent_long_enough_are_warned(app: App) -> None:
    t0 = utcnow()
    people = {}
    for name in ("recent", "staff", "silent"):
        person = Chat(app, name)
        await person.onboard()
        people[name] = person
    # Warned once silent for 24 months less 30 days.
    threshold = months_before(t0, 24) + timedelta(days=30)
    await silent_since(app, "recent", threshold + timedelta(days=1))
    staff_id = await silent_since(app, "staff", months_before(t0, 36))
    async with app.db.transaction():
        await app.repos.users.set_role(staff_id, Role.CIVIL_SERVANT)
    silent_id = await silent_since(app, "silent", threshold - timedelta(days=1))

    report = await run_retention(app, t0)
    assert report.warned == 1
    assert await app.repos.retention.notice(silent_id) is not None


async def test_someone_who_never_joined_is_erased_after_the_period_without_a_warning(
    app: App,
) -> None:
    t0 = utcnow()
    eve, fay = Chat(app, "eve"), Chat(app, "fay")
    for person in (eve, fay):
        await person.send("/start")
        await person.press("Nee")
    eve_id = await silent_since(app, "eve", months_before(t0, 24) - timedelta(days=1))
    await silent_since(app, "fay", months_before(t0, 24) + timedelta(days=1))

    report = await run_retention(app, t0)
    assert (report.strangers, report.warned) == (1, 0)
    assert await app.repos.users.get(eve_id) is None
    assert await app.repos.users.find("test", "fay") is not None
    assert await app.db.fetchval("SELECT COUNT(*) FROM outbox") == 0


async def test_the_warning_says_when_and_how_to_stay(app: App) -> None:
    t0 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    anna = Chat(app, "anna")
    await anna.onboard()
    anna_id = await silent_since(app, "anna", months_before(t0, 24))
    await run_retention(app, t0)
    [row] = await app.repos.outbox.for_user(anna_id)
    assert row.kind == "retention"
    warning = Reply.model_validate(row.payload[0])
    text = app.catalog.render("nl", warning, markup=False)
    assert "Na 24 maanden zonder contact" in text and "op 2 apr 2026" in text
    assert "zonder je naam" in text
    assert [b.payload for r in warning.buttons for b in r] == ["retention.stay", "privacy.export"]
    await anna.press_payload("retention.stay")
    assert anna.keys == ["retention.stayed"]


async def test_a_run_stopped_at_shutdown_ends_between_residents_and_the_next_goes_on(
    app: App,
) -> None:
    t0 = utcnow()
    silent = {}
    for name in ("anna", "bob", "carla", "daan"):
        await Chat(app, name).onboard()
        silent[name] = await silent_since(app, name, months_before(t0, 24) + timedelta(days=5))
    asked = 0

    def stop_after_two() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    first = await run_retention(app, t0, stopping=stop_after_two)
    assert (first.warned, first.finished) == (2, False)
    warned = [name for name, user_id in silent.items() if await retention_messages(app, user_id)]
    assert len(warned) == 2, "each resident is handled whole, or not at all"
    second = await run_retention(app, t0)
    assert (second.warned, second.finished) == (2, True)
    for user_id in silent.values():
        assert await retention_messages(app, user_id) == ["retention.warning"]


def test_months_are_counted_on_the_calendar() -> None:
    assert months_before(datetime(2026, 3, 31, 12, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 12, tzinfo=UTC
    )
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 24) == datetime(
        2024, 1, 15, tzinfo=UTC
    )
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )


def test_the_retention_command_runs_once_and_reports(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    assert main(["retention"]) == 0
    assert "retention: 0 warned, 0 erased" in capsys.readouterr().out


async def test_the_retention_command_names_every_count_it_acted_on(
    app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A door list of a meeting long over and a picture nothing shows any more: the
    operator reads that they went, beside the other counts."""
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    starts = evening(utcnow())
    await organise(ria, starts, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    long_ago = utcnow() - timedelta(days=app.profile.meetings.keep_registrations_days + 5)
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE meetings SET starts_at = ?, ends_at = ? WHERE id = ?",
            (iso(long_ago - timedelta(hours=2)), iso(long_ago), meeting),
        )
        await app.repos.media.save(PICTURE, "image/jpeg", utcnow() - timedelta(days=2))
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    assert await asyncio.to_thread(main, ["retention"]) == 0
    out = capsys.readouterr().out
    assert "1 registrations for meetings that ended removed" in out
    assert "1 pictures nothing refers to any more deleted" in out
    assert await app.repos.meetings.people(meeting) == []


async def test_retention_deletes_outbox_messages_sent_longer_ago_than_the_setting(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "x.db", outbox_keep_days=7)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna")
        await anna.onboard()
        user = await app.repos.users.find("test", "anna")
        assert user is not None
        t0 = utcnow()
        for queued in (t0 - timedelta(days=8), t0 - timedelta(days=6)):
            async with app.db.transaction():
                await app.repos.outbox.enqueue(user.id, [{"key": "raw"}], kind="x", now=queued)
            [row] = [r for r in await app.repos.outbox.for_user(user.id) if r.sent_at is None]
            await app.repos.outbox.record_sent([row.id], queued)
        report = await run_retention(app, t0)
        assert report.outbox_pruned == 1
        [kept] = await app.repos.outbox.for_user(user.id)
        assert kept.sent_at == t0 - timedelta(days=6)
    finally:
        await app.close()


async def test_room_reports_about_someone_who_never_used_the_bot_go_after_the_period(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    stranger = Quoted(message_id="57", sender_id="erik", text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=stranger)
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Erik Xanthopoulos spamt.")
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))  # Bob uses the bot
    await ria.press_payload("mod.do:r2:ban")
    await ria.send("Schelden mag niet.")
    assert ria.keys[0] == "rooms.mod.done_ban"
    await group_command(anna, "melden", reply_to=bobs("Sukkel", "58"))  # open, Bob's
    months = app.settings.retention_months

    early = await run_retention(app, utcnow() + timedelta(days=30 * months - 31))
    assert early.room_reports_removed == 0
    late = await run_retention(app, utcnow() + timedelta(days=31 * months + 1))
    assert late.room_reports_removed == 1
    left = await app.db.fetchall("SELECT author_platform_id FROM room_reports ORDER BY id")
    assert [r["author_platform_id"] for r in left] == ["bob", "bob"]
    reasons = await app.db.fetchall("SELECT reason FROM room_sanctions WHERE report_id")
    assert [r["reason"] for r in reasons] == ["Schelden mag niet."]
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reporters") == 2
    # Erik's ban still holds on the platform: kept by his account alone, still listed (by a
    # pseudonym, without his message or the reason that names him) and liftable.
    [kept] = await app.db.fetchall(
        "SELECT reason, target, pseudonym FROM room_sanctions WHERE report_id IS NULL"
    )
    assert (kept["reason"], kept["target"]) == (None, "erik")
    await ria.send("/beperkingen")
    assert [p.key for p in ria.last[0].reply.parts] == [
        "rooms.mod.active_ban",
        "rooms.mod.active_ban_erased",
    ]
    assert f"een verwijderd account ({kept['pseudonym']})" in ria.text
    assert "Xanthopoulos" not in ria.text and "Koop nu" not in ria.text


async def test_a_warned_resident_made_staff_by_the_operator_is_not_erased(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = utcnow()
    ria = Chat(app, "4242", name="Ria Ambtenaar", platform="telegram")
    await ria.onboard()
    found = await app.repos.users.find("telegram", "4242")
    assert found is not None
    ria_id = found.id
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE users SET last_seen_at = ? WHERE id = ?",
            (iso(months_before(t0, 24) + timedelta(days=1)), ria_id),
        )
    assert (await run_retention(app, t0)).warned == 1

    # Still silent, she becomes a civil servant on the server: staff are the municipality's.
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    args = ["grant", "--platform", "telegram", "--user", "4242", "--role", "ambtenaar"]
    assert await asyncio.to_thread(main, args) == 0
    capsys.readouterr()

    later = await run_retention(app, t0 + timedelta(days=31))
    assert later.erased == 0
    user = await app.repos.users.get(ria_id)
    assert user is not None and user.role is Role.CIVIL_SERVANT
    assert await app.repos.retention.notice(ria_id) is None, "her warning no longer holds"


async def test_dialogs_untouched_for_a_week_are_deleted_with_what_was_typed_in_them(
    app: App,
) -> None:
    """A message left waiting for a choice, or a draft, is not kept for good: a dialog
    expires after a day, and its row (with the words) goes after a week."""
    anna, bob = Chat(app, "anna"), Chat(app, "bob")
    await anna.onboard()
    await bob.onboard()
    await anna.send("Mijn buurman Piet Zwaluwstaart parkeert op de stoep.")
    assert anna.keys == ["general.typed_what_now"]
    await bob.send("/idee")
    await bob.press("Duurzaamheid")
    await bob.send("Zonnepanelen op de Zwaluwstaartschool")
    assert await traces(app.db, ["Zwaluwstaart"]) != []
    # Two days later: expired, still kept (a late answer hears that it was too quiet).
    report = await run_retention(app, utcnow() + timedelta(days=2))
    assert report.dialogs_forgotten == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 2
    # Eight days later both are gone, and what was typed with them.
    report = await run_retention(app, utcnow() + timedelta(days=8))
    assert report.dialogs_forgotten == 2
    assert await traces(app.db, ["Zwaluwstaart"]) == []
