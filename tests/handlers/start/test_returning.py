"""Welcome back: someone the bot could not reach (they blocked it) hears what they missed the
first time they write or tap again, before the answer to what they sent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.app import App
from handlers.contract import Reply, Role
from storage.clock import days_later, utcnow
from storage.community.moderation import SanctionKind
from storage.ideas.ideas import Removal
from storage.privacy.personal import Cause, ContentChoice
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, for_user, person, row, subscribe, with_role
from tests.support import Chat

QUESTION = "Wanneer wordt het gras in het park gemaaid?"
ANSWER = "Volgende week dinsdag."


async def _asks(anna: Chat, text: str = QUESTION) -> int:
    await anna.send(f"/vraag {text}")
    assert anna.keys == ["questions.sent"]
    return int(anna.last[0].reply.params["id"])


async def _answers(ria: Chat, question_id: int, text: str = ANSWER) -> str:
    """The connector answers; returns the first key she hears."""
    await ria.press_payload(f"inbox.answer:{question_id}")
    await ria.send(text)
    return ria.keys[0]


async def _closes(ria: Chat, question_id: int) -> str:
    """The connector closes the thread (one without an answer: without a note)."""
    await ria.press_payload(f"inbox.close:{question_id}")
    if ria.keys == ["inbox.ask_close"]:
        await ria.press("zonder toelichting")
    return ria.keys[0]


async def _blocks(app: App, anna: Chat) -> None:
    """Anna blocked the bot: the platform refused to deliver to her chat."""
    async with app.db.transaction():
        await app.repos.outbox.mark_chat_unreachable(
            anna.platform, anna.chat_id or anna.user_id, utcnow()
        )


async def test_the_answer_given_while_she_was_away_comes_first_when_she_sends_a_command(
    app: App,
) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    assert await _answers(ria, question) == "inbox.answered_unreachable"
    assert await for_user(app, anna, "answer") == []

    await anna.send("/help")
    assert anna.keys == ["returning.title", "general.help_title"]
    welcome = anna.last[0].text
    assert "Welkom terug!" in welcome
    assert f"heeft je vraag #{question} beantwoord" in welcome
    assert QUESTION[:20] in welcome
    assert ANSWER not in welcome  # the answer itself is one tap away
    payloads = [payload for _, payload in anna.last[0].buttons]
    assert payloads == [f"q.show:{question}", "q.mine"]

    # The button shows the thread, with the answer.
    await anna.press(f"Bekijk vraag #{question}")
    assert anna.keys == ["questions.thread"]
    assert ANSWER in anna.text and QUESTION in anna.text
    assert ("📨 Mijn vragen", "q.mine") in anna.buttons()

    # Once per return: the next message gets its answer alone.
    await anna.send("/help")
    assert "returning.title" not in anna.keys


async def test_the_answer_that_met_the_block_counts_as_missed(app: App) -> None:
    """Delivery found out she blocked the bot by trying to send her the answer."""
    anna = await person(app, "anna")
    question = await _asks(anna)
    ria = await connector(app)
    assert await _answers(ria, question) == "inbox.answered"
    [queued] = await for_user(app, anna, "answer")
    await _blocks(app, anna)  # the answer was still waiting for her
    assert await _closes(ria, question) == "inbox.closed_unreachable"

    await anna.press_payload("menu")
    assert anna.keys == ["returning.title", "menu.title"]
    assert f"heeft je vraag #{question} beantwoord en afgesloten" in anna.last[0].text
    assert queued.user_id == (await row(app, anna)).id


async def test_what_reached_her_before_she_blocked_the_bot_is_not_listed(app: App) -> None:
    anna = await person(app, "anna")
    first = await _asks(anna, "Waar kan ik grofvuil kwijt?")
    second = await _asks(anna)
    ria = await connector(app)
    assert await _answers(ria, first, "Bij de milieustraat.") == "inbox.answered"
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?", (utcnow().isoformat(),)
        )
    await _blocks(app, anna)
    assert await _answers(ria, second) == "inbox.answered_unreachable"

    await anna.send("hallo")
    assert anna.keys[0] == "returning.title"
    welcome = anna.last[0].text
    assert f"vraag #{second}" in welcome and f"vraag #{first}" not in welcome


async def test_her_news_that_stopped_is_turned_on_again_with_one_tap_as_it_was(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Thema's kiezen")
    theme = next(p for _, p in anna.buttons() if p.startswith("news.themes:"))
    await anna.press_payload(theme)
    await anna.press_payload("news.hood")
    before = await app.repos.subscriptions.get((await row(app, anna)).id)
    assert before is not None and before.neighbourhood_only and before.muted_themes

    await _blocks(app, anna)
    user = await row(app, anna)
    assert await app.repos.subscriptions.get(user.id) is None

    await anna.send("/help")
    assert anna.keys[0] == "returning.title"
    assert 'Je kreeg geen "Wist je dat" meer' in anna.last[0].text
    assert anna.last[0].buttons == [("🔔 Wist je dat weer aanzetten", "news.resume")]

    await anna.press("Wist je dat weer aanzetten")
    assert anna.keys == ["news.resumed"]
    assert "Gelukt!" in anna.text and "✅ Je krijgt deze berichten." in anna.text
    after = await app.repos.subscriptions.get(user.id)
    assert after is not None
    assert (after.neighbourhood_only, after.muted_themes) == (True, before.muted_themes)

    # A second tap (the old message's button) changes nothing and says so.
    await anna.press_payload("news.resume")
    assert anna.keys == ["news.already_subscribed"]
    again = await app.repos.subscriptions.get(user.id)
    assert again == after


async def test_news_she_turned_off_herself_is_not_offered_back(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Afmelden")
    assert anna.keys == ["news.unsubscribed"]
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _closes(ria, question)

    await anna.send("/help")
    assert anna.keys[0] == "returning.title"
    welcome = anna.last[0]
    assert "Wist je dat" not in welcome.text
    assert "news.resume" not in [p for _, p in welcome.buttons]
    assert f"heeft je vraag #{question} afgesloten" in welcome.text


async def test_where_options_are_numbered_the_welcome_back_numbers_its_own_first(
    app: App,
) -> None:
    anna = await person(app, "anna", platform="console")
    await subscribe(anna)
    await _blocks(app, anna)
    await anna.send("/help")
    assert anna.keys[0] == "returning.title"
    assert anna.last[0].buttons == [("🔔 Wist je dat weer aanzetten", "news.resume")]
    await anna.send("1")
    assert anna.keys == ["news.resumed"]
    assert await app.repos.subscriptions.get((await row(app, anna)).id) is not None


async def test_nothing_missed_means_no_welcome_back(app: App) -> None:
    anna = await person(app, "anna")
    await _blocks(app, anna)
    await anna.send("/help")
    assert "returning.title" not in anna.keys
    assert (await row(app, anna)).unreachable_at is None


async def test_someone_never_unreachable_hears_nothing_extra(app: App) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    ria = await connector(app)
    await _answers(ria, question)
    await _closes(ria, question)
    await anna.send("/help")
    assert "returning.title" not in anna.keys


async def test_in_the_middle_of_a_dialog_her_text_still_answers_the_step(app: App) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    await anna.press_payload("q.new")  # she begins a second question
    assert anna.keys == ["questions.ask"]
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)

    await anna.send("Mag ik mijn auto in de wijk opladen?")
    assert anna.keys == ["returning.title", "questions.sent"]
    threads = await app.repos.questions.of_user((await row(app, anna)).id)
    assert [t.messages[0].text for t in threads] == [
        "Mag ik mijn auto in de wijk opladen?",
        QUESTION,
    ]


async def test_in_a_group_nothing_personal_is_said_and_the_welcome_waits(app: App) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)

    in_group = Chat(app, user_id="anna", name="Anna", chat_id="-100buurt")
    await in_group.handle(in_group.event(text="hallo allemaal", is_group=True))
    assert "returning.title" not in in_group.keys
    assert QUESTION[:20] not in in_group.text
    assert (await row(app, anna)).unreachable_at is not None

    await anna.send("/help")
    assert anna.keys[0] == "returning.title"


async def test_a_banned_resident_gets_nothing_extra(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Herhaald schelden",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )

    await anna.send("/help")
    assert "returning.title" not in anna.keys
    await anna.press_payload("news.resume")
    assert anna.keys == ["moderation.banned"]
    assert await app.repos.subscriptions.get((await row(app, anna)).id) is None


async def test_a_muted_resident_still_hears_what_she_missed(app: App) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)
    now = utcnow()
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.MUTE,
            reason="Even rustig aan",
            by_user_id=(await row(app, ria)).id,
            now=now,
            ends_at=now.replace(year=now.year + 1),
        )
    await anna.send("/help")
    assert anna.keys[0] == "returning.title"


async def test_someone_erased_while_away_starts_fresh(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)
    await app.repos.personal.erase(
        (await row(app, anna)).id, content=ContentChoice.KEEP, cause=Cause.ADMIN, now=utcnow()
    )
    assert await app.db.fetchval("SELECT COUNT(*) FROM news_lapsed") == 0

    await anna.send("/start")
    assert anna.keys == ["onboarding.welcome", "onboarding.consent_question"]
    await anna.press("Ja")
    await anna.press("Nederlands")
    await anna.press("IJmuiden")
    await anna.send("/help")
    assert "returning.title" not in anna.keys
    await anna.press_payload("news.resume")
    assert anna.keys == ["news.nothing_to_resume"]
    assert await app.repos.subscriptions.get((await row(app, anna)).id) is None


async def test_forged_and_stale_buttons_change_nothing(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    bobs = await _asks(bob, "Komt er een nieuwe speeltuin?")

    # Never unreachable: nothing to turn on again.
    await anna.press_payload("news.resume")
    assert anna.keys == ["news.nothing_to_resume"]
    assert await app.repos.subscriptions.get((await row(app, anna)).id) is None
    await anna.press_payload("news.resume:everything")
    assert anna.keys == ["news.nothing_to_resume"]

    # Someone else's question, one that does not exist, or no number at all.
    forged = [
        "q.show:999999",
        "q.show:abc",
        "q.show:",
        "q.show:-1",
        "q.show:²",
        "q.show:" + "9" * 40,
    ]
    for payload in (f"q.show:{bobs}", *forged):
        await anna.press_payload(payload)
        assert anna.keys == ["questions.not_found"], payload
        assert "speeltuin" not in anna.text

    # Before agreeing to the privacy statement, nothing is done either.
    stranger = Chat(app, user_id="sam", name="Sam")
    await stranger.press_payload("news.resume")
    assert stranger.keys == ["general.consent_needed"]


async def test_a_second_absence_lists_only_what_was_missed_since(app: App) -> None:
    anna = await person(app, "anna")
    first = await _asks(anna, "Waar kan ik grofvuil kwijt?")
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, first, "Bij de milieustraat.")
    await anna.send("/help")
    assert f"vraag #{first}" in anna.last[0].text

    second = await _asks(anna)
    await _blocks(app, anna)
    await _answers(ria, second)
    await anna.send("/help")
    welcome = anna.last[0]
    assert welcome.key == "returning.title"
    assert f"vraag #{second}" in welcome.text and f"vraag #{first}" not in welcome.text


async def test_being_found_unreachable_twice_keeps_the_start_of_the_absence(app: App) -> None:
    anna = await person(app, "anna")
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)
    await _blocks(app, anna)  # found out again (a room she left, another refusal)

    await anna.send("/help")
    assert f"vraag #{question}" in anna.last[0].text


async def test_staff_who_come_back_hear_of_their_own_questions_too(app: App) -> None:
    cas = await with_role(app, await person(app, "cas"), Role.CIVIL_SERVANT)
    question = await _asks(cas)
    await _blocks(app, cas)
    ria = await connector(app)
    await _answers(ria, question)
    await cas.send("/help")
    assert cas.keys[0] == "returning.title"


async def test_many_questions_are_summed_up_under_mijn_vragen(app: App) -> None:
    anna = await person(app, "anna")
    ids = [await _asks(anna, f"Vraag nummer {n} over de wijk") for n in range(7)]
    await _blocks(app, anna)
    ria = await connector(app)
    for question_id in ids:
        await _closes(ria, question_id)

    await anna.send("/help")
    welcome = anna.last[0]
    assert welcome.key == "returning.title"
    assert welcome.text.count("afgesloten") == 5
    assert "En nog meer vragen" in welcome.text
    payloads = [p for _, p in welcome.buttons]
    assert payloads == [f"q.show:{i}" for i in reversed(ids[-3:])] + ["q.mine"]


async def test_the_welcome_is_sent_again_with_the_answer_when_the_event_comes_again(
    app: App,
) -> None:
    """The bot stopped after handling her message but before the platform confirmed the
    replies: the same event again brings them both, not only the answer."""
    anna = await person(app, "anna")
    question = await _asks(anna)
    await _blocks(app, anna)
    ria = await connector(app)
    await _answers(ria, question)

    sent: list[list[str]] = []

    async def lost(*_: object) -> None:
        raise ConnectionError("the bot stopped")

    async def delivered(_: object, __: str, replies: list[Reply]) -> None:
        sent.append([reply.key for reply in replies])

    event = anna.event(command="help", args="", event_id="update-77")
    await app.router.handle(event, lost)
    await app.router.handle(event, delivered)
    assert sent[0][0] == "returning.title" and len(sent[0]) > 1


async def _statements(app: App, chat: Chat, payload: str) -> list[str]:
    """The statements the router runs for one tap (the transaction's own left out)."""
    ran: list[str] = []
    app.db.conn.set_trace_callback(ran.append)
    try:
        await chat.press_payload(payload)
    finally:
        app.db.conn.set_trace_callback(None)
    return [
        sql for sql in ran if sql.split()[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}
    ]


async def test_a_return_costs_one_statement_more_and_nobody_else_pays_for_it(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    question = await _asks(bob)
    await _blocks(app, bob)
    ria = await connector(app)
    await _answers(ria, question)
    later = utcnow() + timedelta(minutes=5)
    app.router.clock = lambda: later  # both were last seen minutes ago

    ordinary = await _statements(app, anna, "menu")
    returning = await _statements(app, bob, "menu")
    assert bob.keys == ["returning.title", "menu.title"]
    assert len(returning) == len(ordinary) + 1
    assert not any("news_lapsed" in sql or "question_messages" in sql for sql in ordinary)
    # And seen a moment ago, the same tap is as cheap as it was.
    assert len(await _statements(app, anna, "menu")) < len(ordinary)


async def test_her_data_holds_the_news_that_stopped_and_since_when_in_words(app: App) -> None:
    anna = await person(app, "anna")
    await subscribe(anna)
    await anna.press("Thema's kiezen")
    theme = next(p for _, p in anna.buttons() if p.startswith("news.themes:"))
    await anna.press_payload(theme)
    await _blocks(app, anna)

    await anna.send("/mijngegevens")
    assert anna.keys[0] == "returning.title"
    [document] = [seen.reply.document for seen in anna.last if seen.reply.document]
    data: dict[str, Any] = json.loads(document.data)
    [lapsed] = data["sections"]["news_lapsed"]["rows"]
    name = app.profile.theme(theme.split(":")[1])
    assert name is not None and lapsed["muted_themes"] == [name.name("nl")]
    assert lapsed["neighbourhood_only"] == "nee"
    [profile] = data["sections"]["users"]["rows"]
    assert profile["unreachable_at"] is None and "Z" not in profile["away_since"]


async def test_a_request_to_connect_that_met_the_block_can_be_answered_on_return(
    app: App,
) -> None:
    """The connector's question to Bob met his block. Anna said yes and waits: back in
    time, Bob sees the question again and can answer it; no answer of his means none."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await seed_idea(app, "Bankjes in het park", author=(await row(app, anna)).id)
    await seed_idea(app, "Bankjes bij de vijver", author=(await row(app, bob)).id)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    [to_anna] = await for_user(app, anna, "connect")
    await anna.press_payload(to_anna.payloads()[0])
    await anna.send("anna@example.org")
    assert anna.keys == ["connect.waiting"]
    await _blocks(app, bob)  # the question to him is never delivered
    [to_bob] = await for_user(app, bob, "connect")
    status = await app.db.fetchval(
        "SELECT status FROM outbox WHERE user_id = ? AND kind = ?",
        ((await row(app, bob)).id, "connect"),
    )
    assert status == "unreachable" and to_bob.payloads()[0] == "con.yes:1"

    await bob.send("/help")
    assert bob.keys == ["returning.title", "general.help_title"]
    welcome = bob.last[0]
    assert "vraagt of je contact wilt met de indiener van idee #1" in welcome.text
    assert "Antwoorden kan tot" in welcome.text
    assert welcome.buttons == [("🤝 Bekijk het verzoek over #1", "con.show:1")]

    await bob.press("Bekijk het verzoek over #1")
    assert bob.keys == ["connect.ask"]
    assert "Bankjes in het park" in bob.text
    await bob.press("Ja, graag")
    await bob.send("@bob_ijmuiden")
    assert bob.keys == ["connect.made"] and "anna@example.org" in bob.text

    # Answered: the old button says so, and someone else's or a forged one finds nothing.
    await bob.press_payload("con.show:1")
    assert bob.keys == ["connect.closed"]
    carl = await person(app, "carl")
    for payload in ("con.show:1", "con.show:999", "con.show:x", "con.show:"):
        await carl.press_payload(payload)
        assert carl.keys == ["connect.not_found"], payload


async def _asked_while_bob_is_away(
    app: App, anna_title: str = "Bankjes in het park"
) -> tuple[Chat, Chat, Chat]:
    """Ria asks Anna (idea #1) and Bob (idea #2) whether they want contact; the question
    to Bob meets his block."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    await seed_idea(app, anna_title, author=(await row(app, anna)).id)
    await seed_idea(app, "Bankjes bij de vijver", author=(await row(app, bob)).id)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _blocks(app, bob)
    return anna, bob, ria


async def test_a_request_to_connect_that_ran_out_is_not_offered_on_return(app: App) -> None:
    _anna, bob, _ria = await _asked_while_bob_is_away(app)
    later = days_later(utcnow(), 14, app.settings.zone) + timedelta(minutes=1)
    app.router.clock = lambda: later  # its job did not run yet (the bot was down)

    await bob.send("/help")
    assert "returning.title" not in bob.keys
    await bob.press_payload("con.show:1")
    assert bob.keys == ["connect.expired"]


async def test_a_request_about_an_idea_taken_out_of_view_is_not_shown_again(app: App) -> None:
    """The connector hid Anna's idea (its title named a neighbour) after asking Bob, whose
    block the question met: back, Bob is not offered it, and its button shows nothing."""
    _anna, bob, _ria = await _asked_while_bob_is_away(app, "Bankjes bij Jan de Vries")
    async with app.db.transaction():
        assert await app.repos.ideas.remove(1, utcnow(), how=Removal.HIDDEN, reason="Een naam")

    await bob.send("/help")
    assert "returning.title" not in bob.keys
    await bob.press_payload("con.show:1")
    assert bob.keys == ["connect.closed"]
    assert "Jan de Vries" not in bob.text
