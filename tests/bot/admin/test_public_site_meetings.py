"""An invitation to a meeting on the public site and in its feed, after staff cancelled or
moved the meeting in the chat: the site says what the chat's "Wist je dat" says (it is off;
its new time), the feed entry gets a newer version, and the folder is made again within
minutes rather than at the weekly export. The site is made by the scheduler's job, and read
back as a browser and a feed reader parse it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.admin.open_data import run_open_data_export
from bot.admin.public_site import FEED_TITLE_CHARS, feed_title
from bot.app import App
from bot.settings import Settings
from tests.bot.admin.test_public_site import PHONE, assert_accessible, look
from tests.chromium import Browser
from tests.consultations import Clock
from tests.meetings import ZONE, organise
from tests.people import civil_servant, subscribe
from tests.people import person as resident

OFF_TITLE = "<script>alert('weg')</script> Buurtavond & \"Zeewijk\""
MOVED_TITLE = "Koffie in het park \u202eomgekeerd\u202c <b>vet</b>"


class _Items(HTMLParser):
    """The text of every "Wist je dat" item of a page, by its anchor, as a browser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: dict[str, str] = {}
        self._open: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "li" and str(found.get("id", "")).startswith("wist-je-dat-"):
            self._open.append(str(found["id"]))
            self.items[str(found["id"])] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.items[self._open[-1]] += data


def _page(out: Path, name: str) -> _Items:
    parser = _Items()
    parser.feed((out / name).read_text(encoding="utf-8"))
    parser.close()
    return parser


def _feed(out: Path) -> dict[str, Any]:
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return {entry.link.split("#")[1]: entry for entry in feed.entries}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _span(starts: datetime) -> str:
    """A meeting's time as the site writes it: local, one form for Dutch and English."""
    return f"{starts:%Y-%m-%d %H:%M}–{starts + timedelta(hours=2):%H:%M}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_cancelled_or_moved_meeting_reads_so_on_the_public_site_and_in_the_feed(
    tmp_path: Path, clock: Clock
) -> None:
    out = tmp_path / "published"
    settings = Settings(_env_file=None, db=tmp_path / "m.db", open_data_dir=out)  # type: ignore[call-arg]
    app = await App.open(settings, clock=clock)
    try:
        anna, bob = await resident(app, "anna"), await resident(app, "bob")
        await subscribe(anna)
        ria = await civil_servant(app, "ria")
        local = clock.now.astimezone(ZONE)
        off_at = (local + timedelta(days=10)).replace(hour=19, minute=30, second=0)
        moved_at = (local + timedelta(days=12)).replace(hour=14, minute=0, second=0)
        later = (local + timedelta(days=20)).replace(hour=10, minute=15, second=0)
        for title, starts in ((OFF_TITLE, off_at), (MOVED_TITLE, moved_at)):
            await organise(ria, starts, capacity=3, title=title)
            await ria.press("Publiceren")
            assert ria.keys == ["meetings.published"]
        # A new database: the meetings, their invitations and the news items count alike.
        off, moved = 1, 2
        await bob.press_payload(f"mt.go:{off}")
        await bob.press_payload(f"mt.go:{moved}")
        published = clock.now
        assert await run_open_data_export(app, clock.now) is not None
        first = _feed(out)
        assert len(first) == 2
        for entry in first.values():
            assert "Gaat niet door" not in entry.title and "GAAT NIET DOOR" not in entry.summary
            assert entry.updated == _stamp(published)

        # Ria cancels the one and moves the other, in the chat, a day later.
        clock.advance(days=1)
        cancelled = clock.now
        await ria.press_payload(f"mt.end:{off}")
        await ria.press("Ja, afzeggen")
        assert ria.keys == ["meetings.cancelled_done"]
        clock.advance(minutes=10)
        rescheduled = clock.now
        await ria.press_payload(f"mt.move:{moved}")
        await ria.send(later.strftime("%d-%m-%Y %H:%M"))
        await ria.press("2 uur")
        assert ria.keys == ["meetings.moved_done"]
        # The chat's archive already says so ...
        await anna.press_payload("news.page:0")
        assert "Gaat niet door" in anna.text

        # ... and the scheduler's next look, minutes later, makes the site again.
        clock.advance(minutes=5)
        assert await run_open_data_export(app, clock.now) is not None
    finally:
        await app.close()

    raw = (out / "wist-je-dat.html").read_text(encoding="utf-8")
    assert "<script>" not in raw and "<b>vet</b>" not in raw and "\u202e" not in raw
    for name in ("wist-je-dat.html", "index.html"):
        page = _page(out, name)
        assert page.scripts == 0
        off_item = " ".join(page.items[f"wist-je-dat-{off}"].split())
        moved_item = " ".join(page.items[f"wist-je-dat-{moved}"].split())
        # Shown as typed (markup as text), and clearly off; the other at its new time.
        assert "<script>alert('weg')</script> Buurtavond & \"Zeewijk\"" in off_item, off_item
        assert "Gaat niet door: deze bijeenkomst is afgezegd." in off_item
        assert "Cancelled: this meeting will not take place." in off_item
        assert "Gaat niet door" not in moved_item and "Cancelled" not in moved_item
        assert "Koffie in het park omgekeerd <b>vet</b>" in moved_item, moved_item
        assert _span(later) in moved_item and _span(moved_at) not in moved_item
        assert "Zeewijkplein 1, IJmuiden" in moved_item

    feed = _feed(out)
    off_entry, moved_entry = feed[f"wist-je-dat-{off}"], feed[f"wist-je-dat-{moved}"]
    assert off_entry.id == first[f"wist-je-dat-{off}"].id, "the same entry, a newer version"
    assert off_entry.title.startswith("Gaat niet door: ")
    assert OFF_TITLE in off_entry.title
    assert "GAAT NIET DOOR" in off_entry.summary and "CANCELLED" in off_entry.summary
    assert off_entry.published == _stamp(published)
    assert off_entry.updated == _stamp(cancelled)
    assert moved_entry.id == first[f"wist-je-dat-{moved}"].id
    assert not moved_entry.title.startswith("Gaat niet door")
    assert f"Wanneer / When: {_span(later)}" in moved_entry.summary
    assert _span(moved_at) not in moved_entry.summary
    assert moved_entry.updated == _stamp(rescheduled)
    # Newest change first: readers see both again.
    assert [e.link.split("#")[1] for e in feedparser.parse(out / "feed.xml").entries] == [
        f"wist-je-dat-{moved}",
        f"wist-je-dat-{off}",
    ]

    # On a phone: the mark is readable (contrast), nothing runs, nothing sticks out.
    async with Browser.start(tmp_path / "chromium") as browser:
        archive = await look(browser, out / "wist-je-dat.html", PHONE)
        assert_accessible(archive)
        assert "Gaat niet door: deze bijeenkomst is afgezegd." in archive["text"]

    # Nobody's name: not the organiser's, not the person who registered.
    everything = "\n".join(p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file())
    assert "Bob" not in everything and "Ria" not in everything and "Anna" not in everything


async def test_a_cancelled_meetings_feed_title_is_its_name_marked_off_on_one_line(
    tmp_path: Path, clock: Clock
) -> None:
    """Not "Gaat niet door: Wist je dat: <title> <description>…": the mark, then the
    meeting's own title, cut at a whole word within the feed's title length."""
    out = tmp_path / "published"
    settings = Settings(_env_file=None, db=tmp_path / "m.db", open_data_dir=out)  # type: ignore[call-arg]
    app = await App.open(settings, clock=clock)
    short = "Buurtavond Zeewijk"
    long = "Informatieavond over de herinrichting van het Plein 1945 en de Lange Nieuwstraat"
    assert len(long) == 80
    try:
        await subscribe(await resident(app, "anna"))
        ria = await civil_servant(app, "ria")
        local = clock.now.astimezone(ZONE)
        for n, title in enumerate((short, long)):
            starts = (local + timedelta(days=10 + n)).replace(hour=19, minute=30, second=0)
            await organise(ria, starts, title=title)
            await ria.press("Publiceren")
            await ria.press_payload(f"mt.end:{n + 1}")
            await ria.press("Ja, afzeggen")
            assert ria.keys == ["meetings.cancelled_done"]
        clock.advance(minutes=5)
        assert await run_open_data_export(app, clock.now) is not None
    finally:
        await app.close()

    feed = _feed(out)
    assert feed["wist-je-dat-1"].title == f"Gaat niet door: {short}"
    cut = feed["wist-je-dat-2"].title
    assert cut == "Gaat niet door: Informatieavond over de herinrichting van het Plein 1945 en de…"
    for entry in feed.values():
        assert "Wist je dat" not in entry.title and "\n" not in entry.title
        assert len(entry.title) <= 80
        assert "GAAT NIET DOOR" in entry.summary
    # The pages say it as before: the mark above the invitation's own words.
    off_item = " ".join(_page(out, "wist-je-dat.html").items["wist-je-dat-2"].split())
    assert off_item.index("Gaat niet door: deze bijeenkomst is afgezegd.") < off_item.index(long)


def test_an_updates_feed_title_with_its_label_in_front_stays_within_the_length() -> None:
    words = "de gemeente plant nieuwe bomen langs de Kennemerlaan en de Zeeweg in IJmuiden"
    title = feed_title(words, "Wist je dat: ")
    assert title == (
        "Wist je dat: de gemeente plant nieuwe bomen langs de Kennemerlaan en de Zeeweg…"
    )
    assert len(title) <= FEED_TITLE_CHARS
    assert feed_title("kort", "Wist je dat: ") == "Wist je dat: kort"
