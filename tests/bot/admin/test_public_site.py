"""The public site beside the open data: what a person sees in Chromium, what a feed reader
reads, and that nobody's personal data is in any of it. Every site here is made the way an
operator or the scheduler makes it: ``samenspel export-open-data`` or the weekly job."""

from __future__ import annotations

import asyncio
import csv
import html
import itertools
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.admin.cli import main
from bot.admin.open_data import OpenDataError, run_open_data_export, write_atomically
from bot.admin.public_site import idea_page
from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from storage.experiments.experiments import NewExperiment
from storage.ideas.ideas import IdeaStatus, Removal
from storage.localized import Localized
from storage.privacy.personal import Cause, ContentChoice
from tests.bot.admin.test_open_data import EXPERIMENT_ONLY, REMOVED_TITLE, SIGNER, seed_public_life
from tests.chromium import Browser
from tests.handlers.ideas.helpers import submit_idea
from tests.people import civil_servant, connector, subscribe
from tests.people import person as resident
from tests.privacy import traces
from tests.support import Chat

#: A phone's width in CSS pixels (the smallest common one).
PHONE = 320
NEWS = "Wist je dat de markt op zaterdag is?"
REASON_BOB = "Past bij de klimaatagenda"

#: What a page looks like to a person and to a checker, gathered in the page itself.
AUDIT = """(() => {
  const shown = el => {
    const style = getComputedStyle(el);
    return style.display !== 'none' && style.visibility !== 'hidden'
      && el.getClientRects().length > 0;
  };
  const channel = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = colour => {
    const [r, g, b] = colour.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const parts = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g);
      if (parts && (parts.length < 4 || Number(parts[3]) > 0)) {
        return getComputedStyle(e).backgroundColor;
      }
    }
    return 'rgb(255, 255, 255)';
  };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !shown(el)) continue;
    const a = luminance(getComputedStyle(el).color), b = luminance(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push([node.textContent.trim().slice(0, 40), ratio]);
  }
  return {
    text: document.body.innerText,
    title: document.title,
    lang: document.documentElement.lang,
    low,
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => Number(h.tagName[1])),
    scripts: document.scripts.length,
    handlers: [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
    images: [...document.images].map(i => i.getAttribute('alt')),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    viewport: document.querySelector('meta[name=viewport]')?.content,
    english: [...document.querySelectorAll('[lang=en]')].map(e => e.textContent.trim()),
    styled: getComputedStyle(document.body).fontFamily.includes('system-ui'),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
  };
})()"""


async def export(
    out: Path, monkeypatch: pytest.MonkeyPatch, app: App, *, url: str | None = None
) -> None:
    """``samenspel export-open-data --out OUT`` on the app's database, as an operator runs it."""
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    if url:
        monkeypatch.setenv("SAMENSPEL_OPEN_DATA_URL", url)
    else:
        monkeypatch.delenv("SAMENSPEL_OPEN_DATA_URL", raising=False)
    assert await asyncio.to_thread(main, ["export-open-data", "--out", str(out)]) == 0


def statuses(out: Path, lang: str = "nl") -> dict[IdeaStatus, str]:
    """The name of each status as the export's own codes give it (from the catalogs)."""
    codes = json.loads((out / "codes.json").read_text(encoding="utf-8"))
    header, *rows = codes
    named = [dict(zip(header, row, strict=True)) for row in rows]
    return {IdeaStatus(r["code"]): r[f"name_{lang}"] for r in named if r["list"] == "status"}


async def look(browser: Browser, page: Path, width: int = PHONE) -> dict[str, Any]:
    await browser.page.goto(page, width=width)
    audit: dict[str, Any] = await browser.page.evaluate(AUDIT)
    return audit


def assert_accessible(audit: dict[str, Any]) -> None:
    """What WCAG 2.1 AA asks that a page can show by itself."""
    assert audit["lang"] == "nl"
    assert audit["styled"], "the style sheet was applied"
    assert audit["low"] == [], "text with a contrast under 4.5:1"
    headings = audit["headings"]
    assert headings.count(1) == 1 and headings[0] == 1, headings
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings)), headings
    assert all(alt for alt in audit["images"]), "every image has a text alternative"
    assert audit["scripts"] == 0 and audit["handlers"] == 0
    assert audit["overflow"] <= 0, f"{audit['overflow']} px sideways on a phone"
    assert audit["viewport"] == "width=device-width, initial-scale=1"
    assert audit["english"], "English parts are marked as English"


async def test_the_index_shows_news_experiments_ideas_and_files_on_a_phone(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed_public_life(app)
    await app.repos.ideas.set_status(
        seeded.bob.idea,
        IdeaStatus.FORWARDED,
        now=utcnow(),
        department="openbare-ruimte",
        reason=REASON_BOB,
    )
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    async with Browser.start(tmp_path / "chromium") as browser:
        index = await look(browser, out / "index.html")
        assert_accessible(index)
        text = index["text"]
        for seen in (
            "Samenspel in Gemeente Velsen",
            "Wist je dat",
            "Did you know",
            NEWS,
            "Experimenten",
            "Speeltuin Zeewijk Natuurlijk!",
            "Zeewijk Natural Playground",
            f"#{seeded.bob.idea} {seeded.bob.texts[0]}",
            statuses(out)[IdeaStatus.FORWARDED],
            statuses(out, "en")[IdeaStatus.FORWARDED],
            REASON_BOB,
            "ideas.csv",
            "datapackage.json",
        ):
            assert seen in text, seen
        assert "Did you know" in index["english"] and REMOVED_TITLE not in text
        assert idea_page(seeded.bob.idea) in index["links"]
        for link in index["links"]:
            if not link.startswith(("#", "http")):
                assert (out / link.split("#")[0]).is_file(), link

        # A keyboard user's first Tab lands on the skip link, visibly, and it leads to the content.
        await browser.page.key("Tab")
        focused = await browser.page.evaluate(
            "(() => { const a = document.activeElement, s = getComputedStyle(a);"
            " return [a.getAttribute('href'), a.getBoundingClientRect().top >= 0,"
            " s.outlineStyle, s.outlineWidth]; })()"
        )
        assert focused == ["#inhoud", True, "solid", "3px"]
        await browser.page.key("Enter")
        assert await browser.page.evaluate("document.activeElement.id") == "inhoud"

        page = await look(browser, out / idea_page(seeded.bob.idea))
        assert_accessible(page)
        for seen in (
            f"Idee #{seeded.bob.idea} {seeded.bob.texts[0]}",
            seeded.bob.texts[1],
            "Statusgeschiedenis",
            statuses(out)[IdeaStatus.ADOPTED],
            statuses(out)[IdeaStatus.FORWARDED],
            REASON_BOB,
            "Steun",
        ):
            assert seen in page["text"], seen
        history, named = page["text"].split("Statusgeschiedenis")[1], statuses(out)
        assert (
            history.index(named[IdeaStatus.SUBMITTED])
            < history.index(named[IdeaStatus.ADOPTED])
            < history.index(named[IdeaStatus.FORWARDED])
        ), "oldest first"
        assert seeded.anna.name not in page["text"] and SIGNER not in page["text"]


async def test_the_feed_carries_news_and_status_changes_with_stable_ids_and_real_links(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed_public_life(app)
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    feed = feedparser.parse((first / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.title.startswith("Samenspel Gemeente Velsen")
    assert feed.feed.language == "nl" and feed.feed.updated_parsed
    titles = [entry.title for entry in feed.entries]
    assert NEWS in titles
    adopted = statuses(first)[IdeaStatus.ADOPTED]
    assert f"Idee #{seeded.bob.idea} {seeded.bob.texts[0]}: {adopted}" in titles
    for entry in feed.entries:
        assert entry.id.startswith("urn:uuid:") and entry.updated_parsed and entry.link
        assert (first / entry.link.split("#")[0]).is_file(), entry.link
    assert len({entry.id for entry in feed.entries}) == len(feed.entries)
    everything = "\n".join(f"{e.title}\n{e.summary}" for e in feed.entries)
    assert REMOVED_TITLE not in everything and EXPERIMENT_ONLY not in everything

    # The next week's export, published at a known address: the same ids, absolute links.
    await app.repos.ideas.set_status(
        seeded.anna.idea,
        IdeaStatus.NOT_FEASIBLE,
        now=utcnow() + timedelta(days=7),
        reason="Te duur",
    )
    second = tmp_path / "second"
    await export(second, monkeypatch, app, url="https://data.velsen.example/samenspel")
    again = feedparser.parse((second / "feed.xml").read_bytes())
    assert not again.bozo
    assert {e.id for e in feed.entries} < {e.id for e in again.entries}
    newest = again.entries[0]
    no = statuses(second)[IdeaStatus.NOT_FEASIBLE]
    assert newest.title == f"Idee #{seeded.anna.idea} {seeded.anna.texts[0]}: {no}"
    assert "Te duur" in newest.summary
    assert newest.link == f"https://data.velsen.example/samenspel/idee-{seeded.anna.idea}.html"
    assert [link.href for link in again.feed.links if link.rel == "self"] == [
        "https://data.velsen.example/samenspel/feed.xml"
    ]


async def test_a_status_change_after_an_erasure_never_gets_a_number_or_feed_id_given_out_before(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    await submit_idea(
        anna, "Meer bankjes in het Velserbeekpark", "Bij de vijver kun je nergens zitten."
    )
    await submit_idea(
        bob, "Qzxmoestuin aan de Zeeweg", "Groente kweken op het braakliggende stuk."
    )
    if bob.keys == ["ideas.similar_intro"]:
        await bob.press("Toch versturen")
    ria = await connector(app)
    await ria.send("/wachtrij 2")
    await ria.press("In behandeling")
    await ria.send("We kijken er deze week naar.")
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    ids = {entry.id for entry in feedparser.parse((first / "feed.xml").read_bytes()).entries}
    numbers = {row["id"] for row in _rows(first / "idea_status_history.csv")}
    assert len(ids) == len(numbers) == 3

    # Bob leaves with his idea: its status changes, the newest ones, go with it.
    await bob.send("/vergeetmij")
    await bob.press("Ook wissen")
    await bob.press("Ja, wis mijn gegevens")
    await app.db.settled()
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send("Mooi idee, we zoeken een plek.")
    second = tmp_path / "second"
    await export(second, monkeypatch, app)

    entries = feedparser.parse((second / "feed.xml").read_bytes()).entries
    [newest] = [entry for entry in entries if "Mooi idee" in entry.summary]
    assert newest.id not in ids
    rows = _rows(second / "idea_status_history.csv")
    assert [row["idea"] for row in rows] == ["1", "1"]
    assert rows[-1]["id"] not in numbers and int(rows[-1]["id"]) > max(map(int, numbers))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as lines:
        return list(csv.DictReader(lines))


async def test_a_hidden_idea_leaves_the_site_and_the_feed_at_the_next_weekly_export(
    tmp_path: Path,
) -> None:
    out = tmp_path / "published"
    settings = Settings(_env_file=None, db=tmp_path / "w.db", open_data_dir=out)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        seeded = await seed_public_life(app)
        now = utcnow()
        assert await run_open_data_export(app, now) is not None
        page = out / idea_page(seeded.anna.idea)
        assert page.is_file()
        await app.repos.ideas.remove(seeded.anna.idea, now, how=Removal.HIDDEN, reason="Ruzie")
        assert await run_open_data_export(app, now + timedelta(days=7)) is not None
    finally:
        await app.close()
    assert not page.exists(), "the page of an earlier export is gone"
    everything = "\n".join(path.read_text(encoding="utf-8") for path in out.iterdir())
    assert seeded.anna.texts[0] not in everything and "Ruzie" not in everything
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo
    assert all(idea_page(seeded.anna.idea) not in e.link for e in feed.entries)
    assert any(idea_page(seeded.bob.idea) in e.link for e in feed.entries)


MARKUP = "Een beschrijving met <b>vet</b> & \u202eomgekeerd\u202c erin."
ATTACKS = [
    "<script>alert('xss')</script> speeltuin",
    '<img src=x onerror="alert(1)"> bankjes',
    "\"'><a href=javascript:alert(1)>klik</a>",
    "حديقة للأطفال في IJmuiden 2026 🌳",
    "🎉🎉 Feest op het plein 🎈🥳👨‍👩‍👧‍👦",
    "Zeer" + "lang" * 29,
]


async def test_titles_with_markup_rtl_emoji_or_no_spaces_are_shown_as_typed_and_never_run(
    app: App, chat: Callable[..., Chat], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [chat(name) for name in ("anna", "bob", "cem")]
    for person in people:
        await person.onboard()
    for n, title in enumerate(ATTACKS):
        # Three residents: the chat takes only so many messages a minute from one.
        author = people[n % 3]
        words = ("appel", "boom", "citroen", "dakgoot", "egel", "fietsen")[n]
        await submit_idea(author, title, MARKUP if n == 0 else f"{words} " * 5)
        anyway = [label for label, _ in author.buttons() if "Toch versturen" in label]
        if anyway:  # "alert" is in several titles: the chat offers to support one instead
            await author.press(anyway[0])
    ideas = await app.repos.open_data.ideas()
    assert sorted(i["title"] for i in ideas) == sorted(ATTACKS)
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    async with Browser.start(tmp_path / "chromium") as browser:
        index = await look(browser, out / "index.html")
        assert_accessible(index)
        for title in ATTACKS:
            assert title in index["text"], title
        for idea in ideas:
            page = await look(browser, out / idea_page(idea["number"]))
            assert_accessible(page)
            assert idea["title"] in page["title"]
        first = await look(browser, out / idea_page(min(i["number"] for i in ideas)))
        # Shown as typed, but for the override and its end: those never reach a page.
        assert MARKUP.replace("\u202e", "").replace("\u202c", "") in first["text"]
        # The Arabic title runs right to left inside the Dutch page, its number too.
        (arabic,) = [i["number"] for i in ideas if i["title"].startswith("حديقة")]
        await look(browser, out / idea_page(arabic))
        directions = await browser.page.evaluate(
            "[getComputedStyle(document.querySelector('h1 bdi')).direction,"
            " getComputedStyle(document.querySelector('h1')).direction]"
        )
        assert directions == ["rtl", "ltr"]
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo
    titles = {entry.title for entry in feed.entries}
    sent = statuses(out)[IdeaStatus.SUBMITTED]
    assert titles == {f"Idee #{i['number']} {i['title']}: {sent}" for i in ideas}


#: An experiment's place in another profile: Arabic, with an override that would turn the
#: rest of its line around.
ARABIC_PLACE = "حديقة الأطفال 12\u202e"


async def test_an_experiments_place_in_arabic_stays_apart_from_the_words_around_it(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app.db.transaction():
        await app.repos.experiments.create(
            NewExperiment(
                title=Localized(nl="Buurttuin", en="Neighbourhood garden"),
                summary=Localized(nl="Samen tuinieren", en="Gardening together"),
                place=Localized(nl=ARABIC_PLACE, en=ARABIC_PLACE + " garden"),
                organiser=Localized(nl="De gemeente"),
            ),
            utcnow(),
        )
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    async with Browser.start(tmp_path / "chromium") as browser:
        index = await look(browser, out / "index.html")
        assert_accessible(index)
        shown = ARABIC_PLACE.replace("\u202e", "")
        assert f"Waar: {shown} Where: {shown} garden." in index["text"]
        assert "\u202e" not in index["text"]
        # Each place, Dutch and English, in an element of its own that isolates it: its
        # right-to-left run takes neither "Waar:" nor the full stop or "Where:" with it.
        isolated = await browser.page.evaluate(
            "[...document.querySelectorAll('li p.meta *')]"
            f".filter(e => e.textContent.startsWith({json.dumps(shown)}))"
            ".map(e => [e.textContent, getComputedStyle(e).unicodeBidi])"
        )
        assert isolated == [[shown, "isolate"], [shown + " garden", "isolate"]]


async def test_a_new_database_makes_an_empty_site_that_says_so(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    await export(out, monkeypatch, app)
    async with Browser.start(tmp_path / "chromium") as browser:
        index = await look(browser, out / "index.html")
    assert_accessible(index)
    assert "Nog geen nieuws." in index["text"] and "Nog geen ideeën." in index["text"]
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo and feed.entries == [] and feed.feed.updated_parsed
    assert not list(out.glob("idee-*.html"))


POSTCODE = "1971 QX"
PHONE_NUMBER = "06-19283746"


async def test_no_personal_value_of_anyone_reaches_any_file_of_the_site(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed_public_life(app)
    anna, bob, carla, dirk = seeded.anna, seeded.bob, seeded.carla, seeded.dirk
    repos, now = app.repos, utcnow()
    secret = [*anna.texts[2:], *bob.texts[2:], "Xjqwplein", "Xjqwburen", SIGNER, "Verbinding"]
    secret += [EXPERIMENT_ONLY, REMOVED_TITLE, "Dit idee is verwijderd door de moderatie."]
    async with app.db.transaction():
        # Someone on Matrix, with the name their client shows.
        user = await repos.users.seen("matrix", "@ellen.qvist:velsen.example", now)
        await repos.users.give_consent(user.id, "!kamerQv:velsen.example", "Ellen Qvist", now)
        secret += ["@ellen.qvist:velsen.example", "!kamerQv:velsen.example", "Ellen Qvist"]
        # A comment the connector hid, with an address in it, on a published idea.
        hidden = await repos.comments.add(
            bob.idea, user.id, f"Ik woon op {POSTCODE}, bel {PHONE_NUMBER}", now
        )
        await repos.comments.hide(hidden.id, "Adres en telefoonnummer", now)
        secret += [POSTCODE, PHONE_NUMBER, "Adres en telefoonnummer"]
        # Ideas out of view: hidden by the connector, and hidden by residents' reports.
        for title, how in (
            ("Qzxverborgen idee met ruzie", Removal.HIDDEN),
            ("Qzxgemeld idee vol scheldwoorden", Removal.REPORTS),
        ):
            idea = await repos.ideas.create(
                category="wonen",
                title=title,
                description=f"{title}: de uitleg die niemand meer mag zien.",
                neighbourhood="velserbroek",
                photo_id=None,
                author_user_id=user.id,
                now=now,
            )
            await repos.ideas.set_status(
                idea.id, IdeaStatus.IN_REVIEW, now=now, reason=f"{title}: reden"
            )
            await repos.comments.add(idea.id, dirk.user_id, f"{title}: reactie", now)
            await repos.ideas.remove(idea.id, now, how=how, reason=f"{title}: waarom weg")
            secret += [title]
    # Anna leaves; her idea stays, without her.
    await repos.personal.erase(
        anna.user_id, content=ContentChoice.KEEP, cause=Cause.REQUEST, now=utcnow()
    )
    for person in (anna, bob, carla, dirk):
        secret += person.identity
    # The values are really in the database (but Anna's, erased with her).
    stored = {hit.rsplit(": ", 1)[1] for hit in await traces(app.db, secret)}
    assert stored >= set(secret) - {*anna.identity, *anna.texts}, set(secret) - stored
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    files = sorted(path for path in out.rglob("*") if path.is_file())
    assert {path.suffix for path in files} >= {".html", ".xml", ".css", ".csv", ".json"}
    for path in files:
        data = path.read_bytes().decode("utf-8")
        for value in secret:
            for form in {value, html.escape(value), value.lower()}:
                assert form not in data, f"{path.name}: {value}"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert html.escape(anna.texts[0]) in index and html.escape(bob.texts[0]) in index
    assert len(list(out.glob("idee-*.html"))) == 2


@pytest.mark.parametrize("number", [0, -1, True, "1", "../1", 1.0])
def test_an_idea_page_is_named_only_after_a_real_idea_number(number: Any) -> None:
    with pytest.raises(ValueError, match="not an idea number"):
        idea_page(number)


@pytest.mark.parametrize(
    "name", ["../escaped.html", "sub/idee-1.html", "/etc/passwd", ".hidden", "", "a\\b.html"]
)
def test_the_export_writes_no_file_outside_its_folder(tmp_path: Path, name: str) -> None:
    out = tmp_path / "public" / "site"
    with pytest.raises(OpenDataError, match="not a plain file name"):
        write_atomically(out, {"datapackage.json": b"{}", name: b"x"})
    assert list(tmp_path.rglob("*")) == [], "nothing written anywhere"


async def test_control_characters_stored_in_a_title_do_not_break_the_feed_or_the_page(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chat strips them from what people type; an import or an old row may still hold them.
    idea = await app.repos.ideas.create(
        category="wonen",
        title="Bel\x07 en\x0b formulier\x1f\ufffe",
        description="Een uitleg met een \x00nul en \x1b[31mkleur.",
        neighbourhood=None,
        photo_id=None,
        author_user_id=None,
        now=utcnow(),
    )
    out = tmp_path / "site"
    await export(out, monkeypatch, app)
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    sent = statuses(out)[IdeaStatus.SUBMITTED]
    assert [e.title for e in feed.entries] == [f"Idee #{idea.id} Bel en formulier: {sent}"]
    page = (out / idea_page(idea.id)).read_text(encoding="utf-8")
    assert "Bel en formulier" in page and "[31mkleur" in page and "\x1b" not in page


async def test_a_merged_idea_links_to_the_idea_it_joined_only_while_that_one_is_public(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed_public_life(app)
    anna, bob, now = seeded.anna.idea, seeded.bob.idea, utcnow()
    await app.repos.ideas.set_status(anna, IdeaStatus.MERGED, now=now, merged_into=bob)
    out = tmp_path / "site"
    await export(out, monkeypatch, app)
    link = f'href="{idea_page(bob)}"'
    assert link in (out / idea_page(anna)).read_text(encoding="utf-8")

    await app.repos.ideas.remove(bob, now, how=Removal.HIDDEN, reason="Even weg")
    await export(out, monkeypatch, app)
    page = (out / idea_page(anna)).read_text(encoding="utf-8")
    assert link not in page and not (out / idea_page(bob)).exists()
    hrefs = re.findall(r'href="([^"#]+)', page)
    assert all((out / href).is_file() for href in hrefs), hrefs


def index_item(out: Path, number: int) -> str:
    """The text of an idea's item in the index's list of ideas."""
    index = (out / "index.html").read_text(encoding="utf-8")
    start = index.index(f'<li><h3><a href="{idea_page(number)}">')
    return html.unescape(re.sub(r"<[^>]+>", " ", index[start : index.index("</li>", start)]))


async def test_a_reopened_idea_is_not_listed_with_the_reason_of_the_decision_it_left(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await resident(app, "anna")
    await submit_idea(
        anna, "Meer bankjes in het Velserbeekpark", "Bij de vijver kun je nergens zitten."
    )
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("Niet haalbaar")
    await ria.send("Te duur voor dit jaar.")
    await ria.send("/wachtrij 1")
    await ria.press("Heropenen")
    await ria.press("Geen toelichting")
    assert "In behandeling" in ria.text
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    item = " ".join(index_item(out, 1).split())
    assert statuses(out)[IdeaStatus.IN_REVIEW] in item
    assert "Te duur" not in item and "Reden" not in item, item
    # The idea's own page still tells the whole story, each reason beside its status.
    page = (out / idea_page(1)).read_text(encoding="utf-8")
    assert "Te duur voor dit jaar." in page

    # A reason given with the current status is shown beside it.
    await ria.send("/wachtrij 1")
    await ria.press("Opnemen in agenda")
    await ria.press("Klimaat")
    await ria.send("Past bij de klimaatagenda.")
    await export(out, monkeypatch, app)
    item = " ".join(index_item(out, 1).split())
    assert "Reden" in item and "Past bij de klimaatagenda." in item and "Te duur" not in item


async def test_every_wist_je_dat_in_the_feed_links_to_a_page_that_shows_it(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await resident(app, "anna")
    await subscribe(anna)
    cas = await civil_servant(app, "cas")
    texts = [f"Wist je dat er in week {week} een markt is?" for week in range(1, 13)]
    for text in texts:
        await cas.send("/nieuwbericht")
        await cas.send(text)
        await cas.press("Zonder foto")
        await cas.press("Alle abonnees")
        await cas.press("Nu versturen")
        assert cas.keys == ["composer.sent"]
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    feed = feedparser.parse((out / "feed.xml").read_bytes())
    news = [entry for entry in feed.entries if entry.title.startswith("Wist je dat")]
    assert sorted(entry.title for entry in news) == sorted(texts)
    async with Browser.start(tmp_path / "chromium") as browser:
        for entry in news:
            page, anchor = entry.link.split("#")
            await browser.page.goto(out / page, width=PHONE)
            shown = await browser.page.evaluate(
                f"document.getElementById({json.dumps(anchor)})?.innerText ?? null"
            )
            # The oldest two are no longer on the index (it shows the latest ten).
            assert shown is not None and entry.title in shown, (entry.link, shown)

        index = await look(browser, out / "index.html")
        assert texts[-1] in index["text"] and texts[0] not in index["text"]
        assert "wist-je-dat.html" in index["links"]
        archive = await look(browser, out / "wist-je-dat.html")
        assert_accessible(archive)
        assert all(text in archive["text"] for text in texts)
        assert "index.html" in archive["links"]


async def test_a_long_update_is_titled_on_one_line_cut_after_a_whole_word(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(await resident(app, "anna"))
    cas = await civil_servant(app, "cas")
    text = (
        "Wist je dat\nde Hollandse 🇳🇱🇳🇱 vlaggen aan de boulevard van IJmuiden vanaf"
        " volgende week weer wapperen?\n\nDe gemeente hangt ze op met de buurt."
    )
    await cas.send("/nieuwbericht")
    await cas.send(text)
    await cas.press("Zonder foto")
    await cas.press("Alle abonnees")
    await cas.press("Nu versturen")
    assert cas.keys == ["composer.sent"]
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    [entry] = feedparser.parse((out / "feed.xml").read_bytes()).entries
    title = entry.title
    assert "\n" not in title and len(title) <= 80 and title.endswith("…")
    assert title.startswith("Wist je dat de Hollandse 🇳🇱🇳🇱 vlaggen")
    words = title[:-1].split()
    assert all(word in text.split() for word in words), "cut after a whole word"
    assert "De gemeente hangt ze op" in entry.content[0].value  # the whole text stays


async def test_an_update_that_begins_did_you_know_in_its_own_language_is_its_own_title(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed puts "Wist je dat: " before an update only where the update does not say
    it already, in Dutch or in another language of the chat."""
    await subscribe(await resident(app, "anna"))
    cas = await civil_servant(app, "cas")
    texts = {
        "Did you know the market is on Saturday again?": "",
        "  did   YOU know that\nthe beach is cleaned on Monday?": "",
        "Biliyor muydunuz? Pazar günü pazar var.": "",
        "De markt is op zaterdag weer open.": "Wist je dat: ",
    }
    for text in texts:
        await cas.send("/nieuwbericht")
        await cas.send(text)
        await cas.press("Zonder foto")
        await cas.press("Alle abonnees")
        await cas.press("Nu versturen")
        assert cas.keys == ["composer.sent"]
    out = tmp_path / "site"
    await export(out, monkeypatch, app)

    feed, _ = _feed_entries(out)
    titles = sorted(entry.title for entry in feed.entries)
    assert titles == sorted(prefix + " ".join(text.split()) for text, prefix in texts.items())


# Entries whose words changed after they were published ---------------------------------

PHONE_TITLE = "Bel 06-12345678 voor hulp met zonnepanelen"
NEW_TITLE = "Wie helpt mee met zonnepanelen op het dak?"


def _feed_entries(out: Path) -> tuple[Any, dict[str, Any]]:
    """The feed of an export, and its entries by id."""
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed, {entry.id: entry for entry in feed.entries}


async def test_a_title_its_author_changed_makes_every_entry_of_the_idea_a_newer_version(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader keeps an entry it has as long as its ``updated`` stays the same: a phone
    number taken out of a title must reach it as a newer version of the same entry."""
    anna = await resident(app, "anna")
    await submit_idea(anna, PHONE_TITLE, "Samen panelen kopen is goedkoper.")
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    _, before = _feed_entries(first)
    [(entry_id, old)] = [(i, e) for i, e in before.items() if PHONE_TITLE in e.title]

    later = utcnow() + timedelta(hours=2)
    app.router.clock = lambda: later
    await anna.press("Bekijk #1")
    await anna.press("Aanpassen")
    await anna.press("Titel aanpassen")
    await anna.send(NEW_TITLE)
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    second = tmp_path / "second"
    await export(second, monkeypatch, app)

    feed, after = _feed_entries(second)
    new = after[entry_id]
    assert NEW_TITLE in new.title and "06-12345678" not in (second / "feed.xml").read_text()
    assert new.published == old.published, "first published stays"
    assert new.updated == later.strftime("%Y-%m-%dT%H:%M:%SZ") and new.updated > old.updated
    assert feed.feed.updated == new.updated and feed.entries[0].id == entry_id

    # Support and comments are not shown in the entry: it stays the same version.
    app.router.clock = lambda: later + timedelta(hours=1)
    bob = await resident(app, "bob")
    await bob.send("/ideeen")
    await bob.press("#1")
    await bob.press("Steunen")
    assert bob.keys == ["ideas.supported", "ideas.card"]
    third = tmp_path / "third"
    await export(third, monkeypatch, app)
    again, entries = _feed_entries(third)
    assert entries[entry_id].updated == new.updated and again.feed.updated == feed.feed.updated
    assert (third / "feed.xml").read_bytes() == (second / "feed.xml").read_bytes()


async def test_a_reason_an_erasure_emptied_makes_its_entry_a_newer_version(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    annabel = Chat(app, "annabel", name="Annabel Zwartkruis")
    await annabel.onboard()
    await submit_idea(
        annabel, "Meer bankjes in het Velserbeekpark", "Bij de vijver kun je nergens zitten."
    )
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send("Gesproken met Annabel Zwartkruis over een plek.")
    first = tmp_path / "first"
    await export(first, monkeypatch, app)
    _, before = _feed_entries(first)
    [(entry_id, old)] = [(i, e) for i, e in before.items() if "Annabel" in e.summary]

    later = utcnow() + timedelta(days=3)
    app.router.clock = lambda: later
    await annabel.send("/vergeetmij")
    await annabel.press("Laten staan zonder naam")
    await annabel.press("Ja, wis mijn gegevens")
    assert annabel.keys == ["privacy.forget.done"]
    await app.db.settled()  # the erasure's clean-up, in the background
    second = tmp_path / "second"
    await export(second, monkeypatch, app)

    feed, after = _feed_entries(second)
    new = after[entry_id]
    assert "Annabel" not in new.summary and new.published == old.published
    assert new.updated == later.strftime("%Y-%m-%dT%H:%M:%SZ") and new.updated > old.updated
    assert feed.feed.updated == new.updated and feed.entries[0].id == entry_id
    # The idea's first entry (no reason) shows what it showed: the same version.
    [submitted] = [e for i, e in after.items() if i != entry_id and "Idee #1" in e.title]
    assert submitted.updated == submitted.published == before[submitted.id].updated
