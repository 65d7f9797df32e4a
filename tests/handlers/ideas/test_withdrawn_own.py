"""Buttons of one's own idea pressed again after withdrawing it."""

from __future__ import annotations

from bot.app import App
from tests.handlers.ideas.helpers import submit_idea
from tests.people import person


async def test_withdraw_pressed_twice_or_an_old_edit_button_says_it_is_withdrawn(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press("Bekijk #1")
    edit = next(payload for label, payload in anna.buttons() if "Aanpassen" in label)
    await anna.press("Intrekken")
    yes = next(payload for label, payload in anna.buttons() if "Ja" in label)
    await anna.press_payload(yes)
    assert anna.keys == ["ideas.withdrawn"]
    # A second tap on "Ja", or the old card's "Aanpassen": it is hers, and withdrawn.
    for payload in (yes, edit):
        await anna.press_payload(payload)
        assert anna.keys == ["ideas.withdrawn_yours"], payload
        assert "Je hebt idee #1 ingetrokken" in anna.text
    # Her own card says the same, not that "its sender" withdrew it.
    await anna.press_payload("idea.open:1")
    assert anna.keys == ["ideas.withdrawn_yours"]
    bob = await person(app, "bob")
    await bob.press_payload("idea.open:1")
    assert bob.keys == ["ideas.withdrawn_card"]
    await bob.press_payload(yes)  # someone else's idea
    assert bob.keys == ["ideas.not_yours"]


async def test_the_author_opening_the_thread_of_her_withdrawn_idea_hears_she_withdrew_it(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna)
    await anna.press_payload("idea.comment:1")
    await anna.press_payload("idea.withdraw:1!")
    assert anna.keys == ["ideas.withdrawn"]
    await anna.send("Nog een aanvulling op mijn idee.")
    assert anna.keys == ["comments.not_placed", "ideas.withdrawn_yours"]
    await anna.press_payload("idea.comments:1")
    assert anna.keys == ["ideas.withdrawn_yours"]
