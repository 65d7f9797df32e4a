"""Small-cell protection: nobody's answer can be worked back from what is published or shown,
by subtracting the shown groups from the total or by which rows exist.

The town of these tests: IJmuiden 5 (one of them reads English), Velserbroek 5 and one
person in Driehuis answer the first question; only the Driehuis person answers the second.
An attacker who knows that the English reader and the Driehuis person took part tries to
find out what they answered.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from pathlib import Path

import pytest

from bot.admin.cli import main
from bot.admin.open_data import export_open_data
from bot.app import App
from bot.settings import Settings
from handlers.consultations.disclosure import OTHER, breakdown
from storage.consultations.tallies import RESPONDENTS, Dimension, Results
from tests.consultations import Clock, Jobs, compose_poll, last_consultation
from tests.people import civil_servant
from tests.people import person as resident
from tests.support import Chat

MINIMUM = 5  # the Velsen profile's threshold
Row = dict[str, object]


async def _town(
    app: App,
    *,
    english: str = "2",
    driehuis: tuple[str, str] = ("1", "x"),
    velserbroek: tuple[str, ...] = ("1", "2", "2", "1", "1"),
) -> tuple[Chat, int]:
    """The town answering a poll through the router; returns the civil servant and poll."""
    ria = await civil_servant(app)
    ijmuiden = [await resident(app, f"ij{n}") for n in range(4)]
    ijmuiden.append(await resident(app, "eng", language="English"))
    broek = [await resident(app, f"vb{n}", hood="Velserbroek") for n in range(5)]
    dh = await resident(app, "dh", hood="Driehuis")
    await compose_poll(ria)
    await ria.press("Publiceren")
    poll = await last_consultation(app)
    for person, answer in zip(ijmuiden, ("1", "2", "1", "2", english), strict=True):
        await person.press_payload(f"cs.a:{poll}:0:1:{answer}")
    for person, answer in zip(broek, velserbroek, strict=True):
        await person.press_payload(f"cs.a:{poll}:0:1:{answer}")
    await dh.press_payload(f"cs.a:{poll}:0:1:{driehuis[0]}")
    await dh.press_payload(f"cs.a:{poll}:0:2:{driehuis[1]}")
    return ria, poll


async def _close(app: App, ria: Chat, poll: int) -> None:
    """Staff close the poll now; the closing job runs as the scheduler would run it."""
    await ria.press_payload(f"cs.end:{poll}")
    await ria.press("Ja, nu sluiten")
    await Jobs.of(app).consultation(poll)


async def _open_data(app: App, out: Path, poll: int) -> list[Row]:
    await export_open_data(app, out, app.router.clock())
    header, *rows = json.loads((out / "consultation_results.json").read_text(encoding="utf-8"))
    return [
        row
        for row in (dict(zip(header, r, strict=True)) for r in rows)
        if row["consultation"] == poll
    ]


def _learned(rows: list[Row]) -> list[str]:
    """What an attacker learns about a few people from a results table: a group of fewer
    than the threshold, a group whose members all gave the same answer, and the same for
    what is left when every shown group is taken from the total (one dimension at a time)."""
    found: list[str] = []
    cells = {(r["question"], r["dimension"], r["group"], r["answer"]): r["count"] for r in rows}
    for question, dimension in sorted(
        {(r["question"], r["dimension"]) for r in rows if r["dimension"] != "all"}
        | {(r["question"], d) for r in rows for d in ("neighbourhood", "language")}
    ):
        answers = sorted({a for (q, _, _, a) in cells if q == question and a != RESPONDENTS})
        groups = sorted({g for (q, d, g, _) in cells if (q, d) == (question, dimension)})
        left = {a: cells.get((question, "all", "all", a)) for a in [*answers, RESPONDENTS]}
        for group in groups:
            size = cells[(question, dimension, group, RESPONDENTS)]
            if not isinstance(size, int):
                continue  # a group left out: what the attacker wants to work back
            counts = {a: cells.get((question, dimension, group, a)) for a in answers}
            if size < MINIMUM:
                found.append(f"q{question} {dimension} {group}: {size} people")
            for answer, count in counts.items():
                if count == size:
                    found.append(f"q{question} {dimension} {group}: all answered {answer}")
            for answer in left:
                taken = size if answer == RESPONDENTS else counts[answer]
                have = left[answer]
                left[answer] = None if have is None or taken is None else have - taken
        rest = left[RESPONDENTS]
        if rest is None or rest == 0:
            continue
        if rest < MINIMUM:
            found.append(f"q{question} {dimension} rest: {rest} people answered {left}")
        for answer, count in left.items():
            if answer != RESPONDENTS and count == rest:
                found.append(f"q{question} {dimension} rest: all answered {answer}")
    return found


def _shape(rows: list[Row]) -> set[tuple[object, ...]]:
    """Which rows exist and which counts are left out: what an attacker sees without
    reading a single number."""
    return {
        (r["moment"], r["question"], r["dimension"], r["group"], r["answer"], r["suppressed"])
        for r in rows
    }


async def test_the_open_data_gives_no_answer_away_by_subtraction_or_by_the_rows_it_holds(
    settings: Settings, tmp_path: Path
) -> None:
    tables = []
    for world, (english, driehuis) in enumerate((("2", ("1", "x")), ("1", ("3", "4")))):
        app = await App.open(
            settings.model_copy(update={"db": tmp_path / f"world{world}.db"}), clock=Clock()
        )
        try:
            ria, poll = await _town(app, english=english, driehuis=driehuis)
            await _close(app, ria, poll)
            tables.append(await _open_data(app, tmp_path / f"out{world}", poll))
        finally:
            await app.close()
    first, second = tables
    # Neither by subtraction nor by the groups shown ...
    assert _learned(first) == [] and _learned(second) == []
    # ... nor by which rows exist or are left out: the same whatever they answered.
    assert _shape(first) == _shape(second)
    cells = {(r["question"], r["dimension"], r["group"], r["answer"]): r["count"] for r in first}
    # Driehuis (one person) is counted with IJmuiden, the smaller of the two others: the
    # total minus Velserbroek is six people, not one.
    groups = {g for (q, d, g, _) in cells if (q, d) == (1, "neighbourhood")}
    assert groups == {"velserbroek", OTHER}
    assert cells[(1, "neighbourhood", "velserbroek", "1")] == 3
    assert cells[(1, "neighbourhood", OTHER, RESPONDENTS)] == 6
    assert cells[(1, "neighbourhood", OTHER, "1")] == 3
    # One English reader beside ten Dutch: no breakdown per language at all.
    assert not any(d == "language" for (q, d, _, _) in cells if q == 1)
    # The second question one person answered: every answer code has a row, none a count.
    second_question = {a: c for (q, d, _, a), c in cells.items() if (q, d) == (2, "all")}
    assert second_question == dict.fromkeys(["1", "2", "3", "4", "5", "skipped", RESPONDENTS])
    assert cells[(1, "all", "all", "1")] == 6  # the result itself is there


async def test_staff_see_no_group_whose_answers_follow_from_the_total(app: App) -> None:
    ria, poll = await _town(app)
    await ria.press_payload(f"cs.res:{poll}:0")
    text = ria.last[0].text
    assert "1. Wat moet er zeker komen? (11 antwoorden)" in text
    question = text.split("\nVraag 1\n")[-1].split("\nVraag 2\n")[0]
    assert "• Velserbroek (5): Schommel 3 · Klimrek 2 · Zandbak 0" in question
    assert "• Andere wijken samen (6): Schommel 3 · Klimrek 3 · Zandbak 0" in question
    assert "• Per taal: niet te tonen, de groepen zijn te klein" in question
    assert "Driehuis" not in text and "IJmuiden" not in text and "Nederlands" not in text
    # The attacker's sum: the total minus every neighbourhood and language shown.
    hoods = {h.name("nl") for h in app.profile.neighbourhoods} | {"Andere wijken samen"}
    shown = re.findall(r"• (.+?) \((\d+)\): (.*)", question)
    for names in (hoods, None):
        sizes = [int(n) for name, n, _ in shown if (name in hoods) == (names is not None)]
        assert all(size >= MINIMUM for size in sizes)
        assert sum(sizes) in (0, 11)  # nothing left over, or no breakdown at all


async def test_a_group_that_answered_as_one_shows_its_size_but_no_counts(
    app: App, tmp_path: Path
) -> None:
    ria, poll = await _town(app, velserbroek=("2",) * 5)
    await ria.press_payload(f"cs.res:{poll}:0")
    question = ria.last[0].text.split("\nVraag 1\n")[-1].split("\nVraag 2\n")[0]
    assert "• Velserbroek (5): aantallen niet getoond" in question
    assert "• Andere wijken samen (6): aantallen niet getoond" in question
    assert "In een groep gaf iedereen hetzelfde antwoord" in question
    assert "Klimrek 5" not in question
    await _close(app, ria, poll)
    rows = await _open_data(app, tmp_path / "out", poll)
    assert _learned(rows) == []
    cells = {(r["question"], r["dimension"], r["group"], r["answer"]): r for r in rows}
    withheld = cells[(1, "neighbourhood", "velserbroek", "2")]
    assert (withheld["count"], withheld["suppressed"]) == (None, 1)
    assert cells[(1, "neighbourhood", "velserbroek", RESPONDENTS)]["count"] == 5
    # The result itself stays: eight of eleven chose the climbing frame.
    assert cells[(1, "all", "all", "2")]["count"] == 8


async def test_a_poll_one_person_answered_publishes_nothing_of_their_answer(
    settings: Settings, tmp_path: Path
) -> None:
    tables = []
    for world, answer in enumerate(("1", "3")):
        app = await App.open(
            settings.model_copy(update={"db": tmp_path / f"one{world}.db"}), clock=Clock()
        )
        try:
            ria = await civil_servant(app)
            anna = await resident(app, "anna", hood="Spaarndam-West")
            await compose_poll(ria)
            await ria.press("Publiceren")
            poll = await last_consultation(app)
            await anna.press_payload(f"cs.a:{poll}:0:1:{answer}")
            await _close(app, ria, poll)
            tables.append(await _open_data(app, tmp_path / f"one-out{world}", poll))
            # Not even how many answered: fewer than the threshold.
            listed = json.loads(
                (tmp_path / f"one-out{world}" / "consultations.json").read_text("utf-8")
            )
            header, *rows = listed
            row = next(dict(zip(header, r, strict=True)) for r in rows if r[0] == poll)
            assert row["status"] == "closed" and row["respondents"] is None
        finally:
            await app.close()
    first, second = tables
    assert _shape(first) == _shape(second)
    assert all(r["count"] is None for r in first + second)
    assert {r["dimension"] for r in first} == {"all"}


def _closed_town(settings: Settings) -> int:
    async def run() -> int:
        app = await App.open(settings, clock=Clock())
        try:
            ria, poll = await _town(app)
            await _close(app, ria, poll)
            return poll
        finally:
            await app.close()

    return asyncio.run(run())


def test_the_export_for_a_report_follows_the_same_rule(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = _closed_town(settings)
    monkeypatch.setenv("SAMENSPEL_DB", str(settings.db))
    folder = tmp_path / "report"
    assert main(["export-consultation", str(poll), "--out", str(folder)]) == 0

    def read(name: str) -> list[dict[str, str]]:
        with (folder / name).open(encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    overall = read("results.csv")
    groups = read("breakdown.csv")
    rows: list[Row] = [
        {
            "question": int(r["question"]),
            "dimension": r.get("dimension", "all"),
            "group": r.get("group", "all"),
            "answer": r["answer"],
            "count": int(r["count"]) if r["count"] else None,
        }
        for r in overall + groups
    ]
    assert _learned(rows) == []
    assert {(r["dimension"], r["group"]) for r in groups} == {
        ("neighbourhood", "velserbroek"),
        ("neighbourhood", OTHER),
    }
    # The second question (one person): a row for every answer, no count, no share.
    second = [r for r in overall if r["question"] == "2"]
    assert [r["answer"] for r in second] == ["1", "2", "3", "4", "5", "skipped", RESPONDENTS]
    assert {(r["count"], r["percent"], r["suppressed"]) for r in second} == {("", "", "1")}


def _results(sizes: dict[str, int], answers: dict[str, dict[str, int]] | None = None) -> Results:
    """Counts of question 1 per neighbourhood: ``sizes`` people per group, by default half
    answering 1 and the rest 2."""
    counts: dict[tuple[int, str, str, str], int] = {}
    for group, size in sizes.items():
        given = (answers or {}).get(group) or {"1": size // 2, "2": size - size // 2}
        for key, n in [(RESPONDENTS, size), *given.items()]:
            for dimension, code in (("neighbourhood", group), ("all", "")):
                counts[(1, dimension, code, key)] = counts.get((1, dimension, code, key), 0) + n
    return Results(counts=counts)


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        # two groups, one tiny: the big one would give the tiny one away
        ({"ijmuiden": 40, "driehuis": 1}, []),
        # every group tiny: no breakdown, even though together they are many
        ({"a": 3, "b": 3, "c": 4}, []),
        # exactly at the threshold: shown
        ({"ijmuiden": 5, "driehuis": 5}, [("driehuis", 5), ("ijmuiden", 5)]),
        # one below it beside one at it: neither
        ({"ijmuiden": 5, "driehuis": 4}, []),
        # a tiny group joins the smallest big one (by name among equals) in "overig"
        ({"a": 5, "b": 5, "c": 1}, [("b", 5), (OTHER, 6)]),
        # small groups that together reach the threshold are shown together
        ({"a": 9, "b": 3, "c": 2}, [("a", 9), (OTHER, 5)]),
        # ... and together below it take the next group with them
        ({"a": 9, "b": 6, "c": 2, "d": 1}, [("a", 9), (OTHER, 9)]),
        # people without a neighbourhood are a group like the others
        ({"geen": 2, "ijmuiden": 7, "velserbroek": 6}, [("ijmuiden", 7), (OTHER, 8)]),
        # one person: nothing
        ({"ijmuiden": 1}, []),
    ],
)
def test_which_groups_a_breakdown_shows_depends_on_their_sizes_only(
    sizes: dict[str, int], shown: list[tuple[str, int]]
) -> None:
    found = breakdown(_results(sizes), 1, Dimension.NEIGHBOURHOOD, ["1", "2", "3"], MINIMUM)
    assert [(g.code, g.size) for g in found.groups] == shown
    total = sum(sizes.values())
    assert sum(g.size for g in found.groups) in (0, total)
    for group in found.groups:
        assert group.size >= MINIMUM and group.counts is not None
        assert sum(group.counts.values()) == group.size


def test_everyone_in_a_group_answering_alike_withholds_the_breakdowns_counts() -> None:
    sizes = {"a": 6, "b": 7, "c": 2}  # b shown, a and c together as "overig"
    alike = breakdown(
        _results(sizes, {"b": {"2": 7}}), 1, Dimension.NEIGHBOURHOOD, ["1", "2"], MINIMUM
    )
    mixed = breakdown(_results(sizes), 1, Dimension.NEIGHBOURHOOD, ["1", "2"], MINIMUM)
    # The same groups either way; only the counts are left out.
    assert [(g.code, g.size) for g in alike.groups] == [(g.code, g.size) for g in mixed.groups]
    assert alike.withheld and all(g.counts is None for g in alike.groups)
    assert not mixed.withheld
    # Where the hidden groups together answered alike, the same.
    hidden_alike = breakdown(
        _results({"a": 6, "b": 2, "c": 3}, {"b": {"1": 2}, "c": {"1": 3}}),
        1,
        Dimension.NEIGHBOURHOOD,
        ["1", "2"],
        MINIMUM,
    )
    assert [g.code for g in hidden_alike.groups] == ["a", OTHER] and hidden_alike.withheld
