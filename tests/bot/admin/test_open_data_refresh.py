"""The published folder after content leaves public view: an erasure, an idea the connector
hides, an idea its author withdraws. The folder is redone at the scheduler's next look (a few
minutes), not at the next weekly export, and never while an erasure's clean-up is unfinished;
ordinary changes wait for the weekly export. Everything here goes through the chat and the
scheduler's own job, on a real database with a folder configured."""

from __future__ import annotations

import asyncio
import csv
import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from bot.admin import open_data
from bot.admin.cli import main
from bot.admin.open_data import CLEAN_UP_GRACE
from bot.app import App
from bot.runtime import OPEN_DATA_CHECK
from bot.settings import Settings
from storage.clock import utcnow
from storage.privacy.personal import PersonalStore
from storage.privacy.retention import months_before
from tests.bot.admin.test_retention import silent_since
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, person, run_job
from tests.support import Chat

ERASED = "Qzxmoestuin van Annabel aan de Zeeweg"
HIDDEN = "Qzxbel 06-12345678 voor zonnepanelen"
WITHDRAWN = "Qzxspeeltuin die ik toch niet wil"
STAYS = "Meer bankjes in het Velserbeekpark"
DESCRIPTION = "Groente kweken op braakliggend terrein achter sporthal Zeewijk."
OTHER = "Rustpunten langs wandelroutes voor wie slecht ter been is."


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return tmp_path / "published"


@pytest.fixture
async def app(tmp_path: Path, published: Path) -> AsyncIterator[App]:
    """A bot that publishes its open data in ``published`` (SAMENSPEL_OPEN_DATA_DIR)."""
    settings = Settings(_env_file=None, db=tmp_path / "s.db", open_data_dir=published)  # type: ignore[call-arg]
    opened = await App.open(settings)
    try:
        yield opened
    finally:
        await opened.close()


def everything(folder: Path) -> str:
    """Every file of the published folder, as one text."""
    return "\n".join(p.read_text("utf-8") for p in sorted(folder.iterdir()) if p.is_file())


def folders(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.is_dir()]


def created(folder: Path) -> str:
    return str(json.loads((folder / "datapackage.json").read_text("utf-8"))["created"])


async def look(app: App, at: datetime) -> None:
    """The scheduler's open-data job, as the running bot calls it."""
    await run_job(app, "open-data:every", at)


async def submit(chat: Chat, title: str, description: str) -> None:
    """Send in an idea, also when it looks like one already there."""
    await submit_idea(chat, title, description)
    if chat.keys == ["ideas.similar_intro"]:
        await chat.press("Toch versturen")


async def erase(chat: Chat, *, delete: bool) -> None:
    await chat.send("/vergeetmij")
    await chat.press("Ook wissen" if delete else "Laten staan zonder naam")
    await chat.press("Ja, wis mijn gegevens")
    assert chat.keys == ["privacy.forget.done"]


async def test_an_erased_residents_idea_leaves_the_folder_at_the_next_look_not_next_week(
    app: App, published: Path
) -> None:
    annabel = await person(app, "annabel")
    await submit_idea(annabel, ERASED, DESCRIPTION)
    bob = await person(app, "bob")
    await submit(bob, STAYS, OTHER)
    start = utcnow()
    await look(app, start)
    assert ERASED in everything(published) and (published / "idee-1.html").is_file()

    await erase(annabel, delete=True)
    await app.db.settled()  # the erasure's clean-up, in the background
    await look(app, start + OPEN_DATA_CHECK)

    text = everything(published)
    assert ERASED not in text and STAYS in text
    assert not (published / "idee-1.html").exists()
    feed = feedparser.parse((published / "feed.xml").read_bytes())
    assert not feed.bozo and all(ERASED not in entry.title for entry in feed.entries)
    with (published / "ideas.csv").open(encoding="utf-8") as rows:
        assert [row["title"] for row in csv.DictReader(rows)] == [STAYS]


@pytest.mark.parametrize("how", ["hidden", "withdrawn"])
async def test_an_idea_hidden_by_the_connector_or_withdrawn_leaves_at_the_next_look(
    app: App, published: Path, how: str
) -> None:
    anna = await person(app, "anna")
    title = HIDDEN if how == "hidden" else WITHDRAWN
    await submit_idea(anna, title, DESCRIPTION)
    start = utcnow()
    await look(app, start)
    assert title in everything(published)

    if how == "hidden":
        for n in range(3):
            reporter = await person(app, f"r{n}")
            await reporter.press_payload("idea.open:1")
            await reporter.press("Melden")
            await reporter.press("Reclame of spam")
        ria = await connector(app)
        await ria.send("/meldingen")
        await ria.press("Verbergen")
        await ria.send("Reclame hoort hier niet.")
        assert ria.keys[0] == "moderation.idea.done_hide"
    else:
        await anna.press_payload("idea.open:1")
        await anna.press("Intrekken")
        await anna.press("Ja, trek idee in")
        assert anna.keys == ["ideas.withdrawn"]
    await look(app, start + OPEN_DATA_CHECK)

    assert title not in everything(published)
    assert not (published / "idee-1.html").exists()


async def test_ordinary_changes_wait_for_the_week_and_a_removal_is_not_forgotten_by_a_restart(
    tmp_path: Path, published: Path
) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "s.db", open_data_dir=published)  # type: ignore[call-arg]
    start = utcnow()
    app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        await submit_idea(anna, WITHDRAWN, DESCRIPTION)
        await look(app, start)
        first = created(published)
        # A new idea and a new status: published with the weekly export, not now.
        bob = await person(app, "bob")
        await submit(bob, STAYS, OTHER)
        ria = await connector(app)
        await ria.send("/wachtrij 2")
        await ria.press("In behandeling")
        await ria.send("We kijken er deze week naar.")
        await look(app, start + OPEN_DATA_CHECK)
        assert created(published) == first and STAYS not in everything(published)
        # Anna withdraws hers; the bot stops before its next look.
        await anna.press_payload("idea.open:1")
        await anna.press("Intrekken")
        await anna.press("Ja, trek idee in")
        assert anna.keys == ["ideas.withdrawn"]
    finally:
        await app.close()
    app = await App.open(settings)
    try:
        await look(app, start + 2 * OPEN_DATA_CHECK)
        assert created(published) != first
        assert WITHDRAWN not in everything(published) and STAYS in everything(published)
        # Once published, the next look leaves the folder alone.
        again = created(published)
        await look(app, start + 3 * OPEN_DATA_CHECK)
        assert created(published) == again
    finally:
        await app.close()


async def test_without_a_folder_nothing_is_written_after_a_removal(
    tmp_path: Path, published: Path
) -> None:
    settings = Settings(_env_file=None, db=tmp_path / "s.db")  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        anna = await person(app, "anna")
        await submit_idea(anna, WITHDRAWN, DESCRIPTION)
        await anna.press_payload("idea.open:1")
        await anna.press("Intrekken")
        await anna.press("Ja, trek idee in")
        await look(app, utcnow())
        assert await app.repos.open_data.stale()
    finally:
        await app.close()
    assert folders(tmp_path) == [], "no folder written anywhere"


async def test_a_reason_naming_someone_retention_erased_leaves_at_the_next_look(
    app: App, published: Path
) -> None:
    t0 = utcnow()
    annabel = Chat(app, "annabel", name="Annabel Zwartkruis")
    await annabel.onboard()
    await submit(annabel, STAYS, DESCRIPTION)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send("Gesproken met Annabel Zwartkruis over een plek.")
    await silent_since(app, "annabel", months_before(t0, 24) + timedelta(days=10))
    await run_job(app, "retention:every", t0)  # she is warned
    due = t0 + timedelta(days=30)
    await look(app, due - OPEN_DATA_CHECK)
    assert "Annabel Zwartkruis" in everything(published)

    await run_job(app, "retention:every", due)  # and erased; her idea stays
    await app.db.settled()
    await look(app, due + OPEN_DATA_CHECK)
    assert "Annabel Zwartkruis" not in everything(published) and STAYS in everything(published)


# An erasure's clean-up, unfinished ---------------------------------------------------------

REASON = "Besproken met Annabel op de markt, zij neemt contact op met de buren."


async def _reason_naming_annabel(app: App) -> Chat:
    """Annabel sends in an idea; the connector's reason for its status names her."""
    annabel = await person(app, "annabel")
    await submit_idea(annabel, STAYS, DESCRIPTION)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send(REASON)
    assert ria.keys[0] == "triage.done"
    return annabel


def _stop_clean_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    async def stopped(self: PersonalStore, scrub_id: int) -> None:
        """The clean-up does not get anywhere (the bot stopped right after the erasure, or
        the clean-up of a large database is still running)."""

    monkeypatch.setattr(PersonalStore, "scrub", stopped)


async def test_no_export_publishes_a_reason_naming_someone_before_their_erasure_is_cleaned_up(
    app: App, published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    annabel = await _reason_naming_annabel(app)
    _stop_clean_ups(monkeypatch)
    await erase(annabel, delete=False)  # her idea stays, without her name
    assert await app.repos.open_data.clean_ups()

    # The weekly export is due (there is none yet), right after the erasure: it waits; a
    # clean-up still unfinished half an hour later it takes up itself, and while that gets
    # nowhere it publishes no status reason at all, and the folder stays out of date.
    await look(app, utcnow())
    assert folders(published.parent) == []
    await look(app, utcnow() + CLEAN_UP_GRACE)
    assert STAYS in everything(published) and "Annabel" not in everything(published)
    assert await app.repos.open_data.stale()
    # The operator's command, meanwhile, does the same.
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    by_hand = tmp_path / "by-hand"
    assert await asyncio.to_thread(main, ["export-open-data", "--out", str(by_hand)]) == 0
    assert STAYS in everything(by_hand) and "Annabel" not in everything(by_hand)

    # A restart resumes the clean-up; the command finishes it before it reads anything, and
    # the folder is up to date again at the next look.
    monkeypatch.undo()
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    assert await asyncio.to_thread(main, ["export-open-data", "--out", str(by_hand)]) == 0
    assert STAYS in everything(by_hand) and "Annabel" not in everything(by_hand)
    assert not await app.repos.open_data.clean_ups()
    await look(app, utcnow() + CLEAN_UP_GRACE + OPEN_DATA_CHECK)
    assert STAYS in everything(published) and "Annabel" not in everything(published)
    assert not await app.repos.open_data.stale()


async def test_a_clean_up_that_keeps_failing_does_not_keep_erased_content_public(
    app: App, published: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An erasure's clean-up that fails at every try (a bug, a damaged row) is an error in
    the log at every look; the folder is still made again without what was erased."""
    annabel = await person(app, "annabel")
    await submit_idea(annabel, STAYS, DESCRIPTION)
    await submit(annabel, ERASED, OTHER)
    ria = await connector(app)
    for number, reason in ((1, REASON), (2, "Een reden over de plek, zonder naam.")):
        await ria.send(f"/wachtrij {number}")
        await ria.press("In behandeling")
        await ria.send(reason)
        assert ria.keys[0] == "triage.done"
    start = utcnow()
    await look(app, start)
    assert ERASED in everything(published) and REASON in everything(published)

    async def failing(self: PersonalStore, scrub_id: int) -> None:
        raise RuntimeError("a damaged row")

    monkeypatch.setattr(PersonalStore, "scrub", failing)
    await erase(annabel, delete=True)
    for minutes in (5, 40, 45):
        caplog.clear()
        await look(app, start + timedelta(minutes=minutes))
        if minutes > 5:
            failed = [r for r in caplog.records if "clean-up failed" in r.getMessage()]
            assert failed and failed[0].levelname == "ERROR"
    assert ERASED not in everything(published)
    assert "Annabel" not in everything(published)
    assert "Een reden over de plek" not in everything(published)
    assert await app.repos.open_data.stale()


async def test_an_idea_its_author_changed_leaves_its_old_words_at_the_next_look(
    app: App, published: Path
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, HIDDEN, DESCRIPTION)
    start = utcnow()
    await look(app, start)
    assert HIDDEN in everything(published)

    await anna.press("Bekijk #1")
    await anna.press("Aanpassen")
    await anna.press("Titel aanpassen")
    await anna.send("Wie helpt mee met zonnepanelen op het dak?")
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    assert await app.repos.open_data.stale()
    await look(app, start + OPEN_DATA_CHECK)
    assert HIDDEN not in everything(published)
    assert "Wie helpt mee met zonnepanelen" in everything(published)


async def test_while_a_clean_up_is_unfinished_an_entry_without_its_reason_is_a_newer_version(
    app: App, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed reader replaces an entry it keeps only when the entry's ``updated`` changes:
    the reason left out must reach it, once, and stay the same version afterwards."""
    annabel = await _reason_naming_annabel(app)
    start = utcnow()
    await look(app, start)
    before = feedparser.parse((published / "feed.xml").read_bytes())
    [old] = [entry for entry in before.entries if "Annabel" in entry.summary]

    _stop_clean_ups(monkeypatch)
    erased = start + timedelta(days=1)
    app.router.clock = lambda: erased
    await erase(annabel, delete=False)
    stamp = erased.strftime("%Y-%m-%dT%H:%M:%SZ")
    for at in (erased + CLEAN_UP_GRACE, erased + CLEAN_UP_GRACE + OPEN_DATA_CHECK):
        await look(app, at)
        feed = feedparser.parse((published / "feed.xml").read_bytes())
        entry = next(e for e in feed.entries if e.id == old.id)
        assert "Annabel" not in entry.summary and entry.published == old.published
        assert entry.updated == stamp == feed.feed.updated

    # The clean-up gets done at last: the reason it emptied reads as it did meanwhile.
    monkeypatch.undo()
    await look(app, erased + CLEAN_UP_GRACE + 2 * OPEN_DATA_CHECK)
    assert not await app.repos.open_data.clean_ups()
    feed = feedparser.parse((published / "feed.xml").read_bytes())
    entry = next(e for e in feed.entries if e.id == old.id)
    assert "Annabel" not in entry.summary and entry.updated == stamp


class Killed(BaseException):
    """The bot's process stopped dead (a power cut, the kernel's OOM killer, docker's
    SIGKILL after its grace period): nothing after this point runs, no clean-up either."""


@pytest.mark.parametrize("where", ["writing", "renaming"])
async def test_an_export_killed_halfway_leaves_no_copy_of_erased_words_on_the_disk(
    app: App, published: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    annabel = await person(app, "annabel")
    await submit_idea(annabel, ERASED, DESCRIPTION)
    bob = await person(app, "bob")
    await submit(bob, STAYS, OTHER)
    start = utcnow()
    await look(app, start)

    # A week later the bot dies while it writes the new export (its files half written
    # beside the folder), or just after it moved the published folder aside to swap in
    # the new one.
    calls = {"writing": 0, "renaming": 0}
    write, rename = open_data.write_durably, os.rename

    def dying_write(path: Path, data: bytes) -> None:
        calls["writing"] += 1
        if where == "writing" and calls["writing"] == 5:
            raise Killed
        write(path, data)

    def dying_rename(src: str | Path, dst: str | Path) -> None:
        calls["renaming"] += 1
        if where == "renaming" and calls["renaming"] == 2:
            raise Killed
        rename(src, dst)

    with monkeypatch.context() as patched:
        patched.setattr(open_data, "write_durably", dying_write)
        patched.setattr(open_data.os, "rename", dying_rename)
        with pytest.raises(Killed):
            await look(app, start + timedelta(days=7))

    # Started again, the bot erases Annabel at her request and publishes at its next look.
    await erase(annabel, delete=True)
    await app.db.settled()
    await look(app, start + timedelta(days=7) + OPEN_DATA_CHECK)

    assert STAYS in everything(published)
    assert folders(published.parent) == [published], "what the killed export left is gone"
    written = [p for folder in folders(published.parent) for p in folder.rglob("*")]
    assert all(ERASED not in p.read_text("utf-8") for p in written if p.is_file())
