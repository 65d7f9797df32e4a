"""Telegram's real limits through the real adapter: 4,096 UTF-16 units a text after its HTML
is parsed, 1,024 a caption, 64 bytes of callback data, HTML that must parse.

The loopback Bot API server refuses what Telegram refuses (see ``tests/e2e/botapi.py``), so a
message that would not arrive on Telegram does not arrive here either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.platforms.telegram import Telegram
from handlers.contract import Button, Event, Reply, Role
from storage.clock import utcnow
from storage.community.moderation import ReportReason
from storage.community.reports import Flag
from storage.experiments.experiments import NewExperiment
from storage.localized import Localized
from tests.bot.delivery_support import payload
from tests.e2e.botapi import BotApiServer, FakeUser, _check_html, utf16_len
from tests.e2e.telegram_support import labels, onboard, running_bot, telegram_settings
from tests.e2e.test_telegram_residents import png
from tests.handlers.ideas.helpers import seed_idea

pytestmark = pytest.mark.e2e


def shown(message: dict[str, Any]) -> str:
    """What a person sees of a bot message: its text or caption with the HTML parsed."""
    text = message.get("text") or message.get("caption") or ""
    return _check_html(text) if message.get("parse_mode") == "HTML" else text


def refused(server: BotApiServer) -> list[str]:
    """What the server refused the bot (polling's own conflicts at shutdown left out)."""
    return [str(error) for method, _, error in server.errors if method != "getUpdates"]


async def answer(
    server: BotApiServer, user: FakeUser, needle: str, before: int
) -> list[dict[str, Any]]:
    """The bot's messages since ``before``, once one of them shows ``needle``."""

    def arrived() -> list[dict[str, Any]] | None:
        new = server.messages(user.chat_id)[before:]
        return new if any(needle in shown(m) for m in new) else None

    found = await server.wait_for(arrived, 20, description=f"a message with {needle!r}")
    return list(found)


async def make_staff(app: App, user: FakeUser, role: Role) -> int:
    found = await app.repos.users.find("telegram", str(user.id))
    assert found is not None
    async with app.db.transaction():
        await app.repos.users.set_role(found.id, role)
    return found.id


async def test_a_comment_of_a_thousand_ampersands_over_two_lines_shows_in_meldingen(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna, ria = server.user(5001), server.user(5002)
    body = "&" * 500 + "\n" + "&" * 499
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        for user in (anna, ria):
            await onboard(server, user)
        idea = await seed_idea(app, "Een bankje bij de vijver")
        before = len(server.messages(anna.chat_id))
        anna.press_data(f"idea.comment:{idea.id}")
        await answer(server, anna, "Typ je reactie", before)
        before = len(server.messages(anna.chat_id))
        await anna.send_text(body)
        await answer(server, anna, "Je reactie staat bij idee", before)

        connector = await make_staff(app, ria, Role.CONNECTOR)
        (comment,) = (await app.repos.comments.latest(idea.id)).comments
        async with app.db.transaction():
            await app.repos.reports.add(
                Flag.COMMENT, comment.id, connector, ReportReason.SPAM, utcnow()
            )
        before = len(server.messages(ria.chat_id))
        await ria.send_text("/meldingen")
        (card,) = await answer(server, ria, "Reactie bij idee", before)
    # 5,000 characters of HTML, 1,000 on the screen: one message, buttons under it.
    assert body in shown(card) and utf16_len(shown(card)) < 1200
    assert "✅ Laten staan" in labels(card)
    assert refused(server) == []


async def test_an_idea_of_two_thousand_emoji_still_opens_and_shows_in_the_queue(
    server: BotApiServer, tmp_path: Path
) -> None:
    """2,000 emoji are within 2,000 code points but 4,000 UTF-16 units: stored before input
    was measured in units (or typed elsewhere), the idea's card is longer than a message."""
    carla, ria = server.user(5011), server.user(5012)
    description = "🌳" * 2000
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        for user in (carla, ria):
            await onboard(server, user)
        idea = await seed_idea(app, "Bomen", description=description)

        before = len(server.messages(carla.chat_id))
        carla.press_data(f"idea.open:{idea.id}")
        card = await answer(server, carla, "Ingestuurd op", before)

        await make_staff(app, ria, Role.CONNECTOR)
        before = len(server.messages(ria.chat_id))
        await ria.send_text("/wachtrij")
        queue = await answer(server, ria, "Ingestuurd op", before)
    for messages in (card, queue):
        assert len(messages) == 2
        assert all(utf16_len(shown(m)) <= 4096 for m in messages)
        assert "".join(shown(m) for m in messages).count("🌳") == 2000
        # The buttons come under the last message, after the whole card.
        assert not messages[0].get("reply_markup") and labels(messages[-1])
    assert refused(server) == []


async def test_a_card_longer_than_a_message_is_cut_between_whole_family_emoji(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A description of emoji without a space, longer than a message (typed elsewhere, or
    stored before input was measured in units), is cut between whole characters: no message
    ends in half a family (👩‍👩 and a 👧 on its own in the next one)."""
    carla = server.user(5013)
    family = "👩\u200d👩\u200d👧"  # 5 code points, 8 units
    description = "x" + family * 600
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, carla)
        idea = await seed_idea(app, "Gezinnen", description=description)
        before = len(server.messages(carla.chat_id))
        carla.press_data(f"idea.open:{idea.id}")
        card = await answer(server, carla, "Ingestuurd op", before)
    assert len(card) > 1
    assert all(utf16_len(shown(m)) <= 4096 for m in card)
    assert sum(shown(m).count(family) for m in card) == 600
    assert refused(server) == []


async def test_a_broadcast_with_a_photo_and_a_text_too_long_for_a_caption(
    server: BotApiServer, tmp_path: Path
) -> None:
    """600 emoji are 600 characters but 1,200 units: too long for a caption. The photo goes
    first, the text after it with the buttons; 900 ``&`` (4,500 characters of HTML) fit."""
    anna, bram = server.user(5021), server.user(5022)
    long_text, short_text = "🎉" * 600, "&" * 900
    settings = telegram_settings(server, tmp_path / "bot.db", delivery_backoff=0.05)
    async with running_bot(settings) as app:
        for user in (anna, bram):
            await onboard(server, user)
        onboarded = {user.id: len(server.messages(user.chat_id)) for user in (anna, bram)}
        async with app.db.transaction():
            photo = await app.repos.media.save(png(), "image/png", utcnow())
            for user, text in ((anna, long_text), (bram, short_text)):
                found = await app.repos.users.find("telegram", str(user.id))
                assert found is not None
                news = Reply(
                    key="raw",
                    params={"text": text},
                    photo_id=photo,
                    buttons=[[Button(label="menu.back", payload="menu")]],
                )
                await app.repos.outbox.enqueue(
                    found.id, payload(news), kind="broadcast", now=utcnow()
                )
        await answer(server, anna, "🎉", onboarded[anna.id])
        await answer(server, bram, "&&&", onboarded[bram.id])
    picture, text = server.messages(anna.chat_id)[onboarded[anna.id] :]
    assert picture["photo"] and picture["caption"] is None and not picture["reply_markup"]
    assert shown(text) == long_text and labels(text) == ["⬅️ Menu"]
    (captioned,) = server.messages(bram.chat_id)[onboarded[bram.id] :]
    assert captioned["photo"] and shown(captioned) == short_text and labels(captioned)
    assert refused(server) == []


@pytest.mark.parametrize(("code", "retry_after", "attempts"), [(429, 1, 1), (502, None, 2)])
async def test_a_failure_on_the_second_call_of_a_row_does_not_send_the_first_again(
    server: BotApiServer, tmp_path: Path, code: int, retry_after: int | None, attempts: int
) -> None:
    anna = server.user(5031)
    settings = telegram_settings(server, tmp_path / "bot.db", delivery_backoff=0.05)
    async with running_bot(settings) as app:
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        found = await app.repos.users.find("telegram", str(anna.id))
        assert found is not None
        # The photo arrives; the text after it is refused with a 429, then goes through.
        server.fail_next("sendMessage", error_code=code, description="No", retry_after=retry_after)
        async with app.db.transaction():
            photo = await app.repos.media.save(png(), "image/png", utcnow())
            news = Reply(key="raw", params={"text": "🎉" * 600}, photo_id=photo)
            await app.repos.outbox.enqueue(found.id, payload(news), kind="broadcast", now=utcnow())
        await answer(server, anna, "🎉", before)

        async def settled() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await server.wait_for(settled)
        (row,) = await app.repos.outbox.for_user(found.id)
    sent = server.messages(anna.chat_id)[before:]
    assert [bool(m["photo"]) for m in sent] == [True, False], "the photo arrived once"
    # A 429 is Telegram pacing us, not a failed attempt; a 502 is one.
    assert row.status == "sent" and row.attempts == attempts
    assert refused(server) == [f"{code}: No"]


async def test_a_reply_telegram_refuses_leaves_a_note_with_its_buttons(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(5041)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        server.fail_next("sendMessage", error_code=400, description="Bad Request: BOOM")
        await anna.send_text("/menu")
        (note,) = await answer(server, anna, "kon ik niet laten zien", before)
        # The menu's buttons came with the note: the resident can go on.
        assert "💡 Idee insturen" in labels(note)
        before = len(server.messages(anna.chat_id))
        await anna.press("💡 Idee insturen")
        await answer(server, anna, "Nieuw idee", before)


@pytest.mark.parametrize(
    ("code", "description"), [(502, "Bad Gateway"), (500, "Internal Server Error")]
)
async def test_a_reply_lost_to_a_moment_of_telegram_trouble_arrives_later_from_the_outbox(
    server: BotApiServer, tmp_path: Path, code: int, description: str
) -> None:
    anna = server.user(5043)
    settings = telegram_settings(server, tmp_path / "bot.db", delivery_backoff=0.05)
    async with running_bot(settings) as app:
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        # Telegram fails the question, and delivery's first try after it.
        server.fail_next("sendMessage", times=2, error_code=code, description=description)
        await anna.send_text("/idee")
        (question,) = await answer(server, anna, "Nieuw idee", before)
        user = await app.repos.users.find("telegram", str(anna.id))
        assert user is not None

        async def recorded() -> bool:
            return (await app.repos.outbox.status_counts()).get("pending", 0) == 0

        await server.wait_for(recorded)
        (row,) = await app.repos.outbox.for_user(user.id)
        # The question, with its buttons, and no note that something could not be shown.
        assert "Woningbeleid" in labels(question)
        assert (row.kind, row.status, row.attempts) == ("reply", "sent", 2)

        async def forgotten() -> bool:
            return await app.db.fetchval("SELECT count(*) FROM telegram_inbox") == 0

        # The update leaves the inbox in a task of its own, not ordered with delivery.
        await server.wait_for(forgotten, description="the update gone from the inbox")
        before = len(server.messages(anna.chat_id))
        await anna.press("Woningbeleid")
        await answer(server, anna, "korte titel", before)
    assert refused(server) == [f"{code}: {description}"] * 2


async def test_html_telegram_cannot_parse_is_sent_again_as_plain_text(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(5051)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")):
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        server.fail_next(
            "sendMessage",
            error_code=400,
            description='Bad Request: can\'t parse entities: Unsupported start tag "x"',
        )
        await anna.send_text("/menu")
        (menu,) = await answer(server, anna, "Wat wil je doen?", before)
    assert menu["parse_mode"] is None and "<b>" not in menu["text"]
    assert "💡 Idee insturen" in labels(menu)


async def test_a_button_payload_over_64_bytes_still_works(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(5061)
    app = await App.open(telegram_settings(server, tmp_path / "bot.db"))
    adapter = Telegram(app)
    pressed: list[Event] = []
    handle = app.router.handle

    async def spy(event: Event, deliver: Any) -> None:
        pressed.append(event)
        await handle(event, deliver)

    app.router.handle = spy  # type: ignore[method-assign]
    await adapter.start()
    try:
        long_payload = "idea.open:1:" + "é" * 40  # 92 bytes
        await adapter.send(
            str(anna.chat_id),
            "nl",
            [Reply(key="menu.title", buttons=[[Button(label="menu.back", payload=long_payload)]])],
        )
        (message,) = server.messages(anna.chat_id)
        (button,) = message["reply_markup"]["inline_keyboard"][0]
        assert len(button["callback_data"].encode()) <= 64
        await anna.press(button["callback_data"])
        await server.wait_for(lambda: pressed)
    finally:
        await adapter.stop()
        await app.close()
    assert pressed[0].button == long_payload
    assert refused(server) == []


async def test_a_long_thread_is_cut_between_whole_comments(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(5071)
    comment = "<b>" + "woord&" * 150  # 900 units a comment, markup typed as text
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, anna)
        idea = await seed_idea(app, "Een lange draad")
        found = await app.repos.users.find("telegram", str(anna.id))
        assert found is not None
        async with app.db.transaction():
            for _ in range(5):
                await app.repos.comments.add(idea.id, found.id, comment, utcnow())
        before = len(server.messages(anna.chat_id))
        anna.press_data(f"idea.comments:{idea.id}")
        await answer(server, anna, "Reacties op", before)
        await server.wait_for(lambda: labels(server.messages(anna.chat_id)[-1]))
        thread = server.messages(anna.chat_id)[before:]
    assert len(thread) == 2 and refused(server) == []
    first, second = (shown(m) for m in thread)
    # Each message holds whole comments (their number, who and when, and the text): none
    # is cut in two.
    assert first.count(comment) + second.count(comment) == 5
    assert first.startswith("💬 Reacties op") and second[:2] in ("3.", "4.", "5.")


async def seed_experiments(app: App, count: int) -> None:
    """``count`` more running experiments, each with a title of 120 characters."""
    now = utcnow()
    async with app.db.transaction():
        for n in range(count):
            title = f"Experiment {n}: 🌊 langs de Noordzeekust en de pier " * 3
            await app.repos.experiments.create(
                NewExperiment(
                    title=Localized.same(title[:120].strip()),
                    summary=Localized.same("Samen proberen 🌱"),
                    place=Localized.same("Buurthuis De Dwarsligger, Zeewijk"),
                    organiser=Localized.same("Stichting Buurtkracht"),
                ),
                now,
            )


def keyboard_rows(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list((message.get("reply_markup") or {}).get("inline_keyboard", []))


async def test_a_hundred_and_twenty_running_experiments_arrive_a_page_at_a_time(
    server: BotApiServer, tmp_path: Path
) -> None:
    anna = server.user(5071)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await seed_experiments(app, 120)
        await onboard(server, anna)
        before = len(server.messages(anna.chat_id))
        await anna.send_text("/experimenten")
        (shown,) = await answer(server, anna, "Experimenten", before)
        before = len(server.messages(anna.chat_id))
        await anna.press("Volgende ➡️")
        (second,) = await answer(server, anna, "Pagina 2 van", before)
    assert refused(server) == []
    for message in (shown, second):
        cards = [
            button["text"]
            for row in keyboard_rows(message)
            for button in row
            if button["callback_data"].startswith("exp:")
        ]
        assert len(cards) == 8 and all(len(label) <= 40 for label in cards)
        assert len(labels(message)) <= 14
    assert "kon ik niet laten zien" not in shown["text"]


async def test_a_reply_with_more_buttons_than_a_message_takes_arrives_whole(
    server: BotApiServer, tmp_path: Path
) -> None:
    """No feature sends that many (they page), but should one, Telegram does not refuse it:
    a row of more than 8 is cut, and past 100 the buttons come under a message of their own."""
    anna = server.user(5073)
    app = await App.open(telegram_settings(server, tmp_path / "bot.db"))
    adapter = Telegram(app)
    await adapter.start()
    try:
        wide = [Button.raw(f"w{n}", f"w:{n}") for n in range(10)]
        tall = [[Button.raw(f"t{n}", f"t:{n}")] for n in range(130)]
        await adapter.send(
            str(anna.chat_id), "nl", [Reply(key="menu.title", buttons=[wide, *tall])]
        )
        first, more = server.messages(anna.chat_id)
    finally:
        await adapter.stop()
        await app.close()
    assert refused(server) == []
    assert "Wat wil je doen?" in first["text"] and more["text"] == "Meer keuzes:"
    rows = keyboard_rows(first) + keyboard_rows(more)
    assert [len(row) for row in rows[:2]] == [8, 2]
    assert [b["callback_data"] for row in rows for b in row] == [
        *(f"w:{n}" for n in range(10)),
        *(f"t:{n}" for n in range(130)),
    ]
    assert sum(len(row) for row in keyboard_rows(first)) <= 100


async def test_a_long_typed_question_is_cut_between_whole_emoji_for_the_connector(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A typed message longer than a question holds goes in parts; where no space is near
    the cut (a long row of emoji), a part never ends in half a family emoji, so the
    connector's inbox shows every family whole."""
    anna, ria = server.user(5091), server.user(5092)
    family = "👩\u200d👩\u200d👧"  # 8 units: 2,000 is not a multiple of it plus the words
    body = "Beste gemeente, dit is mijn verhaal: " + family * 300 + " مرحبا بالعالم" * 40
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        for user in (anna, ria):
            await onboard(server, user)
        before = len(server.messages(anna.chat_id))
        await anna.send_text(body)
        await server.wait_for(
            lambda: any(
                "Als vraag" in "".join(labels(m)) for m in server.messages(anna.chat_id)[before:]
            )
        )
        before = len(server.messages(anna.chat_id))
        await anna.press("❓ Als vraag naar Burgerbeest")
        await answer(server, anna, "is verstuurd", before)
        await make_staff(app, ria, Role.CONNECTOR)
        before = len(server.messages(ria.chat_id))
        await ria.send_text("/inbox")
        await answer(server, ria, "Inbox", before)
        before = len(server.messages(ria.chat_id))
        ria.press_data("inbox.open:1")
        await answer(server, ria, "مرحبا بالعالم", before)
        thread = "".join(shown(m) for m in server.messages(ria.chat_id)[before:])
    assert thread.count(family) == 300
    assert refused(server) == []
