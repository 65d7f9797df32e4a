"""The router: per-person order, concurrency across people, error isolation, dialogs."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.app import App
from bot.router import Router
from handlers.contract import Dialog, Event, Reply, Response, Role, respond
from handlers.feature import Context, Feature, Registry
from tests.support import Chat


def _router(app: App, feature: Feature, **kwargs: object) -> Router:
    from handlers import FEATURES

    return Router(
        app.repos,
        Registry([*FEATURES, feature]),
        app.profile,
        app.catalog,
        app.settings.zone,
        **kwargs,  # type: ignore[arg-type]
    )


def _counter_feature(log: list[tuple[str, int]]) -> Feature:
    """A dialog that counts every text a person sends, in the dialog state itself."""
    feature = Feature("counter")

    @feature.command("count", consent=False, role=Role.RESIDENT)
    async def begin(ctx: Context) -> Response:
        return respond(dialog=Dialog(name="count", step="counting", data={"n": 0}))

    @feature.dialog("count", consent=False, role=Role.RESIDENT).step("counting")
    async def step(ctx: Context, dialog: Dialog) -> Response:
        n = dialog.data["n"] + 1
        log.append((ctx.event.sender.platform_user_id, int(ctx.text)))
        return respond(Reply(key="raw", params={"text": n}), dialog=dialog.to("counting", n=n))

    return feature


async def test_a_burst_from_one_person_is_handled_in_order_with_no_lost_update(app: App) -> None:
    log: list[tuple[str, int]] = []
    app.router = _router(app, _counter_feature(log))
    anna = Chat(app, "anna")
    await anna.send("/count")
    # Ten messages at once: each must see the dialog state the previous one saved.
    answers = await asyncio.gather(*(anna.send(str(i)) for i in range(10)))
    assert [value for _, value in log] == list(range(10))
    assert sorted(int(a[0].text) for a in answers) == list(range(1, 11))
    stored = await app.repos.dialogs.load((await app.repos.users.find("test", "anna")).id)
    assert stored is not None and stored.data["n"] == 10


async def test_different_people_are_served_concurrently(app: App) -> None:
    # Storage work is serialised (one writer); the slow part, talking to the platform, is not:
    # while one person's answer is being sent, others are handled and answered.
    sending = 0
    most_at_once = 0
    release = asyncio.Event()

    async def slow_platform(event: Event, lang: str, replies: list[Reply]) -> None:
        nonlocal sending, most_at_once
        sending += 1
        most_at_once = max(most_at_once, sending)
        if most_at_once == 10:
            release.set()
        await asyncio.wait_for(release.wait(), timeout=30)
        sending -= 1

    people = [Chat(app, f"p{i}").event(command="help") for i in range(10)]
    await asyncio.gather(*(app.router.handle(event, slow_platform) for event in people))
    assert most_at_once == 10


async def test_a_failing_handler_apologises_and_others_keep_being_served(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    feature = Feature("broken")

    @feature.command("boom", consent=False, role=Role.RESIDENT)
    async def boom(ctx: Context) -> Response:
        await ctx.repos.users.set_role(ctx.user.id, Role.ADMIN)  # must be rolled back
        raise RuntimeError("handler bug")

    app.router = _router(app, feature)
    anna, bob = Chat(app, "anna"), Chat(app, "bob")
    await anna.send("/help")
    with caplog.at_level(logging.ERROR):
        answers = await asyncio.gather(anna.send("/boom"), bob.send("/help"))
    assert answers[0][0].key == "errors.sorry"
    assert answers[1][0].key == "general.help_title"
    assert "handler bug" in caplog.text  # logged with its trace
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.role is Role.RESIDENT


async def test_a_dialog_survives_a_restart_on_the_same_file(app: App) -> None:
    anna = Chat(app, "anna")
    await anna.send("/start")
    await anna.press("Ja")
    await app.close()

    reopened = await App.open(app.settings)
    try:
        again = Chat(reopened, "anna")
        again.history = anna.history  # the buttons on the screen are still there
        await again.press("English")
        assert again.keys == ["onboarding.neighbourhood_question"]
    finally:
        await reopened.close()


async def test_a_dialog_expires_after_a_day_of_silence(app: App) -> None:
    now = [app.router.clock()]
    app.router.clock = lambda: now[0]
    anna = Chat(app, "anna")
    await anna.send("/start")
    now[0] += timedelta(days=1, minutes=1)
    await anna.send("hallo")
    assert anna.keys[0] == "general.dialog_expired"
    old_consent_buttons = anna.history[0]
    anna.history.append(old_consent_buttons)
    await anna.press("Ja")
    assert anna.keys == ["general.stale_button"]


async def test_cancel_leaves_any_dialog(app: App, chat) -> None:  # type: ignore[no-untyped-def]
    anna = chat("anna")
    await anna.send("/start")
    await anna.send("/annuleer")
    assert anna.keys == ["general.cancelled"]
    user = await app.repos.users.find("test", "anna")
    assert await app.repos.dialogs.load(user.id) is None


async def test_staff_commands_look_unknown_to_residents(app: App) -> None:
    feature = Feature("staff")

    @feature.command("geheim", role=Role.CONNECTOR, consent=False)
    async def secret(ctx: Context) -> Response:
        return respond(Reply(key="raw", params={"text": "secret"}))

    app.router = _router(app, feature)
    anna = Chat(app, "anna")
    await anna.send("/geheim")
    unknown = anna.text
    await anna.send("/bestaatniet")
    assert anna.text.replace("bestaatniet", "geheim") == unknown


async def test_numbered_answers_press_the_offered_buttons_after_a_restart(app: App) -> None:
    anna = Chat(app, "anna", platform="console")
    await anna.send("/start")
    await app.close()
    reopened = await App.open(app.settings)
    try:
        again = Chat(reopened, "anna", platform="console")
        await again.send("1")  # "Ja, ik doe mee"
        assert again.keys == ["onboarding.language_question"]
        await again.send("english")  # a label works too, in any case
        assert again.keys == ["onboarding.neighbourhood_question"]
        await again.send("i'd rather NOT say")
        assert again.keys == ["onboarding.done"]
        await again.send("Help")  # the label is "❓ Help": the emoji need not be typed
        assert again.keys == ["general.help_title"]
    finally:
        await reopened.close()


async def test_the_user_lock_table_does_not_grow(app: App) -> None:
    people = [Chat(app, f"p{i}") for i in range(50)]
    await asyncio.gather(*(person.send("/help") for person in people))
    assert len(app.router.locks) == 0


def test_events_are_keyed_per_platform_and_person() -> None:
    from handlers.contract import Sender

    event = Event(platform="telegram", chat_id="1", sender=Sender(platform_user_id="7"))
    assert event.user_key == ("telegram", "7")


async def test_an_option_number_typed_in_arabic_or_persian_digits_chooses_that_option(
    app: App,
) -> None:
    # An Arabic phone keyboard types ٢ for 2: the number is the same.
    anna = Chat(app, "@anna:example.org", platform="matrix")
    await anna.onboard(language="العربية")
    for two in ("٢", "۲", "２"):
        await anna.send("/menu")
        await anna.send(two)
        assert anna.keys == ["ideas.list_title"], two
    # A superscript two is no number, and no option.
    await anna.send("/menu")
    await anna.send("²")
    assert anna.keys == ["general.not_understood"]


async def test_an_option_number_typed_as_it_is_shown_or_with_a_dot_chooses_that_option(
    app: App,
) -> None:
    # Options show as "[2] Ideeën bekijken": some type it that way, or as "2." or "2)".
    anna = Chat(app, "@anna:example.org", platform="matrix")
    await anna.onboard()
    for two in ("[2]", "2.", "2)", "(2)", " 2 . "):
        await anna.send("/menu")
        await anna.send(two)
        assert anna.keys == ["ideas.list_title"], two
    await anna.send("/menu")
    await anna.send("2.5")
    assert anna.keys == ["general.not_understood"]


async def test_an_answer_in_a_group_leaves_the_numbers_offered_in_that_room_to_its_person(
    app: App,
) -> None:
    # Anna's Matrix chat has her husband in it for a moment; he asks the bot something
    # there and leaves. Her "1" still chooses the first option she was offered.
    anna = Chat(app, "@anna:example.org", platform="matrix", chat_id="!dm")
    await anna.onboard()
    await anna.send("De lantaarnpaal bij de school is al weken kapot")
    assert anna.keys == ["general.typed_what_now"]
    bob = Chat(app, "@bob:example.org", platform="matrix", chat_id="!dm")
    await bob.handle(bob.event(command="help", is_group=True))
    await anna.send("1")
    assert anna.keys == ["questions.sent"]
