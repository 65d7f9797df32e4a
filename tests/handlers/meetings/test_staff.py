"""Only staff organise meetings and see who comes; a role taken away ends that at once. The
list of who registered is removed a period after the meeting (the profile says how long)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

from bot.admin.retention import run_retention
from bot.app import App
from handlers.contract import Role
from tests.consultations import Clock
from tests.meetings import ADDRESS, DESCRIPTION, TITLE, evening, organise
from tests.people import audit_actions, civil_servant, for_user, refused_as_unknown, with_role
from tests.people import person as resident


async def test_residents_and_revoked_staff_cannot_organise_or_see_who_comes(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "Anna")
    bob = await resident(app, "bob")
    await organise(ria, evening(clock.now), audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")

    # Staff see chat names only, and get the door list as a file.
    await ria.press_payload(f"mt.who:{meeting}")
    assert ria.keys == ["meetings.guests"] and "1. Anna" in ria.text
    await ria.press_payload(f"mt.door:{meeting}")
    [door] = ria.last
    assert door.reply.document is not None and door.reply.document.filename.endswith(".csv")
    rows = list(
        csv.reader(io.StringIO(door.reply.document.data.decode("utf-8-sig")), delimiter=";")
    )
    assert rows == [["nr", "naam", "aanmelding", "aanwezig"], ["1", "Anna", "komt", ""]]

    # A resident: no command, no buttons, no names.
    await bob.send("/nieuwebijeenkomst")
    refused_as_unknown(app, bob)
    await bob.send("/bijeenkomsten")
    assert "Beheren" not in [label for label, _ in bob.buttons()]
    for payload in ("mt.new", "mt.staff", "mt.who", "mt.door", "mt.move", "mt.end", "mt.endok"):
        await bob.press_payload(f"{payload}:{meeting}")
        assert bob.keys == ["general.stale_button"], payload
        assert "Anna" not in bob.text and all(s.reply.document is None for s in bob.last)

    # Ria's role is taken away in the middle of organising another one.
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Tweede avond")
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("Nog een avond in de buurt.")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    await ria.press_payload(f"mt.who:{meeting}")
    assert ria.keys == ["general.stale_button"] and "Anna" not in ria.text
    await ria.press_payload(f"mt.door:{meeting}")
    assert ria.keys == ["general.stale_button"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM meetings") == 1


async def test_a_meeting_being_organised_when_the_role_goes_is_given_back(
    app: App, clock: Clock
) -> None:
    """What was written for it (title, description, address) comes with the word that it
    stopped, at the next press or from the operator's revoke alike."""
    ria = await civil_servant(app)
    await organise(ria, evening(clock.now), audience=("Geen uitnodiging",))
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("Publiceren")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    for written in (TITLE, DESCRIPTION, ADDRESS):
        assert written in ria.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM meetings WHERE status != 'draft'") == 0


async def test_the_links_typed_for_a_meeting_come_back_too_when_the_role_goes(app: App) -> None:
    """An online meeting's link (long, and not found again easily) is written as much as
    its title: it comes back with the word that it stopped."""
    ria = await civil_servant(app)
    link = "https://teams.example.org/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0"
    await ria.send("/nieuwebijeenkomst")
    await ria.send(TITLE)
    await ria.send(DESCRIPTION)
    await ria.press("Online")
    await ria.send(link)
    assert ria.keys == ["meetings.ask_starts"], ria.keys
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("morgen 19:00")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    assert TITLE in ria.text and link in ria.text


async def test_a_revoked_organiser_cannot_finish_moving_a_meeting(app: App, clock: Clock) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    starts = evening(clock.now)
    await organise(ria, starts, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(evening(clock.now, days=5).strftime("%d-%m-%Y %H:%M"))
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("2 uur")
    assert ria.keys[0] in ("roles.lost.ambtenaar", "general.stale_button")
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None and stored.starts_at == starts.astimezone(UTC)


async def test_registrations_are_removed_the_profiles_period_after_the_meeting(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    starts = evening(clock.now)
    await organise(ria, starts, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    await bob.press("Ik kom toch niet")  # how often he gave up a place is kept as long
    keep = app.profile.meetings.keep_registrations_days
    assert keep == 30
    given_up = "SELECT COUNT(*) FROM meeting_places_given_up"

    ended = starts.astimezone(UTC) + timedelta(hours=2)
    report = await run_retention(app, ended + timedelta(days=keep) - timedelta(minutes=1))
    assert report.registrations_removed == 0
    assert await app.repos.meetings.people(meeting) != []
    assert await app.db.fetchval(given_up) == 1
    report = await run_retention(app, ended + timedelta(days=keep, minutes=1))
    assert report.registrations_removed == 1
    assert await app.repos.meetings.people(meeting) == []
    assert await app.db.fetchval(given_up) == 0
    # The meeting itself stays (it is the municipality's, and names nobody).
    assert await app.repos.meetings.get(meeting) is not None


async def test_a_meeting_half_organised_is_a_draft_that_is_never_dropped_silently(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    # A screen opened meanwhile offers the way back to it.
    await ria.send("/bijeenkomsten")
    assert ria.keys == ["meetings.none"]
    await ria.press("Ga verder")
    assert ria.keys == ["meetings.ask_description"]
    # Another dialog asks first.
    await ria.send("/nieuwepeiling")
    assert ria.keys == ["drafts.open"] and "je nieuwe bijeenkomst" in ria.text
    await ria.press("Verder")
    assert ria.keys == ["meetings.ask_description"]
    await ria.send("Praat mee over de buurt.")
    assert ria.keys == ["meetings.ask_where"]


async def test_a_meeting_that_began_or_ended_can_no_longer_be_cancelled_or_moved(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    starts = evening(clock.now)
    await organise(ria, starts, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None
    told_before = len(await for_user(app, anna))

    # Before the start Ria opens "Afzeggen?" and the move dialog; she answers after it.
    await ria.press_payload(f"mt.end:{meeting}")
    assert ria.keys == ["meetings.cancel_sure"]
    clock.now = stored.starts_at + timedelta(minutes=10)
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.change_began"] and "al begonnen" in ria.text
    await ria.press("Terug")
    assert ria.keys == ["meetings.staff_options"]
    labels = [label for label, _ in ria.buttons()]
    assert "🕒 Verplaatsen" not in labels and "🚫 Afzeggen" not in labels
    assert "👥 Aanmeldingen" in labels and "📋 Deurlijst (bestand)" in labels
    assert "al begonnen" in ria.text

    clock.now = stored.starts_at - timedelta(hours=1)
    await ria.press_payload(f"mt.move:{meeting}")
    assert ria.keys == ["meetings.ask_move"]
    await ria.send(evening(clock.now, days=5).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.ask_ends"]
    clock.now = stored.starts_at + timedelta(minutes=1)
    await ria.press("2 uur")
    assert ria.keys == ["meetings.change_began"]
    await ria.send("/bijeenkomsten")
    assert ria.keys[0] == "meetings.list_title", "the move dialog ended"

    # Hours after it ended: an old "Beheren" card, or a forged button, changes nothing.
    clock.now = stored.ends_at + timedelta(hours=3)
    await ria.press_payload(f"mt.staff:{meeting}")
    assert ria.keys == ["meetings.staff_options"] and "al voorbij" in ria.text
    assert {p for _, p in ria.buttons()} == {
        f"mt.who:{meeting}",
        f"mt.door:{meeting}",
        "mt.list",
    }
    for payload in ("mt.end", "mt.endok", "mt.move"):
        await ria.press_payload(f"{payload}:{meeting}")
        assert ria.keys == ["meetings.change_over"], payload
    # What staff can still do with it: the names and the door list.
    await ria.press_payload(f"mt.who:{meeting}")
    assert ria.keys == ["meetings.guests"] and "1. Anna" in ria.text
    await ria.press_payload(f"mt.door:{meeting}")
    assert ria.last[0].reply.document is not None

    after = await app.repos.meetings.get(meeting)
    assert after is not None and not after.cancelled and after.version == stored.version
    assert after.starts_at == stored.starts_at and after.ends_at == stored.ends_at
    assert await app.repos.meetings.people(meeting) != [], "registrations kept"
    assert len(await for_user(app, anna)) == told_before, "nobody told anything"
    assert [m.id for m in await app.repos.meetings.published()] == [meeting]
    assert "meeting.cancel" not in await audit_actions(app)
    assert "meeting.move" not in await audit_actions(app)


async def test_a_meeting_cancelled_by_a_colleague_during_a_move_ends_the_move_at_once(
    app: App, clock: Clock
) -> None:
    """Ria is moving the meeting when Sam cancels it: her next answer hears that it is off,
    instead of being asked for its end, to be told only then that nothing moved."""
    ria, sam = await civil_servant(app), await civil_servant(app, "sam")
    starts = evening(clock.now)
    await organise(ria, starts, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await ria.press_payload(f"mt.move:{meeting}")
    assert ria.keys == ["meetings.ask_move"]

    await sam.press_payload(f"mt.end:{meeting}")
    await sam.press("Ja, afzeggen")
    assert sam.keys == ["meetings.cancelled_done"]

    await ria.send(evening(clock.now, days=5).strftime("%d-%m-%Y %H:%M"))
    assert ria.keys == ["meetings.was_cancelled"]
    await ria.send("/bijeenkomsten")
    assert ria.keys[0] == "meetings.none", "the move dialog ended"
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None and stored.cancelled and stored.starts_at == starts


async def test_with_no_experiment_running_a_meeting_is_not_offered_to_belong_to_one(
    app: App, clock: Clock
) -> None:
    """Not a picker with nothing in it but "back": the meeting can belong to a theme, and
    an old "Bij een experiment" (from before the last one ended) says there is none."""
    ria = await civil_servant(app)
    await ria.send("/nieuwebijeenkomst")
    await ria.send("Buurtavond")
    await ria.send("We praten over de buurt.")
    await ria.press("Online")
    await ria.send("https://meet.example.org/buurt")
    await ria.send(evening(clock.now).strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    await ria.send("20")
    assert ria.keys == ["meetings.ask_about"]
    [(_, experiment)] = [(lb, p) for lb, p in ria.buttons() if "Bij een experiment" in lb]
    async with app.db.transaction():
        for running in await app.repos.experiments.running():
            await app.repos.experiments.end(running.id)
    await ria.press_payload(experiment)
    assert ria.keys == ["composer.no_experiment", "meetings.ask_about_theme"]
    assert not any("experiment" in label for label, _ in ria.buttons())
    await ria.press("Bij een thema")
    assert ria.keys == ["meetings.ask_pick"]
    await ria.press("Terug")
    assert ria.keys == ["meetings.ask_about_theme"]
    # Inviting its participants is not offered either.
    await ria.press("Nee")
    await ria.press("Ja, nodig")
    assert ria.keys == ["meetings.ask_audience"]
    assert not any("experiment" in label.lower() for label, _ in ria.buttons())


async def test_staff_open_a_meeting_that_ended_to_read_who_came_and_residents_do_not(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    tom = await with_role(app, await resident(app, "tom"), Role.CONNECTOR)
    anna = await resident(app, "anna")
    await organise(ria, evening(clock.now), audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None
    clock.now = stored.ends_at + timedelta(days=2)

    for staff in (ria, tom):
        await staff.send("/bijeenkomsten")
        assert staff.keys == ["meetings.none"]
        await staff.press("Afgelopen")
        assert staff.keys == ["meetings.past_title"] and "Buurtavond Zeewijk" in staff.text
        await staff.press("Buurtavond Zeewijk")
        assert staff.keys == ["meetings.card"] and "al voorbij" in staff.text
        labels = [label for label, _ in staff.buttons()]
        assert not any("Ik kom" in label for label in labels)
        await staff.press("Beheren")
        assert staff.keys == ["meetings.staff_options"]
        await staff.press("Aanmeldingen")
        assert staff.keys == ["meetings.guests"] and "1. Anna" in staff.text

    # Residents' list is as it was: no way into meetings that are over.
    await anna.send("/bijeenkomsten")
    assert anna.keys == ["meetings.none"]
    assert not any("Afgelopen" in label for label, _ in anna.buttons())
    await anna.press_payload("mt.past")
    assert "Buurtavond Zeewijk" not in anna.text
    # A role taken away between two taps: the list of the past is gone with it.
    await with_role(app, ria, Role.RESIDENT)
    await ria.press_payload("mt.past:1")
    assert "Buurtavond Zeewijk" not in ria.text


async def test_managing_a_meeting_a_colleague_cancelled_says_it_is_off(
    app: App, clock: Clock
) -> None:
    """Sam opened the card before Ria cancelled it: "Beheren", and an older "Aanmeldingen"
    or "Deurlijst", say the meeting is off, not that nobody signed up for a meeting that
    still seems planned."""
    ria, sam = await civil_servant(app), await civil_servant(app, "sam")
    anna = await resident(app, "anna")
    await organise(ria, evening(clock.now), capacity=3, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await sam.send("/bijeenkomsten")
    await sam.press(TITLE)
    assert sam.keys == ["meetings.card"]

    await ria.press_payload(f"mt.end:{meeting}")
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.cancelled_done"]

    await sam.press("Beheren")
    assert sam.keys == ["meetings.was_cancelled"] and "gaat niet door" in sam.text
    assert sam.buttons() == [("📅 Alle bijeenkomsten", "mt.list")]
    for action in ("mt.who", "mt.door"):
        await sam.press_payload(f"{action}:{meeting}")
        assert sam.keys == ["meetings.was_cancelled"], action
        assert sam.last[0].reply.document is None
    assert "meeting.door_list" not in await audit_actions(app)
