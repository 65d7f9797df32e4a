"""Telegram through python-telegram-bot: long polling by default, a webhook when configured.

Native updates become Events; Replies become HTML messages (user text escaped by the
catalog) with inline keyboards. Callback queries are always answered, so buttons stop
spinning even when the button turns out to be stale.

Two bots share the token. Direct replies go through the Application's bot, throttled by
PTB's ``AIORateLimiter``, so an answer is never held up by a broadcast. Delivery (the outbox)
sends through a second bot without that limiter, because the delivery worker paces itself
(:mod:`bot.pacing`, per chat as well as overall). Through the replies' bot every broadcast
message would be limited twice and wait in the queue conversations wait in: measured with
``bench.broadcast``, delivery then reaches half its configured rate. Every direct reply
is debited from delivery's overall budget instead, so both together stay under
``SAMENSPEL_TELEGRAM_RATE`` while delivery has something to send.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

# Opt in to python-telegram-bot's timedelta periods (retry_after) before it is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import MessageEntityType, MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.app import App
from bot.logs import pseudonym
from bot.pacing import Pacing
from bot.platforms.base import Blocked, DeliveryError, RetryLater
from bot.settings import Settings
from handlers.contract import Event, Location, Photo, Platform, Reply, Sender
from handlers.pictures import NOT_A_PICTURE, received_photo
from storage.clock import utcnow

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MAX_PHOTO_BYTES = 5 * 1024 * 1024
UPDATE_TYPES = [Update.MESSAGE, Update.CALLBACK_QUERY]
#: The header Telegram sends the webhook secret in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Updates are small; anything larger than this is not from Telegram.
WEBHOOK_MAX_BYTES = 1024 * 1024
#: Telegram's limits besides the overall rate: one message a second in a chat, 20 a minute
#: in a group (groups and channels have negative ids).
CHAT_INTERVAL = 1.0
GROUP_INTERVAL = 3.0


def telegram_pacing(rate: float) -> Pacing:
    """Telegram's send limits with ``rate`` messages a second overall."""
    return Pacing(
        rate,
        chat_interval=CHAT_INTERVAL,
        group_interval=GROUP_INTERVAL,
        is_group=lambda chat_id: chat_id.startswith("-"),
    )


class _DebitingRateLimiter(AIORateLimiter):
    """PTB's rate limiter for direct replies that also debits each message from delivery."""

    def __init__(self, pacing: Pacing):
        super().__init__()
        self._pacing = pacing

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if data.get("chat_id") is not None and _is_message(endpoint):
            self._pacing.debit()
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def _is_message(endpoint: str) -> bool:
    """Methods that put (or change) a message in a chat: what the flood limits count."""
    name = endpoint.lower()
    return (name.startswith(("send", "edit", "copy", "forward"))) and name != "sendchataction"


class Telegram:
    """One bot on Telegram, wired to the router."""

    name = PLATFORM

    def __init__(self, app: App, *, rate_limiter: bool = True):
        self.app = app
        self._webhook: web.AppRunner | None = None
        settings = app.settings
        assert settings.telegram_token is not None
        token = settings.telegram_token.get_secret_value()
        self.pacing = telegram_pacing(settings.telegram_rate)
        builder = (
            Application.builder()
            .token(token)
            .base_url(settings.telegram_api_url)
            .base_file_url(settings.telegram_file_url)
            .concurrent_updates(True)
        )
        if rate_limiter:
            builder = builder.rate_limiter(_DebitingRateLimiter(self.pacing))  # type: ignore[arg-type]
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        # Delivery's own bot: no rate limiter (delivery paces itself), a connection for
        # each message it sends at once.
        self.delivery_bot = Bot(
            token,
            base_url=settings.telegram_api_url,
            base_file_url=settings.telegram_file_url,
            request=HTTPXRequest(
                connection_pool_size=settings.delivery_concurrency + 2, pool_timeout=10.0
            ),
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)

    @property
    def bot_username(self) -> str:
        return self.application.bot.username

    @property
    def platform(self) -> Platform:
        """What Telegram offers: native buttons, its text limit, a public start link."""
        try:
            username: str | None = self.application.bot.username  # from getMe
        except RuntimeError:
            username = None  # not started yet
        return Platform(
            name=PLATFORM,
            max_text=MessageLimit.MAX_TEXT_LENGTH,
            start_link=f"https://t.me/{username}?start=" if username else None,
        )

    async def start(self) -> None:
        """Connect, publish the command menu, and begin polling or serving the webhook."""
        await self.application.initialize()
        await self.delivery_bot.initialize()
        # getMe (in initialize) gave the bot's name: posters, invitations and answers in a
        # group link residents straight into a private chat with the bot.
        self.app.router.declare(self.platform)
        await self._publish_commands()
        await self.application.start()
        updater = self.application.updater
        assert updater is not None
        settings = self.app.settings
        if settings.telegram_webhook_url:
            await self._serve_webhook()
        else:
            await self.application.bot.delete_webhook()
            await updater.start_polling(allowed_updates=UPDATE_TYPES)
            log.info("telegram polling started")

    async def _serve_webhook(self) -> None:
        """Serve Telegram's webhook posts, and ``/healthz`` for the operator's monitoring."""
        settings = self.app.settings
        assert settings.telegram_webhook_url is not None
        host, port = settings.webhook_host_port
        server = web.Application(client_max_size=WEBHOOK_MAX_BYTES)
        server.router.add_post(urlsplit(settings.telegram_webhook_url).path or "/", self._post)
        server.router.add_get("/healthz", self._healthz)
        self._webhook = web.AppRunner(server, access_log=None)
        await self._webhook.setup()
        await web.TCPSite(self._webhook, host, port).start()
        secret = settings.telegram_webhook_secret
        await self.application.bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=UPDATE_TYPES,
        )
        log.info("telegram webhook serving listen=%s:%s", host, port)

    async def _post(self, request: web.Request) -> web.Response:
        """One update from Telegram: checked against the secret, then queued for handling."""
        secret = self.app.settings.telegram_webhook_secret
        if secret is not None:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
                return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response()

    async def _healthz(self, _: web.Request) -> web.Response:
        """200 while the bot runs and its database answers; 503 otherwise."""
        try:
            await self.app.db.fetchval("SELECT 1")
        except Exception:
            log.exception("health check: the database does not answer")
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def stop(self) -> None:
        """Stop taking updates, let in-flight ones finish, disconnect."""
        if self._webhook is not None:
            await self._webhook.cleanup()
            self._webhook = None
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        await self.app.router.drain()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.delivery_bot.shutdown()

    async def _publish_commands(self) -> None:
        """Set the command menu in every catalog language; a failure here is not fatal."""
        catalog = self.app.catalog
        described = self.app.registry.described_commands()
        try:
            for lang in catalog.languages:
                commands = [
                    BotCommand(name, catalog.text(lang, key, {}, markup=False))
                    for name, key in described
                ]
                code = None if lang == catalog.default else lang
                await self.application.bot.set_my_commands(commands, language_code=code)
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)

    # Receiving ---------------------------------------------------------------------------

    async def _on_update(self, update: object, _: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        event = await self._event(update)
        if event is not None:
            await self.app.router.handle(event, self._deliver)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)

    async def _event(self, update: Update) -> Event | None:
        query = update.callback_query
        if query is not None:
            try:
                await query.answer()
            except TelegramError as exc:
                log.info("callback answer failed: %s", exc)
            message = query.message
            chat_id = message.chat.id if message is not None else query.from_user.id
            return Event(
                platform=PLATFORM,
                chat_id=str(chat_id),
                sender=_sender(query.from_user),
                # A button under a message in a group is pressed in the group.
                is_group=message is not None and message.chat.type != message.chat.PRIVATE,
                button=query.data or "",
                origin_message_id=str(message.message_id) if message is not None else None,
                received_at=utcnow(),
            )
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        is_group = message.chat.type != message.chat.PRIVATE
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "chat_id": str(message.chat.id),
            "sender": _sender(message.from_user),
            "is_group": is_group,
            "received_at": utcnow(),
        }
        command = _command(message)
        if command is not None:
            name, args = command
            target = name.partition("@")[2]
            if target and target.lower() != (self.bot_username or "").lower():
                return None
            return Event(**base, command=name.partition("@")[0], args=args)
        if is_group:
            return None  # in groups the bot answers commands only
        if message.text is not None:
            return Event(**base, text=message.text)
        if message.photo:
            photo = await self._download_photo(message)
            if isinstance(photo, Photo):
                return Event(**base, photo=photo)
            return Event(**base, unsupported=photo)
        if message.location is not None:
            loc = message.location
            return Event(**base, location=Location(latitude=loc.latitude, longitude=loc.longitude))
        return Event(**base, unsupported=_kind(message))

    async def _download_photo(self, message: Message) -> Photo | str:
        """The largest size of a photo that fits, checked to be a picture (its content
        decides, see :mod:`handlers.pictures`); else the kind of unusable thing it is."""
        sizes = [s for s in message.photo if (s.file_size or 0) <= MAX_PHOTO_BYTES]
        if not sizes:
            return "photo"
        best = max(sizes, key=lambda s: s.width * s.height)
        try:
            file = await best.get_file()
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("photo download failed: %s", exc)
            return "photo"
        photo = await received_photo(data, best.file_id)
        return NOT_A_PICTURE if photo is None else photo

    # Sending -----------------------------------------------------------------------------

    async def _deliver(self, event: Event, lang: str, replies: list[Reply]) -> None:
        """Answer an event; a person who blocked the bot is marked unreachable."""
        bot = self.application.bot
        try:
            await self._send_all(bot, event.chat_id, lang, replies, event.origin_message_id)
        except Forbidden:
            log.info("chat unreachable chat=%s", pseudonym(event.chat_id))
            await self.app.chat_unreachable(PLATFORM, event.chat_id)

    async def send(
        self, chat_id: str, lang: str, replies: list[Reply], *, dedupe_key: str | None = None
    ) -> str | None:
        """Send outside a conversation (the outbox), translating failures for delivery.

        Returns the id of the last message sent.

        Raises:
            Blocked: also for a group (negative id): a group is nobody's private chat, and a
                person whose stored chat is one (older code stored it so) is reached again
                once they write in private.
        """
        if chat_id.startswith("-"):
            raise Blocked("a group is nobody's private chat")
        with _delivery_errors():
            return await self._send_all(self.delivery_bot, chat_id, lang, replies, None)

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        """Replace a message delivery sent before (a progress message)."""
        text = self.app.catalog.render(lang, reply, markup=True)
        with _delivery_errors():
            try:
                await self.delivery_bot.edit_message_text(
                    text[: MessageLimit.MAX_TEXT_LENGTH],
                    chat_id=chat_id,
                    message_id=int(message_id),
                    parse_mode=ParseMode.HTML,
                    reply_markup=self._keyboard(lang, reply),
                )
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    raise

    async def _send_all(
        self, bot: Bot, chat_id: str, lang: str, replies: list[Reply], origin: str | None
    ) -> str | None:
        last = None
        for message in replies:
            last = await self._send_one(bot, chat_id, lang, message, origin)
        return last

    async def _send_one(
        self, bot: Bot, chat_id: str, lang: str, message: Reply, origin: str | None
    ) -> str:
        """Send (or edit into place) one reply; returns the id of the message it ended in."""
        catalog = self.app.catalog
        text = catalog.render(lang, message, markup=True)
        markup = self._keyboard(lang, message)
        if message.photo_id is not None:
            return await self._send_photo(bot, chat_id, message.photo_id, text, markup)
        if message.document is not None:
            document = message.document
            sent = await bot.send_document(
                chat_id,
                InputFile(document.data, filename=document.filename),
                caption=text[: MessageLimit.CAPTION_LENGTH] if text else None,
                parse_mode=ParseMode.HTML if len(text) <= MessageLimit.CAPTION_LENGTH else None,
            )
            return str(sent.message_id)
        if message.edit and origin is not None and len(text) <= MessageLimit.MAX_TEXT_LENGTH:
            try:
                await bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=int(origin),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
                return origin
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return origin
                # The message is too old or gone: send a new one instead.
        chunks = _split(text, MessageLimit.MAX_TEXT_LENGTH)
        message_id = ""
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            sent = await bot.send_message(
                chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                disable_web_page_preview=True,
            )
            message_id = str(sent.message_id)
        return message_id

    async def _send_photo(
        self,
        bot: Bot,
        chat_id: str,
        media_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> str:
        media = self.app.repos.media
        ref = await media.platform_ref(media_id, PLATFORM)
        caption_fits = len(text) <= MessageLimit.CAPTION_LENGTH
        caption = text if caption_fits else None
        photo: str | InputFile
        if ref is not None:
            photo = ref
        else:
            stored = await media.get(media_id)
            if stored is None:
                raise DeliveryError(f"photo {media_id} is gone")
            photo = InputFile(stored.data, filename=f"photo-{media_id}.jpg")
        sent = await bot.send_photo(
            chat_id,
            photo,
            caption=caption,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if caption_fits else None,
        )
        if ref is None and sent.photo:
            async with self.app.db.transaction():
                await media.remember_ref(media_id, PLATFORM, sent.photo[-1].file_id)
        if not caption_fits:
            for chunk in _split(text, MessageLimit.MAX_TEXT_LENGTH):
                sent = await bot.send_message(
                    chat_id, chunk, parse_mode=ParseMode.HTML, reply_markup=markup
                )
        return str(sent.message_id)

    def _keyboard(self, lang: str, message: Reply) -> InlineKeyboardMarkup | None:
        if not message.buttons:
            return None
        catalog = self.app.catalog
        return _markup(
            tuple(
                tuple((catalog.label(lang, b), b.payload) for b in row) for row in message.buttons
            )
        )


@contextmanager
def _delivery_errors() -> Iterator[None]:
    """Telegram's failures as delivery understands them."""
    try:
        yield
    except Forbidden as exc:
        raise Blocked(str(exc)) from exc
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater(seconds, str(exc)) from exc
    except TelegramError as exc:
        raise DeliveryError(str(exc)) from exc


@lru_cache(maxsize=1024)
def _markup(rows: tuple[tuple[tuple[str, str], ...], ...]) -> InlineKeyboardMarkup:
    """An inline keyboard of (label, payload) rows, built once: the menus are the same for
    many messages, and python-telegram-bot's objects are immutable and costly to build."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=payload) for label, payload in row]
            for row in rows
        ]
    )


def _sender(user: Any) -> Sender:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return Sender(
        platform_user_id=str(user.id),
        display_name=name or user.username,
        language_hint=user.language_code,
    )


def _command(message: Message) -> tuple[str, str] | None:
    """(command, args) when the message starts with a bot command."""
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == MessageEntityType.BOT_COMMAND and entity.offset == 0:
            command = message.parse_entity(entity)[1:]
            args = text[len(command) + 1 :].strip()
            return command, args
    return None


def _kind(message: Message) -> str:
    for kind in (
        "sticker",
        "voice",
        "video",
        "video_note",
        "audio",
        "document",
        "animation",
        "contact",
        "poll",
        "dice",
        "venue",
    ):
        if getattr(message, kind, None):
            return kind
    return "other"


def _split(text: str, limit: int) -> list[str]:
    """Split long text at line breaks so each piece fits one Telegram message."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


async def bot_username(settings: Settings, wait: float = 10.0) -> str | None:
    """The bot's @username, asked from Telegram with the configured token (None if unknown).

    For the operator's tools (an invite link); any failure just means no username.
    """
    if settings.telegram_token is None:
        return None
    bot = Bot(
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_api_url,
        request=HTTPXRequest(connect_timeout=wait, read_timeout=wait),
    )
    try:
        async with bot:
            return bot.username or None
    except (TelegramError, OSError) as exc:
        log.warning("could not ask Telegram for the bot's name: %s", type(exc).__name__)
        return None
