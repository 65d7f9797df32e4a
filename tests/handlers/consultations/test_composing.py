"""Composing a poll the way staff do on a phone: answer options typed one per message and
collected (across a restart, never past a revoked role), and "Verder met je peiling" back to
where the composer was, the preview with its buttons included."""

from __future__ import annotations

from bot.app import App
from bot.settings import Settings
from handlers.contract import Role
from storage.consultations.model import QuestionKind
from tests.consultations import button, compose_poll, last_consultation, outbox_of, seen
from tests.markup import assert_user_text_literal
from tests.people import civil_servant, person, with_role
from tests.people import row as stored
from tests.support import Chat


async def _to_the_options(ria: Chat, kind: str = "Eén keuze") -> None:
    await ria.send("/nieuwepeiling")
    await ria.send("Speelplek")
    await ria.send("Wat vind jij belangrijk?")
    await ria.press(kind)
    await ria.send("Wat moet er komen?")
    assert ria.keys == ["consultations.ask_options"]


async def _finish(ria: Chat) -> None:
    """From the question list to the preview, for everyone, open now."""
    await ria.press("Klaar met de vragen")
    await ria.send("We laten het je weten.")
    await ria.press("Iedereen")
    await ria.press("Meteen")
    await ria.press("Na 7 dagen")
    assert ria.keys[0] == "consultations.preview_intro", ria.keys


async def _options_of_the_draft(app: App) -> list[str]:
    draft = await app.repos.consultations.get(await last_consultation(app))
    assert draft is not None
    [asked] = draft.questions
    return [option["nl"] for option in asked.options]


def _labels(ria: Chat) -> list[str]:
    return [label for label, _ in ria.buttons()]


async def test_options_typed_one_per_message_are_collected_until_klaar(app: App) -> None:
    anna = await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    assert ria.keys == ["consultations.options_so_far"]
    assert "1. Schommel" in ria.text and "Typ de volgende keuze" in ria.text
    assert not any("Klaar" in label for label in _labels(ria)), "one choice is not a question"
    await ria.send("Klimrek")
    assert "1. Schommel\n2. Klimrek" in ria.text
    assert "✅ Klaar" in _labels(ria)
    # Markup and right-to-left text are a choice's words, shown as typed.
    marked = "<b>Zand</b>bak & ملعب"
    await ria.send(marked)
    [so_far] = ria.last
    rendered = app.catalog.render("nl", so_far.reply, markup=True)
    assert_user_text_literal(rendered, [marked, "Schommel", "Klimrek"])
    # What cannot be a choice is refused kindly, and the choices so far stay.
    await ria.send(" klimrek ")
    assert ria.keys == ["consultations.options_twice", "consultations.options_so_far"]
    await ria.send("x" * 41)
    assert ria.keys[0] == "consultations.option_too_long"
    await ria.send("y" * 400)
    assert ria.keys[0] == "answers.too_long"
    await ria.photo()
    assert ria.keys[0] == "answers.text_please"
    assert "3. " in ria.text and "4. " not in ria.text
    # A few in one message are added together; the eighth is the last.
    await ria.send("Glijbaan\nBankjes; Wip")
    await ria.send("Kabelbaan")
    await ria.send("Trapveld")
    assert "8. Trapveld" in ria.text and "Meer dan 8 keuzes kan niet" in ria.text
    await ria.send("Picknicktafel")
    assert ria.keys == ["consultations.options_too_many", "consultations.options_so_far"]
    assert "Er is niets toegevoegd" in ria.text and "9." not in ria.text
    await ria.press("Laatste keuze weghalen")
    assert "7. Kabelbaan" in ria.text and "Trapveld" not in ria.text
    await ria.send("Picknicktafel")
    await ria.press("Klaar")
    assert ria.keys == ["consultations.ask_more"]
    assert "Je hebt 1 vraag" in ria.text
    await _finish(ria)
    expected = ["Schommel", "Klimrek", marked, "Glijbaan", "Bankjes", "Wip", "Kabelbaan"]
    assert await _options_of_the_draft(app) == [*expected, "Picknicktafel"]
    await ria.press("Publiceren")
    [row] = await outbox_of(app, anna)
    assert seen(app, row)[1].labels()[:8] == [*expected, "Picknicktafel"]


async def test_all_options_in_one_message_still_make_the_question_at_once(app: App) -> None:
    ria = await civil_servant(app)
    await person(app, "anna")
    await _to_the_options(ria, "Meer keuzes")
    await ria.send("Kinderen; Kleinkinderen\nDe hond")
    assert ria.keys == ["consultations.ask_more"]
    await _finish(ria)
    draft = await app.repos.consultations.get(await last_consultation(app))
    assert draft is not None and draft.questions[0].kind is QuestionKind.SEVERAL
    assert await _options_of_the_draft(app) == ["Kinderen", "Kleinkinderen", "De hond"]


async def test_options_collected_so_far_survive_a_restart(app: App, settings: Settings) -> None:
    await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    await ria.send("Klimrek")
    klaar = ria.last
    restarted = await App.open(settings)
    try:
        again = Chat(restarted, "ria")
        await again.send("Zandbak")
        assert "1. Schommel\n2. Klimrek\n3. Zandbak" in again.text
        await again.press_payload(button(klaar, "Klaar"))  # the button before the restart
        assert again.keys == ["consultations.ask_more"]
        await _finish(again)
        assert await _options_of_the_draft(restarted) == ["Schommel", "Klimrek", "Zandbak"]
    finally:
        await restarted.close()


async def test_a_civil_servant_revoked_while_typing_options_cannot_finish_the_question(
    app: App,
) -> None:
    await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    await ria.send("Klimrek")
    klaar = ria.last
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("Zandbak")
    assert "consultations.options_so_far" not in ria.keys
    await ria.press_payload(button(klaar, "Klaar"))
    assert "consultations.ask_more" not in ria.keys
    user = await stored(app, ria)
    assert await app.repos.dialogs.load(user.id) is None
    assert await app.db.fetchval("SELECT COUNT(*) FROM consultations WHERE kind = 'poll'") == 0


async def test_on_matrix_a_typed_number_is_a_choice_and_klaar_finishes(app: App) -> None:
    await person(app, "anna")
    ria = await with_role(app, await person(app, "ria", platform="matrix"), Role.CIVIL_SERVANT)
    await _to_the_options(ria)
    await ria.send("1")  # a choice, not the first button (Stoppen)
    assert ria.keys == ["consultations.options_so_far"]
    await ria.send("2")
    await ria.send("klaar")
    assert ria.keys == ["consultations.ask_more"]
    await _finish(ria)
    assert await _options_of_the_draft(app) == ["1", "2"]


async def test_go_on_after_a_preview_button_shows_the_preview_again(app: App) -> None:
    anna = await person(app, "anna")
    ria = await civil_servant(app)
    preview = await compose_poll(ria)
    await ria.press_payload(button(preview, "Klimrek"))
    assert ria.keys == ["consultations.not_open"]
    await ria.press("Verder met je peiling")
    assert ria.keys == [shown.key for shown in preview]
    assert ria.text == "\n".join(shown.text for shown in preview)
    assert "📤 Publiceren" in _labels(ria)
    await ria.press("Publiceren")
    assert ria.keys == ["consultations.published"]
    assert len(await outbox_of(app, anna)) == 1
    assert await app.db.fetchval("SELECT COUNT(*) FROM consultations WHERE kind = 'poll'") == 1


async def test_go_on_takes_the_composer_back_to_the_options_typed_so_far(app: App) -> None:
    await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    await ria.send("Klimrek")
    await ria.send("/peilingen")
    await ria.press("Verder met je peiling")
    assert ria.keys == ["consultations.options_so_far"]
    assert "1. Schommel\n2. Klimrek" in ria.text
    await ria.press("Klaar")
    assert ria.keys == ["consultations.ask_more"]
    await ria.send("/peilingen")
    await ria.press("Verder met je peiling")
    assert ria.keys == ["consultations.ask_more"]


async def test_a_forged_or_old_klaar_with_too_few_options_adds_no_question(app: App) -> None:
    await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    await ria.send("Klimrek")
    klaar = button(ria.last, "Klaar")
    await ria.press("Laatste keuze weghalen")
    await ria.press_payload(klaar)  # from before a choice was taken away: an old button
    assert ria.keys == ["general.stale_button"]
    user = await stored(app, ria)

    async def forged(value: str) -> str:
        dialog = await app.repos.dialogs.load(user.id)
        assert dialog is not None
        return f"~{dialog.token}:{value}"

    await ria.press_payload(await forged("done"))  # one choice left: no question of it
    assert ria.keys == ["answers.use_buttons", "consultations.options_so_far"]
    await ria.press("Laatste keuze weghalen")
    assert ria.keys == ["consultations.ask_options"]
    await ria.press_payload(await forged("drop"))  # nothing left to take back
    assert ria.keys == ["answers.use_buttons", "consultations.ask_options"]
    await ria.press_payload(await forged("kind"))
    assert ria.keys == ["answers.use_buttons", "consultations.ask_options"]
    await ria.send("Wip; Glijbaan")
    assert ria.keys == ["consultations.ask_more"] and "Je hebt 1 vraag" in ria.text
    await _finish(ria)
    assert await _options_of_the_draft(app) == ["Wip", "Glijbaan"]


async def test_on_matrix_a_lone_number_typed_at_any_step_that_asks_for_words_is_those_words(
    app: App,
) -> None:
    """Every typed step shows "Stoppen" as option 1 on Matrix; a "1" typed there is the
    title, the introduction, the end of a scale or what will be done, never Stoppen."""
    await person(app, "anna")
    ria = await with_role(app, await person(app, "ria", platform="matrix"), Role.CIVIL_SERVANT)
    await ria.send("/nieuwepeiling")
    await ria.send("1")  # too short for a title: asked again, not stopped
    assert ria.keys[-1] == "consultations.ask_title", ria.keys
    await ria.send("2026")
    await ria.send("1")
    assert ria.keys == ["consultations.ask_kind"]
    await ria.press("Schaal van 1 tot 5")
    await ria.send("Hoe vaak kom je er in 2026?")
    await ria.send("1")  # one end only: both are asked for
    assert ria.keys[0] == "consultations.ends_two", ria.keys
    await ria.send("0\n10")
    assert ria.keys == ["consultations.ask_more"]
    await ria.press("Klaar met de vragen")
    await ria.send("1")
    assert ria.keys == ["consultations.ask_audience"], ria.keys
    await ria.press("Iedereen")
    await ria.press("Meteen")
    await ria.send("1")  # no moment: said so, still at the closing time
    assert ria.keys[0] == "composer.when_invalid", ria.keys
    await ria.press("Na 7 dagen")
    assert ria.keys[0] == "consultations.preview_intro", ria.keys
    draft = await app.repos.consultations.get(await last_consultation(app))
    assert draft is not None
    assert (draft.title, draft.intro, draft.follow_up) == (
        {"nl": "2026"},
        {"nl": "1"},
        {"nl": "1"},
    )
    [scale] = draft.questions
    assert (scale.low, scale.high) == ({"nl": "0"}, {"nl": "10"})

    # Staff following it: a "1" for what will be done, or as a closing time, is no Stoppen.
    await ria.press("Publiceren")
    await ria.press_payload(f"cs.fu:{draft.id}")
    await ria.send("1")
    assert ria.keys == ["consultations.follow_up_saved"], ria.keys
    await ria.press_payload(f"cs.mv:{draft.id}")
    await ria.send("1")
    assert ria.keys[0] == "composer.when_invalid", ria.keys
    published = await app.repos.consultations.get(draft.id)
    assert published is not None and published.follow_up == {"nl": "1"}


async def test_a_double_tap_on_taking_the_last_question_or_choice_away_takes_away_one(
    app: App,
) -> None:
    await person(app, "anna")
    ria = await civil_servant(app)
    await _to_the_options(ria)
    await ria.send("Schommel")
    await ria.send("Klimrek")
    await ria.send("Zandbak")
    options = ria.last
    await ria.press_payload(button(options, "Laatste keuze weghalen"))
    assert "1. Schommel\n2. Klimrek" in ria.text and "Zandbak" not in ria.text
    await ria.press_payload(button(options, "Laatste keuze weghalen"))  # the same message
    assert ria.keys == ["general.stale_button"]
    await ria.press("Verder met je peiling")
    assert "1. Schommel\n2. Klimrek" in ria.text
    await ria.press("Klaar")
    for number in (2, 3):
        await ria.press("Nog een vraag")
        await ria.press("Kort eigen antwoord")
        await ria.send(f"Wat wil je nog zeggen over vraag {number}?")
    assert "Je hebt 3 vragen" in ria.text
    more = ria.last
    await ria.press_payload(button(more, "Laatste vraag weghalen"))
    assert "Je hebt 2 vragen" in ria.text
    await ria.press_payload(button(more, "Laatste vraag weghalen"))  # the same message
    assert ria.keys == ["general.stale_button"]
    await ria.press("Verder met je peiling")
    assert "Je hebt 2 vragen" in ria.text
    await _finish(ria)
    draft = await app.repos.consultations.get(await last_consultation(app))
    assert draft is not None and draft.total == 2
    assert await _options_of_the_draft_question(app, 1) == ["Schommel", "Klimrek"]


async def _options_of_the_draft_question(app: App, number: int) -> list[str]:
    draft = await app.repos.consultations.get(await last_consultation(app))
    assert draft is not None
    return [option["nl"] for option in draft.questions[number - 1].options]


async def test_typing_the_closing_choice_as_said_chooses_it(app: App) -> None:
    # The console shows "[Na 7 dagen, 17:00]" to type by name: "Na 7 dagen" is that choice,
    # not a date it cannot read.
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Speelplek")
    await ria.send("Uitleg waarom")
    await ria.press("Eén keuze")
    await ria.send("Wat moet er komen?")
    await ria.send("Klimrek\nSchommel")
    await ria.press("Klaar met de vragen")
    await ria.send("We gebruiken het.")
    await ria.press("Iedereen")
    await ria.press("Meteen")
    await ria.send("na 7 dagen")
    assert ria.keys[0] == "consultations.preview_intro", ria.keys


async def test_coming_back_to_a_poll_at_its_preview_shows_the_preview_again(app: App) -> None:
    # The console, opened again, asks where this person was: at the preview that is the
    # preview with "Publiceren", not "Je bent nog bezig met je peiling. Verder of weggooien?".
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling")
    await ria.send("Speelplek")
    await ria.send("Uitleg waarom")
    await ria.press("Eén keuze")
    await ria.send("Wat moet er komen?")
    await ria.send("Klimrek\nSchommel")
    await _finish(ria)
    await ria.press_payload("resume")
    assert ria.keys[:2] == ["drafts.welcome_back", "consultations.preview_intro"], ria.keys
    await ria.press("Publiceren")
    assert "drafts.open" not in ria.keys


async def test_a_title_typed_over_several_lines_is_one_line(app: App) -> None:
    """The title is one line wherever it shows: the list of polls, its invitation."""
    await person(app, "anna")
    ria = await civil_servant(app)
    await compose_poll(ria, title="Nieuwe\n\nspeelplek   Zeewijk")
    await ria.press("Publiceren")
    anna = Chat(app, "anna")
    await anna.send("/peilingen")
    assert "Nieuwe speelplek Zeewijk: 4 vragen" in anna.text


async def test_the_title_typed_after_the_command_is_kept(app: App) -> None:
    """/nieuwepeiling Speelplek: the introduction is asked next; a title too short is shown
    back with the reason, and the title is asked."""
    ria = await civil_servant(app)
    await ria.send("/nieuwepeiling Speelplek")
    assert ria.keys == ["consultations.ask_intro"]
    await ria.send("/annuleer")
    await ria.send("/newpoll ja")
    assert ria.keys == ["general.typed_not_kept", "answers.too_short", "consultations.ask_title"]
    await ria.send("Speelplek")
    assert ria.keys == ["consultations.ask_intro"]
