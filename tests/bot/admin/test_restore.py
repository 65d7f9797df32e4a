"""Restoring a backup does not bring back who erased their data after it was made: the
erasure ledger beside the database outlives the restore, and the bot erases them again."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.admin.backup import backup as copy_of
from bot.admin.cli import main
from bot.admin.doctor import run_checks
from bot.admin.public_site import blanked_in
from bot.admin.retention import run_retention
from bot.app import App
from bot.settings import Settings
from storage.clock import iso, utcnow
from storage.community.moderation import account_hash
from storage.privacy.ledger import ledger_path, read_ledger
from storage.privacy.retention import months_before
from tests.bot.admin.test_feed_removals import deleted_entries
from tests.bot.admin.test_public_site import _feed_entries, export
from tests.bot.admin.test_retention import silent_since
from tests.handlers.ideas.helpers import submit_idea
from tests.handlers.privacy.test_your_data import (
    ANNA_COMMENT,
    ANNA_IDEA,
    BOB_IDEA,
    annabel,
    identity,
    neighbours,
)
from tests.people import audit_actions, person
from tests.privacy import traces
from tests.support import Chat


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    """The command line sets up logging for its process: put the test's back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = saved


def backup(settings: Settings, target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``samenspel backup PATH``, as the operator runs it beside the bot."""
    monkeypatch.setenv("SAMENSPEL_DB", str(settings.db))
    assert main(["backup", str(target)]) == 0


def restore(backup_file: Path, settings: Settings) -> None:
    """The README's restore: the bot stopped, the backup copied over the database file, its
    write-ahead log and shared memory removed."""
    shutil.copyfile(backup_file, settings.db)
    for end in ("-wal", "-shm"):
        Path(f"{settings.db}{end}").unlink(missing_ok=True)


async def forget(anna: Chat, button: str) -> None:
    await anna.send("/vergeetmij")
    await anna.press(button)
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]


def ledger_lines(settings: Settings) -> list[dict[str, str]]:
    path = ledger_path(settings.db)
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


async def erasures_again(app: App) -> list[dict[str, object]]:
    rows = await app.db.fetchall(
        "SELECT subject_user_id, subject_pseudonym, detail FROM audit_log"
        " WHERE action = 'user.erase_again' ORDER BY id"
    )
    return [dict(row) for row in rows]


@pytest.mark.parametrize(
    ("button", "content"), [("Laten staan zonder naam", "kept"), ("Ook wissen", "deleted")]
)
async def test_a_resident_who_erased_after_the_backup_is_erased_again_when_it_is_restored(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    button: str,
    content: str,
) -> None:
    app = await App.open(settings)
    try:
        anna, bob = await neighbours(app)
        await app.db.settled()
        backup(settings, tmp_path / "backup.db", monkeypatch)
        await forget(anna, button)
        await app.db.settled()
        [erasure] = await app.db.fetchall("SELECT erased_at, content FROM erasures")
    finally:
        await app.close()
    [line] = ledger_lines(settings)
    # Nothing that names her: her account by its keyed hash, the moment and the mode.
    assert sorted(line) == ["account", "at", "content", "key"]
    assert (line["at"], line["content"]) == (erasure["erased_at"], content)
    assert not any(value in json.dumps(line) for value in identity(anna))

    restore(tmp_path / "backup.db", settings)
    app = await App.open(settings)
    try:
        assert await app.repos.users.find("test", anna.user_id) is None
        assert await app.repos.users.find("test", bob.user_id) is not None
        await app.db.settled()
        assert await traces(app.db, identity(anna)) == []
        idea = await app.repos.ideas.get(1)
        comments = await app.db.fetchval(
            "SELECT COUNT(*) FROM idea_comments WHERE body = ?", (ANNA_COMMENT,)
        )
        if content == "kept":
            assert idea is not None and idea.author_user_id is None, "kept without a name"
            assert comments == 1
        else:
            assert idea is None and comments == 0
            assert await traces(app.db, [*ANNA_IDEA, ANNA_COMMENT]) == []
        bobs_idea = await app.repos.ideas.get(2)
        assert bobs_idea is not None and bobs_idea.title == BOB_IDEA[0]
        [again] = await erasures_again(app)
        assert again["subject_user_id"] is None and str(again["subject_pseudonym"]).startswith(
            "anon-"
        )
        assert json.loads(str(again["detail"])) == {"content": content, "erased_at": line["at"]}
        [redone] = await app.db.fetchall("SELECT cause, content FROM erasures")
        assert (redone["cause"], redone["content"]) == ("admin", content)
    finally:
        await app.close()

    # Started again: nothing more to do, and nothing done twice.
    app = await App.open(settings)
    try:
        assert await audit_actions(app) == ["user.erase_again"]
    finally:
        await app.close()


async def test_someone_who_came_back_and_agreed_after_the_erasure_stays(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await App.open(settings)
    try:
        anna = annabel(app)
        await anna.onboard()
        await submit_idea(anna, *ANNA_IDEA)
        await app.db.settled()
        backup(settings, tmp_path / "before.db", monkeypatch)
        await forget(anna, "Ook wissen")
        await app.db.settled()
        # She comes back, agrees again and sends in a new idea.
        anna = annabel(app)
        await anna.onboard()
        await submit_idea(anna, "Xjqwbankje bij het strand", "Een bankje om uit te rusten.")
        await app.db.settled()
        backup(settings, tmp_path / "after.db", monkeypatch)
    finally:
        await app.close()

    restore(tmp_path / "after.db", settings)
    app = await App.open(settings)
    try:
        back = await app.repos.users.find("test", anna.user_id)
        assert back is not None and back.consented
        assert await erasures_again(app) == []
        idea = await app.repos.ideas.get(2)
        assert idea is not None and idea.author_user_id == back.id
    finally:
        await app.close()

    # The older backup still holds her first row, from before the erasure: that goes.
    restore(tmp_path / "before.db", settings)
    app = await App.open(settings)
    try:
        assert await app.repos.users.find("test", anna.user_id) is None
        assert await app.repos.ideas.get(1) is None
        assert len(await erasures_again(app)) == 1
    finally:
        await app.close()


def test_the_operators_erasure_is_in_the_ledger_and_outlives_a_restore(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def anna_sends_an_idea() -> bytes | None:
        app = await App.open(settings)
        try:
            anna = await person(app, "70011122233", platform="telegram")
            await submit_idea(anna, *ANNA_IDEA)
            return await app.repos.sanctions.account_key(create=False)
        finally:
            await app.close()

    key = asyncio.run(anna_sends_an_idea())
    assert key is not None
    backup(settings, tmp_path / "backup.db", monkeypatch)
    assert main(["erase-person", "telegram", "70011122233", "--delete-content"]) == 0
    assert "erased; their content was deleted" in capsys.readouterr().out
    [line] = ledger_lines(settings)
    assert line["account"] == account_hash(key, "telegram", "70011122233")
    assert line["content"] == "deleted"

    restore(tmp_path / "backup.db", settings)
    assert main(["retention"]) == 0
    assert "1 erased again from the erasure ledger" in capsys.readouterr().out

    async def after() -> None:
        app = await App.open(settings)
        try:
            assert await app.repos.users.find("telegram", "70011122233") is None
            assert await app.repos.ideas.get(1) is None
            assert await audit_actions(app) == ["user.erase_again"]
        finally:
            await app.close()

    asyncio.run(after())


async def test_retention_writes_its_erasures_in_the_ledger_and_drops_old_ones(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = utcnow()
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna", name="Annabel Zwartkruis")
        await anna.onboard()
        await submit_idea(anna, *ANNA_IDEA)
        await silent_since(app, "anna", months_before(t0, 24) + timedelta(days=10))
        assert (await run_retention(app, t0)).warned == 1
        await app.db.settled()
        backup(settings, tmp_path / "backup.db", monkeypatch)
        erased = await run_retention(app, t0 + timedelta(days=30))
        assert erased.erased == 1
        await app.db.settled()
    finally:
        await app.close()
    [line] = ledger_lines(settings)
    assert (line["at"], line["content"]) == (iso(t0 + timedelta(days=30)), "kept")

    restore(tmp_path / "backup.db", settings)
    app = await App.open(settings)
    try:
        assert await app.repos.users.find("test", "anna") is None
        idea = await app.repos.ideas.get(1)
        assert idea is not None and idea.author_user_id is None
        await app.db.settled()
        path = ledger_path(settings.db)
        assert path is not None

        def erased_at_t30() -> list[str]:
            return [entry.at for entry in read_ledger(path).entries if entry.at == line["at"]]

        # Kept for the keep period (180 days by default) after the erasure, then dropped.
        await run_retention(app, t0 + timedelta(days=30 + 179))
        assert erased_at_t30() == [line["at"]]
        before = path.stat().st_ino
        dropped = await run_retention(app, t0 + timedelta(days=30 + 181))
        assert dropped.ledger_dropped == 1 and erased_at_t30() == []
        assert path.stat().st_ino != before, "replaced by a rename, not rewritten in place"
    finally:
        await app.close()


async def test_a_line_cut_short_by_a_crash_is_skipped_and_the_next_one_stays_whole(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        bob = await person(app, "bob")
        await app.db.settled()
        copy_of(settings.db, tmp_path / "backup.db")  # what samenspel backup runs
        await anna.send("/vergeetmij")
        await anna.press("Ja")
        await app.db.settled()
        path = ledger_path(settings.db)
        assert path is not None
        with path.open("ab") as ledger:
            ledger.write(b'{"account":"0123')  # the next erasure's line, cut short
        await bob.send("/vergeetmij")
        await bob.press("Ja")
        await app.db.settled()
    finally:
        await app.close()
    contents = read_ledger(path)
    assert (len(contents.entries), contents.unreadable) == (2, 1)

    restore(tmp_path / "backup.db", settings)
    with caplog.at_level(logging.WARNING):
        app = await App.open(settings)
    try:
        assert await app.repos.users.find("test", "anna") is None
        assert await app.repos.users.find("test", "bob") is None
        assert len(await erasures_again(app)) == 2
    finally:
        await app.close()
    assert "erasure ledger lines skipped (cut short) count=1" in caplog.text
    [ledger] = [check for check in await run_checks(settings) if check.name == "erasure ledger"]
    assert ledger.ok and ledger.warning and "1 lines cut short" in ledger.detail


async def test_a_backup_of_another_installation_is_reported_not_guessed_at(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        await anna.send("/vergeetmij")
        await anna.press("Ja")
        await app.db.settled()
    finally:
        await app.close()
    [healthy] = [check for check in await run_checks(settings) if check.name == "erasure ledger"]
    assert healthy.line().startswith("ok   erasure ledger: ") and "1 erasures" in healthy.detail

    # Another installation's database, where anna still is, copied over this one.
    other = Settings(_env_file=None, db=tmp_path / "other" / "samenspel.db")  # type: ignore[call-arg]
    elsewhere = await App.open(other)
    try:
        await person(elsewhere, "anna")
    finally:
        await elsewhere.close()
    restore(other.db, settings)
    with caplog.at_level(logging.ERROR):
        app = await App.open(settings)
    try:
        assert await app.repos.users.find("test", "anna") is not None, "nobody is guessed at"
        assert await erasures_again(app) == []
    finally:
        await app.close()
    assert "written under another installation key" in caplog.text
    [check] = [check for check in await run_checks(settings) if check.name == "erasure ledger"]
    assert not check.ok
    assert check.line().startswith("FAIL erasure ledger: ")
    assert "1 of 1 erasures were written under another installation key" in check.detail


async def test_a_missing_or_unreadable_ledger_does_not_stop_the_bot(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = ledger_path(settings.db)
    assert path is not None
    path.mkdir(parents=True)  # in the way of the file: it can be neither read nor written
    with caplog.at_level(logging.WARNING):
        app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        await anna.send("/vergeetmij")
        await anna.press("Ja")
        assert anna.keys == ["privacy.forget.done"]
        await app.db.settled()
        assert await app.repos.users.find("test", "anna") is None
    finally:
        await app.close()
    assert "the erasure ledger cannot be read" in caplog.text
    assert "the erasure ledger cannot be written" in caplog.text
    [check] = [check for check in await run_checks(settings) if check.name == "erasure ledger"]
    assert check.ok and check.warning and check.line().startswith("warn erasure ledger: ")

    path.rmdir()  # gone altogether, after erasures were recorded
    [check] = [check for check in await run_checks(settings) if check.name == "erasure ledger"]
    assert check.warning and "is missing, while the database records 1 erasures" in check.detail


def test_the_ledger_is_never_the_target_of_a_backup(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.db.write_bytes(b"")
    monkeypatch.setenv("SAMENSPEL_DB", str(settings.db))
    assert main(["backup", f"{settings.db}.erased"]) == 1
    assert "one of the database's own files" in capsys.readouterr().err


def test_the_keep_period_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAMENSPEL_ERASURE_LEDGER_KEEP_DAYS", "400")
    assert Settings(_env_file=None, db=tmp_path / "x.db").erasure_ledger_keep_days == 400  # type: ignore[call-arg]
    assert Settings.model_fields["erasure_ledger_keep_days"].default == 180


async def test_the_privacy_statement_says_how_long_the_ledger_keeps_an_erasure(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "x.db", erasure_ledger_keep_days=90)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        anna = Chat(app, "anna")
        await anna.send("/privacy")
        assert "Na het wissen bewaren we ook 90 dagen zo'n code met de datum" in anna.text
        bob = Chat(app, "bob", language_hint="en")
        await bob.send("/privacy")
        assert "such a code with its date for 90 days" in bob.text
    finally:
        await app.close()


async def test_a_restore_keeps_the_blanked_feed_entries_of_an_idea_erased_after_the_backup(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anna sent in an idea after the backup and erased it with herself; the published feed
    blanks its entries for a month, so that readers drop her words. Restored, the database
    never heard of the idea: the feed must still carry the blanked entries."""
    site = tmp_path / "site"
    app = await App.open(settings)
    try:
        anna = annabel(app)
        await anna.onboard()
        await app.db.settled()
        backup(settings, tmp_path / "backup.db", monkeypatch)
        await submit_idea(anna, *ANNA_IDEA)
        await export(site, monkeypatch, app)
        _, before = _feed_entries(site)
        hers = [entry_id for entry_id, entry in before.items() if ANNA_IDEA[0] in entry.title]
        assert hers
        await forget(anna, "Ook wissen")
        await app.db.settled()
        await export(site, monkeypatch, app)
        assert sorted(deleted_entries(site)) == sorted(hers)
    finally:
        await app.close()

    restore(tmp_path / "backup.db", settings)
    app = await App.open(settings)
    try:
        await export(site, monkeypatch, app)
        assert sorted(deleted_entries(site)) == sorted(hers)
        # Carried over again by the export after it, for as long as the month lasts.
        await export(site, monkeypatch, app)
    finally:
        await app.close()
    assert sorted(deleted_entries(site)) == sorted(hers)
    _, after = _feed_entries(site)
    assert all(ANNA_IDEA[0] not in after[entry_id].title for entry_id in hers)
    feed = (site / "feed.xml").read_bytes()
    gone = max(datetime.fromisoformat(when) for when in deleted_entries(site).values())
    later = gone + timedelta(days=1)
    assert len(blanked_in(feed, gone - timedelta(days=1), later)) == len(hers)
    assert blanked_in(feed, gone + timedelta(seconds=1), later) == []
