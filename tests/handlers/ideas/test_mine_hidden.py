"""An idea hidden (by the connector, or by residents' reports) as its author sees it."""

from __future__ import annotations

import pytest

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import Removal
from tests.handlers.ideas.helpers import submit_idea
from tests.people import person


@pytest.mark.parametrize("how", [Removal.HIDDEN, Removal.REPORTS])
async def test_the_author_of_a_hidden_idea_sees_it_hidden_not_removed(
    app: App, how: Removal
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=how, reason="Reclame")
    # Told "you still see it under My ideas": there it says hidden, not removed.
    await anna.send("/mijnideeen")
    assert anna.keys == ["ideas.mine_title"]
    assert "Verborgen" in anna.text and "Verwijderd" not in anna.text
    await anna.press("#1")
    assert anna.keys == ["ideas.hidden_yours"]
    assert "verwijderd" not in anna.text
    # Anyone else still only hears it is not to be seen.
    bob = await person(app, "bob")
    await bob.press_payload("idea.open:1")
    assert bob.keys == ["ideas.removed"]


async def test_the_author_of_a_removed_idea_sees_it_removed(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    async with app.db.transaction():
        await app.repos.ideas.remove(1, utcnow(), how=Removal.REMOVED, reason="Reclame")
    await anna.send("/mijnideeen")
    assert "Verwijderd" in anna.text
    await anna.press("#1")
    assert anna.keys == ["ideas.removed"]
