"""A meeting changes while messages about it still wait in the outbox (a large audience
takes minutes to invite; a 429 or a stop holds rows back), or a person with a place is
banned meanwhile: what goes out says what is true, and no place is lost. Signing up from an
invitation read before a move says the time as it is now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from bot.app import App
from bot.delivery import DeliveryPolicy, DeliveryWorker
from bot.platforms.base import Blocked
from handlers.contract import Reply
from handlers.when import day
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.meetings.meetings import Place, Reminder
from tests.bot.delivery_support import FakeAdapter
from tests.consultations import Clock
from tests.handlers.ideas.helpers import seed_idea
from tests.meetings import TITLE, Reminders, calendar_of, evening, organise
from tests.people import civil_servant, connector, for_user, row, subscribe
from tests.people import person as resident
from tests.support import Chat
from tests.waiting import until


async def _waiting(app: App, chat: Chat) -> list[tuple[str, list[Reply], str | None]]:
    """(batch, replies, expires_at) of the rows still to be sent to a chat's person."""
    user = await row(app, chat)
    rows = await app.db.fetchall(
        "SELECT batch, payload, expires_at FROM outbox WHERE user_id = ?"
        " AND status = 'pending' ORDER BY id",
        (user.id,),
    )
    return [
        (r["batch"], [Reply.model_validate(p) for p in json.loads(r["payload"])], r["expires_at"])
        for r in rows
    ]


def _read(app: App, replies: list[Reply]) -> str:
    return "\n".join(app.catalog.render("nl", reply, markup=False) for reply in replies)


async def test_a_move_before_everything_went_out_sends_the_new_time_and_no_old_reminder(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, carl, dina = [await resident(app, n) for n in ("anna", "carl", "dina")]
    await subscribe(anna)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1)
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await carl.press_payload(f"mt.go:{meeting}")
    await dina.press_payload(f"mt.go:{meeting}")
    await carl.press("Ik kom toch niet")  # Dina moves up: told, with the calendar file
    clock.now = (starts - timedelta(days=1)).astimezone(UTC) + timedelta(minutes=1)
    await Reminders.of(app).run(meeting)  # Dina's reminder of the day waits as well

    later = starts + timedelta(days=7)
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.moved_done"]

    new, old = f"{day(later, 'nl')}, 19:30–21:30", day(starts, "nl")
    [(batch, invitation, expires)] = await _waiting(app, anna)
    assert batch.startswith("broadcast:") and invitation[0].key == "meetings.invitation"
    assert new in _read(app, invitation) and old not in _read(app, invitation)
    assert expires is not None and expires.startswith(later.astimezone(UTC).strftime("%Y-%m-%d"))
    # Dina: that she has a place (now with the new time and file), then that it moved; the
    # reminder that said "tomorrow" about the old time is not sent.
    told = await _waiting(app, dina)
    assert [replies[0].key for _, replies, _ in told] == ["meetings.moved_up", "meetings.moved"]
    placed = told[0][1]
    assert new in _read(app, placed) and old not in _read(app, placed)
    assert placed[1].document is not None
    [event] = Calendar.from_ical(placed[1].document.data).events
    assert event.start == later and int(event["sequence"]) == 1
    # The reminders start over for the new time.
    assert await Reminders.of(app).pending() == [
        (meeting, (later - timedelta(days=1)).astimezone(UTC))
    ]
    # Whoever reads "Wist je dat" later reads the new time.
    await anna.press_payload("news.page:0")
    assert new in anna.text and old not in anna.text
    assert "Ik kom" in " ".join(anna.last[0].labels())


async def test_a_cancelled_meeting_sends_no_invitation_or_reminder_still_waiting(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    await subscribe(anna)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5)
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await bob.press_payload(f"mt.go:{meeting}")
    clock.now = (starts - timedelta(days=1)).astimezone(UTC) + timedelta(minutes=1)
    await Reminders.of(app).run(meeting)
    assert [r[0].key for _, r, _ in await _waiting(app, bob)] == ["meetings.reminder_day"]

    await ria.press_payload(f"mt.end:{meeting}")
    await ria.press("Ja, afzeggen")
    assert ria.keys == ["meetings.cancelled_done"] and "1 persoon" in ria.text

    assert await _waiting(app, anna) == [], "no invitation to a meeting that is off"
    [(_, told, _)] = await _waiting(app, bob)
    assert told[0].key == "meetings.cancelled_by_staff"
    withdrawn = await app.db.fetchall(
        "SELECT batch FROM outbox WHERE status = 'cancelled' ORDER BY id"
    )
    assert [r["batch"] for r in withdrawn] == ["broadcast:1", f"meeting:{meeting}:day"]
    # "Wist je dat" shows it as off, without "Ik kom"; an old "Ik kom" is answered.
    await anna.press_payload("news.page:0")
    assert anna.last[0].key == "meetings.invitation_cancelled"
    assert "Gaat niet door" in anna.text
    assert not any("Ik kom" in label for label in anna.last[0].labels())
    await anna.press_payload(f"mt.go:{meeting}")
    assert "gaat niet door" in anna.text


async def test_a_cancellation_sends_a_file_that_takes_the_meeting_out_of_the_calendar(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    bob = await resident(app, "bob")
    await organise(ria, evening(clock.now), capacity=5, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await bob.press_payload(f"mt.go:{meeting}")
    [booked] = calendar_of(bob.last).events

    await ria.press_payload(f"mt.end:{meeting}")
    await ria.press("Ja, afzeggen")
    [(_, told, _)] = await _waiting(app, bob)
    assert [reply.key for reply in told] == [
        "meetings.cancelled_by_staff",
        "meetings.calendar_cancelled",
    ]
    text = _read(app, told)
    assert "gaat niet door" in text and "uit je agenda" in text
    assert "Zet de bijeenkomst in je agenda" not in text
    assert told[1].document is not None
    cancelling = Calendar.from_ical(told[1].document.data)
    # RFC 5546: a cancellation of the entry the booking made (same UID, later SEQUENCE).
    assert cancelling["method"] == "CANCEL"
    [event] = cancelling.events
    assert event["uid"] == booked["uid"]
    assert int(event["sequence"]) > int(booked["sequence"])
    assert event["status"] == "CANCELLED"


async def test_giving_up_a_place_comes_with_a_file_that_takes_it_out_of_ones_calendar(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    bob, carl = await resident(app, "bob"), await resident(app, "carl")
    await organise(ria, evening(clock.now), capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await bob.press_payload(f"mt.go:{meeting}")
    [booked] = calendar_of(bob.last).events
    # The organiser RFC 5546 asks for: the municipality's address from the profile.
    assert str(booked["organizer"]) == "mailto:info@velsen.nl"
    await carl.press_payload(f"mt.go:{meeting}")  # the waitlist: no file to take back
    await carl.press("Ik kom toch niet")
    assert carl.keys == ["meetings.cancelled_mine"]

    await bob.press("Ik kom toch niet")
    assert bob.keys == ["meetings.cancelled_mine", "meetings.calendar_cancelled"]
    assert "uit je agenda" in bob.text
    file = bob.last[1].reply.document
    assert file is not None
    taking_out = Calendar.from_ical(file.data)
    assert taking_out["method"] == "CANCEL"
    [event] = taking_out.events
    assert event["uid"] == booked["uid"] and event["status"] == "CANCELLED"
    assert int(event["sequence"]) > int(booked["sequence"])


async def test_a_place_given_up_before_its_news_went_out_takes_the_news_back(
    app: App, clock: Clock
) -> None:
    """Bob moved up from the waitlist; before "a place came free for you" reached him, he
    pressed "Ik kom toch niet" under an older message: that news, and the reminder waiting
    beside it, no longer go to him; Carl, next, gets the place and its news."""
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    for chat in (anna, bob, carl):
        await chat.press_payload(f"mt.go:{meeting}")
    await anna.press("Ik kom toch niet")
    assert [r[1][0].key for r in await _waiting(app, bob)] == ["meetings.moved_up"]
    clock.now = starts.astimezone(UTC) - timedelta(hours=23)
    await Reminders.of(app).run(meeting)
    assert [r[1][0].key for r in await _waiting(app, bob)] == [
        "meetings.moved_up",
        "meetings.reminder_day",
    ]

    await bob.press_payload(f"mt.no:{meeting}")
    assert bob.keys[0] == "meetings.cancelled_mine_passed"
    assert await _waiting(app, bob) == []
    assert [r[1][0].key for r in await _waiting(app, carl)] == ["meetings.moved_up"]


async def test_a_place_given_up_after_a_move_takes_back_the_move_news_and_its_file(
    app: App, clock: Clock
) -> None:
    """Staff moved the meeting; before "it moved, here is the file" reached Anna (a large
    audience, a 429), she gave up her place: that news, whose file would put the meeting
    back in her calendar, no longer goes to her. Bob, waiting, still hears of the move."""
    ria = await civil_servant(app)
    anna, bob = await resident(app, "anna"), await resident(app, "bob")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    later = starts + timedelta(days=2)
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert [r[0].key for _, r, _ in await _waiting(app, anna)] == ["meetings.moved"]

    await anna.press_payload(f"mt.no:{meeting}")
    assert anna.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    assert await _waiting(app, anna) == []
    # Bob: that it moved (he waited then), and that he has a place now, with the file.
    assert [r[0].key for _, r, _ in await _waiting(app, bob)] == [
        "meetings.moved",
        "meetings.moved_up",
    ]

    # Signing up again, she gets the file as it is now; nothing older follows it.
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys == ["meetings.waitlisted"]
    assert await _waiting(app, anna) == []


async def test_a_place_that_comes_free_skips_someone_waiting_who_cannot_be_reached(
    app: App, clock: Clock
) -> None:
    """Bob, first on the waitlist, blocked the bot: a place that comes free goes to Carl,
    who can be told, not to Bob, who would never hear he has it. Back, Bob asks again and
    gets the place still free."""
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    for chat in (anna, bob, carl):
        await chat.press_payload(f"mt.go:{meeting}")
    async with app.db.transaction():
        await app.repos.outbox.mark_chat_unreachable(bob.platform, bob.user_id, utcnow())

    await anna.press_payload(f"mt.no:{meeting}")
    assert anna.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    assert [r[0].key for _, r, _ in await _waiting(app, carl)] == ["meetings.moved_up"]
    bob_row = await row(app, bob)
    mine = await app.repos.meetings.registration(meeting, bob_row.id)
    assert mine is not None and mine.status is Place.WAITING and mine.position == 1

    # Carl cannot come after all: nobody who can be told waits, so the place stays free.
    await carl.press_payload(f"mt.no:{meeting}")
    assert carl.keys == ["meetings.cancelled_mine", "meetings.calendar_cancelled"]
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None and (stored.going, stored.waiting) == (0, 1)

    # Bob is back; his meeting's card offers the free place, and it is his, with its file.
    await bob.send("/menu")
    await bob.press_payload(f"mt.open:{meeting}")
    assert "⏳ Je staat op de wachtlijst." in bob.text
    await bob.press("Ik kom")
    assert bob.keys == ["meetings.registered", "meetings.calendar"]
    mine = await app.repos.meetings.registration(meeting, bob_row.id)
    assert mine is not None and mine.status is Place.GOING


async def test_a_place_that_comes_free_skips_someone_waiting_who_was_banned(
    app: App, clock: Clock
) -> None:
    """Bob, first on the waitlist, was banned meanwhile: he may not sign up, so a place
    that comes free goes to Carl, not to him. His turn is kept, should the ban be lifted."""
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    await organise(ria, evening(clock.now), capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    for chat in (anna, bob, carl):
        await chat.press_payload(f"mt.go:{meeting}")
    bob_row = await row(app, bob)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            bob_row.id, SanctionKind.BAN, reason="schelden", by_user_id=None, now=clock.now
        )

    await anna.press_payload(f"mt.no:{meeting}")
    assert [r[0].key for _, r, _ in await _waiting(app, carl)] == ["meetings.moved_up"]
    assert await _waiting(app, bob) == []
    mine = await app.repos.meetings.registration(meeting, bob_row.id)
    assert mine is not None and mine.status is Place.WAITING and mine.position == 1
    theirs = await app.repos.meetings.registration(meeting, (await row(app, carl)).id)
    assert theirs is not None and theirs.status is Place.GOING


async def _deliver(app: App, adapter: FakeAdapter, clock: Clock) -> None:
    """Delivery sends what the outbox holds, until nothing is pending."""
    worker = DeliveryWorker(
        app.repos, app.catalog, adapter, DeliveryPolicy(poll=0.05), clock=clock
    )
    await worker.start()
    try:

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await until(settled)
    finally:
        await worker.stop()


async def test_a_place_someone_moved_up_into_goes_on_when_they_turn_out_to_have_blocked_the_bot(
    app: App, clock: Clock
) -> None:
    """Bob moves up while nobody knows yet that he blocked the bot; the message that says
    so meets the block. He never heard the place was his: it goes to Carl, next in line,
    who is told. Bob keeps his turn; back, he finds himself first on the waitlist."""
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    for chat in (anna, bob, carl):
        await chat.press_payload(f"mt.go:{meeting}")
    await anna.press_payload(f"mt.no:{meeting}")
    bob_row, carl_row = await row(app, bob), await row(app, carl)
    mine = await app.repos.meetings.registration(meeting, bob_row.id)
    assert mine is not None and mine.status is Place.GOING

    # The bot restarts before delivery sends it: the new process learns of the block.
    adapter = FakeAdapter(script={bob.user_id: [Blocked("bot was blocked by the user")]})
    restarted = await App.open(app.settings, clock=clock)
    try:
        await _deliver(restarted, adapter, clock)
    finally:
        await restarted.close()
    bob_now = await app.repos.meetings.registration(meeting, bob_row.id)
    carl_now = await app.repos.meetings.registration(meeting, carl_row.id)
    assert bob_now is not None and (bob_now.status, bob_now.position) == (Place.WAITING, 1)
    assert carl_now is not None and carl_now.status is Place.GOING
    to_carl = [s for s in adapter.sent if s.chat_id == carl.user_id]
    assert [s.keys for s in to_carl] == [["meetings.moved_up", "meetings.calendar"]]
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None and (stored.going, stored.waiting) == (1, 1)
    # The reminders go to Carl, not to Bob.
    assert await app.repos.meetings.to_remind(meeting, Reminder.DAY) == [carl_row.id]

    # Bob, back, is first on the waitlist of a full meeting.
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.already_waiting"] and "(nummer 1)" in bob.text


async def test_a_place_whose_message_reached_its_person_stays_theirs_after_a_block(
    app: App, clock: Clock
) -> None:
    """Carl heard he moved up; blocking the bot later does not take the place away."""
    ria = await civil_servant(app)
    anna, carl, dina = [await resident(app, n) for n in ("anna", "carl", "dina")]
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    for chat in (anna, carl, dina):
        await chat.press_payload(f"mt.go:{meeting}")
    await anna.press_payload(f"mt.no:{meeting}")
    await _deliver(app, FakeAdapter(), clock)  # Carl is told he has the place
    async with app.db.transaction():
        await app.repos.outbox.mark_chat_unreachable(carl.platform, carl.user_id, utcnow())
    carl_now = await app.repos.meetings.registration(meeting, (await row(app, carl)).id)
    assert carl_now is not None and carl_now.status is Place.GOING
    dina_now = await app.repos.meetings.registration(meeting, (await row(app, dina)).id)
    assert dina_now is not None and dina_now.status is Place.WAITING


async def test_someone_banned_with_a_place_can_still_give_it_to_the_first_waiting(
    app: App, clock: Clock
) -> None:
    ria, sam = await civil_servant(app), await connector(app, "sam")
    anna, bob, carl = [await resident(app, n) for n in ("anna", "bob", "carl")]
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    await bob.press_payload(f"mt.go:{meeting}")
    assert bob.keys == ["meetings.waitlisted"]
    # Anna is banned for a comment; her reminder still comes, and asks her to say so if
    # she cannot come.
    await seed_idea(app, "Een speeltuin in Zeewijk")
    await anna.press_payload("idea.comment:1")
    await anna.send("Wat een onzin, jullie zijn allemaal gek.")
    await carl.press_payload("idea.comments:1")
    await carl.press("Meld 1")
    await carl.press("Schelden of beledigend")
    await sam.send("/meldingen")
    await sam.press("Blokkeren")
    await sam.send("Herhaaldelijk schelden.")
    await anna.send("/menu")
    assert anna.keys == ["moderation.banned"]
    clock.now = starts.astimezone(UTC) - timedelta(hours=23)
    await Reminders.of(app).run(meeting)
    [reminder] = [r for b, r, _ in await _waiting(app, anna) if b == f"meeting:{meeting}:day"]
    assert reminder[0].key == "meetings.reminder_day"

    await anna.press_payload(reminder[0].buttons[0][0].payload)
    assert anna.keys == ["meetings.cancelled_mine_passed", "meetings.calendar_cancelled"]
    [(_, placed, _)] = await _waiting(app, bob)
    assert placed[0].key == "meetings.moved_up"
    await ria.press_payload(f"mt.who:{meeting}")
    assert "1. Bob" in ria.text and "Anna" not in ria.text
    # The ban holds for everything else.
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys == ["moderation.banned"]


async def test_signing_up_from_an_invitation_read_before_a_move_says_the_new_time(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna, carl = [await resident(app, n) for n in ("anna", "carl")]
    await subscribe(anna)
    await subscribe(carl)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=1)
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    [(_, invitation, _)] = await _waiting(app, anna)
    go = next(
        b.payload for line in invitation[0].buttons for b in line if b.payload.startswith("mt.go:")
    )
    old = f"{day(starts, 'nl')}, 19:30–21:30"
    assert old in _read(app, invitation)
    # The invitation reached her phone with the old time; then the meeting moved.
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = '2026-01-01T00:00:00+00:00'"
        )
    later = starts + timedelta(days=2)
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(later.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.moved_done"]

    new = f"{day(later, 'nl')}, 19:30–21:30"
    await anna.press_payload(go)
    assert anna.keys[0] == "meetings.registered"
    assert new in anna.text and old not in anna.text
    # The one after her waits, and hears the same new time.
    await carl.press_payload(go)
    assert carl.keys[0] == "meetings.waitlisted"
    assert new in carl.text


async def _published(app: App, ria: Chat, starts: datetime, capacity: int) -> int:
    await organise(ria, starts, capacity=capacity, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    assert ria.keys == ["meetings.published"]
    return int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))


async def test_signing_up_promises_only_the_reminders_that_will_still_come(
    app: App, clock: Clock
) -> None:
    """A day or more ahead: a reminder a day and an hour before. Less than a day ahead the
    day's reminder can no longer come: only the hour's is promised; within the hour, none.
    A place that comes free from the waitlist says the same."""
    clock.now = datetime(2027, 5, 10, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam
    ria = await civil_servant(app)
    anna, bob, carl = [await resident(app, name) for name in ("anna", "bob", "carl")]
    later = await _published(app, ria, evening(clock.now, days=3), capacity=5)
    await anna.press_payload(f"mt.go:{later}")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]
    assert "Je krijgt een dag en een uur van tevoren een herinnering." in anna.text

    tonight = await _published(app, ria, evening(clock.now, days=0), capacity=1)
    await anna.press_payload(f"mt.go:{tonight}")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]
    assert "Je krijgt een uur van tevoren een herinnering." in anna.text
    assert "een dag" not in anna.text
    reminders = await Reminders.of(app).pending()
    assert (tonight, evening(clock.now, days=0) - timedelta(hours=1)) in reminders
    await bob.press_payload(f"mt.go:{tonight}")
    assert bob.keys == ["meetings.waitlisted"]
    await anna.press("Ik kom toch niet")
    [moved] = await for_user(app, bob, "meeting")
    assert [r.key for r in moved.replies] == ["meetings.moved_up", "meetings.calendar"]
    assert "Je krijgt een uur van tevoren een herinnering." in moved.text(app, "nl")
    assert "een dag" not in moved.text(app, "nl")
    # Their card says the same.
    await bob.send("/bijeenkomsten")
    await bob.press(TITLE)
    assert "Je komt.\nJe krijgt een uur van tevoren een herinnering." in bob.text

    clock.now = evening(clock.now, days=0) - timedelta(minutes=30)
    await bob.press_payload(f"mt.no:{tonight}")
    await carl.press_payload(f"mt.go:{tonight}")
    assert carl.keys == ["meetings.registered", "meetings.calendar"]
    assert "herinnering" not in carl.text


async def test_an_old_invitation_to_a_meeting_that_ended_loses_its_ik_kom(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    await subscribe(anna)
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5)
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload("news.page:0")
    assert any("Ik kom" in label for label in anna.last[0].labels())
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None
    clock.now = stored.ends_at + timedelta(hours=1)

    # Read again in "Wist je dat": no "Ik kom" for a meeting that is over.
    await anna.press_payload("news.page:0")
    assert anna.last[0].key == "meetings.invitation"
    assert not any("Ik kom" in label for label in anna.last[0].labels())
    assert "Alle bijeenkomsten" in " ".join(anna.last[0].labels())

    # Tapped on the message she still has: the meeting as it is now, that it is over,
    # without the button, in a new message (the news page she tapped stays as it was).
    await anna.press_payload(f"mt.go:{meeting}")
    [answer] = anna.last
    assert "voorbij" in answer.text and TITLE in answer.text
    assert not answer.reply.edit
    assert not any(payload.startswith("mt.go") for _, payload in answer.buttons)
    assert await app.repos.meetings.people(meeting) == []


async def test_an_old_ik_kom_toch_niet_after_the_meeting_shows_the_meeting_as_it_is_now(
    app: App, clock: Clock
) -> None:
    ria = await civil_servant(app)
    anna = await resident(app, "anna")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=5, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    assert anna.keys == ["meetings.registered", "meetings.calendar"]
    assert f"mt.no:{meeting}" in [payload for _, payload in anna.last[0].buttons]
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None

    for moment, said in ((stored.starts_at, "al begonnen"), (stored.ends_at, "voorbij")):
        clock.now = moment + timedelta(minutes=5)
        # Tapped on the message she still has: the meeting as it is now, without the
        # button that cannot work any more, in a new message (as for an old "Ik kom": the
        # message it sat under, a reminder say, keeps its words).
        await anna.press_payload(f"mt.no:{meeting}")
        [answer] = anna.last
        assert answer.key == "meetings.card"
        assert said in answer.text and TITLE in answer.text
        assert not answer.reply.edit
        assert not any(p.startswith(("mt.no", "mt.go")) for _, p in answer.buttons)
        assert "Alle bijeenkomsten" in " ".join(answer.labels())
        # Nothing changed: she still had her place.
        mine = await app.repos.meetings.registration(meeting, (await row(app, anna)).id)
        assert mine is not None and mine.status is Place.GOING


async def test_a_move_to_the_time_the_meeting_already_has_tells_nobody_and_reminds_nobody_again(
    app: App, clock: Clock
) -> None:
    """Ria types the time it already has: nobody hears it "moved", nobody gets a calendar
    file or the reminder of the day a second time; she is asked for another time."""
    ria, anna = await civil_servant(app), await resident(app, "anna")
    starts = evening(clock.now)
    await organise(ria, starts, capacity=3, audience=("Geen uitnodiging",))
    await ria.press("Publiceren")
    meeting = int(await app.db.fetchval("SELECT MAX(id) FROM meetings"))
    await anna.press_payload(f"mt.go:{meeting}")
    clock.now = (starts - timedelta(days=1)).astimezone(UTC) + timedelta(minutes=1)
    await Reminders.of(app).run(meeting)
    assert [r[0].key for _, r, _ in await _waiting(app, anna)] == ["meetings.reminder_day"]
    await app.db.execute("UPDATE outbox SET status = 'sent' WHERE status = 'pending'")

    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    await ria.press("2 uur")
    assert ria.keys == ["meetings.move_same", "meetings.ask_move"]
    assert await _waiting(app, anna) == []
    assert await app.repos.meetings.to_remind(meeting, Reminder.DAY) == []
    stored = await app.repos.meetings.get(meeting)
    assert stored is not None and stored.version == 0

    # Another end is another time: that moves it, and Anna hears so.
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    await ria.press("3 uur")
    assert ria.keys == ["meetings.moved_done"]
    assert [r[0].key for _, r, _ in await _waiting(app, anna)] == ["meetings.moved"]

    # The same time again, but a colleague cancels it meanwhile: that is what Ria hears.
    sam = await civil_servant(app, "sam")
    await ria.press_payload(f"mt.move:{meeting}")
    await ria.send(starts.strftime("%d-%m-%Y %H:%M"))
    await sam.press_payload(f"mt.end:{meeting}")
    await sam.press("Ja, afzeggen")
    await ria.press("3 uur")
    assert ria.keys == ["meetings.not_moved"]
