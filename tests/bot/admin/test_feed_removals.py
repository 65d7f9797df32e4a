"""Feed entries of an idea taken out of view: hidden after reports, withdrawn by its author,
deleted with its author's erasure. A feed reader or aggregator keeps every entry it read,
title and all, until the feed gives it a newer version; an entry that only drops out of the
feed stays with the reader for good. So for a while the feed carries a blanked version of
each such entry under the same id, and says so in RFC 6721's terms too. Everything is done
through the chat, and every folder is made as an operator makes it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest

from bot.admin.public_site import REMOVED_CONTENT, Label, blanked_in, clean, render_site
from bot.app import App
from handlers.catalog import Catalog
from storage.clock import utcnow
from tests.bot.admin.test_public_site import _feed_entries, export
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, person
from tests.support import Chat

TITLE = "Qzxburen Annabel Zwartkruis en haar hond maken herrie"
TEXT = "Elke nacht blaft de hond van Annabel op de Kennemerlaan 12."
REASON = "Qzxgesproken met de wijkagent over Annabel."
HIDE_REASON = "Qzxnoemt een buurvrouw bij naam."
TOMBSTONES = "{http://purl.org/atompub/tombstones/1.0}deleted-entry"
#: How long the feed carries a blanked entry (the README says a month).
KEPT = timedelta(days=30)
WORDS = ("Qzx", "Annabel", "Zwartkruis", "Kennemerlaan", "hond", "wijkagent")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(app: App, moment: datetime) -> None:
    """Everything the chat does from now on happens at ``moment``."""
    app.router.clock = lambda: moment


def everything(folder: Path) -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(folder.iterdir()) if p.is_file())


def deleted_entries(folder: Path) -> dict[str, str]:
    """The feed's RFC 6721 ``at:deleted-entry`` elements: ref to when."""
    root = ET.fromstring((folder / "feed.xml").read_bytes())
    return {e.attrib["ref"]: e.attrib["when"] for e in root.iter(TOMBSTONES)}


def assert_blank(entry: Any, number: int, old: Any, gone: datetime) -> None:
    """A blanked version of ``old``: same id, nothing the idea said, newer."""
    assert entry.title == f"Idee #{number} is niet meer te zien"
    assert "niet meer te zien" in entry.summary and "no longer shown" in entry.summary
    assert entry.published == old.published
    assert entry.updated == stamp(gone) and entry.updated > old.updated
    assert entry.link.endswith("index.html")
    assert [tag.term for tag in entry.tags] == ["status"]


async def idea_with_a_decision(app: App, start: datetime) -> tuple[Chat, Chat]:
    """Anna's idea with a status and a reason, both naming someone: two feed entries."""
    at(app, start)
    anna = await person(app, "anna")
    await submit_idea(anna, TITLE, TEXT)
    ria = await connector(app)
    at(app, start + timedelta(minutes=5))
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send(REASON)
    return anna, ria


async def test_an_idea_hidden_after_reports_leaves_a_blanked_entry_until_shown_again(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow()
    _, ria = await idea_with_a_decision(app, start)
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    _, before = _feed_entries(first)
    mine = {i: e for i, e in before.items() if "Idee #1 " in e.title}
    assert len(mine) == 2 and all(TITLE in e.title for e in mine.values())

    # Three residents report it for naming someone: hidden at once; the connector keeps
    # it hidden.
    hidden = start + timedelta(hours=1)
    at(app, hidden)
    for n in range(3):
        reporter = await person(app, f"r{n}")
        await reporter.press_payload("idea.open:1")
        await reporter.press("Melden")
        await reporter.press("Persoonlijke gegevens")
    at(app, hidden + timedelta(hours=1))
    await ria.send("/meldingen")
    await ria.press("Verbergen")
    await ria.send(HIDE_REASON)
    assert ria.keys[0] == "moderation.idea.done_hide"
    second = tmp_path / "second"
    await export(second, monkeypatch, app)

    feed, after = _feed_entries(second)
    for entry_id, old in mine.items():
        assert_blank(after[entry_id], 1, old, hidden)
    assert feed.feed.updated == stamp(hidden)
    assert deleted_entries(second) == {entry_id: stamp(hidden) for entry_id in mine}
    # Nothing of what the idea, its reason or the connector said is anywhere in the folder.
    published = everything(second)
    assert not [word for word in WORDS if word in published]
    assert not (second / "idee-1.html").exists()

    # Exported again with nothing changed: the same feed, byte for byte.
    third = tmp_path / "third"
    await export(third, monkeypatch, app)
    assert (third / "feed.xml").read_bytes() == (second / "feed.xml").read_bytes()

    # Shown again: a normal version newer than the blanked one, and no deletion any more.
    shown = hidden + timedelta(days=2)
    at(app, shown)
    await ria.send("/wachtrij 1")
    await ria.press("Weer tonen")
    assert ria.keys == ["moderation.idea.restored"]
    fourth = tmp_path / "fourth"
    await export(fourth, monkeypatch, app)
    _, again = _feed_entries(fourth)
    for entry_id, old in mine.items():
        assert again[entry_id].title == old.title and TITLE in again[entry_id].title
        assert again[entry_id].published == old.published
        assert again[entry_id].updated == stamp(shown) > after[entry_id].updated
    assert deleted_entries(fourth) == {}


async def test_an_idea_its_author_withdraws_is_blanked_for_a_month_and_then_left_out(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow()
    at(app, start)
    anna = await person(app, "anna")
    await submit_idea(anna, TITLE, TEXT)
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    _, before = _feed_entries(first)
    [(entry_id, old)] = [(i, e) for i, e in before.items() if TITLE in e.title]

    withdrawn = start + timedelta(hours=3)
    at(app, withdrawn)
    await anna.press_payload("idea.open:1")
    await anna.press("Intrekken")
    await anna.press("Ja, trek idee in")
    assert anna.keys == ["ideas.withdrawn"]
    second = tmp_path / "second"
    await export(second, monkeypatch, app)
    _, after = _feed_entries(second)
    assert_blank(after[entry_id], 1, old, withdrawn)
    assert deleted_entries(second) == {entry_id: stamp(withdrawn)}
    assert not [word for word in WORDS if word in everything(second)]

    # A month on, every reader has had it: the feed no longer carries it.
    later = withdrawn + KEPT + timedelta(minutes=1)
    monkeypatch.setattr("bot.admin.cli.utcnow", lambda: later)
    third = tmp_path / "third"
    await export(third, monkeypatch, app)
    _, last = _feed_entries(third)
    assert entry_id not in last and deleted_entries(third) == {}


async def test_an_idea_deleted_with_its_authors_erasure_still_gets_its_blanked_entries(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow()
    anna, _ = await idea_with_a_decision(app, start)
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    _, before = _feed_entries(first)
    mine = {i: e for i, e in before.items() if TITLE in e.title}
    assert len(mine) == 2

    erased = start + timedelta(days=1)
    at(app, erased)
    await anna.send("/vergeetmij")
    await anna.press("Ook wissen")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys == ["privacy.forget.done"]
    await app.db.settled()  # the erasure's last steps delete the idea and its history
    assert await app.db.fetchval("SELECT COUNT(*) FROM ideas") == 0
    second = tmp_path / "second"
    await export(second, monkeypatch, app)

    _, after = _feed_entries(second)
    for entry_id, old in mine.items():
        assert_blank(after[entry_id], 1, old, erased)
    assert deleted_entries(second) == {entry_id: stamp(erased) for entry_id in mine}
    assert not [word for word in WORDS if word in everything(second)]


def _feed_with(entry_id: str, title: str, when: str, *, extra: str = "") -> bytes:
    """A feed as a hand (or anyone who could write the published folder) may have left it:
    one blanked-looking entry with its tombstone."""
    content = escape(clean(REMOVED_CONTENT))
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:at="http://purl.org/atompub/tombstones/1.0">'
        f"<entry><id>{entry_id}</id><title>{escape(title)}</title><updated>{when}</updated>"
        f"<published>2026-11-01T10:00:00Z</published>{extra}<content>{content}</content>"
        f'</entry><at:deleted-entry ref="{entry_id}" when="{when}"/></feed>'
    ).encode()


def test_only_what_a_blanked_entry_is_made_of_is_carried_into_the_next_feed() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    since = now - timedelta(days=30)
    ours = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'samenspel:velsen:status:7')}"
    fine = _feed_with(ours, "Idee #12 is niet meer te zien", "2026-12-01T10:00:00Z")
    [kept] = blanked_in(fine, since, now)
    assert (kept.entry_id, kept.idea) == (ours, 12)
    # Anything else written into an entry is not carried: the entry is made anew.
    site = render_site(
        {
            "codes": [],
            "idea_status_history": [],
            "ideas": [],
            "wist_je_dat": [],
            "experiments": [],
        },
        municipality=Label("Velsen", "Velsen"),
        slug="velsen",
        url=None,
        zone=ZoneInfo("Europe/Amsterdam"),
        files=[],
        now=now,
        catalog=Catalog.load(),
        previous_feed=_feed_with(
            ours,
            "Idee #12 is niet meer te zien",
            "2026-12-01T10:00:00Z",
            extra='<link href="https://elders.example/"/><summary>Jan is een oplichter</summary>',
        ),
    )
    feed = site["feed.xml"].decode()
    assert ours in feed and "elders.example" not in feed and "oplichter" not in feed
    for title, when, entry_id in (
        ("Jan de Vries, Kerkstraat 3", "2026-12-01T10:00:00Z", ours),  # not a blanked title
        ("Idee #12 is niet meer te zien", "9999-12-31T23:59:59Z", ours),  # after now
        ("Idee #12 is niet meer te zien", "2026-10-01T10:00:00Z", ours),  # month over
        ("Idee #12 is niet meer te zien", "0001-01-01T00:00:00+01:00", ours),  # out of range
        ("Idee #12 is niet meer te zien", "gisteren", ours),
        ("Idee #12 is niet meer te zien", "2026-12-01T10:00:00Z", "tag:elders,2026:1"),
    ):
        assert blanked_in(_feed_with(entry_id, title, when), since, now) == [], (title, when)
    assert blanked_in(b"<feed><entry>", since, now) == []
