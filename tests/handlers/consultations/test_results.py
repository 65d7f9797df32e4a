"""Results: no breakdown for a group smaller than the profile's threshold, in the chat, in
the export and in the open data; results published at closing stay when people leave."""

from __future__ import annotations

import asyncio
import csv
import errno
import io
import json
import os
from pathlib import Path

import pytest
from frictionless import validate
from PIL import Image

from bot.admin.cli import main
from bot.admin.consultation_export import ConsultationExportError, export_consultation
from bot.admin.open_data import export_open_data
from bot.app import App
from bot.settings import Settings
from handlers import charts
from handlers.contract import Role
from handlers.profile import DEFAULT_PROFILE
from tests.consultations import Clock, Jobs, compose_poll, last_consultation, outbox_of, seen
from tests.people import civil_servant
from tests.people import person as resident
from tests.people import row as stored
from tests.support import Chat


async def _town(app: App) -> tuple[Chat, int]:
    """Eight respondents: six in IJmuiden (one reads English), two in Driehuis. All answer
    the first question; only three answer the second. Returns the civil servant and poll."""
    ria = await civil_servant(app)
    people = [await resident(app, f"ij{n}") for n in range(5)]
    people.append(await resident(app, "eng", language="English"))
    people += [await resident(app, f"dh{n}", hood="Driehuis") for n in range(2)]
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for index, person in enumerate(people):
        await person.press_payload(f"cs.a:{poll}:0:1:{1 + index % 2}")
        if index < 3:
            await person.press_payload(f"cs.a:{poll}:0:2:4")
    return ria, poll


async def _close(app: App, clock: Clock, ria: Chat, poll: int) -> None:
    await ria.press_payload(f"cs.end:{poll}")
    await ria.press("Ja, nu sluiten")
    await Jobs.of(app).consultation(poll)


async def test_staff_see_no_breakdown_for_a_group_below_the_threshold(app: App) -> None:
    ria, poll = await _town(app)
    await ria.send("/peilingen")
    assert "ingevuld: 0 van 9" in ria.text
    await ria.press(f"#{poll} ")
    assert "Gevraagd: 9 · begonnen: 8 · klaar: 0" in ria.text
    await ria.press_payload(f"cs.res:{poll}:0")
    text = ria.last[0].text
    # IJmuiden (6) and Dutch (7) beside a total of 8 would give Driehuis (2) and the one
    # English reader back: no breakdown at all (see test_disclosure.py).
    assert "IJmuiden (" not in text and "Nederlands (" not in text
    assert "Driehuis" not in text and "Engels (" not in text
    assert text.count("• Per wijk: niet te tonen, de groepen zijn te klein") == 2
    assert text.count("• Per taal: niet te tonen, de groepen zijn te klein") == 2
    # Overall counts are shown to staff however few answered.
    assert "2. Hoe vaak ga je naar de speelplek? (3 antwoorden)" in text
    assert ria.last[1].reply.document is not None
    assert ria.last[1].reply.document.data.startswith(b"\x89PNG")


async def test_staff_see_each_language_by_its_name_in_their_own_language(app: App) -> None:
    dutch = [await resident(app, f"nl{n}") for n in range(5)]
    turkish = [await resident(app, f"tr{n}", language="Türkçe") for n in range(5)]
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for n, person in enumerate(dutch + turkish):
        await person.press_payload(f"cs.a:{poll}:0:1:{1 + n % 2}")
    await ria.press_payload(f"cs.res:{poll}:0")
    groups = [line.split(" (")[0] for line in ria.text.splitlines() if line.startswith("• ")]
    assert "• Nederlands" in groups and "• Turks" in groups, groups
    tom = await resident(app, "tom", language="English")
    async with app.db.transaction():
        await app.repos.users.set_role((await stored(app, "tom")).id, Role.CIVIL_SERVANT)
    await tom.press_payload(f"cs.res:{poll}:0")
    groups = [line.split(" (")[0] for line in tom.text.splitlines() if line.startswith("• ")]
    assert "• Dutch" in groups and "• Turkish" in groups, groups


async def test_the_threshold_comes_from_the_profile(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(
        DEFAULT_PROFILE.read_text(encoding="utf-8").replace(
            "suppression_threshold = 5", "suppression_threshold = 2"
        ),
        encoding="utf-8",
    )
    app = await App.open(settings.model_copy(update={"profile": profile}), clock=clock)
    try:
        ria, poll = await _town(app)
        await ria.press_payload(f"cs.res:{poll}:0")
        assert "Driehuis (2): Schommel 1 · Klimrek 1" in ria.last[0].text
        assert "Engels (" not in ria.last[0].text  # one person is still below two
    finally:
        await app.close()


async def test_respondents_see_no_counts_of_a_question_too_few_answered(
    app: App, clock: Clock
) -> None:
    ria, poll = await _town(app)
    await _close(app, clock, ria, poll)
    ij0 = Chat(app, "ij0")
    results = seen(app, (await outbox_of(app, ij0))[-1])
    summary = results[0].text
    assert "Meegedaan: 8 mensen" in summary
    assert "• Schommel: 4 (50%)" in summary
    assert "2. Hoe vaak ga je naar de speelplek? (3 antwoorden)\nTe weinig antwoorden" in summary
    assert "4/5" not in summary and "(elke dag)" not in summary
    # A chart for the first question only (the third and fourth nobody answered).
    assert [m.reply.params["number"] for m in results[1:]] == [1]
    # The English reader gets everything in English, chart included.
    eng = Chat(app, "eng")
    [*_, row] = await outbox_of(app, eng)
    english = seen(app, row, lang="en")
    assert "Took part: 8 people" in english[0].text and "Too few answers" in english[0].text
    assert english[1].reply.photo_id != results[1].reply.photo_id


async def test_the_export_and_the_open_data_leave_small_groups_out_and_name_nobody(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    ria, poll = await _town(app)
    await _close(app, clock, ria, poll)
    out = tmp_path / "open-data"
    await export_open_data(app, out, clock.now)

    def table(name: str) -> list[dict[str, object]]:
        header, *rows = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        return [dict(zip(header, row, strict=True)) for row in rows]

    [listed] = [c for c in table("consultations") if c["id"] == poll]
    assert (listed["status"], listed["invited"], listed["respondents"]) == ("closed", 9, 8)
    assert listed["title_nl"] == "Nieuwe speelplek Zeewijk" and listed["title_en"] is None
    results = [r for r in table("consultation_results") if r["consultation"] == poll]
    by_group = {(r["question"], r["dimension"], r["group"], r["answer"]): r for r in results}
    assert by_group[(1, "all", "all", "1")]["count"] == 4
    # IJmuiden (6) or Dutch (7) beside the total (8) would give the small groups back: no
    # group is published, not even as a row with its count left out.
    assert {r["dimension"] for r in results} == {"all"}
    hidden = by_group[(2, "all", "all", "4")]  # three answered: too few
    assert (hidden["count"], hidden["suppressed"]) == (None, 1)
    # Every answer code has its row, answered or not.
    assert (3, "all", "all", "3") in by_group and (4, "all", "all", "text") in by_group
    options = [o for o in table("consultation_options") if o["consultation"] == poll]
    assert [(o["question"], o["answer"], o["text_nl"]) for o in options][:3] == [
        (1, "1", "Schommel"),
        (1, "2", "Klimrek"),
        (1, "3", "Zandbak"),
    ]
    assert not (out / "consultation_answers.csv").exists()
    report = validate(str(out / "datapackage.json"))
    assert report.valid, [(t.name, e.message) for t in report.tasks for e in t.errors]


async def _closed_poll(settings: Settings) -> int:
    app = await App.open(settings, clock=Clock())
    try:
        ria, poll = await _town(app)
        await _close(app, Clock(), ria, poll)
        return poll
    finally:
        await app.close()


def test_the_command_writes_one_consultation_as_csv_and_a_chart_naming_nobody(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    poll = asyncio.run(_closed_poll(settings))
    monkeypatch.setenv("SAMENSPEL_DB", str(settings.db))
    folder = tmp_path / "poll"
    assert main(["export-consultation", str(poll), "--out", str(folder)]) == 0
    assert f"consultation {poll} written to" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == [
        "breakdown.csv",
        "chart.png",
        "results.csv",
    ]
    assert (folder / "chart.png").read_bytes().startswith(b"\x89PNG")
    with (folder / "breakdown.csv").open(encoding="utf-8") as fh:
        breakdown = list(csv.DictReader(fh))
    assert breakdown == []  # no group can be shown without giving a small one away
    with (folder / "results.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"question": "1", "answer": "1", "answer_text": "Schommel", "count": "4"}.items() <= (
        rows[0].items()
    )
    written = "\n".join(
        (folder / name).read_text(encoding="utf-8") for name in ("breakdown.csv", "results.csv")
    )
    for person in ("ij0", "ij4", "eng", "dh0", "dh1", "ria"):
        assert person not in written.lower()
    assert main(["export-consultation", "999", "--out", str(tmp_path / "none")]) == 1
    assert "no published consultation 999" in capsys.readouterr().err


async def test_results_published_at_closing_stay_when_a_respondent_is_erased(
    app: App, clock: Clock
) -> None:
    ria, poll = await _town(app)
    await _close(app, clock, ria, poll)
    before = await app.repos.tallies.kept(poll, 0)
    gone = Chat(app, "ij1")
    await gone.send("/vergeetmij")
    await gone.press("Ja, wis mijn gegevens")
    assert gone.keys == ["privacy.forget.done"]
    assert await app.repos.tallies.kept(poll, 0) == before
    live = await app.repos.tallies.count(poll, 0, "nl")
    assert live.respondents == 7  # the answers themselves went with her
    ij0 = Chat(app, "ij0")
    await ij0.send("/peilingen")
    await ij0.press("Nieuwe speelplek")
    assert "Meegedaan: 8 mensen" in ij0.text


async def test_an_option_that_looks_like_a_formula_is_text_in_the_export(
    app: App, tmp_path: Path
) -> None:
    await resident(app, "anna")
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Formules")
    await ria.send("Uitleg")
    await ria.press("Eén keuze")
    await ria.send("Welke?")
    await ria.send('=HYPERLINK("http://x.example","klik")\n+1')
    await ria.press("Klaar met de vragen")
    await ria.send("Niets.")
    await ria.press("👥 Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    await export_consultation(app, poll, tmp_path / "out")
    with (tmp_path / "out" / "results.csv").open(encoding="utf-8") as fh:
        texts = [row["answer_text"] for row in csv.DictReader(fh)]
    assert texts[:2] == ['\'=HYPERLINK("http://x.example","klik")', "'+1"]


async def test_an_export_leaves_no_chart_of_an_earlier_export_beside_its_results(
    app: App, tmp_path: Path
) -> None:
    # The folder of last month's report, re-used for a poll nobody answered yet.
    out = tmp_path / "report"
    out.mkdir()
    for name in ("chart.png", "chart-2.png"):
        (out / name).write_bytes(b"\x89PNG of another consultation")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    # Half a chart a crash left under its temporary name goes too; someone else's stays.
    (out / ".chart.png.partial-0123abcd").write_bytes(b"\x89PNG half")
    (out / ".notes.txt.partial-0123abcd").write_text("not ours", encoding="utf-8")
    ria = await civil_servant(app)
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    report = await export_consultation(app, poll, out)
    assert report.files == ["breakdown.csv", "results.csv"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".notes.txt.partial-0123abcd",
        "breakdown.csv",
        "notes.txt",
        "results.csv",
    ]


async def test_an_export_replaces_each_earlier_file_whole_even_when_the_disk_fills_halfway(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web server serving last week's results, or a spreadsheet reading them, reads them
    whole while a new export is written; a disk that fills halfway leaves every file whole
    (the earlier one or the new one), and nothing half written beside them."""
    _ria, poll = await _town(app)
    out = tmp_path / "report"
    await export_consultation(app, poll, out)
    earlier = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(earlier) == ["breakdown.csv", "chart.png", "results.csv"]
    late = await resident(app, "late")
    await late.press_payload(f"cs.a:{poll}:0:1:1")  # one more answer: other counts

    with (out / "results.csv").open("rb") as reading:
        await export_consultation(app, poll, out)
        assert reading.read() == earlier["results.csv"], "the earlier file was rewritten"
    second = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(second) == sorted(earlier) and second["results.csv"] != earlier["results.csv"]

    # One more answer, and the disk is full once the export writes its third file.
    await (await resident(app, "later")).press_payload(f"cs.a:{poll}:0:1:2")
    writes: list[int] = []
    write = os.write

    def filling(fd: int, data: bytes | memoryview) -> int:
        writes.append(fd)  # a file this small is written in one call
        if len(writes) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data)

    monkeypatch.setattr(os, "write", filling)
    with pytest.raises(ConsultationExportError, match="No space left"):
        await export_consultation(app, poll, out)
    monkeypatch.setattr(os, "write", write)
    third = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(third) == sorted(earlier), "nothing half written is left beside them"
    assert third["results.csv"] != second["results.csv"], "written before the disk filled"
    assert third["chart.png"] == second["chart.png"], "the earlier chart, whole"
    assert Image.open(io.BytesIO(third["chart.png"])).size[0] > 0


def _right_edge_clear(png: bytes) -> bool:
    """Whether nothing is drawn in the picture's right margin (text running off the edge
    leaves ink there): the title band's colour or white, all the way down."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    for y in range(height):
        for x in range(width - charts.MARGIN + 5, width):
            if image.getpixel((x, y)) not in (charts.BAND, (255, 255, 255)):
                return False
    return True


async def test_a_long_title_and_question_stay_within_the_chart(app: App, clock: Clock) -> None:
    people = [await resident(app, f"r{n}") for n in range(5)]
    ria = await civil_servant(app)
    title = "Nieuwe speelplek in Zeewijk, bij het strand en de duinen: wat vind jij ervan?"
    asked = (
        "Wat vind je van het plan om de oude speeltuin aan de Zeeweg te vervangen door een"
        " groter speelveld met bankjes, bomen en een plek waar honden los mogen lopen?"
    )
    await ria.send("/nieuwepeiling")
    await ria.send(title)
    await ria.send("Uitleg")
    await ria.press("Eén keuze")
    await ria.send(asked)
    await ria.send("Goed plan\nLiever niet")
    await ria.press("Klaar met de vragen")
    await ria.send("Niets.")
    await ria.press("👥 Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for person in people:
        await person.press_payload(f"cs.a:{poll}:0:1:1")
    # Staff's chart of every question: the poll's title above, the question as a heading.
    await ria.press_payload(f"cs.res:{poll}:0")
    document = ria.last[1].reply.document
    assert document is not None and _right_edge_clear(document.data)
    # The chart a respondent gets at closing: the question as its title, the poll's title
    # and how many answered below it.
    await _close(app, clock, ria, poll)
    [*_, chart] = seen(app, (await outbox_of(app, people[0]))[-1])
    assert chart.reply.photo_id is not None
    media = await app.repos.media.get(chart.reply.photo_id)
    assert media is not None and _right_edge_clear(media.data)
