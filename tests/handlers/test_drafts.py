"""Drafts are never dropped silently, and what is typed is the answer where one is typed.

A person halfway through a dialog who opens the menu, starts it again, starts another one
or types "stop" is asked first; every screen opened beside a draft leads back to it; on
platforms that show buttons as numbered options, a number typed where text or a number is
asked for is that answer, never an option.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import handlers
from bot.app import App
from handlers.contract import Dialog, Reply, Response, Role, respond
from handlers.feature import Context, Feature, Registry
from storage.clock import utcnow
from tests.handlers.ideas.helpers import DESCRIPTION, TITLE, seed_idea
from tests.people import civil_servant, refused_as_unknown
from tests.support import Chat

MakeChat = Callable[..., Chat]


async def _dialog(app: App, chat: Chat) -> tuple[str, str] | None:
    user = await app.repos.users.find(chat.platform, chat.user_id)
    assert user is not None
    stored = await app.repos.dialogs.load(user.id)
    return (stored.name, stored.step) if stored else None


async def _at_title(anna: Chat) -> None:
    await anna.onboard()
    await anna.send("/idee")
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_title"]


# Typed answers on platforms without buttons --------------------------------------------------


async def test_a_number_typed_as_a_budget_is_the_budget_not_the_stop_option(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await anna.onboard()
    await anna.send("/nieuwexperiment")
    await anna.send("Een moestuin in de straat, samen met de buren.")
    await anna.send("Velserbroek")  # the neighbourhood's label chooses it
    await anna.send("De buren")
    assert anna.keys == ["proposals.ask_budget"]
    await anna.send("1")  # the only option shown is "Stoppen"
    assert anna.keys == ["proposals.summary"]
    assert "Geld: €\u00a01" in anna.text
    assert await _dialog(app, anna) == ("proposal", "confirm")


async def test_a_number_typed_as_a_title_or_comment_is_text(app: App, chat: MakeChat) -> None:
    anna = chat("anna", platform="console")
    await _at_title(anna)
    await anna.send("1")
    assert anna.keys == ["ideas.title_too_short", "ideas.ask_title"]
    assert await _dialog(app, anna) == ("idea_submit", "title")

    await seed_idea(app, "Een bankje bij de haven")
    await anna.send("/annuleer")
    await anna.press_payload("idea.comment:1")
    await anna.send("2")
    assert anna.keys == ["comments.added", "comments.title"]
    [comment] = (await app.repos.comments.latest(1)).comments
    assert comment.body == "2"


async def test_at_a_typed_step_options_are_shown_and_chosen_by_label(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await _at_title(anna)
    question = anna.last[-1]
    assert question.reply.by_label
    await anna.send("stoppen")
    assert anna.keys == ["ideas.submit_cancelled"]
    assert await _dialog(app, anna) is None


async def test_at_a_choice_step_a_number_still_chooses(app: App, chat: MakeChat) -> None:
    anna = chat("anna", platform="console")
    await anna.onboard()
    await anna.send("/idee")
    await anna.send("6")
    assert anna.keys == ["ideas.ask_title"]
    assert not anna.last[-1].reply.by_label or anna.last[-1].key == "ideas.ask_title"
    user = await app.repos.users.find("console", "anna")
    assert user is not None
    stored = await app.repos.dialogs.load(user.id)
    assert stored is not None and stored.data["category"] == "duurzaamheid"


# Stop, menu, help, hallo --------------------------------------------------------------------


async def test_stop_alone_in_a_free_text_step_asks_before_throwing_the_draft_away(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("stop")
    assert anna.keys == ["drafts.stop_question"]
    assert "stoppen met je idee" in anna.text
    await anna.press("Nee, ga verder")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send(TITLE)
    assert anna.keys == ["ideas.ask_description"]
    # Punctuation, tabs and emoji around the word are not part of it.
    await anna.send("\t🛑 Stop!")
    assert anna.keys == ["drafts.stop_question"]
    await anna.press("Nee, ga verder")
    await anna.send("Stop!")
    await anna.press("Ja, stoppen")
    assert anna.keys == ["general.cancelled"]
    assert await _dialog(app, anna) is None


async def test_plain_words_outside_a_dialog_mean_what_their_commands_mean(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("menu")
    assert anna.keys == ["menu.title"]
    await anna.send("Help")
    assert anna.keys == ["general.help_title"]
    await anna.send("stop")
    assert anna.keys == ["general.nothing_to_cancel"]
    await anna.send("Hallo!")
    assert anna.keys == ["general.hello"]
    await anna.send("Bedankt!")
    assert anna.keys == ["general.thanks"]
    await anna.send("iets")
    assert anna.keys == ["general.not_understood"]


# Drafts are never dropped silently -------------------------------------------------------


async def test_menu_during_a_draft_offers_to_go_on_or_throw_it_away(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    await anna.send("/menu")
    assert anna.keys == ["drafts.open"]
    assert "nog bezig met je idee" in anna.text
    # Typed at the question instead of a button: asked again, and the text comes back.
    await anna.send(DESCRIPTION)
    assert anna.keys == ["drafts.choose", "general.typed_not_kept", "drafts.open"]
    assert DESCRIPTION in anna.text
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.ask_description"]
    await anna.send(DESCRIPTION)
    assert anna.keys == ["ideas.ask_neighbourhood"]
    await anna.send("/menu")
    await anna.press("Weggooien")
    assert anna.keys == ["drafts.discarded", "menu.title"]
    assert await _dialog(app, anna) is None
    await anna.send("/annuleer")
    assert anna.keys == ["general.nothing_to_cancel"]


async def test_cancel_still_ends_a_draft_without_asking(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/menu")
    await anna.send("/annuleer")
    assert anna.keys == ["general.cancelled"]
    assert await _dialog(app, anna) is None


async def test_starting_the_dialog_again_asks_first_and_throwing_away_starts_it(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    await anna.send("/idee")
    assert anna.keys == ["drafts.open"]
    assert await _dialog(app, anna) == ("idea_submit", "@open")
    await anna.press("Weggooien")
    assert anna.keys == ["drafts.discarded", "ideas.ask_category"]
    await anna.press("Woningbeleid")
    assert anna.keys == ["ideas.ask_title"]


async def test_start_during_a_draft_asks_first(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/start")
    assert anna.keys == ["drafts.open"]
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send("/start")
    await anna.press("Weggooien")
    assert anna.keys == ["drafts.discarded", "onboarding.welcome_back"]
    assert await _dialog(app, anna) is None


async def test_choosing_a_language_during_a_draft_keeps_it_and_leads_back(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/taal")
    assert anna.keys == ["onboarding.language_question"]
    assert "▶️ Verder met je idee" in anna.last[-1].labels()
    await anna.press("English")
    assert anna.keys == ["onboarding.language_set"]
    await anna.press("Go on with your idea")
    assert anna.keys == ["ideas.ask_title"]
    assert "Give your idea a short title" in anna.text


async def test_another_dialog_started_by_a_button_asks_first(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Een bankje bij de haven")
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    await anna.press_payload("idea.comments:1")
    assert anna.keys == ["comments.title"]
    assert "▶️ Verder met je idee" in anna.last[-1].labels()
    await anna.press("Reageren")
    assert anna.keys == ["drafts.open"]
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.ask_description"]
    await anna.press_payload("idea.comment:1")
    await anna.press("Weggooien")
    assert anna.keys == ["drafts.discarded", "comments.ask"]
    await anna.send("Goed plan!")
    assert anna.keys == ["comments.added", "comments.title"]


async def test_the_similar_ideas_card_leads_back_to_the_draft(app: App, chat: MakeChat) -> None:
    await seed_idea(app, "Meer bankjes in het park", description=DESCRIPTION)
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    await anna.send(DESCRIPTION)
    await anna.press("Sla over")
    await anna.press("Geen foto")
    await anna.press("Versturen")
    assert anna.keys == ["ideas.similar_intro"]
    await anna.press("Bekijk #1")
    assert anna.keys == ["ideas.card"]
    labels = anna.last[-1].labels()
    assert "▶️ Verder met je idee" in labels
    await anna.press("Menu")  # the card's menu button asks before anything goes
    assert anna.keys == ["drafts.open"]
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.similar_intro"]
    await anna.press("Toch versturen")
    assert anna.keys == ["ideas.submitted"]


async def test_help_during_a_draft_names_it_and_leads_back(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/help")
    assert anna.keys == ["general.help_title"]
    assert "Je bent nog bezig met je idee" in anna.text
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.ask_title"]


async def test_a_draft_named_in_help_gets_a_short_way_back(app: App) -> None:
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Nieuwe speelplek")
    await ria.send("/help")
    assert ria.keys == ["general.help_title"]
    assert "Je bent nog bezig met je peiling" in ria.text
    labels = ria.last[-1].labels()
    assert "▶️ Verder met je peiling" in labels
    assert all(len(label) <= 30 for label in labels), labels
    await ria.press("Verder met je peiling")
    assert ria.keys == ["consultations.ask_intro"]  # the question it was at, asked again


async def test_go_on_in_a_dialog_that_cannot_ask_again_points_to_its_question_above(
    app: App, chat: MakeChat
) -> None:
    feature = Feature("no-asking")
    plain = feature.dialog("plain", role=Role.RESIDENT)

    @feature.command("probeer", role=Role.RESIDENT)
    async def start(ctx: Context) -> Response:
        dialog = Dialog(name="plain", step="one")
        return respond(Reply(key="raw", params={"text": "Vraag?"}), dialog=dialog)

    @plain.step("one")
    async def one(ctx: Context, dialog: Dialog) -> Response:
        return respond(Reply(key="raw", params={"text": "ok"}), end_dialog=True)

    app.router.registry = Registry([*handlers.FEATURES, feature])
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/probeer")
    await anna.send("/help")
    await anna.press("Ga verder")
    assert anna.keys == ["drafts.continue_above"] and "Je gaat verder" in anna.text
    assert await _dialog(app, anna) == ("plain", "one")


async def test_someone_back_after_a_long_pause_is_told_where_they_were(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    later = utcnow() + timedelta(hours=3)
    app.router.clock = lambda: later
    await anna.send("hallo")
    assert anna.keys == ["drafts.welcome_back", "ideas.ask_title"]
    assert "Welkom terug! Je was bezig met je idee" in anna.text
    await anna.send(TITLE)  # now it counts
    assert anna.keys == ["ideas.ask_description"]


async def test_a_discard_button_of_another_dialog_discards_nothing(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/menu")
    old_discard = dict(anna.buttons())
    payload = next(p for label, p in anna.buttons() if "Weggooien" in label)
    await anna.press("Verder met je idee")
    await anna.send(TITLE)
    assert old_discard
    await anna.press_payload(payload)  # from before the title: the dialog moved on
    assert "drafts.discarded" not in anna.keys
    assert await _dialog(app, anna) == ("idea_submit", "@open")


async def test_the_console_tells_where_someone_was_when_the_chat_opens_again(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna", platform="console")
    await _at_title(anna)
    await anna.press_payload("resume")
    assert anna.keys == ["drafts.welcome_back", "ideas.ask_title"]
    bob = chat("bob", platform="console")
    await bob.onboard()
    await bob.press_payload("resume")
    assert bob.keys == ["menu.title"], "nothing open: the menu, as after /menu"
    # The same button pressed (or forged) on Telegram is answered too, never left silent.
    cas = chat("cas")
    await cas.onboard()
    await cas.press_payload("resume")
    assert cas.keys == ["menu.title"]


async def test_reading_during_a_draft_keeps_it_and_leads_back(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    for command in ("/ideeen", "/experimenten", "/mijnvragen"):
        await anna.send(command)
        assert "▶️ Verder met je idee" in anna.last[-1].labels(), command
    assert await _dialog(app, anna) == ("idea_submit", "description")
    await anna.press("Verder met je idee")
    assert anna.keys == ["ideas.ask_description"]


async def test_a_long_request_still_fits_in_a_discard_button(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send("/start idee_" + "9" * 80)
    assert anna.keys == ["drafts.open"]
    assert all(len(payload.encode()) <= 64 for _, payload in anna.buttons())
    await anna.press("Weggooien")  # too long to carry: it goes to the menu instead
    assert anna.keys == ["drafts.discarded", "menu.title"]


async def test_forged_discard_buttons_do_only_what_the_person_could_do_anyway(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await _at_title(anna)
    await anna.send(TITLE)
    # Another dialog's token: nothing is thrown away; a staff command is refused as ever.
    await anna.press_payload("^ffffff|/nieuwbericht")
    assert "drafts.discarded" not in anna.keys
    refused_as_unknown(app, anna)
    assert await _dialog(app, anna) == ("idea_submit", "description")
    # A discard inside a discard is not followed.
    await anna.press_payload("^ffffff|^ffffff|menu")
    assert anna.keys == ["general.stale_button"]
    assert await _dialog(app, anna) == ("idea_submit", "description")


async def test_every_dialog_says_what_it_is_about(app: App) -> None:
    # "Welkom terug! Je was bezig met wat je aan het doen was" says nothing: each dialog
    # names what the person was doing, in every catalog.
    vague = [
        name
        for name, spec in app.registry.dialogs.items()
        if spec.subject == "drafts.subject.default"
    ]
    assert vague == []
    for spec in app.registry.dialogs.values():
        if isinstance(spec.subject, str):
            for lang in app.catalog.languages:
                assert spec.subject in app.catalog.texts[lang], (lang, spec.subject)
