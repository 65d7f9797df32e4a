"""Changing one's own idea while it goes out of view meanwhile (withdrawn, hidden)."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import Removal
from tests.handlers.ideas.helpers import TITLE, submit_idea
from tests.people import person


async def test_changes_to_an_idea_withdrawn_meanwhile_say_it_was_withdrawn(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press_payload("idea.edit:1")
    await anna.press("Titel aanpassen")
    await anna.send("Meer bankjes en prullenbakken in het park")
    save = next(payload for label, payload in anna.buttons() if "Opslaan" in label)
    await anna.press_payload("idea.withdraw:1!")  # from the card, still open above
    assert anna.keys == ["ideas.withdrawn"]
    await anna.press_payload(save)
    assert anna.keys == ["ideas.edit_withdrawn"]
    assert "besloten" not in anna.text
    assert "Meer bankjes en prullenbakken in het park" in anna.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.title == TITLE and idea.withdrawn


async def test_changes_to_an_idea_hidden_meanwhile_say_it_is_out_of_view(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press_payload("idea.edit:1")
    await anna.press("Titel aanpassen")
    await anna.send("Meer bankjes en prullenbakken in het park")
    async with app.db.transaction():  # the connector hid it meanwhile
        await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Reclame")
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_out_of_view"]
    assert "besloten" not in anna.text
    assert "Meer bankjes en prullenbakken in het park" in anna.text
