"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.e2e.botapi import BotApiServer, FloodLimits, free_port

TOKEN = "4242:TEST-botapi-server-token"

pytestmark = [pytest.mark.e2e, pytest.mark.botapi(token=TOKEN, webhook_retry_delay=0.05)]
ANNA = 1001

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Ja", callback_data="yes"),
            InlineKeyboardButton("Nee", callback_data="no"),
        ]
    ]
)


def make_png(width: int, height: int) -> bytes:
    """Return a valid grey PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def build_app(server: BotApiServer) -> Application:  # type: ignore[type-arg]
    """Build a PTB application that talks to the fake server."""
    return (
        Application.builder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run ``app`` with long polling for the duration of the block."""
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=5)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@asynccontextmanager
async def plain_bot(server: BotApiServer, token: str = TOKEN) -> AsyncIterator[Bot]:
    """A bare PTB ``Bot`` pointed at the fake server."""
    async with Bot(token, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        yield bot


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"start: {' '.join(context.args or [])}")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        f"echo: {update.effective_message.text}", reply_markup=KEYBOARD
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"chose {query.data}")
    await query.edit_message_text(f"chosen: {query.data}")


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    photo_file = await message.photo[-1].get_file()
    data = await photo_file.download_as_bytearray()
    await message.reply_text(f"photo {len(data)} bytes, header {bytes(data[1:4]).decode()}")


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    if message.sticker:
        await message.reply_text(f"sticker {message.sticker.emoji}")
    elif message.document:
        document_file = await message.document.get_file()
        data = await document_file.download_as_bytearray()
        await message.reply_text(f"document {message.document.file_name}: {data.decode()}")


def add_handlers(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(MessageHandler(filters.Sticker.ALL | filters.Document.ALL, on_other))
    app.add_handler(CallbackQueryHandler(on_button))


@pytest.mark.asyncio
async def test_polling_text_buttons_and_edit(server: BotApiServer) -> None:
    anna = server.user(ANNA, first_name="Anna", language_code="nl")
    app = build_app(server)
    add_handlers(app)
    async with polling(app):
        await anna.send_text("/start idee_42")
        messages = await server.wait_for_messages(ANNA, 1)
        assert messages[0]["text"] == "start: idee_42"
        assert messages[0]["chat"] == {"id": ANNA, "type": "private", "first_name": "Anna"}

        anna.send_text("hallo 👋")
        messages = await server.wait_for_messages(ANNA, 2)
        reply = messages[1]
        assert reply["text"] == "echo: hallo 👋"
        buttons = reply["reply_markup"]["inline_keyboard"][0]
        assert [(b["text"], b["callback_data"]) for b in buttons] == [("Ja", "yes"), ("Nee", "no")]
        # Message ids count per chat, user and bot messages alike.
        assert [m["message_id"] for m in messages] == [2, 4]

        press = anna.press("Nee")
        assert press.callback_query is not None
        assert press.callback_query["data"] == "no"
        assert press.callback_query["message"]["message_id"] == reply["message_id"]
        await server.wait_for(lambda: reply["edited"], description="button edit")
        assert reply["text"] == "chosen: no"
        assert reply["reply_markup"] is None  # editMessageText without markup drops it
        assert reply["edit_history"][0]["text"] == "echo: hallo 👋"
        assert server.callback_answers == [
            {"callback_query_id": press.callback_query["id"], "text": "chose no"}
        ]
        methods = [method for method, _ in server.calls]
        assert methods.index("answerCallbackQuery") < methods.index("editMessageText")

        # A stale press on the (now keyboard-less) message still reaches the handler.
        anna.press_data("yes", reply["message_id"])
        await server.wait_for(lambda: reply["text"] == "chosen: yes")
        assert len(server.callback_answers) == 2

        server.group(-500, "Buurtgroep")
        anna.send_text("in de groep", chat_id=-500)
        group_messages = await server.wait_for_messages(-500, 1)
        assert group_messages[0]["text"] == "echo: in de groep"
        assert group_messages[0]["chat"]["type"] == "group"

        anna.send_sticker("🎉")
        anna.send_document(b"tekst", file_name="notes.txt", mime_type="text/plain")
        await server.wait_for_messages(ANNA, 4)
        assert server.texts(ANNA)[2:] == ["sticker 🎉", "document notes.txt: tekst"]
        await server.wait_until_consumed()
    assert server.delivered_count(ANNA) == 4
    assert server.delivered_count(-500) == 1


@pytest.mark.asyncio
async def test_press_errors(server: BotApiServer) -> None:
    anna = server.user(ANNA)
    with pytest.raises(LookupError):
        anna.press("Ja")
    async with plain_bot(server) as bot:
        await bot.send_message(
            ANNA,
            "links",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Site", url="https://a.nl")]]
            ),
        )
    with pytest.raises(ValueError, match="no callback_data"):
        anna.press("Site")
    with pytest.raises(LookupError, match="Site"):
        anna.press("Onbekend")


@pytest.mark.asyncio
async def test_get_updates_long_polling_and_offsets(server: BotApiServer) -> None:
    anna = server.user(ANNA)
    loop = asyncio.get_running_loop()
    async with plain_bot(server) as bot, plain_bot(server) as other_bot:
        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await server.wait_for(lambda: server.waiting_polls == 1)
        started = loop.time()
        anna.send_text("hoi")
        updates = await asyncio.wait_for(poll, 5)
        assert loop.time() - started < 2
        assert [u.message.text for u in updates if u.message] == ["hoi"]

        # Unconfirmed updates come again; an offset confirms them.
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [updates[0].update_id]
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
        assert server.pending_update_count == 0

        # A second bot instance polling terminates the first one's poll, like on Telegram.
        first = asyncio.create_task(bot.get_updates(timeout=10))
        await server.wait_for(lambda: server.waiting_polls == 1)
        second = asyncio.create_task(other_bot.get_updates(timeout=10))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, 5)
        await server.wait_for(lambda: server.waiting_polls == 1)
        anna.send_text("nog een")
        assert len(await asyncio.wait_for(second, 5)) == 1


@pytest.mark.asyncio
async def test_photo_and_document_roundtrip(server: BotApiServer) -> None:
    anna = server.user(ANNA)
    png = make_png(640, 480)
    async with plain_bot(server) as bot:
        sent = await bot.send_photo(ANNA, photo=png, caption="kijk")
        assert sent.caption == "kijk"
        assert len(sent.photo) == 3
        assert len({size.file_id for size in sent.photo}) == 3
        assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
        photo_file = await bot.get_file(sent.photo[-1].file_id)
        assert photo_file.file_path is not None
        assert photo_file.file_path.startswith(server.base_file_url)
        assert bytes(await photo_file.download_as_bytearray()) == png

        again = await bot.send_photo(ANNA, photo=sent.photo[-1].file_id)
        assert [s.file_id for s in again.photo] == [s.file_id for s in sent.photo]
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await bot.send_photo(ANNA, photo="no-such-file")

        doc = await bot.send_document(ANNA, document=b"hello world", filename="notes.txt")
        assert doc.document is not None
        assert doc.document.file_name == "notes.txt"
        doc_file = await bot.get_file(doc.document.file_id)
        assert bytes(await doc_file.download_as_bytearray()) == b"hello world"
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")

    records = server.messages(ANNA)
    assert [r["method"] for r in records] == ["sendPhoto", "sendPhoto", "sendDocument"]
    assert records[0]["photo"][-1]["file_size"] == len(png)
    assert server.file(records[0]["photo"][0]["file_id"]).data == png

    # A photo sent by the user is downloaded by the bot's handler.
    app = build_app(server)
    add_handlers(app)
    user_png = make_png(32, 16)
    async with polling(app):
        update = anna.send_photo(user_png, caption="van mij")
        assert update.message is not None
        assert update.message["photo"][-1]["width"] == 32
        await server.wait_for(lambda: server.delivered_count(ANNA) == 4)
    assert server.texts(ANNA)[-1] == f"photo {len(user_png)} bytes, header PNG"


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:.*`retry_after`:DeprecationWarning")  # raised inside PTB
async def test_failure_injection(server: BotApiServer) -> None:
    server.user(ANNA)
    async with plain_bot(server) as bot:
        server.block(ANNA)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(ANNA, "hallo")
        with pytest.raises(Forbidden):
            await bot.send_photo(ANNA, photo=make_png(2, 2))
        assert server.delivered_count(ANNA) == 0
        server.unblock(ANNA)

        server.flood(ANNA, retry_after=3, times=2)
        for _ in range(2):
            with pytest.raises(RetryAfter, match=r"Retry in (3 seconds|0:00:03)"):
                await bot.send_message(ANNA, "hallo")
        await bot.send_message(ANNA, "hallo")
        assert server.delivered_count(ANNA) == 1

        server.fail_next("sendMessage", times=1, error_code=500)
        with pytest.raises(NetworkError):
            await bot.send_message(ANNA, "boom")
        server.fail_next("SENDMESSAGE", error_code=400, description="Bad Request: nope")
        with pytest.raises(BadRequest, match=r"(?i)nope"):
            await bot.send_message(ANNA, "boom")
        await bot.send_message(ANNA, "weer goed")

        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(ANNA, "<b>open", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(ANNA, "  ")
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(ANNA, "x" * 4097)
        ok = await bot.send_message(ANNA, "<b>vet</b> &amp; <i>schuin</i>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text(
                "<b>vet</b> &amp; <i>schuin</i>", ANNA, ok.message_id, parse_mode="HTML"
            )

    assert server.texts(ANNA) == ["hallo", "weer goed", "<b>vet</b> &amp; <i>schuin</i>"]
    assert server.delivered_count(ANNA) == 3
    error_codes = [error.error_code for _, _, error in server.errors]
    assert error_codes[:6] == [403, 403, 429, 429, 500, 400]
    assert len(server.calls_to("sendMessage")) == 11


# Slow refills (one message a minute in a chat, one every ten seconds overall), so that
# what is refused does not depend on how fast the machine runs the test.
@pytest.mark.botapi(token=TOKEN, limits=FloodLimits(rate=0.1, overall_burst=5, chat_interval=60))
@pytest.mark.filterwarnings("ignore:.*`retry_after`:DeprecationWarning")  # raised inside PTB
async def test_flood_limits_refuse_sends_beyond_the_rate_with_a_retry_after(
    server: BotApiServer,
) -> None:
    server.group(-5001)
    async with plain_bot(server) as bot:
        for _ in range(3):  # a short burst in one chat
            await bot.send_message(ANNA, "hallo")
        with pytest.raises(RetryAfter):
            await bot.send_message(ANNA, "te veel")
        await bot.send_chat_action(ANNA, "typing")  # not a message: not counted
        # Two more chats fill the overall burst of five; the sixth message is refused.
        await bot.send_message(ANNA + 1, "hallo")
        await bot.send_message(-5001, "hallo")
        with pytest.raises(RetryAfter):
            await bot.send_message(ANNA + 2, "te veel")
    assert server.delivered_count(ANNA) == 3
    assert [which for _, _, which in server.flood_refusals] == ["chat", "overall"]


@pytest.mark.asyncio
async def test_edits_and_deletes(server: BotApiServer) -> None:
    server.user(ANNA)
    async with plain_bot(server) as bot:
        sent = await bot.send_message(ANNA, "kies", reply_markup=KEYBOARD)
        assert sent.reply_markup == KEYBOARD
        edited = await bot.edit_message_reply_markup(ANNA, sent.message_id, reply_markup=None)
        assert isinstance(edited, Message)
        assert edited.reply_markup is None
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_reply_markup(ANNA, sent.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("nieuw", ANNA, 999)
        photo = await bot.send_photo(ANNA, photo=make_png(4, 4), caption="oud")
        with pytest.raises(BadRequest, match=r"(?i)no text in the message"):
            await bot.edit_message_text("nieuw", ANNA, photo.message_id)
        recaptioned = await bot.edit_message_caption(ANNA, photo.message_id, caption="nieuw")
        assert isinstance(recaptioned, Message)
        assert recaptioned.caption == "nieuw"
        assert await bot.delete_message(ANNA, sent.message_id) is True
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(ANNA, sent.message_id)
        assert await bot.send_chat_action(ANNA, "typing") is True

    record = server.message(ANNA, sent.message_id)
    assert record is not None
    assert record["deleted"]
    assert record["edit_history"] == [
        {"text": "kies", "caption": None, "parse_mode": None, "reply_markup": KEYBOARD.to_dict()}
    ]
    assert server.delivered_count(ANNA) == 2


@pytest.mark.asyncio
async def test_a_command_menu_is_checked_as_telegram_checks_it(server: BotApiServer) -> None:
    async with plain_bot(server) as bot:
        # Trimmed, a leading slash dropped; 32 characters of name, 256 of description.
        kept = [BotCommand(" /start ", " Begin\n"), BotCommand("a" * 32, "🎉" * 256)]
        await bot.set_my_commands(kept, language_code="en")
        assert server.commands[("default", "en")] == [
            {"command": "start", "description": "Begin"},
            {"command": "a" * 32, "description": "🎉" * 256},
        ]
        refused = {
            "my-data": "BOT_COMMAND_INVALID",
            "MyData": "BOT_COMMAND_INVALID",
            "mijnideeën": "BOT_COMMAND_INVALID",
            "data\n2": "BOT_COMMAND_INVALID",
            "a" * 33: "command length must not exceed 32",
            " / ": "command must be non-empty",
        }
        for name, error in refused.items():
            with pytest.raises(BadRequest, match=f"(?i){error}"):
                await bot.set_my_commands([BotCommand("help", "Help"), BotCommand(name, "x")])
        for description, error in [
            (" \n ", "description must be non-empty"),
            ("x" * 257, "description length must not exceed 256"),
        ]:
            with pytest.raises(BadRequest, match=f"(?i){error}"):
                await bot.set_my_commands([BotCommand("help", description)], language_code="en")
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMANDS_TOO_MUCH"):
            await bot.set_my_commands([BotCommand(f"c{i}", "x") for i in range(101)])
        for code in ("EN", "eng", "pt-br"):
            with pytest.raises(BadRequest, match=r"(?i)invalid language code"):
                await bot.set_my_commands([BotCommand("help", "Help")], language_code=code)
        # What was refused changed nothing.
        assert server.commands[("default", "en")][0] == {
            "command": "start",
            "description": "Begin",
        }
        assert ("default", "") not in server.commands
        # A failure injected for one language leaves the others alone.
        server.fail_next("setMyCommands", error_code=400, where={"language_code": "nl"})
        await bot.set_my_commands([BotCommand("help", "Help")], language_code="en")
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("help", "Hulp")], language_code="nl")
        await bot.set_my_commands([BotCommand("help", "Hulp")], language_code="nl")
        assert server.commands[("default", "nl")] == [{"command": "help", "description": "Hulp"}]


@pytest.mark.asyncio
async def test_bot_level_methods(server: BotApiServer) -> None:
    async with plain_bot(server) as bot:
        assert bot.id == 4242
        assert bot.username == "test_bot"
        commands = [BotCommand("start", "Begin"), BotCommand("idee", "Nieuw idee")]
        await bot.set_my_commands(commands, language_code="nl")
        await bot.set_my_commands(
            [BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats()
        )
        assert await bot.get_my_commands(language_code="nl") == tuple(commands)
        assert server.commands[("all_private_chats", "")] == [
            {"command": "help", "description": "Help"}
        ]
        await bot.delete_my_commands(language_code="nl")
        assert await bot.get_my_commands(language_code="nl") == ()
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Start", "Hoofdletter")])

        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")
        assert await bot.close() is True
        assert await bot.log_out() is True

    wrong = Bot("4242:wrong", base_url=server.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        await wrong.shutdown()


@pytest.mark.asyncio
async def test_many_sends_are_recorded_in_order(server: BotApiServer) -> None:
    async with plain_bot(server) as bot:
        for number in range(200):
            await bot.send_message(ANNA + number % 2, f"bericht {number}")
    assert server.delivered_count(ANNA) == 100
    assert [r["message_id"] for r in server.messages(ANNA + 1)] == list(range(1, 101))
    assert server.total_delivered == 200


@pytest.mark.asyncio
async def test_webhook_mode(server: BotApiServer) -> None:
    anna = server.user(ANNA)
    app = build_app(server)
    add_handlers(app)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    assert app.updater is not None
    try:
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=url,
            secret_token="s3cret",
        )
        assert server.webhook.url == url
        assert server.webhook.secret_token == "s3cret"

        anna.send_text("via webhook")
        messages = await server.wait_for_messages(ANNA, 1)
        assert messages[0]["text"] == "echo: via webhook"

        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()

        update = {
            "update_id": 999,
            "message": {
                "message_id": 50,
                "date": 0,
                "chat": {"id": ANNA, "type": "private", "first_name": "Anna"},
                "from": anna.json,
                "text": "rauw",
            },
        }
        assert await server.post_raw_update(update, secret="wrong") == 403
        assert await server.post_raw_update(update, secret=None) == 403
        assert await server.post_raw_update(update) == 200
        await server.wait_for_messages(ANNA, 2)
        assert server.texts(ANNA)[1] == "echo: rauw"

        info = await app.bot.get_webhook_info()
        assert info.url == url
        assert info.pending_update_count == 0
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    async with plain_bot(server) as bot:
        assert await bot.delete_webhook() is True
        assert not server.webhook.active
        anna.send_text("weer pollen")
        updates = await bot.get_updates(timeout=5)
        assert [u.message.text for u in updates if u.message] == ["weer pollen"]


@pytest.mark.asyncio
async def test_webhook_retries_failed_deliveries(server: BotApiServer) -> None:
    anna = server.user(ANNA)
    received: list[tuple[str | None, dict[str, object]]] = []
    statuses = [500]  # first attempt fails, later ones succeed

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=statuses.pop(0) if statuses else 200)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with plain_bot(server) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{site.port}/hook", secret_token="abc")
            update = anna.send_text("/start")
            await server.wait_until_consumed()
            assert [body["update_id"] for _, body in received] == [update.update_id] * 2
            assert {secret for secret, _ in received} == {"abc"}
            assert server.webhook.delivered == 1
            assert server.webhook.last_error_message is not None
            assert "500" in server.webhook.last_error_message
            info = await bot.get_webhook_info()
            assert info.last_error_message == server.webhook.last_error_message

            await bot.delete_webhook()
            anna.send_text("na het webhook")
            await asyncio.sleep(0)
            assert len(received) == 2  # nothing is pushed after deleteWebhook
            assert server.pending_update_count == 1
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_telegrams_real_limits_are_enforced(server: BotApiServer) -> None:
    """4,096 UTF-16 units of text after the HTML is parsed, 1,024 of caption, 64 bytes of
    callback data, 100 inline buttons (8 a row), and HTML that parses: what Telegram refuses
    is refused here too."""
    server.user(ANNA)
    png = make_png(2, 2)
    async with plain_bot(server) as bot:
        # Units, not characters: an emoji is two.
        await bot.send_message(ANNA, "😀" * 2048)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(ANNA, "😀" * 2049)
        # Counted after parsing: tags count nothing, an entity one.
        await bot.send_message(ANNA, "<i>" + "&amp;" * 4096 + "</i>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(ANNA, "<b>" + "&lt;" * 4097 + "</b>", parse_mode="HTML")
        # Unknown named entities are literal text, numeric ones one character.
        await bot.send_message(ANNA, "&copy; &#128512;", parse_mode="HTML")
        assert server.texts(ANNA)[-1] == "&copy; &#128512;"
        # Captions: 1,024 units.
        await bot.send_photo(ANNA, photo=png, caption="😀" * 512)
        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.send_photo(ANNA, photo=png, caption="😀" * 513)
        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.send_document(ANNA, document=b"x", caption="x" * 1025)
        # Callback data: 64 bytes, not characters.
        fits = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
        await bot.send_message(ANNA, "knop", reply_markup=fits)
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("é", callback_data="é" * 33)]])
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(ANNA, "knop", reply_markup=too_long)

        # Inline buttons: 100 a message, 8 a row.
        def keyboard(rows: int, per_row: int) -> InlineKeyboardMarkup:
            return InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(f"{r}.{c}", callback_data=f"{r}.{c}")
                        for c in range(per_row)
                    ]
                    for r in range(rows)
                ]
            )

        await bot.send_message(ANNA, "knoppen", reply_markup=keyboard(25, 4))
        await bot.send_message(ANNA, "knoppen", reply_markup=keyboard(1, 8))
        for rows, per_row in [(101, 1), (1, 9), (26, 4)]:
            with pytest.raises(BadRequest, match=r"(?i)reply markup is too long"):
                await bot.send_message(ANNA, "knoppen", reply_markup=keyboard(rows, per_row))
        # HTML cut in the wrong place.
        for broken, reason in [
            ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
            ("tekst <b", "Unclosed start tag at byte offset 6"),
            ("</i>dicht", "Unexpected end tag at byte offset 0"),
            ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>"'),
            ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
            ("<br>", 'Unsupported start tag "br"'),
        ]:
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as refused:
                await bot.send_message(ANNA, broken, parse_mode="HTML")
            assert reason.lower() in str(refused.value).lower(), broken
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_photo(ANNA, photo=png, caption="<i>x", parse_mode="HTML")


async def test_restricting_a_banned_user_ends_the_ban_like_telegram(server: BotApiServer) -> None:
    # The Bot API server sets "restricted, a member if they were one" whatever the status
    # was: a banned user restricted is no longer banned (with every permission: "left").
    group = -1002002
    server.group(group, title="Proef", chat_type="supergroup")
    server.make_admin(group)
    bob = server.user(1002, first_name="Bob")
    async with plain_bot(server) as bot:
        bob.join((await bot.create_chat_invite_link(group, member_limit=1)).invite_link)
        await bot.ban_chat_member(group, 1002)
        await bot.restrict_chat_member(group, 1002, ChatPermissions.all_permissions())
        assert (await bot.get_chat_member(group, 1002)).status == "left"
        bob.join((await bot.create_chat_invite_link(group, member_limit=1)).invite_link)
        assert server.member(group, 1002)["status"] == "member"

        await bot.ban_chat_member(group, 1002)
        await bot.restrict_chat_member(
            group, 1002, ChatPermissions.no_permissions(), until_date=2_000_000_000
        )
        member = await bot.get_chat_member(group, 1002)
        assert member.status == "restricted" and not member.is_member
        # Back in by a link, but still restricted.
        bob.join((await bot.create_chat_invite_link(group, member_limit=1)).invite_link)
        assert server.member(group, 1002)["is_member"] is True
        assert not server.may_write(group, 1002)


async def test_group_moderation_methods_behave_like_telegram(server: BotApiServer) -> None:
    group = -1002001
    server.group(group, title="Proef", chat_type="supergroup")
    anna = server.user(ANNA)
    said = anna.send_text("hallo", chat_id=group)
    message_id = said["message"]["message_id"]
    async with plain_bot(server) as bot:
        member = await bot.get_chat_member(group, server.bot_id)
        assert member.status == "member"
        # Without admin rights every moderation call is refused with 400.
        with pytest.raises(BadRequest, match=r"(?i)not enough rights to manage chat invite link"):
            await bot.create_chat_invite_link(group, member_limit=1)
        with pytest.raises(BadRequest, match=r"(?i)not enough rights to restrict"):
            await bot.ban_chat_member(group, ANNA)
        with pytest.raises(BadRequest, match=r"(?i)message can.t be deleted"):
            await bot.delete_message(group, message_id)

        server.make_admin(group)
        admin = await bot.get_chat_member(group, server.bot_id)
        assert admin.status == "administrator" and admin.can_restrict_members
        link = await bot.create_chat_invite_link(group, member_limit=1, name="Samenspel")
        assert link.member_limit == 1 and link.invite_link.startswith("https://t.me/+")
        bob = server.user(1002, first_name="Bob")
        bob.join(link.invite_link)
        with pytest.raises(LookupError, match="used up"):
            server.user(1003).join(link.invite_link)

        assert await bot.delete_message(group, message_id)
        assert server.user_message(group, message_id)["deleted"]
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(group, message_id)

        await bot.restrict_chat_member(
            group, ANNA, ChatPermissions.no_permissions(), until_date=2_000_000_000
        )
        assert not server.may_write(group, ANNA)
        with pytest.raises(PermissionError):
            anna.send_text("mag het?", chat_id=group)
        await bot.restrict_chat_member(group, ANNA, ChatPermissions.all_permissions())
        assert server.may_write(group, ANNA)
        with pytest.raises(BadRequest, match=r"(?i)can.t restrict self"):
            await bot.ban_chat_member(group, server.bot_id)
        await bot.ban_chat_member(group, 1002)
        assert server.member(group, 1002)["status"] == "kicked"
        # Unbanning lets a banned user join again; only_if_banned leaves a member in, and
        # without it Telegram removes the member (they may join again).
        assert await bot.unban_chat_member(group, 1002, only_if_banned=True)
        assert server.member(group, 1002)["status"] == "left"
        assert await bot.unban_chat_member(group, ANNA, only_if_banned=True)
        assert server.member(group, ANNA)["status"] == "member"
        assert await bot.unban_chat_member(group, ANNA)
        assert server.member(group, ANNA)["status"] == "left"
        bob.join((await bot.create_chat_invite_link(group, member_limit=1)).invite_link)
        assert server.member(group, 1002)["status"] == "member"

        server.remove_bot(group)
        with pytest.raises(Forbidden, match=r"(?i)bot was kicked"):
            await bot.send_message(group, "hallo?")


async def test_a_link_that_needs_approval_asks_the_admins_like_telegram(
    server: BotApiServer,
) -> None:
    group = -1002003
    server.group(group, title="Proef", chat_type="supergroup")
    server.make_admin(group)
    bob, cas = server.user(1002, first_name="Bob"), server.user(1003, first_name="Cas")
    async with plain_bot(server) as bot:
        with pytest.raises(BadRequest, match=r"(?i)member limit can't be specified"):
            await bot.create_chat_invite_link(group, member_limit=1, creates_join_request=True)
        link = await bot.create_chat_invite_link(group, creates_join_request=True)
        asked = bob.join(link.invite_link)
        assert asked["chat_join_request"]["from"]["id"] == 1002
        assert server.member(group, 1002)["status"] == "left"  # not in before approval
        cas.join(link.invite_link)
        assert await bot.approve_chat_join_request(group, 1002)
        assert await bot.decline_chat_join_request(group, 1003)
        assert server.member(group, 1002)["status"] == "member"
        assert server.member(group, 1003)["status"] == "left"
        assert (server.approved, server.declined) == ([(group, 1002)], [(group, 1003)])
        with pytest.raises(BadRequest, match=r"(?i)hide_requester_missing"):
            await bot.approve_chat_join_request(group, 1003)


async def test_a_group_upgraded_to_a_supergroup_answers_under_its_new_id_like_telegram(
    server: BotApiServer,
) -> None:
    old, new = -2004, -1002004
    server.group(old, title="Proef")
    server.make_admin(old)
    anna = server.user(ANNA)
    anna.added(old)
    server.migrate(old, new, anna)
    async with plain_bot(server) as bot:
        with pytest.raises(ChatMigrated) as moved:
            await bot.send_message(old, "hallo")
        assert moved.value.new_chat_id == new
        assert (await bot.get_chat_member(new, server.bot_id)).status == "administrator"
        assert (await bot.get_chat_member(new, ANNA)).status == "member"
    kinds = [
        (
            u["message"]["chat"]["id"],
            set(u["message"]) & {"migrate_to_chat_id", "migrate_from_chat_id"},
        )
        for u in server._updates
        if "message" in u
    ]
    assert kinds[-2:] == [(old, {"migrate_to_chat_id"}), (new, {"migrate_from_chat_id"})]
    with pytest.raises(PermissionError):
        anna.send_text("nog iemand?", chat_id=old)
