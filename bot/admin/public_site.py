"""The public site beside the open data: what Samenspel publishes, for people and for feeds.

    index.html        recent "Wist je dat", the experiments, every idea with its status and
                      the reason given, and links to the open-data files
    wist-je-dat.html  every "Wist je dat" update, newest first: the page a feed entry of one
                      links to, so the link keeps working when newer updates push it off
                      the index
    idee-<n>.html     one idea: its status history, supporters and comments counted
    feed.xml          an Atom feed of "Wist je dat" and status changes (for a website, a
                      newsletter tool or the local paper); an entry's ``updated`` moves on
                      when what it shows changes (a title edited, a reason an erasure
                      emptied, an idea taken out of view or shown again, the meeting an
                      invitation is for moved or cancelled), so a reader replaces the old
                      words it keeps

An invitation to a meeting is shown as the chat's "Wist je dat" shows it now: with the
meeting's time as it is (moved: the new one) and, once cancelled, clearly marked as not
going ahead.
    style.css         plain CSS; no page needs a script

It is rendered from the very rows the open data publishes (after their filtering), so the
site can never show more than the open data does: no names, no ids of people, no comment
texts, no removed ideas, no updates meant for an experiment's participants only. The one
thing the feed adds is, for a while, a blanked version of the entries of an idea taken out of
view (its number and when it went, nothing it said), so readers drop the words they keep.

The pages are Dutch with English beside them (``lang="en"`` on every English part), one
page for both, so their words live in the templates (``templates/``) rather than in the
chat's per-language catalogs; names of statuses, categories and places come from the same
catalog and profile the chat uses. Jinja2 escapes everything it puts in a page; the feed is
built with ``xml.etree``, which escapes too. Text residents typed is shown with
``dir="auto"`` so right-to-left titles read correctly.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from handlers.catalog import BIDI_FORMATTING, Catalog
from handlers.news.wist_je_dat import says_its_header
from storage import graphemes
from storage.privacy.open_data import Row

TEMPLATES = Path(__file__).resolve().parent / "templates"
ATOM = "http://www.w3.org/2005/Atom"
#: RFC 6721: the ``at:deleted-entry`` element, for readers that understand it.
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
FEED = "feed.xml"
INDEX = "index.html"
NEWS_PAGE = "wist-je-dat.html"
STYLE = "style.css"
#: How many "Wist je dat" updates the index shows, and how many entries the feed carries.
RECENT_NEWS = 10
FEED_ENTRIES = 100
#: Characters of an update's text used as its title in the feed.
FEED_TITLE_CHARS = 80
#: How long the feed carries the blanked entries of an idea taken out of view. Readers
#: fetch a feed every hour or day and aggregators at least every week (the folder itself is
#: made again at least weekly), so a month reaches even a reader that was off for weeks;
#: within it a blanked entry competes for the feed's newest entries like any other.
REMOVED_ENTRIES_KEPT = timedelta(days=30)
#: What a blanked entry says, for every reason an idea left view alike (hidden, withdrawn,
#: erased): which one it was is nobody's business.
REMOVED_TITLE = "Idee #{number} is niet meer te zien"
REMOVED_CONTENT = (
    "Dit idee is niet meer te zien op de site van Samenspel.\n"
    "This idea is no longer shown on the Samenspel site."
)
#: What the feed says of an invitation to a meeting that was cancelled (the pages say it
#: in their template), so nobody sets out for it.
CANCELLED_TITLE = "Gaat niet door"
CANCELLED_LINE = (
    "GAAT NIET DOOR: deze bijeenkomst is afgezegd. / CANCELLED: this meeting will not take place."
)
#: Code points nothing published carries: C0 controls but tab and newlines, DEL and the C1
#: controls, lone surrogates (XML 1.0 and UTF-8 cannot carry them), the non-characters
#: (U+FDD0 to U+FDEF and the last two of every plane), and the bidirectional embeddings,
#: overrides and isolates (U+202A to U+202E, U+2066 to U+2069): one of those in a title
#: turns the text after it around, in a feed reader or a spreadsheet.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + BIDI_FORMATTING
    + "".join(
        f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
    )
    + "]"
)


@dataclass(frozen=True)
class Label:
    """A name in Dutch and in English."""

    nl: str
    en: str

    @property
    def same(self) -> bool:
        return self.nl == self.en


@dataclass(frozen=True)
class Moment:
    """A moment as the page shows it: the local date, and the exact time for machines."""

    iso: str
    day: str


@dataclass(frozen=True)
class Site:
    """What a page or the feed needs to know about the publisher."""

    municipality: Label
    slug: str
    url: str | None
    zone: ZoneInfo

    def link(self, page: str) -> str:
        """A page's address: absolute where the site's address is known."""
        return f"{self.url}{page}" if self.url else page

    def entry_id(self, kind: str, number: int) -> str:
        """A feed entry's id, the same in every export (RFC 4122 name-based UUID)."""
        name = f"samenspel:{self.slug}:{kind}:{number}"
        return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def idea_page(number: int) -> str:
    """The file name of an idea's page; ``number`` is the idea's public number."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"not an idea number: {number!r}")
    return f"idee-{number}.html"


def clean(text: Any) -> str:
    """Text as it may be published: without the code points a page, the feed or a data file
    should not carry (see :data:`_UNSAFE`). Every writer of the published folder uses it."""
    return _UNSAFE.sub("", str(text))


def render_site(
    tables: dict[str, list[Row]],
    *,
    municipality: Label,
    slug: str,
    url: str | None,
    zone: ZoneInfo,
    files: list[dict[str, str]],
    now: datetime,
    catalog: Catalog,
    removed: list[Row] | None = None,
    previous_feed: bytes | None = None,
) -> dict[str, bytes]:
    """Every file of the site, from the open data's typed rows.

    ``files`` lists the open-data files to link (``path``, ``title``, ``format``);
    ``catalog`` the chat's texts (an update that begins "Wist je dat" in any of its
    languages is its own title in the feed, see :func:`says_its_header`);
    ``removed`` the feed entries of ideas taken out of view
    (:meth:`storage.privacy.open_data.OpenData.removed_entries`), blanked in the feed until
    :data:`REMOVED_ENTRIES_KEPT` after they went; ``previous_feed`` the feed this export
    replaces, whose blanked entries stay that long too (see :func:`blanked_in`).
    """
    site = Site(municipality=municipality, slug=slug, url=url, zone=zone)
    codes = _codes(tables["codes"])
    history: dict[int, list[Row]] = defaultdict(list)
    for change in tables["idea_status_history"]:
        history[change["idea"]].append(change)
    ideas = [_idea(site, row, codes, history[row["number"]]) for row in tables["ideas"]]
    numbers = {idea["number"] for idea in ideas}
    for idea in ideas:
        # A link to a merged idea only where that idea is published too.
        for change in idea["history"]:
            if change["merged_into"] not in numbers:
                change["merged_into"] = None
    ideas.sort(key=lambda idea: idea["number"], reverse=True)
    news = [_news(site, row) for row in reversed(tables["wist_je_dat"])]
    experiments = [_experiment(row, codes) for row in tables["experiments"]]

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    common = {"site": site, "updated": _moment(site, now), "feed": FEED, "style": STYLE}
    out: dict[str, bytes] = {
        INDEX: env.get_template("index.html")
        .render(
            **common,
            news=news[:RECENT_NEWS],
            news_total=len(news),
            news_page=NEWS_PAGE,
            experiments=experiments,
            ideas=ideas,
            files=files,
        )
        .encode("utf-8"),
        NEWS_PAGE: env.get_template("news.html").render(**common, news=news).encode("utf-8"),
        STYLE: (TEMPLATES / STYLE).read_bytes(),
    }
    page = env.get_template("idea.html")
    for idea in ideas:
        out[idea["page"]] = page.render(**common, idea=idea).encode("utf-8")
    gone = [row for row in removed or [] if _utc(row["removed_at"]) >= now - REMOVED_ENTRIES_KEPT]
    carried = blanked_in(previous_feed, now - REMOVED_ENTRIES_KEPT, now) if previous_feed else []
    out[FEED] = _feed(site, ideas, news, gone, now, carried, catalog=catalog)
    return out


@dataclass(frozen=True)
class Blanked:
    """A blanked entry of a feed published before: what is needed to make it again."""

    entry_id: str
    idea: int
    published: datetime
    gone: datetime


_BLANKED_TITLE = re.compile(re.escape(REMOVED_TITLE).replace(r"\{number\}", r"([1-9][0-9]{0,9})"))


def blanked_in(feed: bytes, since: datetime, now: datetime) -> list[Blanked]:
    """The blanked entries of a feed published before, taken out of view between ``since``
    and ``now``, each with its ``at:deleted-entry`` beside it.

    The database knows which entries it blanked (``feed_removals``), but a backup restored
    after an idea was sent in and then erased never heard of that idea: without these, the
    next export would drop its blanked entries, and a reader that missed the feed meanwhile
    would keep the erased words for good. Only what a blanked entry is made of is read
    (its id, the idea's number in the blanked title, two moments), and each is made again
    as this export makes one: nothing else of the old file is carried over, so a feed
    changed by hand or broken carries nothing into the next.
    """
    try:
        root = ET.fromstring(feed)
    except ET.ParseError:
        return []
    told = {
        tomb.get("ref", ""): tomb.get("when", "")
        for tomb in root.iter(f"{{{TOMBSTONES}}}deleted-entry")
    }
    carried = []
    for entry in root.iter(f"{{{ATOM}}}entry"):
        entry_id = entry.findtext(f"{{{ATOM}}}id") or ""
        when = told.get(entry_id)
        number = _BLANKED_TITLE.fullmatch(entry.findtext(f"{{{ATOM}}}title") or "")
        if not when or number is None or not _status_entry_id(entry_id):
            continue
        if entry.findtext(f"{{{ATOM}}}content") != clean(REMOVED_CONTENT):
            continue
        try:
            gone = _utc(when)
            published = _utc(entry.findtext(f"{{{ATOM}}}published") or "")
        except (ValueError, OverflowError):
            continue
        if since <= gone <= now and published <= gone:
            carried.append(Blanked(entry_id, int(number[1]), published, gone))
    return carried


def _status_entry_id(entry_id: str) -> bool:
    """Whether ``entry_id`` has the form of an entry's id (an RFC 4122 name-based UUID)."""
    try:
        return uuid.UUID(entry_id.removeprefix("urn:uuid:")).version == 5
    except ValueError:
        return False


def _codes(rows: list[Row]) -> dict[tuple[str, str], Label]:
    return {(r["list"], r["code"]): Label(clean(r["name_nl"]), clean(r["name_en"])) for r in rows}


def _label(codes: dict[tuple[str, str], Label], kind: str, code: str | None) -> Label | None:
    if code is None:
        return None
    return codes.get((kind, code), Label(code, code))


def _moment(site: Site, value: str | datetime) -> Moment:
    moment = _utc(value)
    local = moment.astimezone(site.zone)
    # One date for both languages: the ISO form reads the same in Dutch and English.
    return Moment(
        iso=moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), day=local.date().isoformat()
    )


def _utc(value: str | datetime) -> datetime:
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", ""))
    )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _latest(site: Site, *values: str | datetime | None) -> Moment:
    """The latest of these moments (those that are not None)."""
    return _moment(site, max(_utc(value) for value in values if value is not None))


def _news(site: Site, row: Row) -> dict[str, Any]:
    """A "Wist je dat" update; an invitation to a meeting with the meeting as it is now."""
    return {
        "id": int(row["id"]),
        "anchor": f"wist-je-dat-{int(row['id'])}",
        "at": _moment(site, row["published_at"]),
        # When its feed entry last changed: published, or its meeting moved or cancelled.
        "updated": _latest(site, row["published_at"], row["updated_at"]),
        "text": clean(row["text"] or ""),
        "meeting": _meeting(site, row),
    }


def _meeting(site: Site, row: Row) -> dict[str, Any] | None:
    """The meeting an update invites to: whether it goes ahead, when (local time, one form
    for both languages, as the dates are) and where; None for an update that is not an
    invitation."""
    if row["meeting_status"] is None:
        return None
    starts = _utc(row["meeting_starts_at"]).astimezone(site.zone)
    ends = _utc(row["meeting_ends_at"]).astimezone(site.zone)
    until = f"{ends:%H:%M}" if ends.date() == starts.date() else f"{ends:%Y-%m-%d %H:%M}"
    return {
        "title": clean(row.get("meeting_title") or ""),
        "cancelled": row["meeting_status"] == "cancelled",
        "starts": _moment(site, row["meeting_starts_at"]).iso,
        "when": f"{starts:%Y-%m-%d %H:%M}–{until}",
        "place": clean(row["meeting_place"] or ""),
    }


def _idea(
    site: Site, row: Row, codes: dict[tuple[str, str], Label], changes: list[Row]
) -> dict[str, Any]:
    number = int(row["number"])
    history = [
        {
            "id": int(change["id"]),
            "at": _moment(site, change["at"]),
            # When what its feed entry shows last changed: the status change itself, its
            # reason changed or emptied since (an erasure), the idea's title edited since,
            # or the idea shown again after moderation hid it (the feed carried the entry
            # blanked meanwhile). Not supporters or comments: the entry does not show them.
            "updated": _latest(
                site,
                change["at"],
                change["reason_changed_at"],
                row["title_changed_at"],
                row["shown_again_at"],
            ),
            "status": _label(codes, "status", change["status"]),
            "reason": clean(change["reason"] or ""),
            "theme": _label(codes, "theme", change["theme"]),
            "department": _label(codes, "department", change["department"]),
            "merged_into": change["merged_into"],
        }
        for change in changes
    ]
    return {
        "number": number,
        "page": idea_page(number),
        "title": clean(row["title"]),
        "text": clean(row["text"] or ""),
        "status": _label(codes, "status", row["status"]),
        # The reason given with the current status only: after a reopen without one, an
        # earlier decision's reason ("too expensive") must not read as the reason for it.
        "reason": history[-1]["reason"] if history else "",
        "category": _label(codes, "category", row["category"]),
        "neighbourhood": _label(codes, "neighbourhood", row["neighbourhood"]),
        "supporters": int(row["supporters"]),
        "comments": int(row["comments"]),
        "submitted": _moment(site, row["submitted_at"]),
        "updated": _moment(site, row["updated_at"]),
        "history": history,
    }


def _experiment(row: Row, codes: dict[tuple[str, str], Label]) -> dict[str, Any]:
    def pair(name: str) -> Label:
        nl = clean(row[f"{name}_nl"] or "")
        return Label(nl, clean(row[f"{name}_en"] or "") or nl)

    return {
        "title": pair("title"),
        "summary": pair("summary"),
        "place": pair("place"),
        "organiser": pair("organiser"),
        "running": row["status"] == "running",
        "participants": int(row["participants"]),
        "neighbourhood": _label(codes, "neighbourhood", row["neighbourhood"]),
    }


def feed_title(text: str, prefix: str = "") -> str:
    """An update's title in the feed: ``prefix`` and then its words on one line, at most
    :data:`FEED_TITLE_CHARS` characters in all, cut after a whole word (or at least between
    whole characters) with "…"."""
    room = FEED_TITLE_CHARS - len(prefix)
    first = " ".join(text.split())
    if len(first) <= room:
        return prefix + first
    space = first.rfind(" ", 0, room)
    # A flag, an emoji with a skin tone or a family cut in half falls apart in a feed
    # reader's list: without a space far enough on, the cut falls between whole characters.
    head = first[:space] if space >= room // 2 else graphemes.cut(first, room - 1)
    return prefix + head.rstrip() + "…"


def _feed(
    site: Site,
    ideas: list[dict[str, Any]],
    news: list[dict[str, Any]],
    removed: list[Row],
    now: datetime,
    carried: list[Blanked] | None = None,
    *,
    catalog: Catalog,
) -> bytes:
    """The Atom feed (RFC 4287): the newest updates and status changes, newest first, and
    the blanked versions of entries whose idea was taken out of view (``carried``: those
    of the feed before that the database no longer knows of, see :func:`blanked_in`)."""
    entries: list[tuple[str, ET.Element]] = []
    for item in news:
        text = item["text"]
        meeting = item["meeting"]
        if meeting is not None and meeting["cancelled"]:
            # What is off, by its name: not the invitation's words behind two labels.
            title = feed_title(meeting["title"] or text, f"{CANCELLED_TITLE}: ")
        elif says_its_header(catalog, text):
            # Most updates start with the words, "Did you know" in English ones.
            title = feed_title(text)
        else:
            title = feed_title(text, "Wist je dat: ")
        if meeting is not None:
            text = "\n".join([*_meeting_lines(meeting), "", text])
        entry = _entry(
            site,
            entry_id=site.entry_id("wist-je-dat", item["id"]),
            title=title,
            # A published update is never changed or taken back, and stays when its writer
            # is erased (the municipality's publication): it is last changed when published,
            # or when the meeting it invites to was moved or cancelled (a reader that keeps
            # the entry then shows the new time, or that it is off).
            published=item["at"].iso,
            updated=item["updated"].iso,
            link=site.link(f"{NEWS_PAGE}#{item['anchor']}"),
            content=text,
            category="wist-je-dat",
        )
        entries.append((item["updated"].iso, entry))
    for idea in ideas:
        for change in idea["history"]:
            status: Label = change["status"]
            lines = [f"{status.nl} ({status.en})"]
            if change["reason"]:
                lines.append(change["reason"])
            entry = _entry(
                site,
                entry_id=site.entry_id("status", change["id"]),
                title=f"Idee #{idea['number']} {idea['title']}: {status.nl}",
                published=change["at"].iso,
                updated=change["updated"].iso,
                link=site.link(idea["page"]),
                content="\n".join(lines),
                category="status",
            )
            entries.append((change["updated"].iso, entry))
    shown = {entry.findtext(f"{{{ATOM}}}id") for _, entry in entries}
    deleted: dict[str, str] = {}
    blanked = [
        Blanked(
            site.entry_id("status", int(row["entry"])),
            int(row["idea"]),
            _utc(row["published_at"]),
            _utc(row["removed_at"]),
        )
        for row in removed
    ]
    for gone in [*blanked, *(carried or [])]:
        if gone.entry_id in shown or gone.entry_id in deleted:
            continue  # never both: what is shown is its newest version
        # A reader that has the entry keeps its title and reason until it gets a newer
        # version: this one, the same id with nothing of what the idea said, made only of
        # stored moments so that it is the same at every export.
        when = _moment(site, gone.gone).iso
        entry = _entry(
            site,
            entry_id=gone.entry_id,
            title=REMOVED_TITLE.format(number=gone.idea),
            published=_moment(site, gone.published).iso,
            updated=when,
            link=site.link(INDEX),
            content=REMOVED_CONTENT,
            # The same category as before, so a site that shows only status changes
            # replaces the entry too.
            category="status",
        )
        entries.append((when, entry))
        deleted[gone.entry_id] = when
    # Most recently changed first (RFC 4287: ``updated``): an old entry whose words changed
    # comes back into the feed, so readers that keep it replace it. Equal moments in a fixed
    # order so the feed does not churn.
    entries.sort(key=lambda pair: (pair[0], pair[1].findtext(f"{{{ATOM}}}id") or ""))
    entries = entries[::-1][:FEED_ENTRIES]

    ET.register_namespace("", ATOM)
    ET.register_namespace("at", TOMBSTONES)
    feed = ET.Element(f"{{{ATOM}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "nl"})
    name = site.municipality.nl
    _sub(feed, "id", site.entry_id("feed", 0))
    _sub(feed, "title", f"Samenspel {name}: Wist je dat en ideeën")
    _sub(
        feed,
        "subtitle",
        'Nieuws ("Wist je dat") en nieuwe statussen van ideeën van inwoners.'
        " News and status changes of residents' ideas.",
    )
    # The feed changed when its most recently changed entry did.
    _sub(feed, "updated", entries[0][0] if entries else now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _sub(author, "name", name)
    home = {"rel": "alternate", "type": "text/html", "href": site.link(INDEX)}
    ET.SubElement(feed, f"{{{ATOM}}}link", home)
    if site.url:
        ET.SubElement(
            feed,
            f"{{{ATOM}}}link",
            {"rel": "self", "type": "application/atom+xml", "href": site.link(FEED)},
        )
    _sub(feed, "rights", "CC0 1.0: vrij te gebruiken / free to use")
    _sub(feed, "generator", "Samenspel")
    for _, entry in entries:
        feed.append(entry)
    # RFC 6721, beside the blanked entries, for readers that delete an entry when told.
    for _, entry in entries:
        entry_id = entry.findtext(f"{{{ATOM}}}id") or ""
        if entry_id in deleted:
            ET.SubElement(
                feed,
                f"{{{TOMBSTONES}}}deleted-entry",
                {"ref": entry_id, "when": deleted[entry_id]},
            )
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _meeting_lines(meeting: dict[str, Any]) -> list[str]:
    """What the feed says of a meeting above the invitation's words."""
    lines = [CANCELLED_LINE] if meeting["cancelled"] else []
    lines.append(f"Wanneer / When: {meeting['when']}")
    if meeting["place"]:
        lines.append(f"Waar / Where: {meeting['place']}")
    return lines


def _entry(
    site: Site,
    *,
    entry_id: str,
    title: str,
    published: str,
    updated: str,
    link: str,
    content: str,
    category: str,
) -> ET.Element:
    """One entry: ``published`` when it first appeared, ``updated`` when what it shows last
    changed (a reader that has the entry replaces it when ``updated`` changes)."""
    entry = ET.Element(f"{{{ATOM}}}entry")
    _sub(entry, "id", entry_id)
    _sub(entry, "title", title)
    _sub(entry, "updated", updated)
    _sub(entry, "published", published)
    ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "alternate", "href": link})
    ET.SubElement(entry, f"{{{ATOM}}}category", {"term": category})
    _sub(entry, "content", content, type="text")
    return entry


def _sub(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    child.text = clean(text)
    return child
