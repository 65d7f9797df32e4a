"""The bot on Matrix, end to end against a real Synapse, residents on matrix-nio clients.

Onboarding in encrypted and plain direct chats, a group where the bot answers only when
addressed, restarts (no reply twice, nothing lost, same device), bad input, and pictures.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import RoomInviteError, RoomKickError
from PIL import Image

from bot.app import App
from bot.platforms.base import Blocked, RetryLater
from bot.platforms.matrix import TIMELINE_LIMIT, Matrix
from bot.router import Router
from bot.settings import Settings
from handlers.contract import Dialog, Document, Reply, Response, Role, respond
from handlers.feature import Context, Feature
from storage import Database, PlatformState
from storage.clock import iso, utcnow
from tests.e2e.matrix_support import (
    PASSWORD,
    WAIT_SECONDS,
    MatrixBot,
    MatrixResident,
    Residents,
    bot_settings,
    containing,
    make_staff,
    unique,
)
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.waiting import until

pytestmark = pytest.mark.e2e

WELCOME = "Welkom bij Samenspel"
LANGUAGE = "In welke taal"
HOOD = "In welke wijk"
DONE = "Klaar, welkom!"
PRIVATELY = "privégesprek"


async def _greeted(anna: MatrixResident, bot: MatrixBot, *, encrypted: bool = True) -> None:
    await anna.open_chat(bot.user_id, encrypted=encrypted)
    await anna.wait_for_reply(containing(WELCOME))


async def _onboard(anna: MatrixResident, bot: MatrixBot) -> None:
    await _greeted(anna, bot)
    for answer, question in (("1", LANGUAGE), ("Nederlands", HOOD), ("IJmuiden", DONE)):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))


def _count(anna: MatrixResident, text: str) -> int:
    return sum(text in message.body for message in anna.replies())


async def test_a_resident_is_onboarded_in_an_encrypted_direct_chat(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=True)
    greeting = await anna.wait_for_reply(containing(WELCOME))
    assert greeting.decrypted and greeting.msgtype == "m.notice"
    assert "<b>Samenspel</b>" in greeting.html

    await anna.send("/start")
    question = await anna.wait_for_reply(containing("[1] ✅ Ja, ik doe mee"))
    assert "[2] 🔒 Wat bewaren jullie?" in question.body
    await anna.send("1")
    await anna.wait_for_reply(containing(LANGUAGE))
    await anna.send("Nederlands")
    await anna.wait_for_reply(containing(HOOD))
    await anna.send("IJmuiden")
    done = await anna.wait_for_reply(containing(DONE))

    assert done.decrypted
    wire = anna.raw_event(done.event_id)
    assert wire["type"] == "m.room.encrypted" and DONE not in str(wire)
    user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
    assert user is not None and user.consented and user.onboarded_at is not None
    assert (user.language, user.neighbourhood, user.chat_id) == ("nl", "ijmuiden", anna.room_id)


async def test_a_plain_direct_chat_works_too_with_html_and_plain_text(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    bob = await residents("bob")
    await bob.open_chat(matrix_bot.user_id, encrypted=False)
    await bob.send("hoi")
    answer = await bob.wait_for_reply(containing("[1] ✅ Ja, ik doe mee"))
    assert not answer.decrypted and answer.msgtype == "m.notice"
    assert answer.content["format"] == "org.matrix.custom.html"
    assert "<br>" in answer.html and "<" not in answer.body

    await bob.send("Ja, ik doe mee")  # the label, typed, chooses too
    await bob.wait_for_reply(containing(LANGUAGE))
    await bob.send("2")
    english = await bob.wait_for_reply(containing("Which part of"))
    assert "[9] I'd rather not say" in english.body


async def test_in_a_group_the_bot_answers_only_when_addressed(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await make_staff(matrix_bot, anna)  # the bot joins only the groups of staff
    await anna.open_chat(matrix_bot.user_id, encrypted=False, others=[bob])

    chatter = await anna.send("hallo allemaal, wie komt er zaterdag?")
    await bob.send("ik!")
    named = await anna.send("Samenspel: hoi")
    first = await anna.wait_for_reply(after=chatter)
    assert first.answers == named, "the bot answered a message not meant for it"
    # A group is nobody's private chat: a short word, no onboarding there.
    assert PRIVATELY in first.body and WELCOME not in first.body

    command = await bob.send("!help")
    helped = await bob.wait_for_reply(after=command)
    assert helped.answers == command and PRIVATELY in helped.body
    assert "Met Samenspel praat je mee" not in helped.body

    pill = await bob.send_content(
        {
            "msgtype": "m.text",
            "body": "Samenspel wat kan ik hier doen?",
            "format": "org.matrix.custom.html",
            "formatted_body": f'<a href="https://matrix.to/#/{matrix_bot.user_id}">Samenspel</a>'
            " wat kan ik hier doen?",
            "m.mentions": {"user_ids": [matrix_bot.user_id]},
        }
    )
    mentioned = await bob.wait_for_reply(after=pill)
    assert mentioned.answers == pill
    # Nothing else: answers (their first message marked as a reply) to each addressed
    # message, none to the chatter.
    answered = [m.answers for m in bob.replies(chatter) if m.answers]
    assert answered == [named, command, pill]
    group = anna.room_id

    # Each was invited to a direct chat with the bot, once; anna is onboarded there.
    for resident in (anna, bob):
        await resident.sync_until(
            lambda resident=resident: _invited_by(resident, matrix_bot.user_id) is not None,
            "an invite to a direct chat",
        )
    direct = _invited_by(anna, matrix_bot.user_id)
    assert direct is not None and direct != group
    await anna.join(direct)
    await anna.wait_for_member(matrix_bot.user_id)
    await anna.send("hallo")
    await anna.wait_for_reply(containing(WELCOME))
    user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
    assert user is not None and not user.consented and user.chat_id is None
    await anna.send("1")
    await anna.wait_for_reply(containing(LANGUAGE))
    user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
    assert user is not None and user.chat_id == direct
    assert len(bob.client.invited_rooms) == 1


async def test_in_a_group_a_reply_to_someone_who_named_the_bot_is_not_addressed_to_it(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await make_staff(matrix_bot, anna)
    await anna.open_chat(matrix_bot.user_id, encrypted=False, others=[bob])
    pill = f'<a href="https://matrix.to/#/{matrix_bot.user_id}">Samenspel</a>'
    named = await anna.send_content(
        {
            "msgtype": "m.text",
            "body": "Samenspel wat kan ik hier doen?",
            "format": "org.matrix.custom.html",
            "formatted_body": f"{pill} wat kan ik hier doen?",
            "m.mentions": {"user_ids": [matrix_bot.user_id]},
        }
    )
    await anna.wait_for_reply(after=named)
    # Bob answers Anna, not the bot: his app quotes her message (with its link to the
    # bot) above his words, and mentions only her.
    chatter = await bob.send_content(
        {
            "msgtype": "m.text",
            "body": f"> <{anna.user_id}> Samenspel wat kan ik hier doen?\n\nkom zaterdag langs",
            "format": "org.matrix.custom.html",
            "formatted_body": (
                '<mx-reply><blockquote><a href="https://matrix.to/#/!x/$y">In reply to</a> '
                f'<a href="https://matrix.to/#/{anna.user_id}">{anna.user_id}</a><br>'
                f"{pill} wat kan ik hier doen?</blockquote></mx-reply>kom zaterdag langs"
            ),
            "m.relates_to": {"m.in_reply_to": {"event_id": named}},
            "m.mentions": {"user_ids": [anna.user_id]},
        }
    )
    command = await bob.send("!help")
    helped = await bob.wait_for_reply(after=chatter)
    assert helped.answers == command, "the bot answered a reply not meant for it"


async def test_a_reply_that_starts_with_a_greater_than_sign_of_its_own_is_read_whole(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await _onboard(anna, matrix_bot)
    done = anna.replies()[-1]
    # A reply without the quote older apps put above it: all she wrote is her answer.
    sent = await anna.send_content(
        {
            "msgtype": "m.text",
            "body": "> 65 jaar, en ik woon hier al lang",
            "m.relates_to": {"m.in_reply_to": {"event_id": done.event_id}},
        }
    )
    echoed = await anna.wait_for_reply(after=sent)
    assert "> 65 jaar, en ik woon hier al lang" in echoed.body


def _invited_by(resident: MatrixResident, bot_id: str) -> str | None:
    """The room the bot invited this resident to, if any."""
    return next(
        (
            room_id
            for room_id, room in resident.client.invited_rooms.items()
            if room.inviter == bot_id
        ),
        None,
    )


def _devices(synapse: SynapseServer, token: str | None) -> list[str]:
    answer = synapse.request_json("GET", "/_matrix/client/v3/devices", access_token=token)
    return sorted(device["device_id"] for device in answer["devices"])


async def test_a_restart_mid_dialog_repeats_nothing_and_answers_what_came_meanwhile(
    matrix_bot: MatrixBot,
    residents: Residents,
    synapse: SynapseServer,
) -> None:
    anna = await residents("anna")
    await _greeted(anna, matrix_bot)
    await anna.send("1")
    await anna.wait_for_reply(containing(LANGUAGE))
    device = matrix_bot.device_id
    token = await matrix_bot.running.repos.platform_state.get("matrix", "access_token")
    devices = _devices(synapse, token)

    await matrix_bot.stop()
    await anna.send("Nederlands")  # while the bot is down
    await matrix_bot.start()

    await anna.wait_for_reply(containing(HOOD))
    await anna.send("IJmuiden")
    await anna.wait_for_reply(containing(DONE))
    assert [_count(anna, text) for text in (WELCOME, LANGUAGE, HOOD, DONE)] == [1, 1, 1, 1]
    assert matrix_bot.device_id == device
    assert _devices(synapse, token) == devices, "the restart made a new device"


async def test_a_sync_replayed_after_a_crash_sends_each_reply_once(
    matrix_bot: MatrixBot, residents: Residents, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await residents("anna")
    await _greeted(anna, matrix_bot)
    db_path = matrix_bot.settings.db
    before = await matrix_bot.running.repos.platform_state.get("matrix", "sync_token")
    assert before is not None

    # The crash: replies went out, but neither their confirmation nor the sync token were
    # stored. The restart reads that sync again.
    async def unconfirmed(self: Router, event: object) -> None:
        return None

    monkeypatch.setattr(Router, "_delivered", unconfirmed)
    answered = await anna.send("1")
    await anna.wait_for_reply(containing(LANGUAGE))
    await matrix_bot.stop()
    db = await Database.open(db_path)
    try:
        pending = await db.fetchval(
            "SELECT pending FROM handled_events WHERE event_id = ?", (answered,)
        )
        assert pending is not None and "onboarding.language_question" in pending
        async with db.transaction():
            await PlatformState(db).set("matrix", "sync_token", before, utcnow())
    finally:
        await db.close()
    monkeypatch.undo()

    await matrix_bot.start()
    await anna.send("Nederlands")
    await anna.wait_for_reply(containing(HOOD))
    assert _count(anna, LANGUAGE) == 1, "a reply was posted twice"
    assert _count(anna, "Kies een van de knoppen") == 0, "an answer was handled twice"
    handled = await matrix_bot.running.repos.handled.find("matrix", answered)
    assert handled is not None and handled.pending is None


async def test_bad_input_is_answered_or_ignored_and_the_bot_keeps_serving(
    matrix_bot: MatrixBot,
    residents: Residents,
    synapse: SynapseServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    anna = await residents("anna")
    await _onboard(anna, matrix_bot)
    menu = anna.replies()[-1]
    caplog.set_level(logging.WARNING)

    first = await anna.send_content(
        {
            "msgtype": "m.text",
            "body": "",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b></b>",
        }
    )
    await anna.edit(first, "toch wat tekst")
    await anna.redact(first)
    await anna.react(menu.event_id)
    await anna.send_content({"note": "a custom event"}, "org.samenspel.custom")
    await anna.send_content({"msgtype": "org.example.poll", "body": "Poll: ja of nee?"})
    await anna.send("a" * 40_000)  # about the most an encrypted event can carry
    # The bot's own account, from another device (an operator in Element, say).
    own = synapse.request_json(
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": matrix_bot.user_id},
            "password": PASSWORD,
        },
    )["access_token"]
    synapse.request_json(
        "PUT",
        f"/_matrix/client/v3/rooms/{quote(anna.room_id)}/send/m.room.message/own-1",
        {"msgtype": "m.text", "body": "hoi van de bot zelf"},
        access_token=own,
    )
    await anna.send("hallo")
    # The bot answers one person in order: once /help is answered, so is all before it.
    await anna.send("/help")
    await anna.wait_for_reply(containing("Met Samenspel praat je mee"))

    # The bot's replies (notices; its own text message is not one), in order: one answer
    # each for the empty message, the edit, the poll, the huge text, "hallo" and /help; nothing
    # for the redaction, the reaction, the custom event or its own message.
    seen = [m.body.split("\n")[0] for m in anna.replies(first) if m.msgtype == "m.notice"]
    assert seen == [
        "Ik zie geen tekst. Kies hieronder wat je wilt doen.",
        "Je hebt een bericht aangepast. Aanpassingen lees ik niet. Stuur je nieuwe tekst als "
        "nieuw bericht.",
        "Daar kan ik hier niets mee. Kies hieronder wat je wilt doen.",
        "Dat begrijp ik niet goed. Kies hieronder wat je wilt doen.",
        "Hallo! 👋 Wat wil je doen? Kies hieronder.",
        "Samenspel van Gemeente Velsen",
    ]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


def _photo_echo() -> Feature:
    """A test feature: send a picture back, with a file beside it."""
    feature = Feature("photo_echo")

    @feature.command("fotoecho", consent=False, role=Role.RESIDENT)
    async def begin(ctx: Context) -> Response:
        return respond(
            Reply(key="raw", params={"text": "Stuur een foto"}),
            dialog=Dialog(name="photo_echo", step="photo"),
        )

    @feature.dialog("photo_echo", consent=False, role=Role.RESIDENT).step("photo")
    async def step(ctx: Context, dialog: Dialog) -> Response:
        photo = ctx.event.photo
        if photo is None:
            return respond(Reply(key="raw", params={"text": "Geen foto"}), dialog=dialog)
        media_id = await ctx.repos.media.save(photo.data, photo.mime_type, ctx.now)
        return respond(
            Reply(
                key="raw", params={"text": f"Foto van {len(photo.data)} bytes"}, photo_id=media_id
            ),
            Reply(
                key="raw",
                params={"text": "Als bestand"},
                document=Document(filename="foto.bin", data=photo.data),
            ),
        )

    return feature


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
async def test_pictures_arrive_as_photos_and_go_out_as_images_and_files(
    synapse: SynapseServer,
    residents: Residents,
    tmp_path: Path,
    encrypted: bool,
) -> None:
    bot = MatrixBot(await bot_settings(synapse, tmp_path / "bot"), features=[_photo_echo()])
    await bot.start()
    try:
        anna = await residents("anna")
        await _greeted(anna, bot, encrypted=encrypted)
        buffer = io.BytesIO()
        Image.effect_noise((80, 60), 40).save(buffer, "PNG")
        picture = buffer.getvalue()
        for _ in range(2):  # the second time the upload is reused
            await anna.send("/fotoecho")
            await anna.wait_for_reply(containing("Stuur een foto"))
            sent = await anna.send_image(picture)
            await anna.wait_for_reply(containing("Als bestand"))
            image, caption, file, _ = anna.replies(sent)
            assert (image.msgtype, file.msgtype) == ("m.image", "m.file")
            assert caption.body == f"Foto van {len(picture)} bytes"
            assert ("file" in image.content) is encrypted
            assert await anna.download(image) == picture
            assert await anna.download(file) == picture
        refs = await bot.running.db.fetchall("SELECT platform FROM media_refs")
        assert [row["platform"] for row in refs] == ["matrix:encrypted" if encrypted else "matrix"]
    finally:
        await bot.stop()


async def test_a_busy_room_while_the_bot_was_down_loses_no_addressed_message(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await make_staff(matrix_bot, anna)  # the bot joins only the groups of staff
    await anna.open_chat(matrix_bot.user_id, encrypted=False, others=[bob])
    await matrix_bot.stop()
    named = await anna.send("Samenspel: /help")
    for number in range(TIMELINE_LIMIT + 10):  # more than one sync carries per room
        await bob.send(f"bericht {number}")
    await matrix_bot.start()

    answer = await anna.wait_for_reply(after=named)
    assert answer.answers == named and PRIVATELY in answer.body


async def test_a_resident_who_opens_a_new_direct_chat_is_reached_there(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await _onboard(anna, matrix_bot)
    first_room = anna.room_id
    await anna.client.room_leave(first_room)
    users = matrix_bot.running.repos.users

    async def unreachable() -> bool:
        user = await users.find("matrix", anna.user_id)
        return user is not None and user.unreachable_at is not None

    await until(unreachable, WAIT_SECONDS)
    await anna.open_chat(matrix_bot.user_id)
    await anna.send("hoi")
    await anna.wait_for_reply(containing("Hallo! 👋"))
    user = await users.find("matrix", anna.user_id)
    assert user is not None and user.chat_id == anna.room_id != first_room
    assert user.unreachable_at is None


async def test_the_outbox_path_sends_once_per_key_and_learns_when_a_resident_left(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await _onboard(anna, matrix_bot)
    adapter = matrix_bot.adapter
    assert adapter is not None
    news = [Reply(key="raw", params={"text": "Nieuws uit je wijk"})]
    await adapter.send(anna.room_id, "nl", news, dedupe_key="outbox:1")
    await adapter.send(anna.room_id, "nl", news, dedupe_key="outbox:1")  # a retry
    await adapter.send(anna.room_id, "nl", [Reply(key="raw", params={"text": "Einde"})])
    await anna.wait_for_reply(containing("Einde"), after=anna.replies()[-1].event_id)
    assert _count(anna, "Nieuws uit je wijk") == 1

    await anna.client.room_leave(anna.room_id)
    users = matrix_bot.running.repos.users

    async def unreachable() -> bool:
        user = await users.find("matrix", anna.user_id)
        return user is not None and user.unreachable_at is not None

    await until(unreachable, WAIT_SECONDS)
    with pytest.raises(Blocked):
        await adapter.send(anna.room_id, "nl", news)


async def test_a_direct_chat_others_joined_gets_nothing_personal_any_more(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await _onboard(anna, matrix_bot)
    adapter = matrix_bot.adapter
    assert adapter is not None
    invited = await anna.client.room_invite(anna.room_id, bob.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    await bob.join(anna.room_id)

    async def bot_sees_a_group() -> bool:
        room = adapter.client.rooms.get(anna.room_id) if adapter.client else None
        return room is not None and room.member_count > 2

    await until(bot_sees_a_group, WAIT_SECONDS)
    # Not a block: it waits (until the room is hers alone again, or she has a new chat).
    with pytest.raises(RetryLater):
        await adapter.send(anna.room_id, "nl", [Reply(key="raw", params={"text": "Persoonlijk"})])
    assert _count(anna, "Persoonlijk") == 0
    await anna.sync_until(
        lambda: _invited_by(anna, matrix_bot.user_id) is not None, "an invite to a direct chat"
    )


async def _husband_looks_along(
    app: App,
    anna: MatrixResident,
    bob: MatrixResident,
    bot_id: str,
    queued: datetime | None = None,
) -> None:
    """Anna, subscribed to "Wist je dat", invites Bob into her chat with the bot; once
    the bot has seen him there, something for her is queued (an answer to her question),
    at ``queued`` (now, unless said)."""
    await anna.send("/wistjedat")
    await anna.wait_for_reply(containing("Aanmelden"))
    await anna.send("Aanmelden")
    await anna.wait_for_reply(containing("Gelukt!"))
    invited = await anna.client.room_invite(anna.room_id, bob.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    await bob.join(anna.room_id)
    bob.bot_id = bot_id
    asked = await bob.send("Samenspel: wat is dit?")
    await bob.wait_for_reply(containing(PRIVATELY), after=asked)
    user = await app.repos.users.find("matrix", anna.user_id)
    assert user is not None
    async with app.db.transaction():
        await app.repos.outbox.enqueue(
            user.id,
            [{"key": "raw", "params": {"text": "Antwoord van Burgerbeest op je vraag"}}],
            kind="answer",
            now=queued or utcnow(),
        )


async def _nothing_lost(app: App, anna: MatrixResident) -> None:
    """Anna is reachable, still subscribed, and her answer was sent (to her)."""
    user = await app.repos.users.find("matrix", anna.user_id)
    assert user is not None and user.unreachable_at is None
    assert await app.repos.subscriptions.get(user.id) is not None

    async def recorded() -> bool:
        rows = await app.db.fetchall(
            "SELECT status, chat_id FROM outbox WHERE user_id = ?", (user.id,)
        )
        return [tuple(row) for row in rows] == [("sent", anna.room_id)]

    await until(recorded, WAIT_SECONDS, what="her answer recorded as sent to her")


async def test_what_waits_for_a_resident_whose_chat_others_joined_goes_to_her_new_direct_chat(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        anna, bob = await residents("anna"), await residents("bob")
        await _onboard(anna, MatrixBot(settings))
        first = anna.room_id
        await _husband_looks_along(app, anna, bob, bot_id)

        await anna.sync_until(
            lambda: _invited_by(anna, bot_id) is not None, "an invite to a direct chat"
        )
        direct = _invited_by(anna, bot_id)
        assert direct is not None and direct != first
        await anna.join(direct)
        await anna.wait_for_reply(containing("Antwoord van Burgerbeest"), after=None)
        await _nothing_lost(app, anna)
        user = await app.repos.users.find("matrix", anna.user_id)
        assert user is not None and user.chat_id == direct
        assert [m.body for m in bob.replies(None) if "Burgerbeest op" in m.body] == []


async def test_what_waits_for_a_resident_whose_chat_others_joined_goes_there_once_they_left(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        anna, bob = await residents("anna"), await residents("bob")
        await _onboard(anna, MatrixBot(settings))
        await _husband_looks_along(app, anna, bob, bot_id)
        # Held, and she is invited to a new direct chat; but Bob leaves before she joins it.
        await anna.sync_until(
            lambda: _invited_by(anna, bot_id) is not None, "an invite to a direct chat"
        )
        assert [m.body for m in bob.replies(None) if "Burgerbeest op" in m.body] == []

        async def held() -> bool:
            later = await app.db.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND not_before > ?",
                (iso(utcnow()),),
            )
            return bool(later)

        await until(held, WAIT_SECONDS, what="her answer held back")
        await bob.client.room_leave(anna.room_id)

        await anna.wait_for_reply(containing("Antwoord van Burgerbeest"), after=None)
        await _nothing_lost(app, anna)


async def test_a_resident_whose_chat_stays_a_group_for_a_week_is_unreachable_till_she_writes(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        anna, bob = await residents("anna"), await residents("bob")
        await _onboard(anna, MatrixBot(settings))
        # What waits for her has waited a week: her chat has been a group all that time
        # and she never joined the direct chat the bot invited her to.
        week = utcnow() - timedelta(days=7, minutes=1)
        await _husband_looks_along(app, anna, bob, bot_id, queued=week)
        user = await app.repos.users.find("matrix", anna.user_id)
        assert user is not None

        async def given_up() -> bool:
            rows = await app.repos.outbox.for_user(user.id)
            return [row.status for row in rows] == ["unreachable"]

        await until(given_up, WAIT_SECONDS, what="her answer given up")
        (row,) = await app.repos.outbox.for_user(user.id)
        assert "waited 7 days for a private chat" in (row.last_error or "")
        gone = await app.repos.users.find("matrix", anna.user_id)
        assert gone is not None and gone.unreachable_at is not None
        assert await app.repos.subscriptions.get(user.id) is None
        assert [m.body for m in bob.replies(None) if "Burgerbeest op" in m.body] == []

        # She is reached again once she writes from a direct chat with the bot.
        await anna.sync_until(
            lambda: _invited_by(anna, bot_id) is not None, "an invite to a direct chat"
        )
        direct = _invited_by(anna, bot_id)
        assert direct is not None
        await anna.join(direct)
        await anna.send("hoi")
        await anna.wait_for_reply(containing("Hallo! 👋"))
        back = await app.repos.users.find("matrix", anna.user_id)
        assert back is not None and back.unreachable_at is None and back.chat_id == direct


async def test_a_resident_who_leaves_her_chat_while_others_stay_gets_nothing_sent_there(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna, bob = await residents("anna"), await residents("bob")
    await _onboard(anna, matrix_bot)
    room_id = anna.room_id
    invited = await anna.client.room_invite(room_id, bob.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    await bob.join(room_id)
    bob.bot_id = matrix_bot.user_id
    await anna.client.room_leave(room_id)
    users = matrix_bot.running.repos.users

    async def unreachable() -> bool:
        user = await users.find("matrix", anna.user_id)
        return user is not None and user.unreachable_at is not None

    await until(unreachable, WAIT_SECONDS, what="Anna unreachable")
    # The bot left too: the room was there for Anna, not for Bob.
    await bob.sync_until(
        lambda: matrix_bot.user_id not in bob.client.rooms[room_id].users, "the bot leaving"
    )
    adapter = matrix_bot.adapter
    assert adapter is not None
    news = [Reply(key="raw", params={"text": "Anna, je idee Speeltuin is goedgekeurd"})]
    with pytest.raises(Blocked):
        await adapter.send(room_id, "nl", news, dedupe_key="outbox:anna")
    assert [m.body for m in bob.replies(None) if "Speeltuin" in m.body] == []


async def test_samenspel_run_serves_matrix_and_stops_cleanly_on_sigterm(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMENSPEL_")}
    env.update(
        SAMENSPEL_DB=str(settings.db),
        SAMENSPEL_MATRIX_HOMESERVER=synapse.base_url,
        SAMENSPEL_MATRIX_USER=settings.matrix_user or "",
        SAMENSPEL_MATRIX_PASSWORD=PASSWORD,
    )
    anna = await residents("anna")
    devices: list[list[str]] = []
    for run in range(2):
        log_file = tmp_path / f"run{run}.log"
        with log_file.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.admin.cli",
                "run",
                env=env,
                cwd=tmp_path,
                stdout=output,
                stderr=output,
            )
        try:
            if run == 0:
                await _greeted(anna, MatrixBot(settings))
            else:
                await anna.send("1")
                await anna.wait_for_reply(containing(LANGUAGE))
            # Look at the bot's devices from a session of our own (left out of the list).
            login = synapse.request_json(
                "POST",
                "/_matrix/client/v3/login",
                {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": settings.matrix_user},
                    "password": PASSWORD,
                },
            )
            token = login["access_token"]
            devices.append([d for d in _devices(synapse, token) if d != login["device_id"]])
            synapse.request_json("POST", "/_matrix/client/v3/logout", {}, access_token=token)
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), WAIT_SECONDS)
        log = log_file.read_text()
        assert code == 0, log
        assert "stopping: finishing in-flight events" in log and "Traceback" not in log
    assert devices[0] == devices[1], "the second run made a new device"


async def test_a_message_whose_key_never_comes_is_asked_for_again_even_after_a_restart(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot = MatrixBot(settings, poll_ms=500, key_patience=timedelta(seconds=2))
    await bot.start()
    try:
        anna = await residents("anna")
        await _greeted(anna, bot)
        # Anna's app stops trusting the bot's device: her next message is not for its eyes.
        for device in anna.client.device_store.active_user_devices(bot.user_id):
            anna.client.blacklist_device(device)
        await anna.send("dit kan de bot niet lezen")
        db = bot.running.db

        async def waiting() -> bool:
            return bool(await db.fetchval("SELECT COUNT(*) FROM undecrypted_messages"))

        await until(waiting, WAIT_SECONDS)
        await bot.stop()
        await bot.start()

        asked = await anna.wait_for_reply(containing("Ik kon een bericht van je niet lezen"))
        assert asked.decrypted
        db = bot.running.db

        async def given_up() -> bool:
            return not await db.fetchval("SELECT COUNT(*) FROM undecrypted_messages")

        await until(given_up, WAIT_SECONDS)
    finally:
        await bot.stop()


async def test_a_lost_key_store_means_a_new_device_that_residents_reach_again(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    anna = await residents("anna")
    await _greeted(anna, matrix_bot)
    old_device = matrix_bot.device_id
    await matrix_bot.stop()
    shutil.rmtree(matrix_bot.settings.matrix_store_path)

    await matrix_bot.start()
    new_device = matrix_bot.device_id
    token = await matrix_bot.running.repos.platform_state.get("matrix", "access_token")
    devices = _devices(synapse, token)
    assert new_device in devices and old_device not in devices, "the keyless device stays"

    # Anna's app notices the bot's devices changed (as it does while open), then writes.
    def bot_devices() -> set[str]:
        known = anna.client.device_store.active_user_devices(matrix_bot.user_id)
        return {device.id for device in known}

    await anna.sync_until(
        lambda: new_device in bot_devices() and old_device not in bot_devices(),
        "the bot's new device",
    )
    await anna.send("1")
    answer = await anna.wait_for_reply(containing(LANGUAGE))
    assert answer.decrypted


async def test_an_access_token_works_instead_of_a_password_on_its_own_device(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    user_id, token = await synapse.register_user_async(unique("samenspel"), PASSWORD)
    whoami = synapse.request_json("GET", "/_matrix/client/v3/account/whoami", access_token=token)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        db=tmp_path / "token.db",
        matrix_homeserver=synapse.base_url,
        matrix_user=user_id,
        matrix_access_token=token,
    )
    bot = MatrixBot(settings)
    await bot.start()
    try:
        assert bot.device_id == whoami["device_id"]
        anna = await residents("anna")
        await _greeted(anna, bot)
        stored = await bot.running.repos.platform_state.get_all("matrix")
        assert stored["device_id"] == whoami["device_id"] and "access_token" not in stored
    finally:
        await bot.stop()


async def test_a_resident_who_invites_the_bot_back_into_her_chat_is_greeted_again_once(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await _onboard(anna, matrix_bot)
    kicked = await anna.client.room_kick(anna.room_id, matrix_bot.user_id)
    assert not isinstance(kicked, RoomKickError), kicked

    async def bot_gone() -> bool:
        user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
        return user is not None and user.unreachable_at is not None

    await until(bot_gone, WAIT_SECONDS, what="the bot seeing it was sent away")
    before = len(anna.replies())
    invited = await anna.client.room_invite(anna.room_id, matrix_bot.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    # She asked the bot back: it answers, as at a first contact.
    await anna.sync_until(lambda: len(anna.replies()) > before, "a greeting")
    greeting = anna.replies()[before]
    for _ in range(6):
        await anna.sync(poll_ms=500)
    assert [m.body for m in anna.replies()[before:]].count(greeting.body) == 1
    await anna.send("/help")
    await anna.wait_for_reply()


async def test_a_message_sent_before_someone_joined_in_the_same_sync_is_answered_in_private(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    anna, bob = await residents("anna"), await residents("bob")
    async with running_bot(settings):
        await _onboard(anna, MatrixBot(settings))
    first = anna.room_id
    # While the bot is down Anna writes to it alone, then lets Bob in: one sync brings both.
    await anna.send("Mijn buurman op nummer 12 zet steeds zijn afval buiten")
    invited = await anna.client.room_invite(first, bob.user_id)
    assert not isinstance(invited, RoomInviteError), invited
    await bob.join(first)
    bob.bot_id = bot_id
    async with running_bot(settings):
        # Her message was to the bot alone: it is answered, but not where Bob reads along.
        await anna.sync_until(
            lambda: _invited_by(anna, bot_id) is not None, "an invite to a direct chat"
        )
        direct = _invited_by(anna, bot_id)
        assert direct is not None and direct != first
        await anna.join(direct)
        await anna.wait_for_reply(containing("Je schreef"), after=None)
        await bob.sync()
        assert [m.body for m in bob.replies(None) if "nummer 12" in m.body] == []


@pytest.mark.parametrize("greeted", [False, True], ids=["before-greeting", "after-greeting"])
async def test_a_crash_right_after_the_bot_joined_on_an_invite_still_greets_once(
    matrix_bot: MatrixBot, residents: Residents, monkeypatch: pytest.MonkeyPatch, greeted: bool
) -> None:
    anna = await residents("anna")
    positions: list[str | None] = []
    accept = Matrix._accept_invites

    async def accepting(self: Matrix, response: Any) -> None:
        positions.append(self._since)  # the position before the sync carrying the invite
        await accept(self, response)

    async def crashed(self: Matrix, response: Any, incoming: Any) -> None:
        return None  # the process died before the welcome went out

    monkeypatch.setattr(Matrix, "_accept_invites", accepting)
    if not greeted:
        monkeypatch.setattr(Matrix, "_greet", crashed)
    await anna.open_chat(matrix_bot.user_id)
    if greeted:
        await anna.wait_for_reply(containing(WELCOME))
    db_path = matrix_bot.settings.db
    invited_at = next(token for token in reversed(positions) if token is not None)
    await matrix_bot.stop()
    monkeypatch.undo()
    db = await Database.open(db_path)
    try:
        async with db.transaction():
            await PlatformState(db).set("matrix", "sync_token", invited_at, utcnow())
    finally:
        await db.close()

    await matrix_bot.start()
    # The sync that brought the invite is read again: the bot is in the room already.
    await anna.wait_for_reply(containing(WELCOME))
    for _ in range(4):
        await anna.sync(poll_ms=500)
    assert _count(anna, WELCOME) == 1
