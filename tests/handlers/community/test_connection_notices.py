"""What the people around a request to connect two residents read: the two residents see
until when they can answer, and the notices about how it ended reach a connector who is
one now, not someone whose role was taken away since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import Removal
from storage.users import Role
from tests.handlers.ideas.helpers import seed_idea
from tests.people import (
    TimerLog,
    banned_over_reports,
    connector,
    delivered,
    for_user,
    outbox,
    person,
    row,
    run_job,
    with_role,
)
from tests.support import Chat


async def _two_with_ideas(app: App, *, bob_language: str = "Nederlands") -> tuple[Chat, Chat]:
    """Anna wrote idea #1, Bob idea #2; they look alike."""
    anna = await person(app, "anna")
    bob = await person(app, "bob", language=bob_language)
    for who, title in ((anna, "Bankjes in het park"), (bob, "Bankjes bij de vijver")):
        await seed_idea(
            app,
            title,
            author=(await row(app, who)).id,
            description="Zet bankjes bij de vijver in het park neer.",
        )
    return anna, bob


async def test_the_question_says_until_when_each_can_answer_in_their_own_language(
    app: App,
) -> None:
    anna, bob = await _two_with_ideas(app, bob_language="English")
    ria = await connector(app)
    # Asked on a winter evening (19:13 UTC is 20:13 in Velsen); 14 days to answer.
    app.router.clock = lambda: datetime(2026, 12, 5, 19, 13, tzinfo=UTC)
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.asked"]

    [to_anna] = await for_user(app, anna, "connect")
    assert "Antwoorden kan tot 19 dec 2026, 20:13." in to_anna.text(app, "nl")
    [to_bob] = await for_user(app, bob, "connect")
    assert "You can answer until 19 Dec 2026, 20:13." in to_bob.text(app, "en")


async def test_the_deadline_is_the_local_time_across_the_change_to_summer_time(
    app: App,
) -> None:
    anna, _bob = await _two_with_ideas(app)
    ria = await connector(app)
    # Asked at 13:00 in Velsen (12:00 UTC) before the clocks go forward: 14 days on is
    # 13:00 on Velsen's clock again (11:00 UTC), not 14 times 24 hours (14:00 there).
    app.router.clock = lambda: datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
    await ria.send("/verbind #1 #2")
    [to_anna] = await for_user(app, anna, "connect")
    assert "Antwoorden kan tot 3 apr 2027, 13:00." in to_anna.text(app, "nl")


# Who hears how it ended --------------------------------------------------------------------


async def _staff_told(app: App, queued: int) -> list[tuple[str, str]]:
    """The connector notices queued after the first ``queued`` rows: (who, key)."""
    names = {}
    for who in ("ria", "kees", "joke"):
        user = await app.repos.users.find("test", who)
        if user is not None:
            names[user.id] = who
    return [
        (names.get(q.user_id, str(q.user_id)), q.replies[0].key)
        for q in (await outbox(app, "connect"))[queued:]
        if q.replies[0].key.endswith("_staff")
    ]


async def test_a_no_after_the_connector_lost_the_role_goes_to_the_connectors_now(
    app: App,
) -> None:
    _anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    kees = await connector(app, "kees")
    await ria.send("/verbind #1 #2")
    # Ria is no longer a connector; she keeps her chat as a resident.
    await with_role(app, ria, Role.RESIDENT)
    await connector(app, "joke")
    queued = len(await outbox(app, "connect"))

    [ask_bob] = await for_user(app, bob, "connect")
    await bob.press_payload(ask_bob.payloads()[1])  # no
    assert bob.keys == ["connect.declined"]
    assert await _staff_told(app, queued) == [
        ("kees", "connect.declined_staff"),
        ("joke", "connect.declined_staff"),
    ]
    told = (await for_user(app, kees, "connect"))[-1].text(app, "nl")
    assert "#1 en #2 gaat niet door" in told


async def test_a_contact_made_is_told_to_the_connector_who_asked_while_they_are_one(
    app: App,
) -> None:
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await connector(app, "kees")
    await ria.send("/verbind #1 #2")
    queued = len(await outbox(app, "connect"))
    for who in (anna, bob):
        [ask] = await for_user(app, who, "connect")
        await who.press_payload(ask.payloads()[0])
        await who.send(f"{who.user_id}@example.org")
    assert bob.keys == ["connect.made"]
    # Only Ria asked: the other connectors are not bothered with it.
    assert await _staff_told(app, queued) == [("ria", "connect.made_sent_staff")]

    # The same once she is an admin: an admin may do what a connector may.
    await with_role(app, ria, Role.ADMIN)
    await ria.send("/verbind #2 #1")
    queued = len(await outbox(app, "connect"))
    for who in (anna, bob):
        ask = (await for_user(app, who, "connect"))[-1]
        await who.press_payload(ask.payloads()[1])
    assert await _staff_told(app, queued) == [("ria", "connect.declined_staff")]


async def test_an_expiry_after_the_connector_was_erased_goes_to_the_connectors_now(
    app: App,
) -> None:
    _anna, _bob = await _two_with_ideas(app)
    ria = await connector(app)
    timers = TimerLog(app)
    await ria.send("/verbind #1 #2")
    [timer] = timers.armed
    assert timer.at is not None
    await ria.send("/vergeetmij")
    await ria.press("Ja")
    assert ria.keys == ["privacy.forget.done"]
    await app.db.settled()
    kees = await connector(app, "kees")
    queued = len(await outbox(app, "connect"))

    await run_job(app, timer.job, timer.at)
    assert await _staff_told(app, queued) == [("kees", "connect.expired_staff")]
    text = (await for_user(app, kees, "connect"))[-1].text(app, "nl")
    assert "#1 en #2 is verlopen" in text


async def test_an_expiry_with_no_connector_left_reaches_the_admins(app: App) -> None:
    await _two_with_ideas(app)
    ria = await connector(app)
    timers = TimerLog(app)
    await ria.send("/verbind #1 #2")
    [timer] = timers.armed
    assert timer.at is not None
    await with_role(app, ria, Role.CIVIL_SERVANT)
    boss = await with_role(app, await person(app, "boss"), Role.ADMIN)
    queued = len(await outbox(app, "connect"))

    await run_job(app, timer.job, timer.at + timedelta(minutes=1))
    [told] = (await outbox(app, "connect"))[queued:]
    assert told.user_id == (await row(app, boss)).id
    assert told.replies[0].key == "connect.expired_staff"


async def test_a_ban_after_the_connector_lost_the_role_is_told_to_the_connectors_now(
    app: App,
) -> None:
    """Kees bans Anna; the request Ria made ends. Ria, no longer a connector, hears
    nothing; Joke, a connector now, hears it; Kees, who banned, knows already."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await delivered(app)
    await with_role(app, ria, Role.RESIDENT)
    kees = await connector(app, "kees")
    await connector(app, "joke")
    queued = len(await outbox(app, "connect"))

    await anna.press_payload("idea.comment:2")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    await banned_over_reports(app, kees, 2, reporters="r")

    assert await _staff_told(app, queued) == [("joke", "connect.declined_staff")]
    told = [q.replies[0].key for q in (await for_user(app, bob, "connect"))]
    assert told[-1] == "connect.called_off"


async def test_a_connector_who_sent_in_one_of_the_two_ideas_is_asked_in_the_answer(
    app: App,
) -> None:
    """Ria, a connector, sent in idea #2 herself and connects it with Anna's #1. No
    notification goes to whoever acts, so her own question comes with her answer: without
    it Anna's yes would wait for someone who was never asked."""
    anna = await person(app, "anna")
    ria = await connector(app)
    await seed_idea(app, "Bankjes in het park", author=(await row(app, anna)).id)
    await seed_idea(app, "Bankjes bij de vijver", author=(await row(app, ria)).id)

    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.asked", "connect.ask"]
    assert "Antwoorden kan tot" in ria.last[1].text
    assert [p for _, p in ria.last[1].buttons] == ["con.yes:1", "con.no:1", "idea.open:1"]
    assert [q.user_id for q in await outbox(app, "connect")] == [(await row(app, anna)).id]

    [to_anna] = await for_user(app, anna, "connect")
    await anna.press_payload(to_anna.payloads()[0])
    await anna.send("anna@example.org")
    assert anna.keys == ["connect.waiting"]
    await ria.press("Ja, graag")
    await ria.send("@ria_velsen")
    assert ria.keys == ["connect.made"]
    assert "anna@example.org" in ria.text
    made = (await for_user(app, anna, "connect"))[-1]
    assert "@ria_velsen" in made.text(app, "nl")


async def _bob_then_anna_say_yes(
    app: App, *, bob_away: bool, bob_comments: bool = False
) -> tuple[Chat, Chat, Chat]:
    """Bob says yes to Ria's request and types his line (with ``bob_comments`` he also
    writes something rude under #1); with ``bob_away`` he then blocks the bot, which the bot
    knows by then; Anna says yes after him and gets his line."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    [to_bob] = await for_user(app, bob, "connect")
    await bob.press_payload(to_bob.payloads()[0])
    await bob.send("@bob_ijmuiden")
    if bob_comments:
        await bob.press_payload("idea.comment:1")
        await bob.send("Wat een onzin, jullie zijn allemaal gek.")
    if bob_away:
        async with app.db.transaction():
            await app.repos.outbox.mark_chat_unreachable(bob.platform, bob.user_id, utcnow())
    [to_anna] = await for_user(app, anna, "connect")
    await anna.press_payload(to_anna.payloads()[0])
    await anna.send("anna@example.org")
    assert anna.keys == ["connect.made"] and "@bob_ijmuiden" in anna.text
    return anna, bob, ria


async def test_someone_who_said_yes_and_then_went_away_still_gets_the_others_line(
    app: App,
) -> None:
    """Bob said yes and typed his line, then blocked the bot; Anna says yes. She gets his
    line at once; he gets hers when he comes back."""
    _anna, bob, _ria = await _bob_then_anna_say_yes(app, bob_away=True)
    await _shown_once_on_return(app, bob)


async def _kept(app: App) -> list[str]:
    """The status of each message with Anna's line."""
    rows = await app.db.fetchall(
        "SELECT status FROM outbox WHERE payload LIKE '%anna@example.org%' ORDER BY id"
    )
    return [row["status"] for row in rows]


async def _shown_once_on_return(app: App, bob: Chat) -> None:
    """Anna's line waits for Bob as a message that met his block; the connection keeps no
    contact line. He sees it when he is back, once."""
    assert tuple(await app.db.fetchone("SELECT contact_a, contact_b FROM connections")) == (
        None,
        None,
    )
    assert await _kept(app) == ["unreachable"]
    await bob.send("/help")
    assert bob.keys[0] == "returning.title"
    assert "anna@example.org" in bob.text and "#1" in bob.text
    assert await _kept(app) == ["sent"]
    await bob.send("/help")
    assert "anna@example.org" not in bob.text


async def test_a_line_that_meets_a_block_found_only_when_it_is_sent_is_shown_on_return(
    app: App,
) -> None:
    """Telegram says nothing when someone blocks the bot: the bot finds out when a message
    to them fails. Bob said yes and blocked the bot; Anna's yes queues her line for him,
    and sending it meets the block."""
    _anna, bob, _ria = await _bob_then_anna_say_yes(app, bob_away=False)
    assert await _kept(app) == ["pending"]
    async with app.db.transaction():  # what delivery does when Telegram says "blocked"
        await app.repos.outbox.mark_chat_unreachable(bob.platform, bob.user_id, utcnow())
    await _shown_once_on_return(app, bob)


async def test_a_line_waiting_for_someone_who_is_banned_meanwhile_is_forgotten(
    app: App,
) -> None:
    """Nothing of another resident reaches a banned person: the line waiting for Bob is
    forgotten when he is banned, and coming back after the ban is lifted shows nothing."""
    _anna, bob, ria = await _bob_then_anna_say_yes(app, bob_away=True, bob_comments=True)
    await banned_over_reports(app, ria, 1, reporters="r")
    assert await _kept(app) == []  # no message keeps her line, not even a cancelled one
    async with app.db.transaction():
        await app.db.execute("DELETE FROM sanctions")
    await bob.send("/help")
    assert "anna@example.org" not in bob.text


async def test_an_erasure_of_the_one_whose_line_waits_takes_it_away(app: App) -> None:
    """Anna erases her data before Bob comes back: her line goes with her, and what waits
    for Bob instead is the word that the request ended."""
    anna, bob, _ria = await _bob_then_anna_say_yes(app, bob_away=True, bob_comments=True)
    await anna.send("/vergeetmij")
    await anna.press("Laten staan zonder naam")
    await anna.press("Ja, wis mijn gegevens")
    assert anna.keys[0] == "privacy.forget.done"
    assert tuple(await app.db.fetchone("SELECT user_a, status FROM connections")) == (
        None,
        "ended",
    )
    assert await _kept(app) == []
    await bob.send("/help")
    assert "anna@example.org" not in bob.text
    assert bob.keys[0] == "returning.title" and "gestopt" in bob.text


async def _hidden(app: App, idea_id: int) -> None:
    async with app.db.transaction():
        assert await app.repos.ideas.remove(
            idea_id, utcnow(), how=Removal.HIDDEN, reason="Een naam"
        )


async def test_a_yes_to_a_request_about_an_idea_hidden_since_is_refused(app: App) -> None:
    """Moderation hid Anna's idea after Bob was asked: his old ✅ Ja, graag does not lead
    him to type his contact line for it, and says why."""
    _anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await _hidden(app, 1)

    await bob.press_payload("con.yes:1")
    assert bob.keys == ["connect.idea_gone"]
    assert "Bankjes in het park" not in bob.text
    assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    [connection] = [await app.repos.connections.get(1)]
    assert connection is not None and connection.answer_of((await row(app, bob)).id) is None


async def test_a_contact_line_typed_after_the_idea_was_hidden_is_not_kept(app: App) -> None:
    """Bob said yes; the idea is hidden while he types his line: it is not kept or passed."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await anna.press_payload("con.yes:1")
    await anna.send("anna@example.org")
    await bob.press_payload("con.yes:1")
    assert bob.keys == ["connect.ask_contact"]
    await _hidden(app, 1)

    await bob.send("bob@example.org")
    assert bob.keys == ["connect.idea_gone"]
    assert "anna@example.org" not in bob.text
    connection = await app.repos.connections.get(1)
    assert connection is not None
    assert connection.answer_of((await row(app, bob)).id) is None
    assert "bob@example.org" not in str(await outbox(app))
