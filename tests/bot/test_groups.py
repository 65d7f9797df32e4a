"""A group chat or room is never a person's chat: the bot answers briefly and points to a
private chat; it onboards nobody there, stores nothing about the group, and the person's
own dialog (in their private chat) is left as it was."""

from __future__ import annotations

from datetime import timedelta

import handlers
from bot.app import App
from handlers.contract import Platform, Response, Role
from handlers.feature import Context, Feature, Registry
from storage.clock import utcnow
from tests.people import person, row
from tests.support import Chat

GROUP = "-5001"


def in_group(chat: Chat) -> Chat:
    """The same person, writing in a group."""
    return Chat(chat.app, chat.user_id, name=chat.name, platform=chat.platform, chat_id=GROUP)


async def _group_send(chat: Chat, text: str) -> None:
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        await chat.handle(chat.event(command=command, args=args, is_group=True))
    else:
        await chat.handle(chat.event(text=text, is_group=True))


async def test_someone_new_is_pointed_to_a_private_chat_and_not_onboarded(app: App) -> None:
    anna = in_group(Chat(app, "anna"))
    for attempt in ("/start", "/idee", "/mijngegevens", "hallo"):
        await _group_send(anna, attempt)
        assert anna.keys == ["general.in_group"], attempt
        assert anna.buttons() == []
    await anna.handle(anna.event(button="start", is_group=True))
    assert anna.keys == ["general.in_group"]
    # Nothing is stored about someone who only wrote in a group.
    assert await app.repos.users.find("test", "anna") is None


async def test_on_telegram_the_group_gets_the_bots_start_link(app: App) -> None:
    app.router.declare(Platform(name="telegram", start_link="https://t.me/velsen_bot?start="))
    anna = in_group(Chat(app, "1001", platform="telegram"))
    await _group_send(anna, "/start")
    assert anna.keys == ["general.in_group_link"]
    assert "https://t.me/velsen_bot?start=group" in anna.text


async def test_on_matrix_the_person_hears_they_are_invited(app: App) -> None:
    anna = in_group(Chat(app, "@anna:example.org", platform="matrix"))
    await _group_send(anna, "/help")
    assert anna.keys == ["general.in_group_invited"]


async def test_a_forged_onboarding_button_in_a_group_gives_no_consent_and_stores_no_chat(
    app: App,
) -> None:
    anna = Chat(app, "anna")
    await anna.send("/start")
    yes = next(payload for label, payload in anna.buttons() if "Ja" in label)
    group = in_group(anna)
    await group.handle(group.event(button=yes, is_group=True))
    assert group.keys == ["general.in_group"]
    user = await app.repos.users.find("test", "anna")
    assert user is not None and not user.consented and user.chat_id is None
    # The private dialog is where it was: the same button works there.
    await anna.press_payload(yes)
    assert anna.keys == ["onboarding.language_question"]
    user = await app.repos.users.find("test", "anna")
    assert user is not None and user.chat_id == "anna"


async def test_a_residents_dialog_and_chat_are_untouched_by_what_they_say_in_a_group(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await anna.send("/vraag")
    before = await app.repos.dialogs.load((await row(app, anna)).id)
    group = in_group(anna)
    await _group_send(group, "Wanneer wordt het gras gemaaid?")
    await _group_send(group, "/annuleer")
    assert group.keys == ["general.in_group"]
    user = await row(app, anna)
    assert user.chat_id == "anna"
    assert await app.repos.dialogs.load(user.id) == before
    assert await app.repos.questions.of_user(user.id, limit=5) == []
    # Back in private the question goes on.
    await anna.send("Wanneer wordt het gras gemaaid?")
    assert anna.keys == ["questions.sent"]


async def test_a_group_stored_as_someones_chat_by_older_code_is_replaced_when_they_write(
    app: App,
) -> None:
    anna = await person(app, "4242", platform="telegram")
    user = await row(app, anna)
    async with app.db.transaction():
        await app.db.execute("UPDATE users SET chat_id = ? WHERE id = ?", (GROUP, user.id))
    await anna.send("/menu")
    assert (await row(app, anna)).chat_id == "4242"
    # From now on the outbox writes to the private chat.
    async with app.db.transaction():
        await app.repos.outbox.enqueue(user.id, [{"key": "raw"}], kind="test", now=utcnow())
    [queued] = await app.db.fetchall("SELECT chat_id FROM outbox WHERE user_id = ?", (user.id,))
    assert queued[0] == "4242"


async def test_what_waits_for_someone_goes_with_them_to_the_private_chat_they_write_from(
    app: App,
) -> None:
    anna = await person(app, "anna")
    user = await row(app, anna)
    now = utcnow()
    async with app.db.transaction():
        await app.repos.outbox.enqueue(user.id, [{"key": "raw"}], kind="answer", now=now)
        # Held back in her old chat (a Matrix room others had joined, say).
        await app.repos.outbox.hold_chat("test", "anna", now + timedelta(hours=1))

    await Chat(app, "anna", name="Anna", chat_id="anna-new").send("hallo")
    assert (await row(app, anna)).chat_id == "anna-new"
    due = await app.repos.outbox.due("test", utcnow(), 10)
    assert [(r.user_id, r.chat_id, r.kind) for r in due] == [(user.id, "anna-new", "answer")]


async def test_a_person_slowed_down_in_a_group_hears_it_in_the_groups_language(
    app: App,
) -> None:
    # Her own language is hers: said in the group, it would tell everyone there.
    anna = await person(app, "anna", language="العربية")
    now = utcnow() + timedelta(minutes=2)
    app.router.clock = lambda: now
    for _ in range(app.profile.limits.messages_per_minute):
        await anna.send("/help")
    group = in_group(anna)
    await _group_send(group, "/help")
    assert group.keys == ["flood.slow_down"]
    assert group.text == app.catalog.text("nl", "flood.slow_down", {}, markup=False)


async def test_an_error_in_a_group_is_said_in_the_groups_language(app: App) -> None:
    feature = Feature("broken-in-groups")

    @feature.command("kapot", role=Role.RESIDENT, consent=False, in_groups=True)
    async def broken(ctx: Context) -> Response:
        raise RuntimeError("a bug in a group command")

    app.router.registry = Registry([*handlers.FEATURES, feature])
    # Her phone is set to Arabic; the group reads the bot's own language.
    anna = Chat(app, "anna", language_hint="ar", chat_id=GROUP)
    await _group_send(anna, "/kapot")
    assert anna.keys == ["errors.sorry"]
    assert anna.text == app.catalog.text("nl", "errors.sorry", {}, markup=False)
