"""Staff-only commands and buttons: a resident hears the same as for something unknown."""

from __future__ import annotations

import pytest

from bot.app import App
from handlers.contract import Role
from tests.people import civil_servant, person, refused_as_unknown, row

STAFF_COMMANDS = ["nieuwbericht", "newpost", "gepland", "scheduled", "voorstellen", "introduce"]
STAFF_COMMANDS += ["poster", "poster exp_1"]
STAFF_BUTTONS = ["compose", "sched", "sched.cancel:1", "sched.drop:1", "sched.move:1"]
STAFF_BUTTONS += ["staff.edit", "poster", "poster:exp_1"]


@pytest.mark.parametrize("command", STAFF_COMMANDS)
async def test_a_resident_trying_a_staff_command_hears_it_is_unknown(
    app: App, command: str
) -> None:
    anna = await person(app, "anna")
    await anna.send(f"/{command}")
    refused_as_unknown(app, anna)
    if anna.keys == ["general.unknown_command"]:
        name = command.split()[0]
        await anna.send("/bestaatniet")
        made_up = anna.text
        await anna.send(f"/{command}")
        assert anna.text == made_up.replace("/bestaatniet", f"/{name}")


@pytest.mark.parametrize("payload", STAFF_BUTTONS)
async def test_a_resident_pressing_a_staff_button_hears_it_is_stale(
    app: App, payload: str
) -> None:
    anna = await person(app, "anna")
    await anna.press_payload(payload)
    assert anna.keys == ["general.stale_button"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM broadcasts") == 0


async def test_the_main_menu_shows_staff_entries_only_to_staff(app: App) -> None:
    anna = await person(app, "anna")
    resident_labels = [label for label, _ in anna.buttons()]
    assert "🧪 Experimenten" in resident_labels and "📰 Wist je dat" in resident_labels
    assert "✍️ Nieuw bericht" not in resident_labels
    ria = await civil_servant(app)
    await ria.send("/menu")
    staff_labels = [label for label, _ in ria.buttons()]
    for label in ("✍️ Nieuw bericht", "🗓️ Gepland", "🪪 Mijn kaartje", "🖨️ Poster maken"):
        assert label in staff_labels


async def test_a_civil_servant_who_loses_the_role_mid_dialog_cannot_finish(app: App) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwbericht")
    async with app.db.transaction():
        await app.repos.users.set_role((await row(app, "ria")).id, Role.RESIDENT)
    await ria.send("Een bericht dat niet meer mag")
    assert ria.keys == ["roles.lost.ambtenaar", "general.typed_not_kept"]
    assert "Je bent geen ambtenaar meer" in ria.text and "verlopen" not in ria.text
    assert "Een bericht dat niet meer mag" in ria.text
    assert await app.repos.dialogs.load((await row(app, "ria")).id) is None
