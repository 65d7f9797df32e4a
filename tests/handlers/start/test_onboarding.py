"""Onboarding: consent before storing anything, language, neighbourhood, the main menu."""

from __future__ import annotations

from collections.abc import Callable

from bot.app import App
from handlers.contract import Button, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from storage.clock import utcnow
from tests.support import Chat

MakeChat = Callable[..., Chat]


async def test_a_new_resident_consents_chooses_language_and_neighbourhood(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]
    assert "Burgerbeest" in anna.text and "Gemeente Velsen" in anna.text
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None
    assert (stored.display_name, stored.chat_id, stored.language, stored.consent_at) == (
        None,
        None,
        None,
        None,
    )

    await anna.press("Ja, ik doe mee")
    assert anna.keys == ["onboarding.language_question"]
    await anna.press("English")
    assert anna.keys == ["onboarding.neighbourhood_question"]
    assert "I'd rather not say" in [label for label, _ in anna.buttons()]
    await anna.press("Driehuis")
    assert anna.keys == ["onboarding.done"]
    assert "welcome" in anna.text
    assert "❓ Help" in [label for label, _ in anna.buttons()]

    stored = await app.repos.users.find("test", "anna")
    assert stored is not None
    assert stored.consent_at is not None and stored.onboarded_at is not None
    assert (stored.display_name, stored.language, stored.neighbourhood) == (
        "Anna",
        "en",
        "driehuis",
    )


async def test_rather_not_say_stores_no_neighbourhood(app: App, chat: MakeChat) -> None:
    bob = chat("bob")
    await bob.send("/start")
    await bob.press("Ja")
    await bob.press("Nederlands")
    await bob.press("Zeg ik liever niet")
    stored = await app.repos.users.find("test", "bob")
    assert stored is not None and stored.onboarded_at is not None
    assert stored.neighbourhood is None


async def test_declining_keeps_only_the_account_and_says_so_and_what_still_works(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Nee")
    assert anna.keys == ["onboarding.declined"]
    assert "/start" in anna.text
    # It says what is kept, and that is what is kept: the account's number and when.
    assert "alleen wat nodig is" in anna.text and "het nummer van je account" in anna.text
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.consent_at is None and stored.display_name is None
    assert (stored.chat_id, stored.language, stored.neighbourhood) == (None, None, None)
    await anna.send("/mijngegevens")
    assert "Verder niets: alleen je profiel." in anna.text
    await anna.send("/idee")
    assert anna.keys == ["general.consent_needed"]


async def test_reading_the_privacy_statement_first_keeps_the_question_open(
    chat: MakeChat,
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Wat bewaren jullie?")
    assert anna.keys == ["privacy.statement", "onboarding.consent_question"]
    assert "privacy@velsen.nl" in anna.text
    await anna.press("Ja")
    assert anna.keys == ["onboarding.language_question"]


async def test_help_privacy_and_language_work_in_the_middle_of_onboarding(
    chat: MakeChat,
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Ja")
    await anna.send("/help")
    assert anna.keys == ["general.help_title"]
    assert "/annuleer" in anna.text
    await anna.send("/privacy")
    assert anna.keys == ["privacy.statement"]
    # The language question from before the detours still answers.
    anna.history.append(anna.history[-3])
    await anna.press("English")
    assert anna.keys == ["onboarding.neighbourhood_question"]


async def test_the_language_command_switches_language(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/taal")
    await anna.press("English")
    assert anna.keys == ["onboarding.language_set"]
    assert anna.text.startswith("The language is now English")
    await anna.send("/help")
    assert "With Samenspel" in anna.text


async def test_a_language_typed_after_the_command_by_its_name_is_chosen(
    app: App, chat: MakeChat
) -> None:
    """/taal with a language's name, in its own or any catalog language, or its code sets
    it; a word that names no language (or two) offers the buttons and changes nothing."""
    anna = chat("anna")
    await anna.onboard()
    await anna.send("/taal English")
    assert anna.keys[0] == "onboarding.language_set"
    assert anna.text.startswith("The language is now English")
    await anna.send("/taal  türkçe ")
    assert anna.text.startswith("Dil artık: Türkçe")
    for typed, language in (("Arabisch", "ar"), ("pl", "pl"), ("Klingon", "pl")):
        await anna.send(f"/taal {typed}")
        stored = await app.repos.users.find("test", "anna")
        assert stored is not None and stored.language == language
    assert anna.keys == ["onboarding.language_question"]


async def test_choosing_a_language_with_the_command_during_onboarding_goes_on_with_it(
    app: App, chat: MakeChat
) -> None:
    """/taal at the language question answers it: the neighbourhood question follows in
    the language chosen, and onboarding ends as it would have (invitations to a budget
    round reach only those who finished it)."""
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Ja")
    assert anna.keys == ["onboarding.language_question"]
    await anna.send("/taal")
    await anna.press("Polski")
    assert anna.keys == ["onboarding.language_set", "onboarding.neighbourhood_question"]
    assert "Język to teraz: Polski" in anna.text
    assert "W której dzielnicy" in anna.text
    await anna.send("/language")
    await anna.press("English")
    assert anna.keys == ["onboarding.language_set", "onboarding.neighbourhood_question"]
    assert "Which part of" in anna.text
    await anna.press("IJmuiden")
    assert anna.keys == ["onboarding.done"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None
    assert (stored.language, stored.neighbourhood) == ("en", "ijmuiden")
    assert stored.onboarded_at is not None


async def test_choosing_a_language_with_the_command_at_the_consent_question_asks_it_again(
    app: App, chat: MakeChat
) -> None:
    """/taal while the consent question is open reads it again in the language chosen, as
    its own language buttons do, instead of a menu with no way to agree."""
    anna = chat("anna")
    await anna.send("/start")
    await anna.send("/taal")
    await anna.press("Polski")
    assert anna.keys == [
        "onboarding.language_set",
        "onboarding.welcome",
        "onboarding.consent_question",
    ]
    assert "Zgadzasz się?" in anna.text
    await anna.press("Tak, dołączam")
    assert anna.keys == ["onboarding.neighbourhood_question"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None
    assert stored.language == "pl"


async def test_typing_instead_of_pressing_asks_again_and_changes_nothing(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Ja")
    for bad in ("", "x" * 10_000, "<b>vet</b> & zo", "\x00\x01"):
        await anna.send(bad)
        assert anna.keys == ["onboarding.use_buttons", "onboarding.language_question"]
    await anna.photo()
    assert anna.keys[0] == "onboarding.use_buttons"
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.language is None


async def test_a_resident_may_type_the_answers_instead_of_pressing(
    app: App, chat: MakeChat
) -> None:
    # Many people answer "Ga je akkoord?" by typing "ja", and name their language and
    # neighbourhood the way they write them.
    anna = chat("anna")
    await anna.send("/start")
    await anna.send("ja!")
    assert anna.keys == ["onboarding.language_question"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.consent_at is not None
    await anna.send("Engels")
    assert anna.keys == ["onboarding.neighbourhood_question"]
    await anna.send("velsen noord")
    assert anna.keys == ["onboarding.done"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.onboarded_at is not None
    assert (stored.language, stored.neighbourhood) == ("en", "velsen-noord")

    bob = chat("bob")
    await bob.send("/start")
    await bob.send("Ja, ik doe mee")  # the button's words typed
    await bob.send("nederlands")
    await bob.send("🙂 Zeg ik liever niet")
    stored = await app.repos.users.find("test", "bob")
    assert stored is not None and stored.onboarded_at is not None
    assert (stored.language, stored.neighbourhood) == ("nl", None)


async def test_typed_nee_declines_and_a_typed_language_reads_the_question_in_it(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.send("English")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]
    assert "Do you agree?" in anna.text
    await anna.send("No thanks")
    assert anna.keys == ["onboarding.declined"]
    # Capitals and accents do not count, in any catalog language (Turkish "HAYIR" is no).
    emre = chat("emre")
    await emre.send("/start")
    await emre.send("HAYIR")
    assert emre.keys == ["onboarding.declined"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.consent_at is None and stored.language is None


async def test_typed_text_that_names_no_single_choice_asks_again_and_changes_nothing(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.send("/start")
    for unclear in ("ja nee", "misschien", "Ja, maar eerst een vraag", "1"):
        await anna.send(unclear)
        assert anna.keys == ["onboarding.use_buttons", "onboarding.consent_question"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.consent_at is None
    await anna.send("Akkoord")
    await anna.send("NL")
    # Part of a name is not the place: nothing is stored until it is clear.
    for unclear in ("Noord", "Santpoort", "Velsen", "Amsterdam", "ijmuiden " * 20):
        await anna.send(unclear)
        assert anna.keys == ["onboarding.use_buttons", "onboarding.neighbourhood_question"]
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.onboarded_at is None and stored.neighbourhood is None
    await anna.send("IJMUIDEN")
    stored = await app.repos.users.find("test", "anna")
    assert stored is not None and stored.neighbourhood == "ijmuiden"


async def test_names_with_markup_are_kept_literally(app: App, chat: MakeChat) -> None:
    eve = chat("eve", name="<b>Eve</b> & co")
    await eve.onboard()
    stored = await app.repos.users.find("test", "eve")
    assert stored is not None and stored.display_name == "<b>Eve</b> & co"


async def test_unknown_commands_and_stale_buttons_get_a_friendly_answer(
    app: App, chat: MakeChat
) -> None:
    anna = chat("anna")
    await anna.onboard()
    before = await app.repos.users.find("test", "anna")
    await anna.send("/bestaatniet")
    assert anna.keys == ["general.unknown_command"]
    await anna.press_payload("~abcdef:yes")
    assert anna.keys == ["general.stale_button"]
    await anna.press_payload("nonsense:1:2")
    assert anna.keys == ["general.stale_button"]
    await anna.send("blablabla")
    assert anna.keys == ["general.not_understood"]
    after = await app.repos.users.find("test", "anna")
    assert before is not None and after is not None
    assert before.model_dump(exclude={"last_seen_at"}) == after.model_dump(
        exclude={"last_seen_at"}
    )


async def test_a_first_message_without_start_gets_the_welcome(chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.send("hoi")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]


async def test_an_english_phone_gets_english_before_choosing(chat: MakeChat) -> None:
    john = chat("john", language_hint="en-GB")
    await john.send("/start")
    assert "Welcome to" in john.text


async def test_a_start_payload_is_kept_until_onboarding_is_done(app: App) -> None:
    feature = Feature("posters")

    @feature.deep_link("poster")
    async def open_idea(ctx: Context) -> Response:
        return respond(Reply(key="raw", params={"text": f"poster {ctx.value}"}))

    from bot.router import Router
    from handlers import FEATURES
    from handlers.feature import Registry

    app.router = Router(
        app.repos, Registry([*FEATURES, feature]), app.profile, app.catalog, app.settings.zone
    )
    anna = Chat(app, "anna")
    await anna.send("/start poster_42")
    await anna.press("Ja")
    await anna.press("Nederlands")
    await anna.press("IJmuiden")
    assert anna.keys == ["onboarding.done", "raw"]
    assert anna.last[1].text == "poster 42"
    # An onboarded resident opening a link goes straight there.
    await anna.send("/start poster_7")
    assert anna.last[-1].text == "poster 7"


async def test_the_menu_offers_only_what_the_person_may_use(app: App, chat: MakeChat) -> None:
    anna = chat("anna")
    await anna.send("/start")
    await anna.press("Nee")
    labels = [label for label, _ in anna.buttons()]
    assert "💡 Idee insturen" not in labels  # needs consent
    assert "🌐 Taal" in labels and "❓ Hulp" in labels
    assert isinstance(anna.last[0].reply.buttons[0][0], Button)


async def test_a_poster_link_opens_for_someone_who_declines_but_asks_consent_to_join(
    app: App,
) -> None:
    ids = {e.slug: e.id for e in await app.repos.experiments.running()}
    lotte = Chat(app, "lotte")
    await lotte.send(f"/start exp_{ids['geveltuintjes']}")
    await lotte.press("Nee, liever niet")
    assert lotte.keys == ["onboarding.declined", "experiments.card"]
    assert "Geveltuintjes" in lotte.text
    # Reading is open to everyone; taking part still needs consent.
    await lotte.press("Doe mee")
    assert lotte.keys == ["general.consent_needed"]
    user = await app.repos.users.find("test", "lotte")
    assert user is not None and user.consent_at is None
    assert await app.repos.experiments.participants(ids["geveltuintjes"]) == []


async def test_an_invite_link_grants_nothing_to_someone_who_declines(app: App) -> None:
    async with app.db.transaction():
        code, _ = await app.repos.invites.create(Role.CONNECTOR, utcnow())
    ria = Chat(app, "ria")
    await ria.send(f"/start inv_{code}")
    await ria.press("Nee, liever niet")
    assert ria.keys == ["onboarding.declined"]
    user = await app.repos.users.find("test", "ria")
    assert user is not None and user.role is Role.RESIDENT
    invite = await app.repos.invites.find(code)
    assert invite is not None and not invite.used


async def test_the_welcome_offers_the_other_languages_before_asking_consent(
    app: App, chat: MakeChat
) -> None:
    amal = chat("amal", language_hint="nl")
    await amal.send("/start")
    labels = [label for label, _ in amal.buttons()]
    assert labels == [
        "✅ Ja, ik doe mee",
        "🔒 Wat bewaren jullie?",
        "Nee, liever niet",
        *["English", "العربية", "Polski", "Türkçe", "Українська"],
    ]
    await amal.press("العربية")
    # The welcome and the question again, now in Arabic; nothing is stored yet.
    assert amal.keys == ["onboarding.welcome", "onboarding.consent_question"]
    assert amal.text == "\n".join(
        app.catalog.render("ar", seen.reply, markup=False) for seen in amal.last
    )
    stored = await app.repos.users.find("test", "amal")
    assert stored is not None and stored.language is None and stored.consent_at is None
    await amal.press("🔒")
    assert amal.keys == ["privacy.statement", "onboarding.consent_question"]
    assert "الخصوصية" in amal.text
    # Agreeing stores the language chosen, and the question is not asked again.
    await amal.press("✅")
    assert amal.keys == ["onboarding.neighbourhood_question"]
    stored = await app.repos.users.find("test", "amal")
    assert stored is not None and stored.language == "ar"


async def test_someone_who_declines_reads_in_the_language_they_chose_without_it_stored(
    app: App, chat: MakeChat
) -> None:
    amal = chat("amal", language_hint="nl")
    await amal.send("/start")
    await amal.press("Nee, liever niet")
    await amal.send("/taal")
    assert amal.keys == ["onboarding.language_question"]
    await amal.press("English")
    assert amal.keys == ["onboarding.language_set"]
    assert amal.text.startswith("The language is now English.")
    assert "only remember your language for this conversation" in amal.text
    # It lasts while they read, typed commands included ...
    await amal.send("/ideeen")
    await amal.send("/experimenten")
    assert amal.keys == ["experiments.list_title"]
    assert amal.text == "\n".join(
        app.catalog.render("en", seen.reply, markup=False) for seen in amal.last
    )
    # ... and is not stored as theirs.
    stored = await app.repos.users.find("test", "amal")
    assert stored is not None and stored.language is None and stored.consent_at is None
    # Starting again asks consent in that language; agreeing stores it.
    await amal.send("/start")
    assert "Welcome to" in amal.text
    await amal.press("Yes")
    assert amal.keys == ["onboarding.neighbourhood_question"]
    stored = await app.repos.users.find("test", "amal")
    assert stored is not None and stored.language == "en"


async def test_stopping_onboarding_after_agreeing_says_what_was_kept(
    app: App, chat: MakeChat
) -> None:
    bram = chat("bram", name="Bram")
    await bram.send("/start")
    await bram.press("Ja")
    await bram.send("/annuleer")
    assert bram.keys == ["onboarding.cancelled"]
    assert "niet bewaard" not in bram.text
    assert "je chatnaam" in bram.text and "/vergeetmij" in bram.text
    user = await app.repos.users.find("test", "bram")
    assert user is not None and user.consent_at is not None and user.display_name == "Bram"
    # Before agreeing nothing of onboarding was kept, and that is what is said.
    lotte = chat("lotte")
    await lotte.send("/start")
    await lotte.send("/annuleer")
    assert lotte.keys == ["general.cancelled"]


async def test_typed_geen_at_the_neighbourhood_question_means_rather_not_say(
    app: App, chat: MakeChat
) -> None:
    # "In welke wijk woon je?" is often answered with "geen" or "nee", the way people say
    # they would rather not tell: the same as the button, in any catalog language.
    for who, typed in (("anna", "geen"), ("bob", "Nee."), ("carl", "none"), ("dana", "Brak")):
        resident = chat(who)
        await resident.send("/start")
        await resident.press("Ja")
        await resident.press("Nederlands")
        await resident.send(typed)
        assert resident.keys == ["onboarding.done"], typed
        stored = await app.repos.users.find("test", who)
        assert stored is not None and stored.onboarded_at is not None
        assert stored.neighbourhood is None


async def test_a_double_tap_on_yes_leads_back_to_the_language_question(
    app: App, chat: MakeChat
) -> None:
    # On a slow network the first tap seems to do nothing, so people tap again: the
    # second tap meets a question already answered, and must not leave them at the menu.
    anna = chat("anna")
    await anna.send("/start")
    welcome = anna.buttons()
    await anna.press("Ja")
    await anna.press_payload(next(payload for label, payload in welcome if "Ja" in label))
    assert anna.keys == ["general.stale_button"]
    await anna.press("Verder")
    assert anna.keys[-1] == "onboarding.language_question"
    await anna.press("Nederlands")
    assert anna.keys == ["onboarding.neighbourhood_question"]
