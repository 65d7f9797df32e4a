"""What the connector is told about who reads a status reason matches where it goes: an
idea's reason is published (the public site, the open data); a proposal's is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.admin.open_data import export_open_data
from bot.app import App
from handlers.contract import Role
from storage.clock import utcnow
from tests.handlers.experiments.helpers import send_proposal
from tests.handlers.ideas.helpers import submit_idea
from tests.people import connector, person, with_role
from tests.support import Chat

PHONE = "0612345678"

# Per language: the words that say the reason is public, and that it must not name anyone.
WARNINGS = {
    "Nederlands": ("openbaar", "open data", "geen namen of telefoonnummers"),
    "English": ("public", "open data", "names or phone numbers"),
    "Türkçe": ("herkese açık", "açık veri", "telefon numarası"),
    "Polski": ("publiczne", "otwartych danych", "numerów telefonów"),
    "العربية": ("علني", "البيانات المفتوحة", "أرقام هواتف"),
    "Українська": ("публічне", "відкритих даних", "номерів телефонів"),
}


def _published(folder: Path) -> list[str]:
    """The files of the open-data export that contain the phone number."""
    return sorted(
        p.name for p in folder.rglob("*") if p.is_file() and PHONE in p.read_text("utf-8")
    )


async def _connector_in(app: App, language: str) -> Chat:
    ria = await person(app, "ria", language=language)
    return await with_role(app, ria, Role.CONNECTOR)


@pytest.mark.parametrize("language", list(WARNINGS))
async def test_the_connector_is_told_an_ideas_status_reason_is_public_as_it_is(
    app: App, tmp_path: Path, language: str
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await _connector_in(app, language)
    await ria.send("/wachtrij")
    await ria.press_payload("tri.do:i1:niet_haalbaar")
    assert ria.keys == ["triage.ask_reason_required"]
    for words in WARNINGS[language]:
        assert words in ria.text, (language, ria.text)
    await ria.send(f"Bel Jan op {PHONE} voor de oversteek.")
    await export_open_data(app, tmp_path / "od", utcnow())
    # What the prompt warned about: the reason is on the site, in the feed and in the data.
    published = _published(tmp_path / "od")
    assert "idea_status_history.csv" in published and "idee-1.html" in published


async def test_a_reopened_ideas_reason_is_public_too_and_the_prompt_says_so(
    app: App, tmp_path: Path
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press_payload("tri.do:i1:niet_haalbaar")
    await ria.send("Daar is geen geld voor.")
    await ria.send("/wachtrij i1")
    await ria.press("Heropenen")
    assert ria.keys == ["triage.ask_reason_reopen"]
    assert "openbaar" in ria.text and "geen namen of telefoonnummers" in ria.text
    await ria.send(f"Jan belde ons, {PHONE}.")
    await export_open_data(app, tmp_path / "od", utcnow())
    assert "idea_status_history.csv" in _published(tmp_path / "od")


async def test_a_proposals_reason_is_read_by_its_followers_only_and_is_not_published(
    app: App, tmp_path: Path
) -> None:
    await send_proposal(app)
    ria = await connector(app)
    await ria.send("/wachtrij v1")
    await ria.press_payload("tri.do:p1:afgewezen")
    assert ria.keys == ["triage.ask_proposal_reason_required"]
    assert "Iedereen die het volgt leest hem" in ria.text and "openbaar" not in ria.text
    await ria.send(f"Bel Jan op {PHONE}.")
    await export_open_data(app, tmp_path / "od", utcnow())
    assert _published(tmp_path / "od") == []
