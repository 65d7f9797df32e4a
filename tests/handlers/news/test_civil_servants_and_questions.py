"""Civil servants' cards, and residents' questions to the connector."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role
from storage.clock import utcnow
from storage.community.questions import Side
from tests.people import civil_servant, person, row, with_role
from tests.support import Chat


async def _card(ria: Chat, name: str = "Ria de Vries") -> None:
    await ria.send("/voorstellen")
    assert ria.keys == ["staff.intro_new", "staff.ask_name"]
    await ria.send(name)
    assert ria.keys == ["staff.ask_department"]
    await ria.press("Openbare ruimte")
    assert ria.keys == ["staff.ask_work"]
    await ria.send("Ik zorg voor de speelplekken in IJmuiden.")
    assert ria.keys == ["staff.ask_photo"]
    await ria.photo(b"\xff\xd8\xff ria")
    assert ria.keys == ["staff.preview_intro", "staff.card", "staff.preview_question"]
    assert "Afdeling: Openbare ruimte" in ria.text
    await ria.press("Opslaan")
    assert ria.keys == ["staff.saved"]


async def test_a_civil_servant_writes_a_card_that_residents_can_read(app: App) -> None:
    ria = await civil_servant(app)
    await _card(ria)
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None and card.name == "Ria de Vries"
    assert card.department_id == "openbare-ruimte" and card.photo_id is not None

    anna = await person(app, "anna")
    await anna.send("/ambtenaren")
    assert anna.keys == ["staff.list_title"]
    assert "Ria de Vries, Openbare ruimte" in anna.text
    await anna.press("Ria de Vries")
    assert anna.keys == ["staff.card"]
    assert anna.last[0].reply.photo_id == card.photo_id
    assert "Werkt aan: Ik zorg voor de speelplekken in IJmuiden." in anna.text
    assert "❓ Stel Ria de Vries een vraag" in anna.last[0].labels()


async def test_a_card_can_be_edited_keeping_what_is_right(app: App) -> None:
    ria = await civil_servant(app)
    await _card(ria)
    await ria.send("/voorstellen")
    assert ria.keys == ["staff.intro_edit", "staff.ask_name"]
    await ria.press("Laat zo")
    await ria.send("Afdeling Groen en Spelen")  # a department typed by hand
    await ria.press("Laat zo")
    await ria.press("Huidige foto houden")
    assert "Afdeling: Afdeling Groen en Spelen" in ria.text
    await ria.press("Opslaan")
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None
    assert (card.name, card.department_id, card.department_text) == (
        "Ria de Vries",
        None,
        "Afdeling Groen en Spelen",
    )
    assert card.work == "Ik zorg voor de speelplekken in IJmuiden." and card.photo_id


async def test_bad_card_answers_are_refused_and_stopping_saves_nothing(app: App) -> None:
    ria = await civil_servant(app)
    await ria.send("/voorstellen")
    await ria.handle(ria.event(unsupported="sticker"))
    assert ria.keys == ["answers.text_please", "staff.ask_name"]
    await ria.send("R" * 81)
    assert ria.keys == ["answers.too_long", "staff.ask_name"]
    await ria.send("Ria")
    await ria.press("Sociaal domein")
    await ria.send("Jeugd en wijkteams")
    await ria.send("hier is geen foto")
    assert ria.keys == ["staff.photo_please", "staff.ask_photo"]
    await ria.press("Stoppen")
    assert await app.repos.staff.get((await row(app, "ria")).id) is None


async def test_a_name_and_department_typed_over_several_lines_are_one_line_each(
    app: App,
) -> None:
    """A name is one line wherever it shows (the list, its button, the question to her);
    what she works on keeps its lines."""
    ria = await civil_servant(app)
    await ria.send("/voorstellen")
    await ria.send("Ria\n\nde    Vries")
    await ria.send("Team\nGroen")
    await ria.send("Speelplekken.\nEn bankjes.")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    anna = await person(app, "anna")
    await anna.send("/ambtenaren")
    assert "• Ria de Vries, Team Groen" in anna.text
    assert ("Ria de Vries", "staff:1") in anna.buttons()
    await anna.press("Ria de Vries")
    assert "Werkt aan: Speelplekken.\nEn bankjes." in anna.text
    await anna.press("Stel")
    assert "Wat wil je vragen aan Ria de Vries?" in anna.text


async def test_a_card_disappears_when_its_owner_is_no_longer_staff(app: App) -> None:
    ria = await civil_servant(app)
    await _card(ria)
    user = await row(app, "ria")
    async with app.db.transaction():
        await app.repos.users.set_role(user.id, Role.RESIDENT)
    anna = await person(app, "anna")
    await anna.send("/ambtenaren")
    assert anna.keys == ["staff.none"]
    await anna.press_payload(f"staff:{user.id}")
    assert anna.keys == ["staff.not_found"]
    await anna.press_payload(f"q.new:{user.id}")
    assert anna.keys == ["staff.not_found"]


async def test_a_card_being_written_when_the_role_goes_is_given_back(app: App) -> None:
    """What she wrote for her card comes with the word that it stopped, not lost unseen."""
    ria = await civil_servant(app)
    await ria.send("/voorstellen")
    await ria.send("Ria de Vries")
    await ria.send("Team <b>Speelplekken</b> & co")
    await ria.send("Ik zorg voor de speelplekken in IJmuiden. 🛝")
    assert ria.keys == ["staff.ask_photo"]
    await with_role(app, ria, Role.RESIDENT)
    await ria.press("Zonder foto")
    assert ria.keys[0] == "roles.lost.ambtenaar"
    for written in ("Ria de Vries", "Team <b>Speelplekken</b> & co", "speelplekken in IJmuiden"):
        assert written in ria.text
    assert await app.repos.staff.get((await row(app, ria)).id) is None


async def test_a_resident_asks_a_civil_servant_through_the_connector(app: App) -> None:
    ria = await civil_servant(app)
    await _card(ria)
    anna = await person(app, "anna")
    await anna.send("/ambtenaren")
    await anna.press("Ria de Vries")
    await anna.press("Stel Ria de Vries een vraag")
    assert anna.keys == ["questions.ask_staff"]
    assert "via Burgerbeest" in anna.text
    await anna.send("Komt er ook een schommel?")
    assert anna.keys == ["questions.sent"]
    [question] = await app.repos.questions.open_threads()
    assert question.staff_user_id == (await row(app, "ria")).id
    assert question.user_id == (await row(app, "anna")).id
    assert [(m.side, m.text) for m in question.messages] == [
        (Side.RESIDENT, "Komt er ook een schommel?")
    ]
    await anna.press("Mijn vragen")
    assert anna.keys == ["questions.mine_title"]
    await anna.press(f"#{question.id} ")
    assert anna.keys == ["questions.thread"]
    assert "Voor Ria de Vries" in anna.text


async def test_a_question_to_the_connector_and_the_answer_in_my_questions(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/mijnvragen")
    assert anna.keys == ["questions.none"]
    await anna.press("Nieuwe vraag")
    assert anna.keys == ["questions.ask"]
    assert "Burgerbeest" in anna.text
    await anna.send("Waar kan ik een buurtfeest aanmelden?")
    assert anna.keys == ["questions.sent"]
    [question] = await app.repos.questions.open_threads()
    async with app.db.transaction():
        await app.repos.questions.add_message(
            question.id, Side.CONNECTOR, None, "Bij de gemeente, ik help je.", utcnow()
        )
    await anna.send("/mijnvragen")
    assert anna.keys == ["questions.mine_title"]
    assert f"Vraag #{question.id} (open, " in anna.text
    await anna.press(f"#{question.id} ")
    assert anna.keys == ["questions.thread"]
    assert f"Vraag #{question.id} (open)" in anna.text
    assert "Jij" in anna.text and "Waar kan ik een buurtfeest aanmelden?" in anna.text
    assert "Burgerbeest" in anna.text and "Bij de gemeente, ik help je." in anna.text

    async with app.db.transaction():
        await app.repos.questions.close(question.id, utcnow())
    await anna.send("/mijnvragen")
    assert "(afgesloten, " in anna.text
    await anna.press(f"#{question.id} ")
    assert "(afgesloten)" in anna.text
    await anna.press(f"Iets toevoegen aan #{question.id}")
    assert anna.keys == ["questions.add_prompt"]
    await anna.send("Dank je! En waar haal ik een vergunning?")
    assert anna.keys == ["questions.added"]
    reopened = await app.repos.questions.get(question.id)
    assert reopened is not None and reopened.is_open and len(reopened.messages) == 3


async def test_a_question_typed_after_the_command_is_sent_at_once(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Hoe laat is de markt?")
    assert anna.keys == ["questions.sent"]
    [question] = await app.repos.questions.open_threads()
    assert question.messages[0].text == "Hoe laat is de markt?"


async def test_a_question_typed_after_the_command_ends_the_question_begun_with_the_button(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.press_payload("q.new")
    assert anna.keys == ["questions.ask"]
    await anna.send("/vraag ?")
    assert anna.keys == ["answers.too_short"]
    # Instead of typing it there, she types it after the command: it is sent, and no
    # question is left open as if it were still to be written.
    await anna.send("/vraag Hoe laat is de markt?")
    assert anna.keys == ["questions.sent"]
    assert not any("Verder" in label for label, _ in anna.buttons())
    assert await app.repos.dialogs.load((await row(app, anna)).id) is None
    await anna.send("Dank je wel!")
    assert anna.keys != ["questions.sent"]
    [question] = await app.repos.questions.open_threads()
    assert [m.text for m in question.messages] == ["Hoe laat is de markt?"]


async def test_bad_questions_are_refused_and_nothing_is_stored(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag")
    await anna.handle(anna.event(unsupported="sticker"))
    assert anna.keys == ["answers.text_please"]
    await anna.send("")
    assert anna.keys == ["answers.empty"]
    await anna.send("x" * 2001)
    assert anna.keys == ["answers.too_long"]
    assert await app.repos.questions.open_threads() == []
    await anna.send("Toch nog een vraag")
    assert anna.keys == ["questions.sent"]


async def test_nobody_can_add_to_someone_elses_thread(app: App) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Mijn eigen vraag")
    [question] = await app.repos.questions.open_threads()
    bob = await person(app, "bob")
    await bob.press_payload(f"q.add:{question.id}")
    assert bob.keys == ["questions.not_found"]
    await bob.send("/mijnvragen")
    assert bob.keys == ["questions.none"]
    assert "Mijn eigen vraag" not in bob.text


async def test_a_number_typed_as_a_name_on_the_console_is_not_the_stop_button(app: App) -> None:
    ria = await with_role(app, await person(app, "ria", platform="console"), Role.CIVIL_SERVANT)
    await ria.send("/voorstellen")
    await ria.send("1")  # the only option shown is "Stoppen"
    assert "general.cancelled" not in ria.keys
    user = await row(app, ria)
    stored = await app.repos.dialogs.load(user.id)
    assert stored is not None and stored.name == "introduce"


async def test_a_direction_override_in_a_name_does_not_turn_the_bots_words_around(
    app: App,
) -> None:
    """A right-to-left override typed in a card's name would turn around what follows it on
    the line ("(persoon 1)" in the audit log): it is left out of the name, its letters and
    an Arabic name's own marks kept."""
    ria = await civil_servant(app)
    await _card(ria, "Ria \u202eseirV ed\u2067")
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None and card.name == "Ria seirV ed"
    admin = await with_role(app, await person(app, "adam"), Role.ADMIN)
    await admin.send("/logboek")
    line = next(line for line in admin.text.splitlines() if "Ria" in line)
    assert line.endswith("Ria seirV ed (persoon 1)"), repr(line)
    # A name saved before with an override in it: the number after it still reads right.
    await app.db.execute("UPDATE staff_cards SET name = ? WHERE user_id = 1", ("Ria \u202e",))
    await admin.send("/logboek")
    line = next(line for line in admin.text.splitlines() if "Ria" in line)
    assert "\u2068Ria \u202e\u2069 (persoon 1)" in line, repr(line)

    sara = await civil_servant(app, "sara")
    await _card(sara, "\u200fسارة\u200f")
    card = await app.repos.staff.get((await row(app, "sara")).id)
    assert card is not None and card.name == "\u200fسارة\u200f"


async def test_the_name_typed_after_the_command_is_the_cards_name(app: App) -> None:
    """/voorstellen Ria de Vries: the department is asked next; a name too long is shown
    back with the reason, and the name is asked."""
    ria = await civil_servant(app)
    await ria.send("/voorstellen Ria\nde Vries")
    assert ria.keys == ["staff.intro_new", "staff.from_command_name", "staff.ask_department"]
    assert "Ria de Vries" in ria.text
    await ria.press("Openbare ruimte")
    await ria.send("Ik zorg voor de speelplekken in IJmuiden.")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None and card.name == "Ria de Vries"
    await ria.send("/introduce " + "Ria " * 30)
    assert ria.keys == [
        "staff.intro_edit",
        "general.typed_not_kept",
        "answers.too_long",
        "staff.ask_name",
    ]


async def test_many_cards_are_listed_eight_a_page_and_a_card_goes_back_to_its_page(
    app: App,
) -> None:
    """A municipality where twenty civil servants introduced themselves: /ambtenaren shows
    eight a page (names too long for a button cut short), like every other list, instead of
    one wall of text with a button for each; a card goes back to the page it came from."""
    long = "Mevrouw Annemarie van den Berg-de Groot van Velsen en Omstreken"
    for n in range(20):
        staff = await civil_servant(app, f"cs{n:02}")
        async with app.db.transaction():
            await app.repos.staff.save(
                (await row(app, staff)).id,
                name=f"{n:02} {long}",
                department_id="openbare-ruimte",
                department_text=None,
                work="Ik zorg voor de speelplekken in IJmuiden.",
                photo_id=None,
                now=utcnow(),
            )
    anna = await person(app, "anna")
    await anna.send("/ambtenaren")
    assert anna.keys == ["staff.list_title"]

    def cards() -> list[tuple[str, str]]:
        return [(label, p) for label, p in anna.buttons() if p.startswith("staff:")]

    assert len(cards()) == 8 and "Pagina 1 van 3" in anna.text
    assert all(len(label) <= 40 for label, _ in cards())
    seen = [p for _, p in cards()]
    await anna.press("Volgende")
    assert "Pagina 2 van 3" in anna.text
    seen += [p for _, p in cards()]
    await anna.press("Volgende")
    assert "Pagina 3 van 3" in anna.text
    seen += [p for _, p in cards()]
    assert len(set(seen)) == 20
    await anna.press("Vorige")
    await anna.press_payload(cards()[0][1])
    assert anna.keys == ["staff.card"] and "08 Mevrouw" in anna.text
    await anna.press("Alle ambtenaren")
    assert anna.keys == ["staff.list_title"] and "Pagina 2 van 3" in anna.text
    # A card from elsewhere goes back to the first page; a page we could not have sent is
    # a stale button.
    user_id = seen[0].split(":")[1]
    await anna.press_payload(f"staff:{user_id}")
    await anna.press("Alle ambtenaren")
    assert "Pagina 1 van 3" in anna.text
    await anna.press_payload(f"staff:{user_id}:0")
    assert anna.keys == ["general.stale_button"]
    await anna.press_payload("staff.list:x")
    assert anna.keys == ["general.stale_button"]


async def test_a_civil_servant_on_their_own_card_is_offered_to_edit_it_not_to_ask_themselves(
    app: App,
) -> None:
    ria = await civil_servant(app)
    await _card(ria)
    await ria.send("/ambtenaren")
    await ria.press("Ria de Vries")
    assert ria.keys == ["staff.card"]
    assert not any(payload.startswith("q.new") for _, payload in ria.buttons())
    await ria.press("Mijn kaartje")
    assert ria.keys == ["staff.intro_edit", "staff.ask_name"]
    await ria.send("/annuleer")
    # A button to ask herself, from an older message or made by hand, asks the connector.
    ria_id = (await row(app, "ria")).id
    await ria.press_payload(f"q.new:{ria_id}")
    assert ria.keys == ["questions.ask"]
    await ria.send("Wie maait het gras bij de speeltuin?")
    [thread] = await app.repos.questions.of_user(ria_id)
    assert thread.staff_user_id is None
    await ria.send("/annuleer")
    # Anyone else, a colleague too, can still ask her a question.
    wim = await civil_servant(app, "wim")
    await wim.send("/ambtenaren")
    await wim.press("Ria de Vries")
    await wim.press("Stel Ria de Vries een vraag")
    assert wim.keys == ["questions.ask_staff"]


async def test_a_department_typed_by_its_name_is_that_department_in_every_language(
    app: App,
) -> None:
    """Typing "openbare ruimte" instead of pressing its button gives the card the profile's
    department, so a resident reading English sees "Public space", as after the button."""
    ria = await civil_servant(app)
    await ria.send("/voorstellen Ria de Vries")
    await ria.send("  openbare   RUIMTE ")
    assert ria.keys == ["staff.ask_work"]
    await ria.send("Ik zorg voor de speelplekken in IJmuiden.")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None and card.department_id == "openbare-ruimte"
    assert card.department_text is None
    carl = await person(app, "carl", language="English")
    await carl.send("/civilservants")
    assert "Ria de Vries, Public space" in carl.text
    # A department of its own stays as typed.
    await ria.send("/voorstellen")
    await ria.press("Laat zo")
    await ria.send("Team Openbare ruimte Noord")
    await ria.press("Laat zo")
    await ria.press("Zonder foto")
    await ria.press("Opslaan")
    card = await app.repos.staff.get((await row(app, "ria")).id)
    assert card is not None and card.department_id is None
    assert card.department_text == "Team Openbare ruimte Noord"


async def test_a_name_typed_after_the_command_finds_the_card_instead_of_calling_it_unknown(
    app: App,
) -> None:
    """/ambtenaren ria shows Ria's card in the list, not "I cannot find this civil servant"."""
    ria = await civil_servant(app)
    await _card(ria)
    wim = await civil_servant(app, "wim")
    await _card(wim, "Wim Jansen")
    anna = await person(app, "anna")
    await anna.send("/ambtenaren ria")
    assert anna.keys == ["staff.list_title"]
    assert "Ria de Vries" in anna.text and "Wim Jansen" not in anna.text
    await anna.press("Ria de Vries")
    assert anna.keys == ["staff.card"]
    # A name on no card: said so, with every card to choose from.
    await anna.send("/ambtenaren Karel")
    assert anna.keys == ["staff.list_title"]
    assert "Deze ambtenaar kan ik niet vinden." in anna.text
    assert "Ria de Vries" in anna.text and "Wim Jansen" in anna.text
    # A number still opens that card.
    await anna.send(f"/ambtenaren {(await row(app, wim)).id}")
    assert anna.keys == ["staff.card"] and "Wim Jansen" in anna.text
    # From an Arabic keyboard too.
    arabic = str((await row(app, wim)).id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    await anna.send(f"/ambtenaren {arabic}")
    assert anna.keys == ["staff.card"] and "Wim Jansen" in anna.text


async def test_spaces_alone_after_the_command_are_the_whole_list_a_page_at_a_time(
    app: App,
) -> None:
    for n in range(10):
        staff = await civil_servant(app, f"cs{n}")
        async with app.db.transaction():
            await app.repos.staff.save(
                (await row(app, staff)).id,
                name=f"Collega {n}",
                department_id=None,
                department_text="Team Groen",
                work="Ik zorg voor de speelplekken in IJmuiden.",
                photo_id=None,
                now=utcnow(),
            )
    anna = await person(app, "anna")
    await anna.handle(anna.event(command="ambtenaren", args="   ", written="/ambtenaren   "))
    assert anna.keys == ["staff.list_title"] and "Pagina 1 van 2" in anna.text
