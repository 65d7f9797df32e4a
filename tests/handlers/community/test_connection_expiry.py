"""A request to connect two residents does not wait for ever: when not both answered in time it
expires, and the contact line of whoever said yes is forgotten. A ban calls the banned
person's requests off at once. Either way the other side hears it kindly, without why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.community.connections import expire_requests
from handlers.contract import Timer
from handlers.when import moment
from storage.clock import days_later, utcnow
from storage.community.connections import ConnectionStatus
from tests.handlers.ideas.helpers import seed_idea
from tests.meetings import ZONE
from tests.people import (
    TimerLog,
    audit_actions,
    connector,
    delivered,
    for_user,
    outbox,
    person,
    row,
    run_job,
)
from tests.privacy import traces
from tests.support import Chat
from tests.waiting import until

ANNA_CONTACT = "anna.vd.berg@example.org"
BOB_CONTACT = "@bob_ijmuiden"


async def _two_with_ideas(app: App) -> tuple[Chat, Chat]:
    """Anna wrote idea #1, Bob idea #2; they look alike."""
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    for who, title in ((anna, "Bankjes in het park"), (bob, "Bankjes bij de vijver")):
        await seed_idea(
            app,
            title,
            author=(await row(app, who)).id,
            description="Zet bankjes bij de vijver in het park neer.",
        )
    return anna, bob


async def _asked(app: App) -> tuple[Chat, Chat, Chat, Timer]:
    """The connector asks Anna and Bob; Anna says yes with her e-mail address; Bob is
    silent. Returns the three and the timer the request's end was armed with."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    timers = TimerLog(app)
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.asked"]
    [timer] = timers.armed
    [ask_anna] = await for_user(app, anna, "connect")
    await anna.press_payload(ask_anna.payloads()[0])
    await anna.send(ANNA_CONTACT)
    assert anna.keys == ["connect.waiting"]
    return anna, bob, ria, timer


async def test_a_yes_nobody_answers_expires_and_its_contact_line_is_forgotten(
    app: App,
) -> None:
    anna, bob, ria, timer = await _asked(app)
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.contact_a == ANNA_CONTACT
    # The profile's period, from the moment both were asked.
    assert app.profile.connections.answer_days == 14
    expires = days_later(stored.created_at, 14, app.settings.zone)
    assert timer == Timer(job="connection:1", at=expires)
    assert timer.at is not None

    # A minute early nothing ends: the job may run early (a restart), the row decides.
    await run_job(app, timer.job, timer.at - timedelta(minutes=1))
    still = await app.repos.connections.get(1)
    assert still is not None and still.status is ConnectionStatus.ASKED
    assert still.contact_a == ANNA_CONTACT

    await run_job(app, timer.job, timer.at)
    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.EXPIRED
    assert ended.contact_a is None and ended.contact_b is None
    assert ended.closed_at == timer.at
    assert await traces(app.db, [ANNA_CONTACT]) == []

    # Anna, who said yes, is told in her own chat; Bob gets nothing beyond the question.
    told = (await for_user(app, anna, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.expired_told"]
    text = told.text(app, "nl")
    assert "#2" in text and "niet op tijd" in text and "contactgegevens gewist" in text
    assert [q.replies[0].key for q in await for_user(app, bob, "connect")] == ["connect.ask"]
    # The connector who asked sees it ended, and how.
    staff = (await for_user(app, ria, "connect"))[-1]
    assert "#1 en #2 is verlopen" in staff.text(app, "nl")
    assert "connection.expire" in await audit_actions(app)

    # Her data file still says what happened, without the line.
    await anna.send("/mijngegevens")
    [document] = [seen.reply.document for seen in anna.last if seen.reply.document]
    assert document is not None
    [mine] = json.loads(document.data)["sections"]["connections"]["rows"]
    assert mine["status"] == "expired" and mine["your_answer"] == "yes"
    assert mine["your_contact_line"] is None and mine["other_idea"] == 2

    # Again (twice, or after a restart): nothing new for anyone.
    before = await outbox(app)
    await run_job(app, timer.job, timer.at + timedelta(days=1))
    assert await outbox(app) == before
    assert (await audit_actions(app)).count("connection.expire") == 1
    assert await app.repos.connections.pending(14, app.settings.zone) == []


async def test_old_buttons_of_an_expired_request_say_so_and_change_nothing(app: App) -> None:
    anna, bob, _ria, timer = await _asked(app)
    assert timer.at is not None
    await run_job(app, timer.job, timer.at)
    [ask_bob] = await for_user(app, bob, "connect")
    queued = await outbox(app)

    for payload in ask_bob.payloads()[:2]:  # yes, no
        await bob.press_payload(payload)
        assert bob.keys == ["connect.expired"]
        assert "verlopen" in bob.text
        assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    [ask_anna] = [q for q in await for_user(app, anna, "connect") if q.payloads()]
    await anna.press_payload(ask_anna.payloads()[0])
    assert anna.keys == ["connect.expired"]

    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status is ConnectionStatus.EXPIRED
    assert stored.answer_b is None and stored.contact_a is None
    assert await outbox(app) == queued  # nobody told anything new
    # The button to read the other idea still works: that idea is public.
    await bob.press_payload(ask_bob.payloads()[2])
    assert "ideas.card" in bob.keys


async def test_a_contact_line_typed_after_the_time_ran_out_is_not_kept(app: App) -> None:
    """Bob pressed yes in time but types his line after the request expired; and a yes
    pressed after the time ran out while the bot was down (the job has not run yet) is
    refused the same way: no contact line is stored for a request that is over."""
    _anna, bob, _ria, timer = await _asked(app)
    assert timer.at is not None
    due: datetime = timer.at
    [ask_bob] = await for_user(app, bob, "connect")
    clock = app.router.clock
    try:
        app.router.clock = lambda: due - timedelta(minutes=10)
        await bob.press_payload(ask_bob.payloads()[0])
        assert bob.keys == ["connect.ask_contact"]
        app.router.clock = lambda: due + timedelta(minutes=1)
        await bob.send(BOB_CONTACT)
        assert bob.keys == ["connect.expired"]
        assert await app.repos.dialogs.load((await row(app, bob)).id) is None
        await bob.press_payload(ask_bob.payloads()[0])
        assert bob.keys == ["connect.expired"]
    finally:
        app.router.clock = clock
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.answer_b is None and stored.contact_b is None
    assert await traces(app.db, [BOB_CONTACT]) == []
    assert not any(BOB_CONTACT in q.text(app, "nl") for q in await outbox(app))


async def test_the_connector_can_ask_the_two_again_after_it_expired(app: App) -> None:
    anna, _bob, ria, timer = await _asked(app)
    assert timer.at is not None
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.already_asked"]
    await run_job(app, timer.job, timer.at)
    await ria.send("/verbind #1 #2")
    assert ria.keys == ["connect.asked"]
    [(again_id, _)] = await app.repos.connections.pending(0, app.settings.zone)
    again = await app.repos.connections.get(again_id)
    assert again is not None and again.id != 1 and again.status is ConnectionStatus.ASKED
    assert again.contact_a is None  # Anna's line of the first request is not carried over
    # Anna's old buttons belong to the expired request; the new question has its own.
    asks = [q for q in await for_user(app, anna, "connect") if q.payloads()]
    assert [q.payloads()[0] for q in asks] == ["con.yes:1", f"con.yes:{again_id}"]
    await anna.press_payload("con.yes:1")
    assert anna.keys == ["connect.expired"]
    await anna.press_payload(f"con.yes:{again_id}")
    assert anna.keys == ["connect.ask_contact"]


async def test_a_run_that_fails_half_way_leaves_the_request_as_it_was(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a request is one transaction: the status, the forgotten line and the
    messages are written together, so a crash in the middle leaves it open, with Anna's
    line, and the next run (at start-up) ends it and tells her once."""
    _anna, _bob, _ria, timer = await _asked(app)
    assert timer.at is not None
    enqueue = app.repos.outbox.enqueue
    calls = 0

    async def fail_on_the_second(*args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:  # after Anna's message, before the connector's
            raise RuntimeError("the process stops here")
        return await enqueue(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app.repos.outbox, "enqueue", fail_on_the_second)
    queued = await outbox(app)
    with pytest.raises(RuntimeError):
        await expire_requests(app.repos, app.profile, app.settings.zone, timer.at)
    stored = await app.repos.connections.get(1)
    assert stored is not None and stored.status is ConnectionStatus.ASKED
    assert stored.contact_a == ANNA_CONTACT
    assert await outbox(app) == queued

    monkeypatch.setattr(app.repos.outbox, "enqueue", enqueue)
    assert await expire_requests(app.repos, app.profile, app.settings.zone, timer.at) == 1
    assert await expire_requests(app.repos, app.profile, app.settings.zone, timer.at) == 0
    keys = [q.replies[0].key for q in await outbox(app, "connect")][len(queued) :]
    assert keys == ["connect.expired_told", "connect.expired_staff"]


async def test_requests_that_ran_out_while_the_bot_was_down_end_at_start_up(
    settings: Settings,
) -> None:
    """Asked three weeks ago, the bot down since: the scheduler's start-up finds the request
    overdue and ends it at once, with its own runner and nobody calling it by hand."""
    weeks_ago = utcnow() - timedelta(days=21)
    app = await App.open(settings, clock=lambda: weeks_ago)
    try:
        anna, bob, ria, timer = await _asked(app)
        assert timer.at is not None and timer.at < utcnow()
    finally:
        await app.close()

    app = await App.open(settings)
    runtime = Runtime(app, adapters=[])
    try:
        await runtime.start()

        async def expired() -> bool:
            stored = await app.repos.connections.get(1)
            return stored is not None and stored.status is ConnectionStatus.EXPIRED

        await until(expired)
    finally:
        await runtime.stop()
    try:
        stored = await app.repos.connections.get(1)
        assert stored is not None and stored.contact_a is None
        assert stored.closed_at is not None and stored.closed_at > timer.at
        told = [q.replies[0].key for q in await for_user(app, anna, "connect")]
        assert told == ["connect.ask", "connect.expired_told"]
        assert (await for_user(app, ria, "connect"))[-1].replies[0].key == "connect.expired_staff"
        assert [q.replies[0].key for q in await for_user(app, bob, "connect")] == ["connect.ask"]
    finally:
        await app.close()


async def test_an_open_request_is_armed_again_at_start_up_for_its_moment(
    settings: Settings,
) -> None:
    app = await App.open(settings)
    try:
        _, _, _, timer = await _asked(app)
    finally:
        await app.close()
    app = await App.open(settings)
    runtime = Runtime(app, adapters=[])
    try:
        await runtime.start()
        assert runtime.scheduler.scheduled().get("connection:1") == timer.at
    finally:
        await runtime.stop()
        await app.close()


# A ban ------------------------------------------------------------------------------------


async def _ban_through_reports(app: App, who: Chat, ria: Chat) -> TimerLog:
    """``who`` writes a nasty comment, three residents report it, the connector bans them
    with the buttons. Returns the timers the router armed meanwhile."""
    await who.press_payload("idea.comment:2")
    await who.send("Wat een onzin, jullie zijn allemaal gek.")
    for n in range(3):
        other = await person(app, f"r{n}")
        await other.press_payload("idea.comments:2")
        await other.press("Meld 1")
        await other.press("Schelden of beledigend")
        assert other.keys == ["reporting.thanks"]
    timers = TimerLog(app)
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Herhaaldelijk schelden.")
    assert ria.keys[0] == "moderation.done_ban"
    return timers


async def test_a_ban_calls_off_the_banned_persons_requests_at_once(app: App) -> None:
    """Bob said yes and typed his line; then Anna is banned. Bob's line is forgotten in the
    same step, and he hears neutrally that the contact does not go ahead."""
    anna, bob = await _two_with_ideas(app)
    carl = await person(app, "carl")
    await seed_idea(app, "Bankjes op het plein", author=(await row(app, carl)).id)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await ria.send("/verbind #1 #3")
    await ria.send("/verbind #2 #3")  # Bob and Carl: Anna is no part of it
    await delivered(app)
    [ask_bob, _] = await for_user(app, bob, "connect")
    await bob.press_payload(ask_bob.payloads()[0])
    await bob.send(BOB_CONTACT)
    assert bob.keys == ["connect.waiting"]

    timers = await _ban_through_reports(app, anna, ria)

    for connection_id in (1, 2):
        stored = await app.repos.connections.get(connection_id)
        assert stored is not None and stored.status is ConnectionStatus.DECLINED
        assert stored.contact_a is None and stored.contact_b is None
        assert Timer(job=f"connection:{connection_id}", at=None) in timers.armed
    untouched = await app.repos.connections.get(3)
    assert untouched is not None and untouched.status is ConnectionStatus.ASKED
    assert await traces(app.db, [BOB_CONTACT]) == []

    for other in (bob, carl):
        told = (await for_user(app, other, "connect"))[-1]
        assert [r.key for r in told.replies] == ["connect.called_off"]
        text = told.text(app, "nl")
        assert "#1" in text and "gaat helaas niet door" in text
        assert "blokk" not in text.lower() and "schelden" not in text.lower()
    assert (await audit_actions(app)).count("connection.call_off") == 2

    # Bob's old buttons: over, nothing changes; the job later finds nothing to end.
    await bob.press_payload(ask_bob.payloads()[1])
    assert bob.keys == ["connect.closed"]
    before = await outbox(app)
    later = utcnow() + timedelta(days=30)
    await run_job(app, "connection:1", later)
    assert [q.replies[0].key for q in await outbox(app)][len(before) :] == [
        "connect.expired_staff"  # only the Bob and Carl request ran out
    ]
    last = await app.repos.connections.get(3)
    assert last is not None and last.status is ConnectionStatus.EXPIRED


async def _erase(app: App, chat: Chat) -> None:
    await chat.send("/vergeetmij")
    if any("Ook wissen" in label for label, _ in chat.buttons()):
        await chat.press("Ook wissen")
    await chat.press("Ja")
    assert chat.keys == ["privacy.forget.done"]
    await app.db.settled()


async def test_an_erased_connector_or_resident_leaves_the_job_nothing_to_trip_over(
    app: App,
) -> None:
    """The connector who asked erased their data: the request still ends, and only Anna is
    told. Carl erased his: his request ended, with nothing of him left in it; Bob's buttons
    say so, and its job finds nothing."""
    anna, bob, ria, timer = await _asked(app)
    assert timer.at is not None
    carl = await person(app, "carl")
    await seed_idea(app, "Bankjes op het plein", author=(await row(app, carl)).id)
    await ria.send("/verbind #2 #3")
    await _erase(app, ria)
    await _erase(app, carl)
    gone = await app.repos.connections.get(2)
    assert gone is not None and gone.status is ConnectionStatus.ENDED
    assert gone.user_b is None and gone.idea_b is None
    await bob.press_payload("con.yes:2")
    assert bob.keys == ["connect.ended"]
    # Someone else's old request, or one that is gone, by a forged button: not theirs.
    stranger = await person(app, "stranger")
    for who, payload in (
        (stranger, "con.yes:2"),
        (stranger, "con.no:1"),
        (bob, "con.yes:999"),
        (bob, "con.yes:-1"),
        (bob, "con.yes:x"),
    ):
        await who.press_payload(payload)
        assert who.keys == ["connect.not_found"], payload

    queued = len(await outbox(app))
    await run_job(app, timer.job, timer.at)
    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.EXPIRED
    assert ended.by_user_id is None and ended.contact_a is None
    keys = [q.replies[0].key for q in await outbox(app)][queued:]
    assert keys == ["connect.expired_told"]
    assert (await outbox(app))[-1].user_id == (await row(app, anna)).id


async def test_a_line_typed_after_the_other_was_banned_is_not_kept(app: App) -> None:
    """Bob pressed yes and is typing his line when Anna is banned: what he sends then is
    not stored, and he is told the request is over."""
    anna, bob = await _two_with_ideas(app)
    ria = await connector(app)
    await ria.send("/verbind #1 #2")
    await delivered(app)
    [ask_bob] = await for_user(app, bob, "connect")
    await bob.press_payload(ask_bob.payloads()[0])
    assert bob.keys == ["connect.ask_contact"]
    await _ban_through_reports(app, anna, ria)
    await bob.send(BOB_CONTACT)
    assert bob.keys == ["connect.closed"]
    assert await app.repos.dialogs.load((await row(app, bob)).id) is None
    assert await traces(app.db, [BOB_CONTACT]) == []
    told = (await for_user(app, bob, "connect"))[-1]
    assert [r.key for r in told.replies] == ["connect.called_off"]


async def test_an_erasure_calls_off_the_erased_persons_requests_and_the_other_hears_it(
    app: App,
) -> None:
    """Anna said yes and typed her line; then Bob erases his data. The request ends, with
    nothing of him left in it, and Anna, who waits for his answer, hears that it ended
    because the other is no longer on Samenspel; the connector who asked hears it too.
    Nobody waits for ever."""
    anna, bob, ria, _ = await _asked(app)
    await _erase(app, bob)
    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.ENDED
    assert (ended.user_b, ended.idea_b, ended.answer_b) == (None, None, None)
    assert await traces(app.db, [ANNA_CONTACT]) == []
    anna_id = (await row(app, anna)).id
    ria_id = (await row(app, ria)).id
    told = [(q.user_id, q.replies[0].key) for q in await outbox(app, "connect")]
    # Bob's own question went with him; the ones left are the news of the end.
    assert told == [(anna_id, "connect.ended_told"), (ria_id, "connect.ended_staff")]
    assert "connection.end" in await audit_actions(app)
    # Anna's old buttons say it is over, and change nothing.
    await anna.press_payload("con.no:1")
    assert anna.keys == ["connect.ended"]


#: (when the connector asks, when the request runs out: on Amsterdam's clock).
ASKED_ACROSS_A_CHANGE = [
    # 14 times 24 hours ended at 11:00 on 3 April's clock.
    pytest.param(
        datetime(2027, 3, 20, 10, 0, tzinfo=ZONE),
        datetime(2027, 4, 3, 10, 0, tzinfo=ZONE),
        id="spring",
    ),
    # 14 times 24 hours ended at 09:00 on 3 November's clock.
    pytest.param(
        datetime(2027, 10, 20, 10, 0, tzinfo=ZONE),
        datetime(2027, 11, 3, 10, 0, tzinfo=ZONE),
        id="autumn",
    ),
]


@pytest.mark.parametrize(("asked", "expires"), ASKED_ACROSS_A_CHANGE)
async def test_a_request_runs_out_14_calendar_days_on_at_the_clock_time_it_names(
    app: App, asked: datetime, expires: datetime
) -> None:
    app.router.clock = lambda: asked.astimezone(UTC)
    _anna, bob, _ria, timer = await _asked(app)
    assert timer.at == expires.astimezone(UTC)
    [ask_bob] = await for_user(app, bob, "connect")
    assert f"Antwoorden kan tot {moment(expires, 'nl')}." in ask_bob.text(app, "nl")
    # Start-up arms the same moment from the database.
    assert await app.repos.connections.pending(14, app.settings.zone) == [(1, timer.at)]

    await run_job(app, timer.job, timer.at - timedelta(minutes=1))
    still = await app.repos.connections.get(1)
    assert still is not None and still.status is ConnectionStatus.ASKED
    app.router.clock = lambda: timer.at - timedelta(minutes=1)
    await bob.press_payload(ask_bob.payloads()[0])  # a minute before: still taken
    assert bob.keys != ["connect.expired"], bob.keys

    await run_job(app, timer.job, timer.at)
    ended = await app.repos.connections.get(1)
    assert ended is not None and ended.status is ConnectionStatus.EXPIRED
