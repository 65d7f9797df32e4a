"""After signing up or leaving, a person can always get back to the meetings or the menu,
and is told only what really happens to their place."""

from __future__ import annotations

from bot.app import App
from tests.consultations import Clock
from tests.meetings import TITLE, evening, organise
from tests.people import civil_servant, subscribe
from tests.people import person as resident


async def _published(app: App, clock: Clock, capacity: int) -> int:
    await subscribe(await resident(app, "dirk"))
    ria = await civil_servant(app)
    await organise(ria, evening(clock.now), capacity=capacity)
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"]
    return int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))


async def test_signed_up_and_waiting_people_can_go_back_to_the_menu(
    app: App, clock: Clock
) -> None:
    meeting = await _published(app, clock, capacity=1)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys[0] == "meetings.registered"
    assert ("⬅️ Menu", "menu") in anna.last[0].buttons
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.waitlisted"]
    assert ("⬅️ Menu", "menu") in bob.buttons()
    assert ("📅 Alle bijeenkomsten", "mt.list") in bob.buttons()
    await bob.press("Menu")
    assert bob.keys == ["menu.title"]


async def test_only_a_place_that_goes_to_someone_is_said_to_go_to_someone(
    app: App, clock: Clock
) -> None:
    meeting = await _published(app, clock, capacity=1)
    anna, bob, cees = [await resident(app, name) for name in ("anna", "bob", "cees")]
    for person in (anna, bob, cees):
        await person.press_payload(f"mt.go:{meeting}")
    assert (anna.keys[0], bob.keys[0], cees.keys[0]) == (
        "meetings.registered",
        "meetings.waitlisted",
        "meetings.waitlisted",
    )
    # Cees leaves the waiting list: his leaving gives nobody a place.
    await cees.press("Ik kom toch niet")
    assert cees.keys == ["meetings.cancelled_mine"] and "plek" not in cees.text
    # Anna leaves: Bob, first on the waiting list, gets her place.
    await anna.press("Ik kom toch niet")
    assert anna.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    assert "Iemand van de wachtlijst krijgt je plek" in anna.text
    # Bob leaves too: nobody is waiting any more.
    await bob.send("/bijeenkomsten")
    await bob.press(TITLE)
    await bob.press("Ik kom toch niet")
    assert bob.keys == ["meetings.cancelled_mine", "meetings.calendar_cancelled"]
    assert "plek" not in bob.text
    await bob.press("Menu")
    assert bob.keys == ["menu.title"]
