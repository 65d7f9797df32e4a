"""The privacy statement's "what" names every kind of thing a resident does that is kept:
poll answers, budget votes, meeting sign-ups and reported messages in an experiment's group
are kept (and exported by /mijngegevens), so the statement says so, in Dutch and English.
The file /mijngegevens sends names and explains each of its parts in the resident's
language, and says yes or no for choices stored as 1 or 0."""

from __future__ import annotations

import json
import re

from bot.app import App
from handlers.catalog import Catalog
from handlers.privacy.readable import _YES_NO
from storage.privacy.personal import TABLES
from tests.people import person
from tests.support import Chat

CATALOG = Catalog.load()
NAMED = {
    "nl": ("peilingen", "stemronde", "bijeenkomsten", "gemelde berichten in de groep"),
    "en": ("polls", "budget round", "meetings", "reported messages in an experiment's group"),
}


async def test_the_statement_names_polls_votes_meetings_and_reported_group_messages(
    app: App,
) -> None:
    for lang, words in NAMED.items():
        anna = Chat(app, f"anna-{lang}", language_hint=lang)
        await anna.send("/privacy")
        assert anna.keys == ["privacy.statement"]
        what = next(line for line in anna.text.splitlines() if line.startswith(("Wat:", "What:")))
        for word in words:
            assert word in what, (lang, word)


async def test_my_data_file_says_who_my_questions_went_to_by_name(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    await anna.send("/mijngegevens")
    [document] = [seen.reply.document for seen in anna.last if seen.reply.document]
    assert document is not None
    sections = json.loads(document.data)["sections"]
    assert sections["questions"]["holds"] == "je vragen aan Burgerbeest"


def test_every_part_of_my_data_file_has_a_title_and_an_explanation_in_every_language() -> None:
    # Without them a part falls back to its table name ("budget_preferences") and the
    # English line in storage, whatever the resident's language.
    parts = [table.name for table in TABLES if table.export is not None] + ["media"]
    missing = [
        f"{lang}: privacy.{kind}.{name}"
        for lang in CATALOG.languages
        for name in parts
        for kind in ("titles", "holds")
        if f"privacy.{kind}.{name}" not in CATALOG.texts[lang]
    ]
    assert missing == []


async def test_my_data_file_says_in_dutch_that_i_turned_invitations_and_reminders_off(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.press_payload("bv.inv:off")
    assert anna.keys == ["budgets.invitations_off"]
    await anna.press_payload("cs.rem:off")
    assert anna.keys == ["consultations.reminders_off"]
    await anna.send("/mijngegevens")
    [document] = [seen.reply.document for seen in anna.last if seen.reply.document]
    assert document is not None
    sections = json.loads(document.data)["sections"]
    invitations = sections["budget_preferences"]
    assert invitations["title"] == "Uitnodigingen voor stemrondes"
    assert invitations["holds"] == "of je een uitnodiging wilt als een stemronde begint"
    assert [row["invitations"] for row in invitations["rows"]] == ["nee"]
    reminders = sections["consultation_preferences"]
    assert reminders["title"] == "Herinneringen bij peilingen"
    assert [row["reminders"] for row in reminders["rows"]] == ["nee"]


async def test_every_yes_or_no_column_the_file_shows_reads_as_yes_or_no(app: App) -> None:
    # A column the schema allows only 0 and 1 in, that an export selects, is a yes or no.
    flags = set()
    for table in TABLES:
        if table.export is None:
            continue
        schema = await app.db.fetchval(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
        )
        for column in re.findall(r"CHECK \((\w+) IN \(0, ?1\)\)", schema or ""):
            if re.search(rf"\b{column}\b", table.export):
                flags.add(column)
    assert flags and flags <= _YES_NO, sorted(flags - _YES_NO)
