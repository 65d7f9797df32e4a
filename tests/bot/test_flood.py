"""Flood protection: a burst gets one slow-down answer, others are served, nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.flood import ALBUM_MOST, SWEEP_EVERY, FloodGate, Verdict
from handlers.catalog import Catalog
from handlers.contract import Photo, Role
from storage.clock import utcnow
from tests.handlers.ideas.helpers import seed_idea
from tests.people import connector, person, row, with_role
from tests.support import Chat

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _clock(app: App) -> Callable[[timedelta], None]:
    """Put the router on a clock the test moves, starting after the minute of onboarding."""
    now = [utcnow() + timedelta(minutes=2)]
    app.router.clock = lambda: now[0]

    def advance(by: timedelta) -> None:
        now[0] += by

    return advance


def test_the_gate_admits_the_limit_per_minute_and_warns_once_per_minute() -> None:
    gate = FloodGate(3)
    key = ("test", "anna")
    seconds = [0, 10, 20, 30, 31, 32]
    verdicts = [gate.check(key, T0 + timedelta(seconds=s)) for s in seconds]
    assert verdicts == [Verdict.ADMIT] * 3 + [Verdict.WARN] + [Verdict.DROP] * 2
    # A minute after the first, a place is free again; the next one is not.
    assert gate.check(key, T0 + timedelta(seconds=61)) is Verdict.ADMIT
    assert gate.check(key, T0 + timedelta(seconds=62)) is Verdict.DROP
    assert gate.check(key, T0 + timedelta(seconds=80)) is Verdict.ADMIT
    assert gate.check(key, T0 + timedelta(seconds=81)) is Verdict.ADMIT
    # Over again within a minute of the warning: quiet; a minute after it: one new warning.
    assert gate.check(key, T0 + timedelta(seconds=82)) is Verdict.DROP
    assert gate.check(key, T0 + timedelta(seconds=95)) is Verdict.WARN
    assert gate.check(key, T0 + timedelta(seconds=96)) is Verdict.DROP
    assert gate.check(("test", "bob"), T0 + timedelta(seconds=92)) is Verdict.ADMIT


def test_the_gate_forgets_people_who_went_quiet() -> None:
    gate = FloodGate(2)
    for n in range(SWEEP_EVERY - 1):
        gate.check(("test", f"p{n}"), T0)
    assert len(gate) == SWEEP_EVERY - 1
    gate.check(("test", "late"), T0 + timedelta(minutes=5))
    assert len(gate) == 1


def test_an_album_counts_once_and_no_more_than_an_album_holds_goes_free() -> None:
    gate = FloodGate(3)
    key = ("test", "anna")
    album = [gate.check(key, T0, "anna:1") for _ in range(ALBUM_MOST)]
    assert album == [Verdict.ADMIT] * ALBUM_MOST
    # More under the same album id than an album holds: each counts as a message.
    assert gate.check(key, T0, "anna:1") is Verdict.ADMIT
    assert gate.check(key, T0, "anna:1") is Verdict.ADMIT
    assert gate.check(key, T0, "anna:1") is Verdict.WARN
    # Someone else's album with the same id is theirs; an album refused stays refused.
    assert gate.check(("test", "bob"), T0, "anna:1") is Verdict.ADMIT
    assert gate.check(key, T0, "anna:2") is Verdict.DROP
    assert gate.check(key, T0, "anna:2") is Verdict.DROP
    # A minute after its first message, an album's messages count again.
    gate = FloodGate(2)
    assert gate.check(key, T0, "anna:3") is Verdict.ADMIT
    assert gate.check(key, T0 + timedelta(seconds=61), "anna:3") is Verdict.ADMIT
    assert gate.check(key, T0 + timedelta(seconds=61), "anna:3") is Verdict.ADMIT
    assert gate.check(key, T0 + timedelta(seconds=61), "anna:3") is Verdict.WARN


async def _album(chat: Chat, album: str, count: int) -> list[list[str]]:
    """``count`` photos sent as one album; the answer keys to each."""
    answers = []
    for n in range(count):
        seen = await chat.handle(chat.event(photo=Photo(data=b"\xff\xd8\xff %d" % n), album=album))
        answers.append([each.key for each in seen])
    return answers


async def test_albums_of_ten_photos_count_as_one_message_each(app: App) -> None:
    """Three albums of ten photos are three messages, not thirty: the minute is not used
    up by them, and she can go on."""
    anna = await person(app, "anna")
    _clock(app)
    albums = [await _album(anna, f"anna:{n}", ALBUM_MOST) for n in range(3)]
    for answers in albums:
        assert answers[0] and "flood.slow_down" not in answers[0], answers
        assert all(later == [] for later in answers[1:]), answers
    await anna.send("/help")
    assert anna.keys == ["general.help_title"]


async def test_an_album_at_the_end_of_the_minute_is_one_message(app: App) -> None:
    """One message left in the minute: the album is it; its other photos are not told to
    slow down. The next message after it is."""
    anna = await person(app, "anna")
    _clock(app)
    for _ in range(app.profile.limits.messages_per_minute - 1):
        await anna.send("/help")
    answers = await _album(anna, "anna:9", 4)
    assert answers[0] and "flood.slow_down" not in answers[0], answers
    assert answers[1:] == [[], [], []], answers
    await anna.send("/help")
    assert anna.keys == ["flood.slow_down"]


async def test_a_hundred_messages_in_a_second_get_one_slow_down_answer(app: App) -> None:
    anna = await person(app, "anna")
    bob = await person(app, "bob")
    _clock(app)  # a fresh minute, on a clock that stands still
    burst = [anna.send("/help") for _ in range(100)]
    answers = await asyncio.gather(*burst, bob.send("/help"))
    anna_answers, bob_answer = answers[:100], answers[100]
    keys = [[seen.key for seen in answer] for answer in anna_answers]
    limit = app.profile.limits.messages_per_minute
    assert keys.count(["general.help_title"]) == limit
    assert keys.count(["flood.slow_down"]) == 1
    assert keys.count([]) == 100 - limit - 1
    assert [seen.key for seen in bob_answer] == ["general.help_title"]
    slow = next(answer for answer in anna_answers if answer and answer[0].key == "flood.slow_down")
    assert "Wacht een minuutje" in slow[0].text


async def test_a_flood_does_not_consume_a_dialogs_text_and_a_minute_later_all_is_well(
    app: App,
) -> None:
    await seed_idea(app, "Een idee")
    anna = await person(app, "anna")
    advance = _clock(app)
    await anna.press_payload("idea.comment:1")
    for _ in range(app.profile.limits.messages_per_minute - 1):
        await anna.send("/help")
    await anna.send("Mijn reactie die te laat komt.")
    assert anna.keys == ["flood.slow_down"]
    assert await app.repos.comments.count(1) == 0
    stored = await app.repos.dialogs.load((await row(app, anna)).id)
    assert stored is not None and stored.name == "idea_comment"
    await anna.send("Nog een keer.")
    assert anna.keys == []  # told once, not once per message
    advance(timedelta(seconds=61))
    await anna.send("Mijn reactie, nu rustig.")
    assert anna.keys == ["comments.added", "comments.title"]


async def test_staff_are_not_held_back_by_the_flood_limit(app: App) -> None:
    ria = await connector(app)
    _clock(app)
    answers = [await ria.send("/help") for _ in range(app.profile.limits.messages_per_minute + 5)]
    assert all(answer[0].key == "general.help_title" for answer in answers)


async def test_ideas_per_day_are_counted_from_what_is_stored(app: App) -> None:
    anna = await person(app, "anna")
    author = (await row(app, anna)).id
    advance = _clock(app)
    for n in range(app.profile.limits.ideas_per_day):
        await seed_idea(app, f"Idee nummer {n}", author=author)
    await anna.send("/idee")
    assert anna.keys == ["flood.too_many_ideas"]
    assert "al 5 ideeën ingestuurd" in anna.text and "Niets van je is kwijt" in anna.text
    advance(timedelta(days=1, minutes=1))
    await anna.send("/idee")
    assert anna.keys == ["ideas.ask_category"]


async def test_comments_per_hour_are_counted_and_staff_may_write_more(app: App) -> None:
    await seed_idea(app, "Een idee")
    anna = await person(app, "anna")
    ria = await connector(app)
    advance = _clock(app)
    for chat in (anna, ria):
        author = (await row(app, chat)).id
        async with app.db.transaction():
            for n in range(app.profile.limits.comments_per_hour):
                await app.repos.comments.add(1, author, f"Reactie {n}", app.router.clock())
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["flood.too_many_comments"]
    await ria.press_payload("idea.comment:1")
    assert ria.keys == ["comments.ask"]
    advance(timedelta(hours=1, minutes=1))
    await anna.press_payload("idea.comment:1")
    assert anna.keys == ["comments.ask"]


async def test_a_civil_servant_is_staff_too(app: App) -> None:
    ria = await with_role(app, await person(app, "ria"), Role.CIVIL_SERVANT)
    _clock(app)
    answers = [await ria.send("/help") for _ in range(app.profile.limits.messages_per_minute + 1)]
    assert answers[-1][0].key == "general.help_title"
    # Someone the bot never saw flooding is told too (in their app's language).
    stranger = Chat(app, "stranger", language_hint="en")
    answers = [
        await stranger.send("/help") for _ in range(app.profile.limits.messages_per_minute + 1)
    ]
    assert answers[-1][0].key == "flood.slow_down"
    assert "Easy does it" in answers[-1][0].text


async def test_the_idea_limit_says_what_it_counts_the_last_24_hours_not_today(
    app: App,
) -> None:
    """Five ideas sent in late yesterday evening still count this morning: the limit is
    over any 24 hours, and the refusal must not speak of "today"."""
    anna = await person(app, "anna")
    english = await person(app, "bob", language="English")
    evening = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)  # 22:30 in Velsen
    for chat in (anna, english):
        author = (await row(app, chat)).id
        async with app.db.transaction():
            for n in range(app.profile.limits.ideas_per_day):
                await app.repos.ideas.create(
                    category="wonen",
                    title=f"Idee nummer {n}",
                    description="Een beschrijving die lang genoeg is voor een idee.",
                    neighbourhood=None,
                    photo_id=None,
                    author_user_id=author,
                    now=evening,
                )
    app.router.clock = lambda: datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # 09:00 the day after

    await anna.send("/idee")
    assert anna.keys == ["flood.too_many_ideas"]
    assert "in de afgelopen 24 uur al 5 ideeën ingestuurd" in anna.text
    assert "Vanaf 5 dec 2026, 22:30" in anna.text
    await english.send("/idea")
    assert english.keys == ["flood.too_many_ideas"]
    assert "5 ideas in the past 24 hours" in english.text
    for text in (anna.text, english.text):
        assert "vandaag" not in text and "today" not in text and "één dag" not in text


def test_no_catalog_speaks_of_today_for_a_limit_counted_over_24_hours() -> None:
    catalog = Catalog.load()
    today = {
        "nl": "vandaag",
        "en": "today",
        "pl": "dziś",
        "tr": "bugün",
        "uk": "сьогодні",
        "ar": "اليوم",
    }
    for lang, word in today.items():
        for posts in ("ideas", "proposals"):
            for count in (1, 2, 3, 5, 11, 100):
                text = catalog.text(
                    lang, f"flood.too_many_{posts}", {"count": count, "again": "x"}, markup=False
                )
                assert word not in text.lower(), (lang, posts, count)
                assert "24" in text, (lang, posts, count)


async def test_slow_down_is_said_in_the_language_chosen_for_the_conversation(app: App) -> None:
    """Someone whose phone is in Arabic, who chose Polish without agreeing (so it is not
    stored as theirs), is told to slow down in Polish like everything else."""
    amal = Chat(app, "amal", language_hint="ar")
    await amal.send("/start")
    await amal.press("Polski")
    await amal.press("Nie, dziękuję")
    _clock(app)
    for _ in range(app.profile.limits.messages_per_minute):
        await amal.send("/help")
    await amal.send("/help")
    assert amal.keys == ["flood.slow_down"]
    assert amal.text.startswith("Spokojnie")
