"""Someone who declined the privacy statement: offered only what works without it, never
stuck at the consent wall, and nothing they type is lost without a word."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role
from tests.people import outbox, row, with_role
from tests.support import Chat


async def declined(app: App, user_id: str = "lotte", *, language: str | None = None) -> Chat:
    lotte = Chat(app, user_id)
    await lotte.send("/start")
    if language is not None:
        await lotte.press(language)
    await lotte.press("Nee, liever niet" if language is None else "No")
    assert lotte.keys == ["onboarding.declined"]
    return lotte


async def test_the_menu_after_declining_offers_only_what_works_without_consent(
    app: App,
) -> None:
    lotte = await declined(app)
    offered = [payload for _, payload in lotte.buttons()]
    assert offered == ["ideas.list", "exp", "news", "lang", "privacy", "help"]
    # Every button it does offer opens something, none answers "first your consent".
    for payload in offered:
        await lotte.press_payload(payload)
        assert "general.consent_needed" not in lotte.keys, payload
        await lotte.send("/menu")
    # Agreeing later brings the question to the connector into the menu.
    await lotte.send("/start")
    await lotte.press("Ja")
    await lotte.press("Nederlands")
    await lotte.press("IJmuiden")
    assert ("💬 Stel een vraag", "q.new") in lotte.buttons()


async def test_staff_who_never_agreed_are_not_offered_their_desks(app: App) -> None:
    ria = await with_role(app, await declined(app, "ria"), Role.CONNECTOR)
    await ria.send("/menu")
    assert [payload for _, payload in ria.buttons()] == [
        "ideas.list",
        "exp",
        "news",
        "lang",
        "privacy",
        "help",
    ]


async def test_the_consent_wall_has_a_way_back_to_the_menu(app: App) -> None:
    lotte = await declined(app)
    await lotte.press_payload("q.new")
    assert lotte.keys == ["general.consent_needed"]
    assert [label for label, _ in lotte.buttons()] == ["✅ Meedoen", "🔒 Privacy", "⬅️ Menu"]
    await lotte.press("Menu")
    assert lotte.keys == ["menu.title"]


async def test_a_question_typed_after_declining_is_given_back_before_the_welcome(
    app: App,
) -> None:
    lotte = await declined(app)
    await lotte.send("Wanneer wordt de stoep <b>gerepareerd</b>?")
    assert lotte.keys == [
        "general.typed_not_kept",
        "onboarding.welcome",
        "onboarding.consent_question",
    ]
    assert "Wanneer wordt de stoep <b>gerepareerd</b>?" in lotte.last[0].text
    assert await outbox(app) == []
    user = await row(app, lotte)
    assert user.consent_at is None and user.display_name is None


async def test_a_greeting_from_a_newcomer_is_only_welcomed(app: App) -> None:
    newcomer = Chat(app, "nina")
    await newcomer.send("Hallo")
    assert newcomer.keys == ["onboarding.welcome", "onboarding.consent_question"]


async def test_a_thank_you_or_yes_of_a_few_words_from_a_newcomer_is_only_welcomed(
    app: App,
) -> None:
    """A pleasantry is no message for anyone, also before someone takes part: it is not
    handed back as text that was not sent."""
    for n, typed in enumerate(("Goedemorgen allemaal", "ok dank je wel", "ja hoor", "👍")):
        newcomer = Chat(app, f"nina{n}")
        await newcomer.send(typed)
        assert newcomer.keys == ["onboarding.welcome", "onboarding.consent_question"], typed


async def test_a_question_typed_with_a_command_after_declining_is_given_back(
    app: App,
) -> None:
    lotte = await declined(app)
    await lotte.send("/vraag Mag ik een bankje bij de bieb?")
    assert lotte.keys == ["general.typed_not_kept", "general.consent_needed"]
    assert "Mag ik een bankje bij de bieb?" in lotte.text
    await lotte.send("/vraag")
    assert lotte.keys == ["general.consent_needed"]
    assert await outbox(app) == []


async def test_text_typed_while_reading_in_a_chosen_language_is_given_back(app: App) -> None:
    # Declining while reading in English keeps the language for the conversation; no
    # question is open then, so what they type is no answer to one.
    bob = await declined(app, "bob", language="English")
    await bob.send("When is the bin collected?")
    assert bob.keys == [
        "general.typed_not_kept",
        "onboarding.welcome",
        "onboarding.consent_question",
    ]
    assert "When is the bin collected?" in bob.text and "Do you agree?" in bob.text
    # A language chosen before any welcome is the same.
    cees = Chat(app, "cees")
    await cees.send("/taal")
    await cees.press("English")
    await cees.send("Is the pool open on Sunday?")
    assert cees.keys[0] == "general.typed_not_kept"
    assert "Is the pool open on Sunday?" in cees.text and "Do you agree?" in cees.text
    # From there the question is answered as always.
    await cees.send("yes")
    assert cees.keys == ["onboarding.neighbourhood_question"]


async def test_the_privacy_statement_read_from_the_consent_wall_leads_on_to_agreeing(
    app: App,
) -> None:
    lotte = await declined(app)
    await lotte.press_payload("q.new")
    await lotte.press("Privacy")
    assert lotte.keys == ["privacy.statement"]
    # Having read what is stored, agreeing is one press away, not only via /start.
    assert ("✅ Meedoen", "start") in lotte.buttons()
    await lotte.press("Meedoen")
    assert "onboarding.consent_question" in lotte.keys


async def test_someone_who_agreed_is_not_offered_to_join_again_on_the_privacy_page(
    app: App,
) -> None:
    anna = Chat(app, "anna")
    await anna.send("/start")
    await anna.press("Ja")
    await anna.press("Nederlands")
    await anna.press("IJmuiden")
    await anna.send("/privacy")
    assert "start" not in [payload for _, payload in anna.buttons()]


async def test_a_language_chosen_without_consent_lasts_through_another_dialog(app: App) -> None:
    """Someone whose phone is in Arabic declines in Polish and opens /vergeetmij: the
    question, what follows it and what comes after stopping it all stay in Polish."""
    amal = Chat(app, "amal", language_hint="ar")
    await amal.send("/start")
    await amal.press("Polski")
    await amal.press("Nie, dziękuję")
    assert amal.keys == ["onboarding.declined"]
    await amal.send("/vergeetmij")
    assert amal.keys == ["privacy.forget.confirm"]
    await amal.send("/wistjedat")
    assert "Wist je dat" in amal.text
    assert "هل تعلم" not in amal.text
    assert "Czy wiesz" in amal.text or "Wist je dat" in amal.text
    await amal.send("/vergeetmij")
    await amal.press("Jednak nie")
    await amal.send("/menu")
    assert "🌐 Język" in [label for label, _ in amal.buttons()]
    # Erased: nothing is kept, not even the language.
    await amal.send("/vergeetmij")
    await amal.press("Tak, usuń")
    assert amal.keys == ["privacy.forget.done"]
    assert await app.repos.users.find("test", "amal") is None
