"""A message typed outside any dialog: asked what to do with it, then a question to the
connector, an idea with it as its description, or not sent; never just "I don't understand"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.app import App
from bot.platforms.console import parse_line
from handlers.contract import Role
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.localized import Localized
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row, with_role
from tests.privacy import traces
from tests.support import Chat

MakeChat = Callable[..., Chat]
QUESTION = "Wanneer gaat de BBQ-plek aan het strand weer open?"
IDEA = "Er zijn te weinig bankjes in het Velserbeekpark voor ouderen die willen uitrusten."


async def _dialog(app: App, chat: Chat) -> str | None:
    stored = await app.repos.dialogs.load((await row(app, chat)).id)
    return None if stored is None else stored.name


async def test_a_message_outside_any_dialog_can_go_to_the_connector_as_a_question(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send(QUESTION)
    assert anna.keys == ["general.typed_what_now"]
    assert QUESTION in anna.text  # short enough to be shown whole
    assert anna.last[0].labels() == [
        "❓ Als vraag naar Burgerbeest",
        "💡 Maak er een idee van",
        "✖️ Niet versturen",
    ]
    assert await app.repos.questions.open_threads() == []  # nothing sent before the choice
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION
    assert await _dialog(app, anna) is None
    # The connector finds it in the inbox, as any question.
    ria = await connector(app)
    await ria.send("/inbox")
    assert "BBQ-plek" in ria.text
    # The old buttons are stale now; nothing is sent twice.
    await anna.press_payload(anna.history[-2][0].buttons[0][1])
    assert anna.keys == ["general.stale_button"]
    assert len(await app.repos.questions.of_user((await row(app, anna)).id)) == 1


async def test_a_message_in_two_parts_is_sent_as_one(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("Ik heb een vraag over de geveltuinen.")
    await anna.send("Mag ik zelf tegels uit de stoep halen?")
    assert anna.keys == ["general.typed_what_now"]
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == (
        "Ik heb een vraag over de geveltuinen.\n\nMag ik zelf tegels uit de stoep halen?"
    )


async def test_a_message_becomes_the_description_of_a_new_idea(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send(IDEA)
    await anna.press("Maak er een idee van")
    assert anna.keys == ["ideas.from_message", "ideas.ask_category"]
    await anna.press("Duurzaamheid")
    assert anna.keys == ["ideas.ask_title"]
    await anna.send("Meer bankjes in het park")
    # The description is not asked again: it is the message.
    assert anna.keys == ["ideas.ask_neighbourhood"]
    await anna.press("IJmuiden")
    await anna.press("Geen foto")
    assert anna.keys[0] == "ideas.preview"
    assert IDEA in anna.text
    await anna.press("Versturen")
    assert "ideas.submitted" in anna.keys
    [idea] = await app.db.fetchall("SELECT title, description FROM ideas")
    assert (idea["title"], idea["description"]) == ("Meer bankjes in het park", IDEA)


async def test_a_short_message_is_offered_as_a_question_only(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("Lantaarn kapot")  # too short to describe an idea (20 characters)
    assert anna.keys == ["general.typed_what_now"]
    assert [label for label in anna.last[0].labels() if "idee" in label] == []
    # A forged "idea" tap: the words are not taken for a description, nor dropped.
    token = anna.last[0].buttons[0][1].split(":")[0]
    await anna.press_payload(f"{token}:idea")
    assert anna.keys == ["general.typed_idea_unfit", "general.typed_what_now"]
    assert anna.last[0].reply.params["length"] == 13  # the characters that show
    assert await _dialog(app, anna) == "typed_message"


async def test_stray_words_and_media_get_the_general_answers(app: App) -> None:
    anna = await person(app, "anna")
    for typed, key in (
        ("iets", "general.not_understood"),
        ("ok top", "general.thanks"),
        ("Dank je wel!", "general.thanks"),
        ("hallo", "general.hello"),
        ("menu", "menu.title"),
        ("stop", "general.nothing_to_cancel"),
    ):
        await anna.send(typed)
        assert anna.keys == [key], typed
        assert await _dialog(app, anna) is None, typed
    await anna.photo()
    assert anna.keys == ["general.cannot_use_media"]


async def test_words_while_asked_end_the_question_and_nothing_is_sent(app: App) -> None:
    anna = await person(app, "anna")
    for word, keys in (
        ("stop", ["general.typed_dropped"]),
        ("Menu", ["general.typed_dropped", "menu.title"]),
    ):
        await anna.send(QUESTION)
        await anna.send(word)
        assert anna.keys == keys, word
        assert await _dialog(app, anna) is None, word
    await anna.send(QUESTION)
    await anna.photo()  # a photo now: the message still waits for a choice
    assert anna.keys == ["general.typed_choose", "general.typed_what_now"]
    await anna.press("Niet versturen")
    assert anna.keys == ["general.typed_dropped"]
    assert await _dialog(app, anna) is None
    assert await app.repos.questions.open_threads() == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM ideas") == 0


async def test_a_muted_resident_may_send_it_as_a_question_but_not_as_an_idea(app: App) -> None:
    anna = await person(app, "anna")
    ria = await connector(app)
    await anna.send(IDEA)
    idea_button = next(payload for label, payload in anna.buttons() if "idee" in label)

    async def sanction(kind: SanctionKind) -> None:
        async with app.db.transaction():
            await app.repos.sanctions.add(
                (await row(app, anna)).id,
                kind,
                reason="Even afkoelen.",
                by_user_id=(await row(app, ria)).id,
                now=utcnow(),
                ends_at=utcnow().replace(year=utcnow().year + 1)
                if kind is SanctionKind.MUTE
                else None,
            )

    await sanction(SanctionKind.MUTE)
    # Muted between the question and the tap: why, and the message may still go.
    await anna.press_payload(idea_button)
    assert anna.keys == ["moderation.muted", "general.typed_what_now"]
    assert [label for label in anna.last[-1].labels() if "idee" in label] == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM ideas") == 0
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent"]
    # A new message: no idea offered while muted.
    await anna.send("Waarom mag ik geen ideeën meer insturen?")
    assert [label for label in anna.last[0].labels() if "idee" in label] == []
    await sanction(SanctionKind.BAN)
    await anna.press("Als vraag")
    assert anna.keys == ["moderation.banned"]
    assert len(await app.repos.questions.of_user((await row(app, anna)).id)) == 1
    assert await _dialog(app, anna) is None


async def test_a_message_that_grows_too_long_is_not_added_to_and_goes_whole(
    app: App,
) -> None:
    anna = await person(app, "anna")
    long = "Lang verhaal over de buurt. " * 100  # 2,800 characters: a question holds 2,000
    await anna.send(long)
    await anna.send("En " + long)
    # Over 4,096 together: the second part is not added, and she is told.
    assert anna.keys == ["general.typed_too_long", "general.typed_what_now"]
    assert [label for label in anna.last[-1].labels() if "idee" in label] == []  # over 2,000
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent_in_parts", "questions.sent"]
    assert await _dialog(app, anna) is None
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    texts = [message.text for message in asked.messages]
    assert " ".join(texts) == long.strip()  # cut between words, nothing lost
    assert all(len(text) <= 2000 for text in texts)


async def test_markup_in_the_message_is_shown_as_typed(app: App) -> None:
    anna = await person(app, "anna")
    typed = "<b>Hallo</b> & <script>alert(1)</script> wat kost een geveltuin?"
    await anna.send(typed)
    rendered = app.catalog.render("nl", anna.last[0].reply, markup=True)
    assert "&lt;script&gt;" in rendered and "<script>" not in rendered


async def test_on_the_console_a_typed_number_chooses_and_other_text_is_added(
    app: App, chat: MakeChat
) -> None:
    bob = chat("bob", platform="console")
    await bob.onboard()
    await bob.send(QUESTION)
    assert bob.keys == ["general.typed_what_now"]
    await bob.send("1")
    assert bob.keys == ["questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, bob)).id)
    assert asked.messages[0].text == QUESTION


async def test_the_waiting_message_goes_with_an_erasure(app: App) -> None:
    anna = await person(app, "anna")
    secret = "Mijn buurman Jan de Vries parkeert steeds op de stoep."
    await anna.send(secret)
    assert await traces(app.db, ["Jan de Vries"]) != []  # kept while she chooses
    await anna.send("/vergeetmij")
    if any("Ook wissen" in label for label, _ in anna.buttons()):
        await anna.press("Ook wissen")
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]
    assert await traces(app.db, ["Jan de Vries"]) == []


async def test_in_a_group_a_message_is_never_kept(app: App, chat: MakeChat) -> None:
    anna = await person(app, "anna")
    in_group = chat("anna", chat_id="group-1")
    typed = "Wanneer komt de zebrapaadjesploeg langs in Driehuis?"
    await in_group.handle(in_group.event(text=typed, is_group=True))
    assert in_group.keys[0].startswith("general.in_group")
    assert await _dialog(app, anna) is None
    assert await traces(app.db, ["zebrapaadjesploeg"]) == []


async def test_a_thank_you_or_greeting_in_a_few_words_is_no_message_to_send(app: App) -> None:
    """Residents thank and greet in more than one word, in their own language: that gets
    an answer, not the question what to do with it as if it were for the connector."""
    anna = await person(app, "anna")
    for typed, key in (
        ("ok dank je wel", "general.thanks"),
        ("Oké, bedankt!", "general.thanks"),
        ("Top, dank je wel voor je hulp!", "general.thanks"),
        ("Thank you very much", "general.thanks"),
        ("dziękuję bardzo", "general.thanks"),
        ("çok teşekkürler", "general.thanks"),
        ("شكرًا جزيلًا", "general.thanks"),
        ("дуже дякую", "general.thanks"),
        ("Goedemorgen allemaal", "general.hello"),
        ("Oké, is goed hoor", "general.ok"),
    ):
        await anna.send(typed)
        assert anna.keys == [key], typed
        assert await _dialog(app, anna) is None, typed
    # A message with a thank-you in it is still a message.
    await anna.send("Bedankt, maar de lamp is nog steeds kapot")
    assert anna.keys == ["general.typed_what_now"]


async def test_a_thank_you_while_asked_does_not_drop_the_message_unsaid(app: App) -> None:
    """Someone who thanks (or says ok, or hello) instead of choosing thinks the message was
    taken: it was not, so it still waits and they hear so; menu and help say it went."""
    anna = await person(app, "anna")
    await anna.send(QUESTION)
    for typed in ("Bedankt!", "ok dank je wel", "ja", "Hallo"):
        await anna.send(typed)
        assert anna.keys == ["general.typed_not_sent", "general.typed_what_now"], typed
        assert await _dialog(app, anna) == "typed_message", typed
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION  # nothing of the above added to it
    for word, key in (("menu", "menu.title"), ("help", "general.help_title")):
        await anna.send(QUESTION)
        await anna.send(word)
        assert anna.keys == ["general.typed_dropped", key], word
        assert await _dialog(app, anna) is None, word


async def test_a_message_longer_than_is_ever_kept_is_not_stored(app: App, chat: MakeChat) -> None:
    """On Matrix or the console a message can be far longer than Telegram's 4,096: it is
    not kept (nothing could send it), and the writer hears how long it may be."""
    bob = chat("bob", platform="console")
    await bob.onboard()
    await bob.send("Een heel lang verhaal over de zebrapaadjesploeg. " * 1000)
    assert bob.keys == ["answers.too_long"]
    assert bob.last[0].reply.params["max"] == 4096  # what would have been sent, in parts
    assert await _dialog(app, bob) is None
    assert await traces(app.db, ["zebrapaadjesploeg"]) == []


async def test_a_message_hours_later_is_not_glued_to_the_one_left_waiting(app: App) -> None:
    """Someone who wrote, did not choose and comes back hours later with something else:
    the old text is not sent along with the new one (nor shown as what they wrote)."""
    anna = await person(app, "anna")
    await anna.send("De lantaarnpaal bij de school is al weken kapot, kan iemand kijken?")
    old_buttons = anna.buttons()
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE dialogs SET updated_at = ? WHERE user_id = ?",
            ((utcnow() - timedelta(hours=3)).isoformat(), (await row(app, anna)).id),
        )
    await anna.send(QUESTION)
    assert anna.keys == ["general.typed_earlier_not_sent", "general.typed_what_now"]
    assert "lantaarnpaal" not in anna.text
    send = next(payload for label, payload in anna.buttons() if "Als vraag" in label)
    await anna.press_payload(old_buttons[0][1])  # the old question's button: stale
    assert anna.keys == ["general.stale_button"]
    await anna.press_payload(send)
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION


async def test_the_connector_is_not_offered_to_send_a_message_to_themselves(app: App) -> None:
    ria = await connector(app)
    await ria.send(QUESTION)
    assert ria.keys == ["general.not_understood"]
    assert await _dialog(app, ria) is None


async def test_no_thank_you_is_a_pleasantry_too(app: App) -> None:
    """A "Nee, dank je" is said to the bot, not a message for the connector: in every
    language, alone or while a message waits for a choice."""
    anna = await person(app, "anna")
    for typed, key in (
        ("Nee, dank je", "general.thanks"),
        ("Nee hoor, bedankt!", "general.thanks"),
        ("No, thank you", "general.thanks"),
        ("nie, dziękuję", "general.thanks"),
        ("Hayır teşekkürler", "general.thanks"),
        ("Liever niet hoor", "general.ok"),
    ):
        await anna.send(typed)
        assert anna.keys == [key], typed
        assert await _dialog(app, anna) is None, typed
    await anna.send(QUESTION)
    await anna.send("Nee, dank je wel")
    assert anna.keys == ["general.typed_not_sent", "general.typed_what_now"]
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION


async def test_a_row_of_emoji_is_no_message_to_send(app: App) -> None:
    """Ten thumbs up say what one says (ok), and a row of other emoji no words for anyone:
    neither is asked whether to send it to the connector."""
    anna = await person(app, "anna")
    for typed, key in (
        ("👍", "general.ok"),
        ("👍👍👍👍👍 👍👍👍👍👍", "general.ok"),
        ("🙏🙏🙏 ❤️❤️❤️ 🎉🎉🎉", "general.not_understood"),
        ("!!!!!!!!!! ??????", "general.not_understood"),
    ):
        await anna.send(typed)
        assert anna.keys == [key], typed
        assert await _dialog(app, anna) is None, typed
    await anna.send("👍 De bankjes staan er, dank! Wanneer komt de prullenbak?")
    assert anna.keys == ["general.typed_what_now"]


async def test_a_message_too_long_for_one_question_goes_whole_in_parts(app: App) -> None:
    """A message of 2,001 to 4,096 characters is offered as a question: tapping it sends
    all of it, in parts of the same question, instead of asking to type it again shorter."""
    anna = await person(app, "anna")
    paragraph = "De stoep in de Zeeweg ligt al maanden open en niemand weet waarom. " * 15
    long = "\n\n".join(f"{n}. {paragraph.strip()}" for n in range(1, 4))  # about 3,000
    assert 2000 < len(long) <= 4096
    await anna.send(long)
    assert any("Als vraag" in label for label in anna.last[0].labels())
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent_in_parts", "questions.sent"]
    assert await _dialog(app, anna) is None
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    texts = [message.text for message in asked.messages]
    assert texts == long.split("\n\n")  # nothing lost, cut between paragraphs


async def test_made_connector_while_a_message_waits_it_is_not_sent_to_themselves(
    app: App,
) -> None:
    """The role is looked at again when the button is tapped: someone made connector after
    the question was asked hears why it cannot go to the connector, and may still drop it."""
    anna = await person(app, "anna")
    await anna.send(QUESTION)
    await with_role(app, anna, Role.CONNECTOR)
    await anna.press("Als vraag")
    assert anna.keys == ["general.typed_you_are_connector", "general.typed_what_now"]
    assert [label for label in anna.last[-1].labels() if "Als vraag" in label] == []
    assert await app.repos.questions.open_threads() == []
    await anna.press("Niet versturen")
    assert anna.keys == ["general.typed_dropped"]
    assert await _dialog(app, anna) is None


async def test_a_short_yes_or_ok_gets_a_friendly_answer(app: App) -> None:
    """ "Ja hoor", "klopt", a thumbs up: said to the bot, not a message for anyone and not
    something it fails to understand. While a message waits, it still waits."""
    anna = await person(app, "anna")
    for typed in (
        "ja hoor",
        "is goed",
        "oké",
        "prima",
        "klopt",
        "Dat is goed",
        "helemaal goed",
        "okidoki",
        "alright",
        "Sounds good",
        "👍",
        "👍🏽",
        "👌",
    ):
        await anna.send(typed)
        assert anna.keys == ["general.ok"], typed
        assert await _dialog(app, anna) is None, typed
    await anna.send(QUESTION)
    for typed in ("👍", "klopt"):
        await anna.send(typed)
        assert anna.keys == ["general.typed_not_sent", "general.typed_what_now"], typed
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION  # no thumbs glued to it


async def test_words_of_a_pleasantry_in_another_order_are_no_yes(app: App) -> None:
    """A pleasantry is whole phrases: "niet" belongs to "liever niet", so "Niet duidelijk"
    ("not clear") is no "Oké!" (it may be a question), while "Liever niet hoor" is."""
    bob = await person(app, "bob")
    await bob.send("Niet duidelijk")
    assert "general.ok" not in bob.keys
    anna = await person(app, "anna")
    await anna.send("Liever niet hoor")
    assert anna.keys == ["general.ok"]
    await anna.send("Nee hoor, bedankt!")
    assert anna.keys == ["general.thanks"]


async def test_an_older_idea_button_does_not_drop_a_message_grown_too_long_for_one(
    app: App,
) -> None:
    """The first part fitted an idea's description; with the second it is too long. The
    idea button of the first offer (still in the chat) says so, and the message waits."""
    anna = await person(app, "anna")
    first = "Het Velserbeekpark heeft meer bankjes nodig voor ouderen. " * 25  # 1,450
    await anna.send(first)
    old_idea = next(payload for label, payload in anna.buttons() if "idee" in label)
    await anna.send("En verder nog dit. " * 60)  # 1,140 more: over 2,000 together
    assert [label for label in anna.last[-1].labels() if "idee" in label] == []
    await anna.press_payload(old_idea)
    assert anna.keys == ["general.typed_idea_unfit", "general.typed_what_now"]
    assert await _dialog(app, anna) == "typed_message"
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert " ".join(message.text for message in asked.messages).count("En verder") == 60


async def test_a_button_typed_instead_of_pressed_is_that_choice_not_more_message(
    app: App,
) -> None:
    """ "Niet versturen" or "Als vraag naar Burgerbeest" typed (the buttons overlooked) is
    the choice, not words added to the message and sent to the connector with it."""
    anna = await person(app, "anna")
    await anna.send(QUESTION)
    await anna.send("Niet versturen")
    assert anna.keys == ["general.typed_dropped"]
    assert await _dialog(app, anna) is None
    await anna.send(QUESTION)
    await anna.send("als vraag naar Burgerbeest!")
    assert anna.keys == ["questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION


async def test_a_long_message_in_parts_never_cuts_an_emoji_or_accent_in_two(app: App) -> None:
    """A message without a space where a part ends (a row of emoji, Arabic with its vowel
    signs) is cut between whole characters: no family split into its people, no flag into
    two letters, no letter parted from its mark."""
    family, flag, marked = "👨‍👩‍👧", "🇳🇱", "شُكْرًا"
    for unit in (family, flag, marked):
        anna = await person(app, f"anna{len(unit)}")
        long = "Kijk hier: " + unit * (6000 // len(unit.encode("utf-16-le")))
        assert 2000 < len(long.encode("utf-16-le")) // 2 <= 4096
        await anna.send(long)
        await anna.press("Als vraag")
        assert anna.keys == ["questions.sent_in_parts", "questions.sent"], unit
        [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
        texts = [message.text for message in asked.messages]
        assert "".join(texts).replace(" ", "") == long.replace(" ", ""), unit
        assert texts[-1].startswith(unit) and texts[0].endswith(unit), unit


async def test_a_letter_with_more_marks_than_a_question_holds_still_goes_in_parts(
    app: App,
) -> None:
    """One "character" longer than a part (a letter under thousands of accents) is cut
    inside it, rather than never."""
    anna = await person(app, "anna")
    long = "Kijk hier: a" + "\u0301" * 3000
    await anna.send(long)
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent_in_parts", "questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    texts = [message.text for message in asked.messages]
    assert "".join(texts).replace(" ", "") == long.replace(" ", "")
    assert len(texts) == 3


async def test_the_question_button_typed_in_another_language_names_its_connector(
    app: App,
) -> None:
    """Where the connector has another name in English, the English label typed by someone
    who reads Dutch ("As a question to the Community Connector") is that choice too, not
    words added to the message."""
    connector_name = Localized(nl="de Wijkverbinder", en="the Community Connector")
    app.router.profile = app.router.profile.model_copy(update={"connector": connector_name})
    anna = await person(app, "anna")
    await anna.send(QUESTION)
    await anna.send("As a question to the Community Connector")
    assert anna.keys == ["questions.sent"]
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION


async def test_no_part_of_a_long_message_reaches_the_connector_empty(app: App) -> None:
    """A message made long with characters that do not show (zero-width spaces) is no
    longer a question in parts with a blank one for the connector to read."""
    anna = await person(app, "anna")
    await anna.send(QUESTION + "\u200b" * 3000)
    await anna.press("Als vraag")
    assert anna.keys == ["questions.sent"]  # one part that shows: not "in parts"
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert all(message.text.strip("\u200b") for message in asked.messages)
    assert QUESTION in asked.messages[0].text


async def test_a_waiting_message_comes_back_when_something_else_takes_its_place(
    app: App,
) -> None:
    """ "/idee" or "/menu" typed instead of a choice starts something else: the message that
    waited is not sent, and comes back so that nothing she wrote is lost without a word
    (she may copy it into the idea)."""
    anna = await person(app, "anna")
    await anna.send(IDEA)
    assert anna.keys == ["general.typed_what_now"]
    await anna.send("/idee")
    assert anna.keys == ["general.typed_not_kept", "ideas.ask_category"]
    assert IDEA in anna.last[0].text
    assert await _dialog(app, anna) == "idea_submit"
    await anna.send("/stop")
    await anna.send(QUESTION)
    await anna.send("/menu")
    assert anna.keys == ["general.typed_not_kept", "menu.title"]
    assert QUESTION in anna.last[0].text
    assert await _dialog(app, anna) is None
    # Reading something beside it keeps the message waiting, and says nothing of it.
    await anna.send(QUESTION)
    await anna.send("/help")
    assert "general.typed_not_kept" not in anna.keys
    assert await _dialog(app, anna) == "typed_message"


async def test_a_number_typed_on_telegram_is_no_part_of_the_waiting_message(app: App) -> None:
    """On Telegram the choices are buttons without numbers: "2" typed there is someone
    trying to choose, not more of the message, and is not glued to what the connector
    reads; she is asked to press a button, and the message waits as it was."""
    anna = await person(app, "4242", platform="telegram")
    await anna.send(QUESTION)
    assert anna.keys == ["general.typed_what_now"]
    await anna.send("2")
    assert anna.keys == ["general.typed_choose", "general.typed_what_now"]
    assert "2" not in anna.last[-1].text.replace(QUESTION, "")
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION


async def test_a_question_mark_alone_while_a_message_waits_explains_the_choice(
    app: App, chat: MakeChat
) -> None:
    """A "?" typed while the message waits is someone unsure what happens now, not more of
    the message: told that it waits for a choice, with the same buttons, and it stays as
    it was (on Telegram as on the console)."""
    anna = await person(app, "4242", platform="telegram")
    await anna.send(QUESTION)
    offered = anna.last[-1].labels()
    for typed in ("?", "??", "…", " ?! ", "..."):
        await anna.send(typed)
        assert anna.keys == ["general.typed_help", "general.typed_what_now"], typed
        assert anna.last[-1].labels() == offered, typed
        assert "Niet versturen" in anna.last[0].text, typed
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == QUESTION
    bob = chat("bob", platform="console")
    await bob.onboard()
    await bob.send(QUESTION)
    await bob.send("?")
    assert bob.keys == ["general.typed_help", "general.typed_what_now"]
    await bob.send("Het gaat om het strand bij IJmuiden.")  # words are still added to it
    await bob.send("1")
    [asked] = await app.repos.questions.of_user((await row(app, bob)).id)
    assert asked.messages[0].text == f"{QUESTION}\n\nHet gaat om het strand bij IJmuiden."


async def test_the_inbox_shows_the_start_of_a_question_sent_in_parts_and_how_many(
    app: App,
) -> None:
    """A long message goes as one question in parts: the connector's inbox line shows how
    it begins (not how its last part begins) and that it came in parts."""
    anna = await person(app, "anna")
    paragraph = "De stoep in de Zeeweg ligt al maanden open en niemand weet waarom. " * 15
    long = "\n\n".join(f"Deel {n}: {paragraph.strip()}" for n in range(1, 4))
    await anna.send(long)
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert len(asked.messages) == 3
    ria = await connector(app)
    await ria.send("/inbox")
    assert "Deel 1: De stoep" in ria.text
    assert "Deel 3" not in ria.text
    assert "(een lang bericht in 3 delen)" in ria.text
    # A question in one message says nothing of parts.
    bob = await person(app, "bob")
    await bob.send(QUESTION)
    await bob.press("Als vraag")
    await ria.send("/inbox")
    assert ria.text.count("delen)") == 1


async def test_a_slash_before_a_word_of_other_letters_is_typed_text_not_a_command(
    app: App, chat: MakeChat
) -> None:
    """Telegram takes only "/" with ASCII letters, digits and "_" for a command: "/één
    keer nog" is a message like any other, offered to send, also while one waits; our
    own commands (also "/ideeën") and unknown ASCII ones are read as before."""
    anna = await person(app, "4242", platform="telegram")
    typed = "/één keer nog: de lantaarn bij de school is weer kapot"
    await anna.send(typed)
    assert anna.keys == ["general.typed_what_now"]
    await anna.send("/ça va, al drie weken zo")  # added to it, not an unknown command
    assert anna.keys == ["general.typed_what_now"]
    await anna.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, anna)).id)
    assert asked.messages[0].text == f"{typed}\n\n/ça va, al drie weken zo"
    await anna.send("/ideeën")
    assert "general.unknown_command" not in anna.keys
    await anna.send("/IDEE")
    assert anna.keys[0] == "ideas.ask_category"
    await anna.send("/stop")
    await anna.send("/onzin")
    assert anna.keys == ["general.unknown_command"]
    # The console reads a slash the same way, with the text as it was written.
    bob = chat("bob", platform="console")
    await bob.onboard()
    await bob.handle(parse_line("/één  keer\tnog, de stoep ligt open", "bob"))
    assert bob.keys == ["general.typed_what_now"]
    await bob.press("Als vraag")
    [asked] = await app.repos.questions.of_user((await row(app, bob)).id)
    assert asked.messages[0].text == "/één  keer\tnog, de stoep ligt open"
    await bob.handle(parse_line("/menu@samenspel_bot", "bob"))
    assert bob.keys == ["menu.title"]


async def test_on_matrix_text_that_chooses_nothing_at_an_idea_card_shows_its_options_again(
    app: App,
) -> None:
    """At an idea's card on Matrix (numbered options): a "?" or a number the card has not
    is told it was not understood, with the card's options under the same numbers (not
    the main menu's, which took them); a message typed there is still a message, asked
    what to do with."""
    idea = await seed_idea(app, "Meer bankjes in het park")
    bob = await person(app, "@bob:example.org", platform="matrix")
    await bob.press_payload(f"idea.open:{idea.id}")
    card = bob.buttons()
    assert any(payload == f"idea.support:{idea.id}" for _, payload in card), card
    for typed in ("?", "42", "🤷"):
        await bob.send(typed)
        assert bob.keys == ["general.not_understood_options"], (typed, bob.keys)
        assert bob.buttons() == card, typed
    number = 1 + [payload for _, payload in card].index(f"idea.support:{idea.id}")
    await bob.send(str(number))
    supported = await app.db.fetchval("SELECT COUNT(*) FROM idea_supports")
    assert supported == 1, bob.keys
    await bob.press_payload(f"idea.open:{idea.id}")
    await bob.send("De lantaarnpaal bij de school is al weken kapot")
    assert bob.keys == ["general.typed_what_now"], bob.keys


async def test_on_the_console_options_of_a_role_revoked_since_are_not_offered_again(
    app: App,
) -> None:
    """The connector's triage card was on screen when her role was revoked: a "?" gets
    the general answer with her menu now, not the card's buttons she may no longer use."""
    idea = await seed_idea(app, "Meer bankjes in het park")
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CONNECTOR)
    await ria.press_payload(f"idea.open:{idea.id}")
    staff = [p for _, p in ria.buttons() if not app.registry.admits(p, await row(app, ria))]
    assert not staff, staff  # all hers while she is connector
    await ria.send("?")
    assert ria.keys == ["general.not_understood_options"], ria.keys
    await with_role(app, ria, Role.RESIDENT)
    staff = [p for _, p in ria.buttons() if not app.registry.admits(p, await row(app, ria))]
    assert staff, ria.buttons()  # the card's triage buttons, hers no longer
    await ria.send("?")
    assert ria.keys == ["general.not_understood"], ria.keys
