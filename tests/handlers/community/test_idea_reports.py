"""Reported ideas: residents report them, the connector hides or removes them with a reason,
the author hears why and the reporters hear the outcome; what is taken down leaves the open
data. Reported comments: their reporters hear the outcome too."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.admin.open_data import export_open_data
from bot.app import App
from storage.clock import utcnow
from storage.community.reports import Flag
from storage.ideas.ideas import IdeaStatus, Removal
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import audit_actions, connector, for_user, person, row
from tests.support import Chat

TITLE = "Bel 06-12345678 voor goedkope zonnepanelen"
DESCRIPTION = "Koop nu bij mijn bedrijf, de beste prijs van Velsen, echt waar."


async def _report(chat: Chat, idea: int = 1, reason: str = "Reclame of spam") -> None:
    """Open the idea's card and report it with the buttons."""
    await chat.press_payload(f"idea.open:{idea}")
    await chat.press("Melden")
    assert chat.keys == ["reporting.idea.ask_reason"]
    await chat.press(reason)
    assert chat.keys == ["reporting.thanks"]


async def _reported_idea(app: App, *, reporters: int = 3) -> tuple[Chat, list[Chat]]:
    """Anna sends in idea #1; ``reporters`` residents report it."""
    anna = await person(app, "anna")
    await submit_idea(anna, TITLE, DESCRIPTION)
    others = [await person(app, f"r{n}") for n in range(reporters)]
    for other in others:
        await _report(other)
    return anna, others


def _read_all(folder: Path) -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(folder.rglob("*")) if p.is_file())


async def _published(app: App, folder: Path) -> str:
    """Everything the open-data export writes, as one text."""
    await export_open_data(app, folder, utcnow())
    return _read_all(folder)


async def test_reports_hide_an_idea_at_the_threshold_and_its_author_is_told(app: App) -> None:
    anna, (bob, carl) = await _reported_idea(app, reporters=2)
    idea = await app.repos.ideas.get(1)
    assert idea is not None and not idea.removed  # two reports: still visible
    # One report per person; your own idea has no report button, its payload is refused.
    await bob.press_payload("idea.report:1")
    assert bob.keys == ["reporting.idea.already"]
    await anna.press_payload("idea.open:1")
    assert not any("Melden" in label for label in anna.last[0].labels())
    await anna.press_payload("idea.report:1")
    assert anna.keys == ["reporting.idea.own"]
    # In your own words, for "iets anders".
    dora = await person(app, "dora")
    await dora.press_payload("idea.open:1")
    await dora.press("Melden")
    await dora.press("Iets anders")
    assert dora.keys == ["reporting.ask_note"]
    await dora.send("Dit is reclame met een telefoonnummer.")
    assert dora.keys == ["reporting.thanks"]

    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.removal is Removal.REPORTS
    await dora.send("/ideeen")
    assert "zonnepanelen" not in dora.text
    [told] = await for_user(app, anna, "moderation")
    assert "door meerdere mensen gemeld" in told.text(app, "nl")
    assert (await audit_actions(app))[-1] == "idea.auto_hide"
    # Who reported stays unknown: the bot hid it.
    entry = (await app.repos.audit.about("idea:1"))[-1]
    assert entry.actor_user_id is None
    await carl.press_payload("idea.report:1")
    assert carl.keys == ["reporting.idea.already_hidden"]


DECISIONS = {
    "keep": ("Laten staan", "Dit is een echt idee.", "het blijft staan", False),
    "hide": ("Verbergen", "Reclame hoort hier niet.", "heeft het verborgen", True),
    "remove": ("Verwijderen", "Reclame met een telefoonnummer.", "heeft het verwijderd", True),
}
TOLD = {
    "keep": "het blijft staan",
    "hide": "is verborgen door Burgerbeest",
    "remove": "is verwijderd door Burgerbeest",
}


@pytest.mark.parametrize("decision", list(DECISIONS))
async def test_the_connector_decides_about_a_reported_idea_and_everyone_concerned_hears(
    app: App, tmp_path: Path, decision: str
) -> None:
    anna, reporters = await _reported_idea(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    assert ria.keys == ["moderation.idea.card"]
    assert TITLE in ria.text and DESCRIPTION in ria.text and "verborgen" in ria.text
    assert "reclame of spam: 3" in ria.text
    label, reason, reporters_read, taken_down = DECISIONS[decision]
    await ria.press(label)
    assert ria.keys == [f"moderation.idea.ask_reason_{decision}"]
    await ria.send(reason)
    assert ria.keys == [f"moderation.idea.done_{decision}", "moderation.empty"]

    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.removed is taken_down
    assert await app.repos.reports.open_count(Flag.IDEA, 1) == 0
    # The author hears what was decided and why.
    told = (await for_user(app, anna, "moderation"))[-1].text(app, "nl")
    assert TOLD[decision] in told and reason in told
    # Every reporter hears the outcome (not the reason meant for the author).
    for reporter in reporters:
        [heard] = await for_user(app, reporter, "moderation")
        assert reporters_read in heard.text(app, "nl") and reason not in heard.text(app, "nl")
    entry = (await app.repos.audit.about("idea:1"))[-1]
    assert entry.action == f"idea.{decision}" and entry.reason == reason
    assert entry.detail["author_told"] is True and entry.detail["reporters_told"] == 3
    # What is taken down leaves the open data; what stays is published.
    published = await _published(app, tmp_path / "open-data")
    assert (TITLE in published) is not taken_down
    await reporters[0].press_payload("idea.open:1")
    assert reporters[0].keys == (["ideas.removed"] if taken_down else ["ideas.card"])


async def test_a_hidden_idea_can_be_shown_again_a_removed_one_cannot(
    app: App, tmp_path: Path
) -> None:
    anna, _ = await _reported_idea(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press("Verbergen")
    await ria.send("Even weg tot we het uitgezocht hebben.")
    await ria.send("/wachtrij 1")
    assert ria.keys == ["triage.idea_hidden"]
    assert "Even weg tot we het uitgezocht hebben." in ria.text
    await ria.press("Weer tonen")
    assert ria.keys == ["moderation.idea.restored"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and not idea.removed and idea.removal is None
    assert "weer te zien" in (await for_user(app, anna, "moderation"))[-1].text(app, "nl")
    assert (await audit_actions(app))[-1] == "idea.restore"
    assert TITLE in await _published(app, tmp_path / "again")
    # Reported again and removed: that is for good.
    for n in range(3):
        await _report(await person(app, f"s{n}"))
    await ria.send("/meldingen")
    await ria.press("Verwijderen")
    await ria.send("Toch reclame.")
    await ria.press_payload("mod.restore:1")
    assert ria.keys == ["moderation.idea.not_hidden"]
    await ria.send("/wachtrij 1")
    assert ria.keys == ["triage.idea_not_found"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.removal is Removal.REMOVED


async def test_a_reason_typed_while_reports_hide_the_idea_comes_back_with_where_it_waits(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Een bankje bij het strand", "Graag een bankje bij het strand, echt.")
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("In behandeling")
    assert ria.keys == ["triage.ask_reason"]
    # While Ria types, residents' reports hide the idea until moderation decides.
    for n in range(3):
        await _report(await person(app, f"r{n}"))
    reason = "Het strand is van Rijkswaterstaat, wij mogen daar niets plaatsen."
    await ria.send(reason)
    assert ria.keys == ["triage.idea_reported", "triage.not_sent"]
    assert "gemeld" in ria.text and "kan ik niet vinden" not in ria.text
    assert reason in ria.text
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status is IdeaStatus.SUBMITTED
    assert "idea.status" not in await audit_actions(app)
    assert await for_user(app, anna, "status") == []
    # The dialog is over; the card, a decision button and /wachtrij 1 all say the same.
    await ria.send("Nog een keer")
    assert ria.keys == ["general.not_understood"]  # no step; for the connector no message
    await ria.press_payload("tri.do:i1:in_behandeling")
    assert ria.keys == ["triage.idea_reported"]
    await ria.send("/wachtrij 1")
    assert ria.keys == ["triage.idea_reported"]
    await ria.press("Meldingen")
    assert ria.keys == ["moderation.idea.card"]
    await ria.press("Laten staan")
    await ria.press("Geen toelichting")
    await ria.send("/wachtrij 1")
    assert ria.keys == ["triage.idea_card"]


async def test_an_idea_author_who_is_a_resident_can_be_warned_muted_or_banned_staff_cannot(
    app: App,
) -> None:
    anna, _ = await _reported_idea(app)
    ria = await connector(app)
    await ria.send("/meldingen")
    labels = " ".join(ria.last[0].labels())
    assert "Waarschuwen" in labels and "Dempen" in labels and "Blokkeren" in labels
    await ria.press("Dempen")
    await ria.press("1 week")
    assert ria.keys == ["moderation.idea.ask_reason_mute"]
    await ria.send("Een week pauze van reclame.")
    assert ria.keys == ["moderation.idea.done_mute", "moderation.empty"]
    [mute] = await app.repos.sanctions.of_user((await row(app, anna)).id)
    assert mute.ends_at is not None and mute.comment_id is None
    await anna.send("/idee")
    assert anna.keys == ["moderation.muted"]
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.removal is Removal.HIDDEN
    # A civil servant's idea can be kept, hidden or removed, not more.
    sam = await connector(app, "sam")
    await seed_idea(app, "Spreekuur in het stadhuis", author=(await row(app, sam)).id)
    for n in range(3):
        await _report(await person(app, f"t{n}"), idea=2)
    await ria.send("/meldingen")
    labels = " ".join(ria.last[0].labels())
    assert "Verwijderen" in labels and "Dempen" not in labels
    await ria.press_payload("mod.do:i2:ban")
    assert ria.keys == ["general.stale_button"]
    assert await app.repos.sanctions.of_user((await row(app, sam)).id) == []


async def test_reported_comments_and_ideas_wait_in_one_queue_oldest_first(app: App) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    bob = await person(app, "bob")
    await bob.press_payload("idea.comments:1")
    await bob.press("Meld 1")
    await bob.press("Schelden of beledigend")
    await submit_idea(anna, TITLE, DESCRIPTION)
    await _report(bob, idea=2)
    ria = await connector(app)
    await ria.send("/meldingen")
    assert ria.keys == ["moderation.card"] and "(nog 2 te bekijken)" in ria.text
    await ria.press("Later")
    assert ria.keys == ["moderation.idea.card"] and TITLE in ria.text
    await ria.press("Later")
    assert ria.keys == ["moderation.from_the_start", "moderation.card"]
    # Stopping halfway shows the same card again and changes nothing.
    await ria.press("Laten staan")
    await ria.press("Stoppen")
    assert ria.keys == ["moderation.cancelled", "moderation.card"]
    assert await app.repos.reports.open_count(Flag.COMMENT, 1) == 1


@pytest.mark.parametrize(
    ("label", "heard"), [("Laten staan", "blijft staan"), ("Verbergen", "verborgen")]
)
async def test_the_reporters_of_a_comment_hear_the_outcome(
    app: App, label: str, heard: str
) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    bob, carl = await person(app, "bob"), await person(app, "carl")
    for reporter in (bob, carl):
        await reporter.press_payload("idea.comments:1")
        await reporter.press("Meld 1")
        await reporter.press("Schelden of beledigend")
    ria = await connector(app)
    await ria.send("/meldingen")
    await ria.press(label)
    await ria.send("Zo hebben we het besloten.")
    for reporter in (bob, carl):
        [notice] = await for_user(app, reporter, "moderation")
        text = notice.text(app, "nl")
        assert "Je meldde een reactie bij idee #1" in text and heard in text
        assert "Zo hebben we het besloten." not in text
    entry = (await app.repos.logbook.page(limit=1))[0]
    assert entry.detail["reporters_told"] == 2 and entry.detail["author_told"] is True


async def test_meldingen_on_a_hidden_ideas_triage_card_opens_that_ideas_reports(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Een bankje bij het strand", "Graag een bankje bij het strand, echt.")
    bob = await person(app, "bob")
    await submit_idea(bob, TITLE, DESCRIPTION)
    if bob.keys == ["ideas.similar_intro"]:
        await bob.press("Versturen")
    assert (await app.repos.ideas.get(2)) is not None
    await _report(await person(app, "early"), idea=1)  # the report that waits longest
    for n in range(3):
        await _report(await person(app, f"r{n}"), idea=2)
    ria = await connector(app)
    await ria.send("/wachtrij 2")
    assert ria.keys == ["triage.idea_reported"]
    await ria.press("Meldingen")
    assert ria.keys == ["moderation.idea.card"]
    assert TITLE in ria.text and "Een bankje bij het strand" not in ria.text
    # Decided meanwhile: the button says so and goes on with the next report.
    await ria.press("Laten staan")
    await ria.press("Geen toelichting")
    await ria.press_payload("mod:i2")
    assert ria.keys[0] == "moderation.idea.already_decided"
    assert "Een bankje bij het strand" in ria.text
    # Without a number, or with one that is no report's: the report that waits longest.
    await ria.send("/meldingen")
    assert "Een bankje bij het strand" in ria.text


async def test_an_idea_its_author_changed_while_the_connector_decided_is_shown_again(
    app: App,
) -> None:
    """Reported but still visible (fewer reports than hide it), a new idea can still be
    changed by its author: a decision must be about the idea as it is now."""
    anna, (bob,) = await _reported_idea(app, reporters=1)
    ria = await connector(app)
    await ria.send("/meldingen")
    assert "goedkope zonnepanelen" in ria.text
    await ria.press("Laten staan")
    await anna.press_payload("idea.edit:1")
    await anna.press("Titel aanpassen")
    await anna.send("Iedereen in Velsen is dom en lelijk")
    await anna.press("Opslaan")
    assert anna.keys == ["ideas.edit_saved"]
    await ria.send("Reclame mag niet, maar dit valt mee.")
    assert ria.keys[0] == "triage.edited_meanwhile"
    assert "dom en lelijk" in ria.text
    assert "Reclame mag niet, maar dit valt mee." in ria.text  # the typed reason comes back
    # Nothing was decided: the report stays open, nobody was told.
    assert await app.repos.reports.open_count(Flag.IDEA, 1) == 1
    assert "idea.keep" not in await audit_actions(app)
    assert await for_user(app, bob, "moderation") == []
    # Deciding on the idea as it is now works.
    await ria.press("Verbergen")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "moderation.idea.done_hide"


@pytest.mark.parametrize(
    ("asked", "answer"),
    [
        ("i99", "triage.idea_not_found"),  # no such idea
        ("I99", "triage.idea_not_found"),
        ("i#99", "triage.idea_not_found"),
        ("i2", "triage.idea_not_found"),  # removed for good
        ("i1", "moderation.idea.not_reported"),  # there, but nobody reported it
        ("c99", "moderation.not_found"),
        ("99", "moderation.not_found"),  # a number alone is a comment's
        ("#99", "moderation.not_found"),
        ("c1", "moderation.not_reported"),
        ("r99", "rooms.mod.not_found"),
    ],
)
async def test_reports_asked_for_by_a_number_that_names_no_report_say_so_and_change_nothing(
    app: App, asked: str, answer: str
) -> None:
    """``/meldingen i99`` names nothing: not "already decided", which was not true."""
    await seed_idea(app, "Een speeltuin in Zeewijk")
    await seed_idea(app, "Een bankje bij het strand")
    async with app.db.transaction():
        await app.repos.ideas.remove(2, utcnow(), how=Removal.REMOVED, reason="spam")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Mooi plan, ik help mee.")
    ria = await connector(app)
    actions = await audit_actions(app)

    await ria.send(f"/meldingen {asked}")
    assert ria.keys == [answer, "moderation.empty"]
    assert "besloten" not in ria.text
    # The same through a forged button.
    await ria.press_payload(f"mod:{asked}")
    assert ria.keys == [answer, "moderation.empty"]
    assert await audit_actions(app) == actions
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None
    idea = await app.repos.ideas.get(1)
    assert idea is not None and not idea.removed


@pytest.mark.parametrize(
    "asked", ["i-5", "-5", "i0", "i99999999999999999999", "x5", "i", "🙂", "i1.5", "i١٢"]
)
async def test_reports_asked_for_by_something_that_is_no_report_number_say_how_to_ask(
    app: App, asked: str
) -> None:
    """Not some other card, as if that were the one asked for: how to ask; a forged
    button with it is out of date."""
    await _reported_idea(app)
    ria = await connector(app)
    await ria.send(f"/meldingen {asked}")
    assert ria.keys == ["moderation.usage"]
    assert "/meldingen i12" in ria.text
    await ria.press_payload(f"mod:{asked}")
    assert ria.keys == ["general.stale_button"]
    # Without anything after it: the report that waits longest.
    await ria.send("/meldingen")
    assert ria.keys == ["moderation.idea.card"]
    await ria.send("/meldingen    ")
    assert ria.keys == ["moderation.idea.card"]


async def test_an_idea_whose_reports_were_decided_is_still_already_decided(app: App) -> None:
    await _reported_idea(app)
    ria = await connector(app)
    await ria.send("/meldingen i1")
    await ria.press("Verbergen")
    await ria.send("Hoort hier niet")
    assert (await app.repos.ideas.get(1)).removal is Removal.HIDDEN  # type: ignore[union-attr]
    await ria.send("/meldingen i1")
    assert ria.keys == ["moderation.idea.already_decided", "moderation.empty"]
