"""Oversight: every staff action in the audit log and its CSV export; figures; role checks."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import threading
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from bot.app import App
from bot.flood import FloodGate
from bot.settings import Settings
from handlers import FEATURES, charts
from handlers.contract import Role
from handlers.staff import oversight
from storage.clock import utcnow
from tests.consultations import Clock
from tests.handlers.budgets.test_budget_round import START, set_up_round
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.meetings import evening, organise
from tests.people import audit_actions, connector, person, refused_as_unknown, row, with_role

CONNECTOR_FEATURES = {"triage", "moderation", "inbox", "connections", "oversight"}


async def _samenspel(app: App, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``samenspel`` command on the app's database (the bot may keep running)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env["SAMENSPEL_DB"] = str(app.settings.db)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.admin.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def _staff_day(app: App) -> list[str]:
    """A connector's day: every kind of decision; returns the reasons typed."""
    anna = await person(app, "anna")
    await submit_idea(anna, "Bankjes in het park", "Meer bankjes in het park bij de vijver graag.")
    await submit_idea(anna, "Een hondenveld", "Een veld waar honden los mogen lopen, omheind.")
    bob = await person(app, "bob")
    await seed_idea(
        app,
        "Bankjes bij de vijver",
        author=(await row(app, bob)).id,
        description="Zet bankjes bij de vijver in het park neer.",
    )
    ria = await connector(app)
    reasons = ["Geheim-reden-een", "Geheim-reden-twee", "Geheim-reden-drie", "Geheim-reden-vier"]
    await ria.send("/wachtrij 1")
    await ria.press("Naar een afdeling")
    await ria.press("Openbare ruimte")
    await ria.send(reasons[0])
    await ria.send("/wachtrij 3")
    await ria.press("Samenvoegen")
    await ria.send("#1")
    await ria.press("Geen toelichting")
    await ria.send("/verbind #1 #2")  # same author: refused, nothing logged
    await bob.press_payload("idea.comment:1")
    await bob.send("Jullie zijn allemaal sukkels.")
    for name in ("r1", "r2", "r3"):
        reporter = await person(app, name)
        await reporter.press_payload("cm.report:1")
        await reporter.press("Schelden of beledigend")
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.press("1 dag")
    await ria.send(reasons[1])
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    await anna.send("/vraag Hoe gaat het met mijn idee?")
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    await ria.press("Beantwoorden")
    await ria.send(reasons[2])
    await ria.press_payload("inbox.close:1")
    await ria.send("/wachtrij 2")
    await ria.press("Niet haalbaar")
    await ria.send(reasons[3])
    return reasons


async def test_every_staff_action_is_in_the_audit_log_and_its_csv_export(
    app: App, tmp_path: Path
) -> None:
    reasons = await _staff_day(app)
    actions = await audit_actions(app)
    assert actions == [
        "idea.status",
        "idea.status",
        "comment.auto_hide",
        "user.mute",
        "user.unrestrict",
        "question.answer",
        "question.close",
        "idea.status",
    ]
    ria = await app.repos.users.find("test", "ria")
    assert ria is not None
    staff_entries = [
        e
        for e in await app.repos.logbook.since(utcnow().replace(year=2000))
        if e.action != "comment.auto_hide"
    ]
    assert all(e.actor == "user" and e.actor_user_id == ria.id for e in staff_entries)

    out = tmp_path / "audit.csv"
    done = await _samenspel(app, "audit", "--since", "2000-01-01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "8 audit log entries" in done.stdout
    exported = out.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["action"] for r in rows] == actions
    assert rows[0]["subject"] == "idea:1" and rows[0]["reason_given"] == "yes"
    assert '"department": "openbare-ruimte"' in rows[0]["detail"]
    # No message text and no names: not the reasons, not the comment, not who people are.
    for secret in [*reasons, "sukkels", "Anna", "Bob", "Ria", "Bankjes"]:
        assert secret not in exported
    # Standard output by default; a later --since leaves the earlier ones out.
    done = await _samenspel(app, "audit", "--since", "2000-01-01")
    assert done.stdout == exported
    done = await _samenspel(app, "audit", "--since", "2999-01-01")
    assert done.returncode == 0 and done.stdout.splitlines()[1:] == []


async def test_the_audit_export_refuses_a_date_it_cannot_read(app: App) -> None:
    done = await _samenspel(app, "audit", "--since", "gisteren")
    assert done.returncode == 2 and "use a date like" in done.stderr


async def test_admins_page_through_the_audit_log(app: App) -> None:
    await _staff_day(app)
    admin = await with_role(app, await person(app, "adam"), Role.ADMIN)
    await admin.send("/logboek")
    assert admin.keys == ["oversight.log_title"]
    assert "(8 acties), pagina 1 van 1" in admin.text
    text = admin.text
    assert "status van een idee · idee #2" in text and "Geheim-reden-vier" in text
    assert "Samenspel (automatisch)" in text
    assert text.index("idee #2") < text.index("idee #1")  # newest first
    # In words a person reads: no action ids, statuses by their names, one name per person.
    assert "idea.status" not in text and "in_behandeling" not in text
    assert "van 📥 Ingestuurd" in text and "afdeling: Openbare ruimte" in text
    ria_row = await app.repos.users.find("test", "ria")
    assert ria_row is not None
    assert f"persoon {ria_row.id}" in text and "verbinder #" not in text
    async with app.db.transaction():
        for n in range(15):
            await app.repos.audit.record("test.entry", now=utcnow(), detail={"n": n})
    await admin.send("/logboek")
    assert "pagina 1 van 3" in admin.text
    await admin.press("Ouder")
    assert "pagina 2 van 3" in admin.text
    # A connector is not an admin.
    ria = await connector(app, "rita")
    await ria.send("/logboek")
    refused_as_unknown(app, ria)


async def test_the_audit_log_names_budget_rounds_meetings_and_the_bot_in_words(
    settings: Settings,
) -> None:
    """Every action reaches the admin in words, with what it was done to and its details:
    never an action's id, a subject's id or a detail's key."""
    clock = Clock(START)
    app = await App.open(settings, clock=clock)
    try:
        ria = await connector(app)
        await set_up_round(ria)
        await organise(ria, evening(clock.now), audience=("Geen uitnodiging",))
        await ria.press("Publiceren")
        meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
        await ria.press_payload(f"mt.end:{meeting}")
        await ria.press("Ja, afzeggen")
        assert ria.keys[0] == "meetings.cancelled_done", ria.keys
        # What the app writes when a platform says the bot left an experiment's group.
        async with app.db.transaction():
            await app.repos.audit.record(
                "room.gone",
                now=clock.now,
                actor="bot",
                subject="room:7",
                detail={"platform": "telegram", "experiment": 1},
            )
            # What the composer writes when a message is planned (who for, never its text).
            await app.repos.audit.record(
                "broadcast.schedule",
                now=clock.now,
                actor_user_id=(await row(app, ria)).id,
                subject="broadcast:3",
                detail={
                    "audience": "neighbourhood",
                    "audience_value": "driehuis",
                    "at": "2026-12-24T09:00:00+00:00",
                    "audience_size": 4,
                },
            )
        admin = await with_role(app, await person(app, "adam"), Role.ADMIN)
        await admin.send("/logboek")
        assert admin.keys == ["oversight.log_title"]
        text = admin.text
        assert "stemronde gemaakt · stemronde 1" in text and "budget: €\u00a010.000" in text
        assert "bij gelijke stemmen: goedkoopste project eerst" in text
        assert "stemronde geopend · stemronde 1 · uitgenodigd: " in text
        assert f"bijeenkomst gepubliceerd · bijeenkomst {meeting}" in text
        assert f"bijeenkomst afgezegd · bijeenkomst {meeting} · bericht gestuurd aan: 0" in text
        assert "Samenspel (automatisch)\nbot niet meer in groep · groep 7" in text
        assert "platform: Telegram" in text
        assert (
            "Wist je dat-bericht gepland · bericht 3 · voor: wijk Driehuis;"
            " op 24 dec 2026, 10:00; bereik: 4"
        ) in text
        raw_ids = ("budget.", "meeting.", "room.", "broadcast", "budget:1", f"meeting:{meeting}")
        for raw in (*raw_ids, "room:7", "_cents", "tie_rule", "invited", "telegram", "driehuis"):
            assert raw not in text, raw
    finally:
        await app.close()


async def test_staff_get_figures_as_text_and_as_a_chart(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, neighbourhood="Driehuis")
    await seed_idea(app, "Een tweede idee", category="verkeer", neighbourhood=None)
    await anna.send("/wistjedat")
    await anna.press("Aanmelden")
    await anna.press_payload("exp.join:1")
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("In behandeling")
    await ria.press("Geen toelichting")
    civil = await with_role(app, await person(app, "cas"), Role.CIVIL_SERVANT)
    await civil.send("/stats")
    assert civil.keys == ["oversight.stats_title", "oversight.stats_chart"]
    text = civil.text
    assert "Ideeën: 2" in text and 'Abonnees van "Wist je dat": 1' in text
    assert "Ruimtelijke inrichting gemeente: 1" in text
    assert "Verkeer en vervoer / bereikbaarheid: 1" in text
    assert "🔍 In behandeling: 1" in text and "📥 Ingestuurd: 1" in text
    assert "Driehuis: 1" in text and "Geen wijk" in text
    assert "Speeltuin Zeewijk Natuurlijk!: 1" in text
    assert "(ideeën met een status: 1)" in text
    document = civil.last[1].reply.document
    assert document is not None and document.mime_type == "image/png"
    image = Image.open(io.BytesIO(document.data))
    assert image.format == "PNG" and image.width == 1200 and image.height > 400
    await anna.send("/stats")
    refused_as_unknown(app, anna)
    assert all(s.reply.document is None for s in anna.last)


def _arabic(line: str) -> bool:
    return any(unicodedata.bidirectional(ch) == "AL" for ch in line)


async def test_an_arabic_chart_stands_its_lines_against_the_right_edge(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in Arabic, the chart's title, headings and labels stand against the right edge
    of their place, as Arabic reads; the counts (digits) stay after their bars."""
    drawn: list[tuple[tuple[float, float], str, str | None]] = []
    text = ImageDraw.ImageDraw.text

    def noted(self: ImageDraw.ImageDraw, xy: Any, line: str, *args: Any, **kw: Any) -> None:
        drawn.append((xy, line, kw.get("anchor")))
        text(self, xy, line, *args, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", noted)
    await seed_idea(app, "Een idee", category="verkeer", neighbourhood="Driehuis")
    amal = await with_role(app, await person(app, "amal", language="العربية"), Role.CIVIL_SERVANT)
    await amal.send("/stats")
    assert amal.keys == ["oversight.stats_title", "oversight.stats_chart"]
    arabic = [(xy, anchor) for xy, line, anchor in drawn if _arabic(line)]
    latin = [(xy, anchor) for xy, line, anchor in drawn if line.isascii() and line.isalpha()]
    assert len(arabic) >= 4  # title, subtitle, headings, labels
    right_edges = {charts.WIDTH - charts.MARGIN, charts.MARGIN + charts.LABEL_WIDTH - 20}
    assert all(anchor == "rm" and xy[0] in right_edges for xy, anchor in arabic), arabic
    assert all(anchor == "lm" for _, anchor in latin)  # "Driehuis": a name, left to right
    assert latin


async def test_the_chart_is_drawn_beside_the_event_loop_so_nobody_waits_for_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow takes most of a second for the figures' chart; drawn on the loop's own thread
    it would hold up every resident's answer meanwhile."""
    drawn_on: list[threading.Thread] = []
    draw = oversight.bar_chart

    def drawing(*args: Any) -> bytes:
        drawn_on.append(threading.current_thread())
        return draw(*args)

    monkeypatch.setattr(oversight, "bar_chart", drawing)
    civil = await with_role(app, await person(app, "cas"), Role.CIVIL_SERVANT)
    await civil.send("/stats")
    assert civil.keys == ["oversight.stats_title", "oversight.stats_chart"]
    assert drawn_on and drawn_on[0] is not threading.current_thread()


async def test_every_staff_command_and_button_is_refused_to_a_resident_like_an_unknown_one(
    app: App,
) -> None:
    await seed_idea(app, "Een idee")
    anna = await person(app, "anna")
    app.router.flood = FloodGate(1000)  # many tries in a row: this is about roles, not floods
    await anna.send("/bestaatniet")
    unknown = anna.keys
    await anna.press_payload("bestaatniet:1")
    stale = anna.keys
    checked = 0
    for feature in FEATURES:
        if feature.name not in CONNECTOR_FEATURES:
            continue
        for name, spec in feature.commands.items():
            if spec.role is not Role.RESIDENT:
                await anna.send(f"/{name} 1 2")
                assert anna.keys[0].startswith(unknown[0]), name
                refused_as_unknown(app, anna)
                checked += 1
        for name, action in feature.actions.items():
            if action.role is not Role.RESIDENT:
                await anna.press_payload(f"{name}:1")
                assert anna.keys == stale, name
                checked += 1
    assert checked >= 25
    assert await audit_actions(app) == []
    stored = await app.repos.dialogs.load((await row(app, anna)).id)
    assert stored is None
