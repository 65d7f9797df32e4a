"""The connector answers residents' questions, and connects residents who consent."""

from __future__ import annotations

from bot.app import App
from handlers.contract import Role
from storage.clock import utcnow
from tests.handlers.ideas.helpers import seed_idea, submit_idea
from tests.people import audit_actions, connector, for_user, outbox, person, row, with_role
from tests.support import Chat


async def test_the_connector_answers_in_the_chat_and_the_thread_goes_on_both_ways(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    ria = await connector(app)
    await ria.send("/inbox")
    assert ria.keys == ["inbox.title"]
    assert "1 open, 1 nog zonder antwoord" in ria.text
    assert "⏳ #1" in ria.text and "Wanneer wordt het gras" in ria.text
    await ria.press("Bekijk vraag #1")
    assert ria.keys == ["inbox.thread"]
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"]
    await ria.photo()
    assert ria.keys == ["answers.text_please", "inbox.ask_answer"]
    await ria.send("Volgende week dinsdag.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    assert "✅ #1" in ria.text

    [answer] = await for_user(app, anna, "answer")
    assert "Burgerbeest beantwoordt je vraag #1" in answer.text(app, "nl")
    assert "Volgende week dinsdag." in answer.text(app, "nl")
    assert "q.add:1" in answer.payloads()
    # The resident replies with the button in the answer; the thread waits again.
    await anna.press_payload("q.add:1")
    await anna.send("Dank je! En de vijver?")
    await ria.send("/inbox")
    assert "1 nog zonder antwoord" in ria.text and "⏳ #1" in ria.text
    await ria.press("Bekijk vraag #1")
    text = ria.text
    assert text.index("Wanneer") < text.index("Volgende week") < text.index("En de vijver")
    # The resident's last word has no answer yet: closing asks first.
    await ria.press("Afsluiten")
    assert ria.keys == ["inbox.ask_close"]
    await ria.press("zonder toelichting")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    assert "Er zijn geen open vragen" in ria.text
    closed = (await for_user(app, anna, "answer"))[-1]
    assert "heeft je vraag #1 afgesloten" in closed.text(app, "nl")
    assert (await audit_actions(app))[-2:] == ["question.answer", "question.close"]
    # A closed thread cannot be answered from an old button.
    await ria.press_payload("inbox.answer:1")
    assert ria.keys == ["inbox.is_closed", "inbox.thread"]


async def test_questions_for_a_civil_servant_are_in_the_inbox_longest_waiting_first(
    app: App,
) -> None:
    civil = await with_role(app, await person(app, "cas"), Role.CIVIL_SERVANT)
    async with app.db.transaction():
        await app.repos.staff.save(
            (await row(app, civil)).id,
            name="Cas Jansen",
            department_id="openbare-ruimte",
            department_text=None,
            work="Speelplekken",
            photo_id=None,
            now=utcnow(),
        )
    anna = await person(app, "anna")
    await anna.send("/vraag Een eerste vraag over de bus.")
    bob = await person(app, "bob")
    await bob.press_payload(f"q.new:{(await row(app, civil)).id}")
    await bob.send("Komt er een speeltuin bij ons?")
    ria = await connector(app)
    await ria.send("/inbox")
    text = ria.text
    assert text.index("#1") < text.index("#2")
    assert "voor: Cas Jansen" in text
    await ria.press("Bekijk vraag #2")
    assert "Voor Cas Jansen" in ria.text


async def test_two_residents_get_each_others_contact_only_when_both_agree(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Bankjes in het park", "Meer bankjes in het park bij de vijver graag.")
    bob = await person(app, "bob", platform="telegram", language="English")
    await seed_idea(
        app,
        "Bankjes bij de vijver",
        author=(await row(app, bob)).id,
        description="Zet bankjes bij de vijver in het park neer.",
    )
    ria = await connector(app)
    await ria.send("/wachtrij")
    await ria.press("Verbind met indiener #2")
    assert ria.keys == ["connect.asked"]

    [ask_anna] = await for_user(app, anna, "connect")
    [ask_bob] = await for_user(app, bob, "connect")
    assert "jij en de indiener van idee #2" in ask_anna.text(app, "nl")
    assert "you and the author of idea #1" in ask_bob.text(app, "en")
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.already_asked"]

    await anna.press_payload(ask_anna.payloads()[0])
    assert anna.keys == ["connect.ask_contact"]
    await anna.send("anna@example.org")
    assert anna.keys == ["connect.waiting"]
    await anna.press_payload(ask_anna.payloads()[0])
    assert anna.keys == ["connect.already_answered"]
    # Nothing of Anna's went anywhere yet.
    assert not any("anna@example.org" in str(q.replies) for q in await outbox(app))

    await bob.press_payload(ask_bob.payloads()[0])
    await bob.send("@bob_ijmuiden")
    assert bob.keys == ["connect.made"]
    assert "anna@example.org" in bob.text
    made = (await for_user(app, anna, "connect"))[-1]
    assert "@bob_ijmuiden" in made.text(app, "nl")
    assert "Hun gegevens zijn naar elkaar onderweg" in (await for_user(app, ria, "connect"))[
        -1
    ].text(app, "nl")
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status == "connected"
    assert stored.contact_a is None and stored.contact_b is None
    assert "connection.propose" in await audit_actions(app)


async def test_a_no_shares_nothing(app: App) -> None:
    carl = await person(app, "carl")
    await submit_idea(
        carl, "Een hondenveld in Driehuis", "Een omheind veld waar honden los mogen."
    )
    dora = await person(app, "dora")
    await submit_idea(dora, "Hondenveld bij het station", "Een hondenveld waar honden los kunnen.")
    await dora.press("Toch versturen")
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    [ask_carl] = await for_user(app, carl, "connect")
    [ask_dora] = await for_user(app, dora, "connect")
    await carl.press_payload(ask_carl.payloads()[0])
    await carl.send("carl@example.org")
    await dora.press_payload(ask_dora.payloads()[1])
    assert dora.keys == ["connect.declined"]
    assert "niet gedeeld" in (await for_user(app, carl, "connect"))[-1].text(app, "nl")
    assert not any("carl@example.org" in str(q.replies) for q in await outbox(app))
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status == "declined" and stored.contact_a is None


async def test_connecting_is_refused_when_it_cannot_work(app: App) -> None:
    anna = await person(app, "anna")
    await submit_idea(anna, "Een eerste idee van Anna", "Een uitleg die lang genoeg is voor dit.")
    await submit_idea(anna, "Een ander idee van Anna", "Nog een uitleg die lang genoeg is hier.")
    await anna.press("Toch versturen")
    ria = await connector(app)
    await ria.send("/verbind #1 #1")
    assert ria.keys == ["connect.same_idea"]
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.same_author"]
    await ria.send("/verbind #1 #99")
    assert ria.keys == ["connect.no_idea"]
    await ria.send("/verbind 1")
    assert ria.keys == ["connect.usage"]
    # Only the two residents asked can answer.
    stranger = Chat(app, "zoe")
    await stranger.onboard()
    await stranger.press_payload("con.yes:1")
    assert stranger.keys == ["connect.not_found"]
    assert await app.repos.connections.get(1) is None


async def test_an_answer_to_a_question_closed_meanwhile_is_handed_back_not_lost(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    ria, sem = await connector(app, "ria"), await connector(app, "sem")
    await ria.press_payload("inbox.answer:1")
    assert ria.keys == ["inbox.ask_answer"]
    # While Ria writes, Sem closes the thread.
    await sem.press_payload("inbox.close:1")
    await sem.press("zonder toelichting")
    assert sem.keys == ["inbox.closed", "inbox.title"]
    answer = "Volgende week dinsdag, <b>na</b> de markt & voor de regen."
    await ria.send(answer)
    assert ria.keys == ["inbox.is_closed", "inbox.not_sent", "inbox.thread"]
    assert answer in ria.last[1].text
    # Nothing went to Anna but the closing notice, nothing was added to the thread, and
    # Ria is out of the dialog: her next words are not taken as an answer.
    assert [q.kind for q in await for_user(app, anna)] == ["answer"]
    assert "heeft je vraag #1 afgesloten" in (await for_user(app, anna))[0].text(app, "nl")
    question = await app.repos.questions.get(1)
    assert question is not None and [m.text for m in question.messages] == [
        "Wanneer wordt het gras in het park gemaaid?"
    ]
    assert "question.answer" not in await audit_actions(app)
    assert await app.repos.dialogs.load((await row(app, ria)).id) is None


async def test_the_log_of_an_introduction_keeps_no_trace_of_an_erased_resident(
    app: App,
) -> None:
    """The log says which ideas the connector put together, not who wrote them: an id in
    its detail would outlive its person's erasure (the columns get a pseudonym)."""
    ria = await connector(app)
    bob, anna = await person(app, "bob"), await person(app, "anna")
    await submit_idea(bob, "Zonnepanelen op het stadhuis", "Stroom van het dak voor iedereen.")
    await submit_idea(anna, "Een speeltuin bij de Zeeweg", "Een klimrek voor kinderen.")
    await ria.send("/verbind #1 #2")
    assert ria.keys[0] == "connect.asked"
    anna_id = (await row(app, anna)).id
    await anna.send("/vergeetmij")
    await anna.press("Laten staan")
    await anna.press("Ja")
    assert anna.keys == ["privacy.forget.done"]
    [entry] = await app.repos.audit.recent(action="connection.propose")
    assert entry.detail == {"ideas": [1, 2]}
    assert entry.subject == "connection:1" and entry.actor_user_id == (await row(app, ria)).id
    linked = await app.db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE ? IN (actor_user_id, subject_user_id)", (anna_id,)
    )
    assert linked == 0


async def test_page_numbers_that_are_no_plain_numbers_are_stale_buttons(app: App) -> None:
    ria = await connector(app)
    forged = ("inbox:²", "inbox:" + "9" * 40, "inbox:0", "inbox:2", "inbox:>2.1.1")
    for payload in (*forged, "inbox:>0.1." + "9" * 40, "inbox:<0.²." + "1", "inbox:>0..1"):
        await ria.press_payload(payload)
        assert ria.keys == ["general.stale_button"], payload
    admin = await with_role(app, await person(app, "ada"), Role.ADMIN)
    for payload in ("log:²", "log:" + "9" * 40):
        await admin.press_payload(payload)
        assert admin.keys == ["general.stale_button"], payload


async def test_the_connector_hears_when_the_resident_cannot_be_told_of_an_answer_or_close(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras in het park gemaaid?")
    await app.chat_unreachable("test", "anna")  # she blocked the bot meanwhile
    ria = await connector(app)
    await ria.press_payload("inbox.answer:1")
    await ria.send("Volgende week dinsdag.")
    assert ria.keys == ["inbox.answered_unreachable", "inbox.title"]
    await ria.press_payload("inbox.close:1")
    assert ria.keys[0] == "inbox.closed_unreachable"
    assert "kan nu geen berichten krijgen" in ria.text
    assert await for_user(app, anna, "answer") == []
    # Back again, she finds the answer and the close under "Mijn vragen".
    await anna.send("/mijnvragen")
    assert "Vraag #1 (afgesloten, " in anna.text
    await anna.press("#1 ")
    assert "Volgende week dinsdag." in anna.text


async def test_the_connector_sees_which_language_the_asker_reads_where_it_is_not_dutch(
    app: App,
) -> None:
    """Samenspel does not translate: the answer goes as typed, so the thread and the answer
    prompt say which language the asker reads, in the connector's language."""
    amal = await person(app, "amal", language="العربية")
    await amal.send("/vraag متى سيتم قص العشب في الحديقة؟")
    anna = await person(app, "anna")
    await anna.send("/vraag Wanneer wordt het gras gemaaid?")
    ria = await connector(app)
    # The name is isolated (FSI … PDI), as every value with right-to-left letters.
    reads = "De inwoner leest \u2068Arabisch (العربية)\u2069."
    await ria.send("/inbox")
    await ria.press("Bekijk vraag #1")
    assert ria.keys == ["inbox.thread"] and reads in ria.text
    assert "eenvoudig Nederlands of Engels" in ria.text
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"] and reads in ria.text
    await ria.press("Stoppen")
    # Closing with a note for the asker says it too.
    await ria.press_payload("inbox.close:1")
    assert ria.keys == ["inbox.ask_close"] and reads in ria.text
    await ria.press("Stoppen")

    # A Dutch asker: no such line.
    await ria.press_payload("inbox.open:2")
    assert ria.keys == ["inbox.thread"] and "De inwoner leest" not in ria.text
    await ria.press("Beantwoorden")
    assert ria.keys == ["inbox.ask_answer"] and "De inwoner leest" not in ria.text
    await ria.press("Stoppen")

    # A connector who reads English reads the language's name in English.
    ed = await with_role(app, await person(app, "ed", language="English"), Role.CONNECTOR)
    await ed.press_payload("inbox.open:1")
    assert "This resident reads \u2068Arabic (العربية)\u2069." in ed.text


async def test_a_connector_who_answers_and_closes_their_own_question_reads_it_there(
    app: App,
) -> None:
    # Trying it out: a connector asks Burgerbeest a question and answers it themselves.
    # Nothing goes to whoever acts, so they read what a resident would get right there, and
    # never hear that "the resident" cannot get messages.
    ria = await connector(app)
    await ria.send("/vraag Werkt de inbox al goed?")
    await ria.press_payload("inbox.answer:1")
    await ria.send("Ja, hij werkt.")
    assert ria.keys == ["inbox.answered", "inbox.title"]
    assert "kan nu geen berichten krijgen" not in ria.text
    assert "Burgerbeest beantwoordt je vraag #1:\nJa, hij werkt." in ria.text
    await ria.press_payload("inbox.close:1")
    assert ria.keys == ["inbox.closed", "inbox.title"]
    assert "kan nu geen berichten krijgen" not in ria.text
    assert "Burgerbeest heeft je vraag #1 afgesloten" in ria.text
    assert await for_user(app, ria, "answer") == []
    assert (await audit_actions(app))[-2:] == ["question.answer", "question.close"]
