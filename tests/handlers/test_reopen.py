"""A chat opened anew in the middle of a dialog (the console started again) asks that
dialog's question again, with its options numbered as before: never only "answer the last
question", which is no longer on the screen and whose numbers no longer choose anything."""

from __future__ import annotations

import handlers
from bot.app import App
from handlers.contract import Role
from handlers.feature import Registry
from storage.ideas.ideas import IdeaStatus, Removal
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row, with_role
from tests.support import Chat

#: Steps that may go without a question to ask again, each with why (none at present).
EXEMPT: dict[tuple[str, str], str] = {}


def test_every_dialog_step_can_ask_its_question_again() -> None:
    registry = Registry(handlers.FEATURES)
    missing = [
        (name, step)
        for name, spec in registry.dialogs.items()
        for step in spec.steps
        if step not in spec.asks and (name, step) not in EXEMPT
    ]
    assert missing == [], "steps without @spec.ask (add one, or exempt it with why)"
    # An ask for a step that does not exist is a typo: it would never be asked.
    unknown = [
        (name, step)
        for name, spec in registry.dialogs.items()
        for step in spec.asks
        if step not in spec.steps
    ]
    assert unknown == []
    assert set(EXEMPT) <= {(n, s) for n, spec in registry.dialogs.items() for s in spec.steps}


async def reopen(chat: Chat) -> None:
    """What the console sends for a person when it starts again."""
    await chat.press_payload("resume")


async def choose(chat: Chat, label: str) -> None:
    """Type the number the last answer shows before ``label`` (as on the console)."""
    labels = [shown for shown, _ in chat.buttons()]
    number = next(i for i, shown in enumerate(labels, 1) if label in shown)
    await chat.send(str(number))


# A civil servant's introduction ----------------------------------------------------------

#: A name with emoji, right-to-left text and what looks like markup.
ODD_NAME = "Ria 🌷 <b>de</b> Vries مرحبا"


async def _at_card_preview(app: App) -> Chat:
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CIVIL_SERVANT)
    await ria.send("/voorstellen")
    await ria.send(ODD_NAME)
    await reopen(ria)  # at a typed step: its departments are chosen by their label
    assert ria.keys == ["drafts.welcome_back", "staff.ask_department"]
    assert any("Openbare ruimte" in label for label, _ in ria.buttons())
    await ria.send("openbare ruimte")
    assert ria.keys == ["staff.ask_work"]
    await ria.send("Ik zorg voor de speelplekken in IJmuiden.")
    await choose(ria, "Zonder foto")
    assert ria.keys == ["staff.preview_intro", "staff.card", "staff.preview_question"]
    return ria


async def test_the_card_preview_is_shown_again_and_its_numbers_still_choose(app: App) -> None:
    ria = await _at_card_preview(app)
    for _ in range(2):  # opened again twice: the same preview each time
        await reopen(ria)
        assert ria.keys == [
            "drafts.welcome_back",
            "staff.preview_intro",
            "staff.card",
            "staff.preview_question",
        ]
        assert ODD_NAME in ria.text and "Openbare ruimte" in ria.text
    await choose(ria, "Opslaan")
    assert ria.keys == ["staff.saved"]
    card = await app.repos.staff.get((await row(app, ria)).id)
    assert card is not None and card.name == ODD_NAME


async def test_a_card_preview_reopened_after_the_role_went_shows_no_staff_options(
    app: App,
) -> None:
    ria = await _at_card_preview(app)
    await with_role(app, ria, Role.RESIDENT)
    await reopen(ria)
    assert ria.keys[0] == "roles.lost.ambtenaar"
    assert not any("Opslaan" in label for label, _ in ria.buttons())
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0
    assert await app.repos.staff.get((await row(app, ria)).id) is None


# The connector's triage ------------------------------------------------------------------


async def _at_department(app: App) -> Chat:
    await seed_idea(app, "Bankjes 🪑 <i>bij</i> de vijver")
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CONNECTOR)
    await ria.send("/wachtrij 1")
    await choose(ria, "Naar een afdeling")
    assert ria.keys == ["triage.ask_department"]
    return ria


async def test_triage_asks_its_department_again_with_the_departments_numbered(
    app: App,
) -> None:
    ria = await _at_department(app)
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "triage.ask_department"]
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "triage.ask_department"]
    await choose(ria, "Openbare ruimte")
    assert ria.keys == ["triage.ask_reason"]
    await reopen(ria)  # the reason, typed: asked again as well
    assert ria.keys == ["drafts.welcome_back", "triage.ask_reason"]
    await ria.send("Zij gaan over bankjes.")
    idea = await app.repos.ideas.get(1)
    assert idea is not None and idea.status is IdeaStatus.FORWARDED


async def test_triage_reopened_after_someone_else_decided_says_so_and_ends(app: App) -> None:
    ria = await _at_department(app)
    sam = await connector(app, "sam")
    await sam.send("/wachtrij 1")
    await sam.press("Niet haalbaar")
    await sam.send("Er is geen plek.")
    await reopen(ria)
    assert ria.keys[:2] == ["drafts.welcome_back", "triage.changed_meanwhile"]
    assert (
        await app.db.fetchval(
            "SELECT COUNT(*) FROM dialogs WHERE user_id = ?", ((await row(app, ria)).id,)
        )
        == 0
    )


async def test_an_experiments_title_typed_before_someone_else_decided_comes_back(
    app: App,
) -> None:
    await seed_idea(app, "Bankjes bij de vijver")
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CONNECTOR)
    await ria.send("/wachtrij 1")
    await ria.press("Snel te doen")
    await ria.send(ODD_NAME)  # the experiment's title
    sam = await connector(app, "sam")
    await sam.send("/wachtrij 1")
    await sam.press("Niet haalbaar")
    await sam.send("Er is geen plek.")
    await reopen(ria)
    assert ria.keys[:2] == ["drafts.welcome_back", "triage.changed_meanwhile"]
    assert ODD_NAME in ria.text, "what she typed is given back, not lost"
    assert await app.repos.experiments.of_idea(1) is None


async def test_triage_reopened_after_the_idea_was_removed_says_it_is_gone(app: App) -> None:
    ria = await _at_department(app)
    async with app.db.transaction():
        await app.repos.ideas.remove(1, app.router.clock(), how=Removal.REMOVED)
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "triage.idea_not_found"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0


async def test_triage_reopened_after_the_role_went_shows_no_departments(app: App) -> None:
    ria = await _at_department(app)
    await with_role(app, ria, Role.RESIDENT)
    await reopen(ria)
    assert ria.keys[0] == "roles.lost.verbinder"
    assert "triage.ask_department" not in ria.keys
    assert not any("Openbare ruimte" in label for label, _ in ria.buttons())


# Moderation: how long a mute lasts ---------------------------------------------------------


async def test_the_mute_period_is_asked_again_and_a_typed_number_is_still_days(
    app: App,
) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    for n in range(3):
        other = await person(app, f"r{n}")
        await other.press_payload("idea.comments:1")
        await other.press("Meld 1")
        await other.press("Schelden of beledigend")
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CONNECTOR)
    await ria.send("/meldingen")
    await ria.press("Dempen")
    assert ria.keys == ["moderation.ask_period"]
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "moderation.ask_period"]
    assert ria.buttons(), "its periods are offered again"
    await ria.send("2")  # typed where days are asked: two days, not the second option
    assert ria.keys == ["moderation.ask_reason_mute"]
    assert "2 dagen" in ria.text
    await reopen(ria)
    assert ria.keys == ["drafts.welcome_back", "moderation.ask_reason_mute"]


# A resident's report in their own words ----------------------------------------------------


async def test_a_report_note_is_asked_again_while_the_comment_can_be_reported(app: App) -> None:
    await seed_idea(app, "Een speeltuin in Zeewijk")
    anna = await person(app, "anna")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin 🙄 <b>gek</b>")
    dora = await person(app, "dora", platform="console")
    await dora.press_payload("idea.comments:1")
    await dora.press("Meld 1")
    await dora.press("Iets anders")
    assert dora.keys == ["reporting.ask_note"]
    await reopen(dora)
    assert dora.keys == ["drafts.welcome_back", "reporting.ask_note"]
    # Hidden by the connector meanwhile: said at once, and the question ends.
    async with app.db.transaction():
        await app.repos.comments.hide(1, "hidden", app.router.clock())
    await reopen(dora)
    assert dora.keys == ["drafts.welcome_back", "reporting.already_hidden"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0
    await dora.send("Dit is niet aardig.")
    assert await app.db.fetchval("SELECT COUNT(*) FROM comment_reports") == 0


async def test_going_on_after_help_asks_the_triage_question_with_its_buttons(app: App) -> None:
    # The same question comes back where buttons are native: "Ga verder" after /help.
    await seed_idea(app, "Bankjes bij de vijver")
    ria = await connector(app)
    await ria.send("/wachtrij 1")
    await ria.press("Naar een afdeling")
    await ria.send("/help")
    await ria.press("Ga verder")
    assert ria.keys == ["triage.ask_department"]
    await ria.press("Openbare ruimte")
    assert ria.keys == ["triage.ask_reason"]


# A contact line for a connection between two residents -------------------------------------


async def test_a_contact_line_is_not_asked_again_for_an_idea_hidden_meanwhile(app: App) -> None:
    # Asked again, Bob would type his e-mail address only to hear that it cannot be passed
    # on: the reason comes at once, and the question ends.
    anna = await person(app, "anna")
    bob = await person(app, "bob", platform="console")
    for who, title in ((anna, "Bankjes in het park"), (bob, "Bankjes bij de vijver")):
        await seed_idea(app, title, author=(await row(app, who)).id)
    await (await connector(app)).send("/verbind #1 #2")
    await bob.press_payload("con.yes:1")
    assert bob.keys == ["connect.ask_contact"]
    await reopen(bob)
    assert bob.keys == ["drafts.welcome_back", "connect.ask_contact"]
    async with app.db.transaction():
        await app.repos.ideas.remove(1, app.router.clock(), how=Removal.HIDDEN, reason="Naam")
    await reopen(bob)
    assert bob.keys == ["drafts.welcome_back", "connect.idea_gone"]
    assert "Bankjes in het park" not in bob.text
    assert await app.db.fetchval("SELECT COUNT(*) FROM dialogs") == 0
    connection = await app.repos.connections.get(1)
    assert connection is not None and connection.answer_of((await row(app, bob)).id) is None
