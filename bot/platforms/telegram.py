"""Telegram through python-telegram-bot: long polling by default, a webhook when configured.

Native updates become Events; Replies become HTML messages (user text escaped by the
catalog) with inline keyboards. Callback queries are always answered, so buttons stop
spinning even when the button turns out to be stale.

Two bots share the token and one :class:`~bot.pacing.Pacing`. Direct replies go through the
Application's bot, whose rate limiter (:class:`PacedReplies`) queues each message in the
pacing ahead of the outbox: a reply waits only for its own chat's limit, the next slot and,
when replies alone fill the overall rate, its turn among them, never for a broadcast. Delivery (the
outbox) sends through a second bot without a limiter, because the delivery worker paces
itself with the slots replies leave over. Both together stay under
``SAMENSPEL_TELEGRAM_RATE``, one a second per chat (a short burst allowed) and 20 a minute
per group. (PTB's ``AIORateLimiter`` did this before: a limiter of its own that knew nothing
of delivery, so each reply took a slot in both, and replies reached about half the rate.)

Nothing a resident sent is lost at a crash. An update is stored (``telegram_inbox``) before
Telegram is told it arrived: polling confirms a batch only with the request after it was
stored (:mod:`bot.platforms._telegram_polling`), the webhook answers 200 only then. It is
deleted once handled and answered; what a crash left there is handled at the next start.
Every event carries the bot's id and the update id as its ``event_id`` (update ids count per
bot, so another bot on the same database never looks like a repeat), so the router handles
an update once, however often it comes, and sends again only replies that were never
confirmed::

    Telegram ──► inbox (stored) ──► confirmed ──► router: handled_events + step, one commit
                                                    ──► replies sent ──► inbox row deleted
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

# Opt in to python-telegram-bot's timedelta periods (retry_after) before it is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import (
    Bot,
    Chat,
    ChatJoinRequest,
    ChatMember,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    PhotoSize,
    Update,
    User,
)
from telegram import Document as TelegramDocument
from telegram.constants import MessageEntityType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, BaseRateLimiter, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.app import App
from bot.logs import pseudonym
from bot.pacing import Pacing
from bot.platforms._telegram_menu import command_menu
from bot.platforms._telegram_polling import (
    TOKEN_REFUSED,
    Polling,
    token_refused_at_start,
    without_token,
)
from bot.platforms._telegram_rooms import admin_problem, mute, remove
from bot.platforms._telegram_text import (
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    TEXT_LIMIT,
    fits,
    keyboards,
    pack,
)
from bot.platforms.base import Blocked, DeliveryError, Lost, RetryLater, StartError
from bot.router import Undelivered
from bot.settings import Settings
from handlers.contract import (
    Document,
    Event,
    Location,
    Photo,
    Platform,
    Quoted,
    Reply,
    RoomError,
    Sender,
)
from handlers.pictures import NOT_A_PICTURE, received_photo
from storage import Arrived
from storage.clock import utcnow

if TYPE_CHECKING:  # aiohttp's web server is imported in webhook mode only
    from aiohttp import web

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
_T = TypeVar("_T")

PLATFORM = "telegram"
MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: What the bot hears: messages (and edits of them), button presses, requests to join an
#: experiment's group through one of its invite links (it decides who comes in), and its
#: own membership of groups changing (removed from an experiment's group).
UPDATE_TYPES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.CHAT_JOIN_REQUEST,
    Update.MY_CHAT_MEMBER,
]
#: A chat hears that edits are not read at most once in this many seconds...
EDIT_NOTICE_EVERY = 60.0
#: ...remembered for this many chats at a time (older ones are forgotten after an hour).
EDIT_NOTICE_CHATS = 10_000
#: A group hears that a command sent as a chat (anonymously, as a channel) needs a person
#: at most once in this many seconds.
NOT_A_PERSON_EVERY = 30.0


@dataclass
class _EditsTold:
    at: float
    messages: set[int]


@dataclass
class _AlbumTurns:
    """The messages of one album: one at a time, in the order they arrived."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


#: The header Telegram sends the webhook secret in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Updates are small; anything larger than this is not from Telegram.
WEBHOOK_MAX_BYTES = 1024 * 1024
#: Start-ups that take up an update left from before; one still there after that many (it
#: took the process down each time) is given up.
RESUME_ATTEMPTS = 5
#: Telegram's limits besides the overall rate: one message a second in a chat, 20 a minute
#: in a group (groups and channels have negative ids).
CHAT_INTERVAL = 1.0
GROUP_INTERVAL = 3.0


#: How many messages one chat gets at once: Telegram allows "short bursts" (three, we
#: assume), one less leaves room for the time a request takes to arrive, which varies.
CHAT_BURST = 2
#: The longest "retry after" a direct reply waits out (once) before giving up.
REPLY_RETRY_LIMIT = 10.0


def telegram_pacing(rate: float) -> Pacing:
    """Telegram's send limits with ``rate`` messages a second overall."""
    return Pacing(
        rate,
        chat_interval=CHAT_INTERVAL,
        group_interval=GROUP_INTERVAL,
        burst=CHAT_BURST,
        is_group=lambda chat_id: chat_id.startswith("-"),
    )


class PacedReplies(BaseRateLimiter[int]):
    """The direct replies' rate limiter: every message waits for its turn in the pacing.

    A 429 holds that chat (for the outbox too) and the message is sent once more after
    the wait, if the wait is short enough for someone waiting for an answer.
    """

    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        #: "Retry after" answers received for direct replies (for logs and benchmarks).
        self.refused = 0
        #: Seconds the latest messages waited for their turn (for benchmarks).
        self.waits: deque[float] = deque(maxlen=10_000)

    async def initialize(self) -> None:
        """Nothing to set up: the pacing lives as long as the adapter."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat = data.get("chat_id")
        if not _is_message(endpoint):
            return await callback(*args, **kwargs)
        chat_id = None if chat is None else str(chat)
        started = time.monotonic()
        await self.pacing.reply(chat_id)
        self.waits.append(time.monotonic() - started)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            self.refused += 1
            wait = _seconds(exc.retry_after)
            if chat_id is not None:
                self.pacing.hold(chat_id, wait)
            if wait > REPLY_RETRY_LIMIT:
                raise
            log.warning(
                "telegram asked a reply to wait %.1f s chat=%s", wait, pseudonym(str(chat))
            )
            await self.pacing.reply(chat_id)
            return await callback(*args, **kwargs)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


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
        #: Publishing the command menu (one request per language) while answering begins.
        self._menu_published: asyncio.Task[None] | None = None
        settings = app.settings
        assert settings.telegram_token is not None
        token = settings.telegram_token.get_secret_value()
        #: The bot's id (the token's first part): update ids are counted per bot.
        self._bot_id = token.partition(":")[0]
        self.pacing = telegram_pacing(settings.telegram_rate)
        builder = (
            Application.builder()
            .token(token)
            .base_url(settings.telegram_api_url)
            .base_file_url(settings.telegram_file_url)
            .concurrent_updates(True)
            # Polling is ours (stored before confirmed), not PTB's Updater's.
            .updater(None)
        )
        #: Direct replies' limiter (None without one: bench.telegram's unpaced comparison).
        self.replies: PacedReplies | None = None
        if rate_limiter:
            self.replies = PacedReplies(self.pacing)
            builder = builder.rate_limiter(self.replies)  # type: ignore[arg-type]
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
        self._payloads = _LongPayloads()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._polling: Polling | None = None
        self.lost = Lost()
        #: Updates queued for handling and not yet finished (a second copy is not queued).
        self._in_hand: set[int] = set()
        #: Per private chat: when it last heard that edits are not read, and about which
        #: messages (one word per message, and not more than one a minute).
        self._edits_told: dict[str, _EditsTold] = {}
        #: Updates handled and answered, to be deleted from the inbox.
        self._finished: list[int] = []
        self._forgetting: asyncio.Task[None] | None = None
        #: Per group: when it last heard that a command sent as a chat needs a person.
        self._not_a_person_told: dict[str, float] = {}
        #: Per album being handled: its messages take turns, in the order they arrived.
        self._albums: dict[str, _AlbumTurns] = {}

    def _event_id(self, update: Update) -> str:
        """The update as the router knows it: handled once, however often it comes."""
        return f"{self._bot_id}:{update.update_id}"

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
            max_text=TEXT_LIMIT,
            start_link=f"https://t.me/{username}?start=" if username else None,
        )

    async def start(self) -> None:
        """Connect, publish the command menu, and begin polling or serving the webhook."""
        problem = self.app.settings.webhook_secret_problem
        if problem is not None:
            raise StartError(problem)
        try:
            await self.application.initialize()
            await self.delivery_bot.initialize()
        except InvalidToken as exc:
            refused = token_refused_at_start(exc, self.app.settings.telegram_api_url)
            raise StartError(refused) from None
        except TelegramError as exc:
            token = self.application.bot.token
            raise StartError(
                f"telegram: the Bot API at {self.app.settings.telegram_api_url} did not"
                f" answer: {without_token(exc, token)}"
            ) from None
        # getMe (in initialize) gave the bot's name: posters, invitations and answers in a
        # group link residents straight into a private chat with the bot.
        self.app.router.declare(self.platform)
        # The menu is not needed to answer: a request per language must not keep the first
        # resident waiting at start-up (against Telegram, each takes a round trip).
        self._menu_published = asyncio.create_task(self._publish_commands())
        await self.application.start()
        await self._resume()
        settings = self.app.settings
        if settings.telegram_webhook_url:
            await self._serve_webhook()
        else:
            await self.application.bot.delete_webhook()
            self._polling = Polling(
                self.application.bot,
                self._arrived,
                allowed_updates=UPDATE_TYPES,
                lost=self.lost,
            )
            self._polling.start()
            log.info("telegram polling started")

    async def _resume(self) -> None:
        """Handle what a stop or crash left in the inbox, before anything new arrives."""
        async with self.app.db.transaction():
            waiting, given_up = await self.app.repos.telegram_inbox.waiting(RESUME_ATTEMPTS)
        if given_up:
            log.error(
                "telegram: %d updates given up: every start that took them up ended", given_up
            )
        if waiting:
            log.info("telegram: %d updates left from before are handled now", len(waiting))
        for arrived in waiting:
            try:
                update = Update.de_json(json.loads(arrived.body), self.application.bot)
            except Exception as exc:  # stored by a version that read it differently
                log.warning("telegram: a stored update is unreadable: %s", type(exc).__name__)
                self._finish(arrived.update_id)
                continue
            await self._queue(update)

    async def _arrived(self, updates: Sequence[Update]) -> None:
        """Store updates, then queue them for handling; only then may Telegram forget them.

        When nothing can be stored (a full disk), they are handled all the same: the router
        answers from what it can read and says it cannot save, so nobody is left unanswered.
        """
        rows = [
            Arrived(
                update_id=update.update_id,
                sender=str(update.effective_user.id) if update.effective_user else None,
                body=json.dumps(update.to_dict(), ensure_ascii=False),
            )
            for update in updates
        ]
        try:
            async with self.app.db.transaction():
                await self.app.repos.telegram_inbox.keep(rows, utcnow())
            await self.app.db.sync()
        except Exception:
            log.exception("telegram: updates could not be stored; handled all the same")
        for update in updates:
            await self._queue(update)

    async def _queue(self, update: Update) -> None:
        if update.update_id in self._in_hand:
            return  # Telegram sent it again while it is being handled
        self._in_hand.add(update.update_id)
        await self.application.update_queue.put(update)

    def _finish(self, update_id: int) -> None:
        """Handled and answered: delete it from the inbox (with others finished meanwhile,
        in one transaction; a crash before that only has it handled again, which the router
        recognises)."""
        self._in_hand.discard(update_id)
        self._finished.append(update_id)
        if self._forgetting is None or self._forgetting.done():
            self._forgetting = asyncio.create_task(self._forget(), name="telegram-inbox")

    async def _forget(self) -> None:
        while self._finished:
            done, self._finished = self._finished, []
            try:
                async with self.app.db.transaction():
                    await self.app.repos.telegram_inbox.done(done)
            except Exception:
                log.exception("telegram: handled updates could not be deleted from the inbox")

    async def _serve_webhook(self) -> None:
        """Serve Telegram's webhook posts, and ``/healthz`` for the operator's monitoring."""
        settings = self.app.settings
        assert settings.telegram_webhook_url is not None
        host, port = settings.webhook_host_port
        from aiohttp import web  # only webhook mode needs the server; polling starts faster

        server = web.Application(client_max_size=WEBHOOK_MAX_BYTES)
        server.router.add_post(urlsplit(settings.telegram_webhook_url).path or "/", self._post)
        server.router.add_get("/healthz", self._healthz)
        self._webhook = web.AppRunner(server, access_log=None)
        await self._webhook.setup()
        await web.TCPSite(self._webhook, host, port).start()
        secret = settings.telegram_webhook_secret
        assert secret is not None  # start() refuses webhook mode without one
        await self.application.bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=secret.get_secret_value(),
            allowed_updates=UPDATE_TYPES,
        )
        log.info("telegram webhook serving listen=%s:%s", host, port)

    async def _post(self, request: web.Request) -> web.Response:
        """One update from Telegram: checked against the secret, then queued for handling.

        A body that is not an update (not JSON, not a JSON object, or an object PTB cannot
        read as an update) gets 400: it is not from Telegram, and not worth a trace.
        """
        from aiohttp import web  # imported by _serve_webhook already

        secret = self.app.settings.telegram_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if secret is None or not hmac.compare_digest(
            given.encode(), secret.get_secret_value().encode()
        ):
            return web.Response(status=403)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise TypeError(f"a JSON {type(body).__name__}, not an object")
            update = Update.de_json(body, self.application.bot)
        except Exception as exc:  # whatever PTB trips over in a malformed body
            log.info("webhook body refused: %s", type(exc).__name__)
            return web.Response(status=400)
        await self._arrived([update])  # stored before Telegram hears it arrived
        return web.Response()

    async def _healthz(self, _: web.Request) -> web.Response:
        """200 while the bot runs and its database answers; 503 otherwise."""
        from aiohttp import web  # imported by _serve_webhook already

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
        if self._polling is not None:
            await self._polling.stop()
        await self.app.router.drain()
        if self._menu_published is not None:
            await self._menu_published  # short; it logs its own failures
            self._menu_published = None
        if self.application.running:
            await self.application.stop()  # handles what was queued
        if self._forgetting is not None:
            await self._forgetting
        if self._polling is not None:
            await self._polling.confirm()
            self._polling = None
        await self.application.shutdown()
        await self.delivery_bot.shutdown()

    async def _publish_commands(self) -> None:
        """Set the command menu in every catalog language (the default language's for
        everyone else), each naming that language's commands; a failure here is not fatal,
        and one language's does not keep the others from their menu."""
        catalog = self.app.catalog
        for lang in catalog.languages:
            code = None if lang == catalog.default else lang
            try:
                commands = command_menu(self.app.registry, catalog, lang)
                await self.application.bot.set_my_commands(commands, language_code=code)
            except TelegramError as exc:
                log.warning("could not set the command menu in %s: %s", lang, exc)
            except Exception:  # a background task: nothing above would see it
                log.exception("could not set the command menu in %s", lang)

    # Receiving ---------------------------------------------------------------------------

    async def _on_update(self, update: object, _: ContextTypes.DEFAULT_TYPE) -> None:
        if not isinstance(update, Update):
            return
        # Taken before anything is awaited, so an album's messages are handled in the order
        # they arrived: the first photo reaches the router first, even when a later one
        # downloads faster.
        async with self._album_turn(update):
            await self._handle_update(update)

    @asynccontextmanager
    async def _album_turn(self, update: Update) -> AsyncIterator[None]:
        """Wait for the turn of an album's message (several photos sent at once); other
        updates go at once."""
        message = update.message
        album = _album(message) if message is not None else None
        if album is None:
            yield
            return
        turns = self._albums.get(album)
        if turns is None:
            turns = self._albums[album] = _AlbumTurns()
        turns.waiting += 1
        try:
            async with turns.lock:
                yield
        finally:
            turns.waiting -= 1
            if turns.waiting == 0:
                del self._albums[album]

    async def _handle_update(self, update: Update) -> None:
        try:
            if update.edited_message is not None:
                await self._edited(update.edited_message)
            if update.chat_join_request is not None:
                await self._join_request(update.chat_join_request)
            removed = update.my_chat_member
            if removed is not None and _out_of_group(removed):
                await self.app.room_gone(PLATFORM, str(removed.chat.id))
            for joined in self._joined(update):
                await self.app.router.handle(joined, self._deliver)
            if update.message is not None and update.message.left_chat_member is not None:
                await self._removal_shown(update.message)
            event = await self._event(update)
            if event is not None:
                topic = _topic(update)
                deliver = self._deliver if topic is None else partial(self._deliver, topic=topic)
                await self.app.router.handle(event, deliver)
        except Exception:
            # Logged by the error handler; tried once, not again at every start.
            self._finish_unless_lost(update.update_id)
            raise
        self._finish_unless_lost(update.update_id)

    async def _removal_shown(self, message: Message) -> None:
        """Telegram tells a small group "Samenspel removed Anna" when the bot takes someone
        out of an experiment's group (they left the experiment, were banned, erased their
        data, or the connector banned them there). Why is their own business: the bot deletes
        that line. Without the right to delete messages it stays (the doctor names the
        missing right); a line about anyone who left by themselves is left alone."""
        remover = message.from_user
        if remover is None or str(remover.id) != self._bot_id:
            return
        try:
            await self.delivery_bot.delete_message(message.chat.id, message.message_id)
        except TelegramError as exc:
            log.info(
                "telegram removal notice not deleted room=%s error=%s",
                pseudonym(str(message.chat.id)),
                exc,
            )

    async def _edited(self, message: Message) -> None:
        """A message changed after it was sent: never read as a new answer (it may answer
        a question asked long ago). In a private chat the person hears that edits are not
        read, so the correction is not lost without a word; in a group nothing is said."""
        sender = message.from_user
        if message.chat.type != message.chat.PRIVATE or sender is None or sender.is_bot:
            return
        if _not_own_chat(message.chat, sender):
            return  # forged: the word (in the sender's language) is not for that chat
        if message.text is None and message.caption is None:
            return  # a live location moving on (an update every few seconds), not words
        chat = str(message.chat.id)
        now = time.monotonic()
        told = self._edits_told.get(chat)
        if told is not None and (
            message.message_id in told.messages or now - told.at < EDIT_NOTICE_EVERY
        ):
            return  # said already about this message, or a moment ago in this chat
        if len(self._edits_told) >= EDIT_NOTICE_CHATS:
            self._edits_told = {
                key: seen for key, seen in self._edits_told.items() if now - seen.at < 3600
            }
        earlier = sorted(told.messages)[-100:] if told else []
        messages = {*earlier, message.message_id}
        self._edits_told[chat] = _EditsTold(now, messages)
        user = await self.app.repos.users.find(PLATFORM, str(sender.id))
        lang = (user.language if user else None) or self.app.catalog.default
        try:
            await self.send(str(message.chat.id), lang, [Reply(key="general.edit_not_read")])
        except DeliveryError as exc:
            log.info("telegram notice about an edit not sent: %s", exc)

    def _finish_unless_lost(self, update_id: int) -> None:
        """Finish an update, unless the token was refused meanwhile: then its answer may not
        have reached the resident (Telegram may already have forgotten the update), so it
        stays in the inbox; the next start handles it again and the router sends only the
        replies that were never confirmed."""
        if self.lost.is_set():
            self._in_hand.discard(update_id)
            return
        self._finish(update_id)

    def _joined(self, update: Update) -> list[Event]:
        """People (not bots) who joined a group: each gets the room's welcome."""
        message = update.message
        if message is None or not message.new_chat_members:
            return []
        return [
            Event(
                platform=PLATFORM,
                chat_id=str(message.chat.id),
                sender=_sender(member),
                is_group=True,
                joined=True,
                received_at=utcnow(),
                event_id=f"{self._event_id(update)}:joined:{member.id}",
            )
            for member in message.new_chat_members
            if not member.is_bot
        ]

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)

    async def _event(self, update: Update) -> Event | None:
        query = update.callback_query
        if query is not None:
            if query.message is not None and _not_own_chat(query.message.chat, query.from_user):
                return None
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
                button=self._payloads.original(query.data or ""),
                origin_message_id=str(message.message_id) if message is not None else None,
                received_at=utcnow(),
                event_id=self._event_id(update),
            )
        message = update.message
        if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
            await self._migrated(message)
            return None
        if message is not None and _sent_as_chat(message):
            await self._not_a_person(update, message)
            return None
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        if _not_own_chat(message.chat, message.from_user):
            return None
        is_group = message.chat.type != message.chat.PRIVATE
        base: dict[str, Any] = {
            "platform": PLATFORM,
            "chat_id": str(message.chat.id),
            "sender": _sender(message.from_user),
            "is_group": is_group,
            "received_at": utcnow(),
            "event_id": self._event_id(update),
            "album": _album(message),
        }
        command = self._command(message, group=is_group)
        if command is not None:
            name, args = command
            target = name.partition("@")[2]
            if target and target.lower() != (self.bot_username or "").lower():
                return None
            quoted = _quoted(message.reply_to_message) if is_group else None
            return Event(
                **base,
                command=name.partition("@")[0],
                args=args,
                written=message.text,
                reply_to=quoted,
                message_id=str(message.message_id) if is_group else None,
            )
        if is_group:
            return None  # in groups the bot answers commands only
        if _service(message):
            return None  # "You pinned ...": nothing the person wrote
        if message.text is not None:
            return Event(**base, text=message.text)
        if message.caption and message.caption.strip():
            base["caption"] = message.caption  # written with a photo or a file
        if message.photo or _sent_as_file(message):
            album = base["album"]
            if album is not None and await self.app.router.left_in_album(PLATFORM, album):
                # A later photo of an album the router will leave: not fetched for nothing.
                return Event(**base, unsupported="photo")
            photo = await self._download_photo(message)
            if isinstance(photo, Photo):
                return Event(**base, photo=photo)
            return Event(**base, unsupported=photo)
        if message.location is not None:
            loc = message.location
            return Event(**base, location=Location(latitude=loc.latitude, longitude=loc.longitude))
        return Event(**base, unsupported=_kind(message))

    def _command(self, message: Message, *, group: bool) -> tuple[str, str] | None:
        """(command, args) when the message starts with a bot command (see
        :func:`_command`). In a group, a slash before a word that names no command ("/één
        keer nog") is none: it is text, left alone there as any other text; in a private
        chat the router reads it as the text it is."""
        command = _command(message)
        if command is None or not group:
            return command
        named = self.app.router.names_command(command[0].partition("@")[0])
        return command if named else None

    async def _not_a_person(self, update: Update, message: Message) -> None:
        """A message in a group sent as a chat, not as a person: by an anonymous admin
        (``from`` is Telegram's GroupAnonymousBot, the same for every anonymous admin of
        every group) or on behalf of a channel. Nobody can be told apart, so it never
        reaches the router (it would take all of them for one resident). A command to the
        bot gets a short answer in the group: write as yourself. Everything else is left
        alone, as anything else said in a group; the answer comes at most once in
        :data:`NOT_A_PERSON_EVERY` seconds per group, so commands sent as a chat cannot
        use up the group's messages."""
        if message.is_automatic_forward:
            return  # a channel's post shown in its discussion group: nobody asked anything
        command = self._command(message, group=True)
        if command is None:
            return
        target = command[0].partition("@")[2]
        if target and target.lower() != (self.bot_username or "").lower():
            return
        chat = str(message.chat.id)
        now = time.monotonic()
        if now - self._not_a_person_told.get(chat, -NOT_A_PERSON_EVERY) < NOT_A_PERSON_EVERY:
            return
        if len(self._not_a_person_told) >= EDIT_NOTICE_CHATS:
            self._not_a_person_told.clear()
        self._not_a_person_told[chat] = now
        reply = Reply(key="general.write_as_yourself")
        try:
            await self._send_reply(
                self.application.bot,
                chat,
                self.app.catalog.default,
                reply,
                None,
                _Progress(),
                topic=_topic(update),
            )
        except InvalidToken:
            self.lost.set(TOKEN_REFUSED)
            raise
        except (TelegramError, DeliveryError) as exc:
            log.info("telegram: no answer to a command sent as a chat: %s", exc)

    async def _migrated(self, message: Message) -> None:
        """A group became a supergroup, with a new id: Telegram says so in both (where it
        went in the group, where it came from in the supergroup). An experiment's room
        there moves along; otherwise invites, welcomes and reports would stop."""
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        else:
            old, new = message.migrate_from_chat_id or 0, message.chat.id
        await self.app.room_moved(PLATFORM, str(old), str(new))

    async def _download_photo(self, message: Message) -> Photo | str:
        """The largest size of a photo that fits (or the picture sent as a file), checked to
        be a picture (its content decides, see :mod:`handlers.pictures`); else the kind of
        unusable thing it is."""
        best: PhotoSize | TelegramDocument
        if message.photo:
            sizes = [s for s in message.photo if (s.file_size or 0) <= MAX_PHOTO_BYTES]
            if not sizes:
                return "photo"
            best = max(sizes, key=lambda s: s.width * s.height)
        else:
            assert message.document is not None
            if (message.document.file_size or 0) > MAX_PHOTO_BYTES:
                return "photo"
            best = message.document
        try:
            file = await best.get_file()
            data = bytes(await file.download_as_bytearray())
        except InvalidToken:
            # Not the photo's fault: handled again, with the photo, after the restart.
            self.lost.set(TOKEN_REFUSED)
            raise
        except TelegramError as exc:
            log.warning("photo download failed: %s", exc)
            return "photo"
        photo = await received_photo(data, best.file_id)
        return NOT_A_PICTURE if photo is None else photo

    # Experiments' rooms (handlers.contract.RoomOperations) -----------------------------

    async def invite(self, room: str, person: str) -> str | None:
        """An invite link for one person. Whoever uses it asks to join, and the bot lets in
        only someone who takes part (:meth:`_join_request`): a link passed on, or used after
        leaving the experiment or being banned, opens nothing."""
        link = await self._in_room(
            room,
            lambda chat: self.delivery_bot.create_chat_invite_link(
                chat, creates_join_request=True, name="Samenspel"
            ),
        )
        return link.invite_link

    async def _join_request(self, request: ChatJoinRequest) -> None:
        """Someone used an invite link of a group: let them into an experiment's room, or
        not (:meth:`bot.app.App.room_join_request`). In any other group the request is left
        to its admins."""
        chat, account = str(request.chat.id), str(request.from_user.id)
        allowed = await self.app.room_join_request(PLATFORM, chat, account)
        if allowed is None:
            return
        try:
            if allowed:
                await self.delivery_bot.approve_chat_join_request(int(chat), int(account))
            else:
                await self.delivery_bot.decline_chat_join_request(int(chat), int(account))
        except TelegramError as exc:
            # Decided already (by an admin, or this request handled before a restart).
            log.info("join request not answered room=%s error=%s", pseudonym(chat), exc)

    async def hide(self, room: str, message_id: str) -> None:
        # Not followed into a supergroup the group became: its messages are numbered anew
        # there, and the number would be somebody else's message.
        await self._in_room(
            room,
            lambda chat: self.delivery_bot.delete_message(chat, int(message_id)),
            follow=False,
        )

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        """Restrict a member (Telegram lifts it by itself at ``until``); None lifts it.
        Never for someone banned there (see :func:`_telegram_rooms.mute`)."""
        await self._in_room(room, lambda chat: mute(self.delivery_bot, str(chat), person, until))

    async def ban(self, room: str, person: str) -> None:
        await self._in_room(
            room, lambda chat: self.delivery_bot.ban_chat_member(chat, int(person))
        )

    async def unban(self, room: str, person: str) -> None:
        """Only if banned: an unban would otherwise remove a member from the group."""
        await self._in_room(
            room,
            lambda chat: self.delivery_bot.unban_chat_member(
                chat, int(person), only_if_banned=True
            ),
        )

    async def remove(self, room: str, person: str) -> bool:
        """Out of the group, not banned (see :func:`_telegram_rooms.remove`)."""
        return await self._in_room(room, lambda chat: remove(self.delivery_bot, str(chat), person))

    async def _in_room(
        self, room: str, call: Callable[[int], Awaitable[_T]], *, follow: bool = True
    ) -> _T:
        """``call`` for a group, with Telegram's refusals as the room worker understands
        them. A group upgraded to a supergroup (a new id) whose news the bot missed is
        followed there: the room moves, and the call is made in the supergroup (unless not
        ``follow``: then it is given up, as something that cannot be done). A group the
        bot is no longer in is noted as gone (:meth:`bot.app.App.room_gone`)."""
        chat = int(room)
        with _room_errors():
            try:
                try:
                    return await call(chat)
                except ChatMigrated as exc:
                    chat = int(exc.new_chat_id)
                    await self.app.room_moved(PLATFORM, room, str(chat))
                    if not follow:
                        raise RoomError("the group became a supergroup", lasting=True) from exc
                    return await call(chat)
            except Forbidden:
                # Not in the group any more (removed, or the group deleted).
                await self.app.room_gone(PLATFORM, str(chat))
                raise

    async def admin_problem(self, room: str) -> str | None:
        return await admin_problem(self.delivery_bot, room)

    # Sending -----------------------------------------------------------------------------

    async def _deliver(
        self, event: Event, lang: str, replies: list[Reply], *, topic: int | None = None
    ) -> None:
        """Answer an event (in ``topic``, the forum topic it came from, if any); a person
        who blocked the bot is marked unreachable.

        A reply Telegram refuses (``BadRequest``, or one that cannot be made: its photo is
        gone) does not leave the person stranded: they get a short note that something
        went wrong, with that reply's buttons, and the next replies follow. A reply Telegram
        could not take now (it did not answer, answered 5xx, or asked the chat to wait
        longer than someone waiting for an answer would) is not lost: it and the replies
        after it are raised as :class:`Undelivered`, for the outbox to send. A timeout may
        have delivered it all the same; sent twice is better than never.
        """
        bot = self.application.bot
        try:
            for index, reply in enumerate(replies):
                progress = _Progress()
                try:
                    await self._send_reply(
                        bot,
                        event.chat_id,
                        lang,
                        reply,
                        event.origin_message_id,
                        progress,
                        topic=topic,
                    )
                except Forbidden:
                    raise
                except InvalidToken:
                    # Nothing more can be sent or received: the runtime stops the bot.
                    self.lost.set(TOKEN_REFUSED)
                    raise
                except (BadRequest, DeliveryError) as exc:
                    log.error(
                        "a reply could not be sent chat=%s key=%s error=%s",
                        pseudonym(event.chat_id),
                        reply.key,
                        exc,
                    )
                    await self._apologise(
                        bot, event.chat_id, lang, reply, replies[index + 1 :], topic=topic
                    )
                except TelegramError as exc:
                    raise Undelivered(replies[index:], str(exc), delivered=progress.done) from exc
        except Forbidden:
            log.info("chat unreachable chat=%s", pseudonym(event.chat_id))
            await self.app.chat_unreachable(PLATFORM, event.chat_id)

    async def _apologise(
        self,
        bot: Bot,
        chat_id: str,
        lang: str,
        failed: Reply,
        rest: list[Reply],
        *,
        topic: int | None = None,
    ) -> None:
        """Say a message could not be shown, with its buttons (without, should they fail).

        Raises:
            Undelivered: Telegram could not take the note now (with ``rest``, the replies
                after the refused one).
        """
        note = Reply(key="errors.not_shown", buttons=failed.buttons)
        for attempt in (note, Reply(key="errors.not_shown")):
            try:
                await self._send_reply(bot, chat_id, lang, attempt, None, _Progress(), topic=topic)
                return
            except Forbidden:
                raise
            except InvalidToken:
                self.lost.set(TOKEN_REFUSED)
                raise
            except BadRequest as exc:
                log.error("the apology failed too chat=%s error=%s", pseudonym(chat_id), exc)
            except TelegramError as exc:
                raise Undelivered([attempt, *rest], str(exc)) from exc
            if not failed.buttons:
                return

    async def send(
        self,
        chat_id: str,
        lang: str,
        replies: list[Reply],
        *,
        dedupe_key: str | None = None,
        skip: int = 0,
    ) -> str | None:
        """Send outside a conversation (the outbox), translating failures for delivery.

        A row can take several calls (a photo, then a text too long for its caption). The
        first ``skip`` calls arrived on an earlier try and are not made again; a failure
        says how many have arrived by now (``DeliveryError.delivered``).

        Returns the id of the last message sent.

        Raises:
            Blocked: also for a group (negative id): a group is nobody's private chat, and a
                person whose stored chat is one (older code stored it so) is reached again
                once they write in private.
        """
        if chat_id.startswith("-"):
            raise Blocked("a group is nobody's private chat")
        progress = _Progress(done=skip)
        with _delivery_errors(progress, self.lost):
            last = None
            for reply in replies:
                last = await self._send_reply(
                    self.delivery_bot, chat_id, lang, reply, None, progress
                )
            return last

    async def edit(self, chat_id: str, message_id: str, lang: str, reply: Reply) -> None:
        """Replace a message delivery sent before (a progress message)."""
        catalog = self.app.catalog
        with _delivery_errors(_Progress(), self.lost):
            laid_out = self._keyboards(lang, reply)
            if len(laid_out) > 1:
                raise DeliveryError("too many buttons for one message")
            for markup in (True, False):
                text = catalog.render(lang, reply, markup=markup)
                if not fits(text, TEXT_LIMIT, markup=markup):
                    raise DeliveryError("too long for one message")
                try:
                    await self.delivery_bot.edit_message_text(
                        text,
                        chat_id=chat_id,
                        message_id=int(message_id),
                        parse_mode=ParseMode.HTML if markup else None,
                        reply_markup=laid_out[0] if laid_out else None,
                    )
                    return
                except BadRequest as exc:
                    if "not modified" in str(exc).lower():
                        return
                    if not (markup and _unparsable(exc)):
                        raise
                    log.warning("telegram refused the HTML of an edit key=%s", reply.key)

    async def _send_reply(
        self,
        bot: Bot,
        chat_id: str,
        lang: str,
        reply: Reply,
        origin: str | None,
        progress: _Progress,
        *,
        topic: int | None = None,
    ) -> str | None:
        """Send (or edit into place) one reply; returns the id of the message it ended in.
        ``topic``: the topic of a forum group it goes to (None: General, or no forum).

        Parts the progress says arrived before are skipped. When Telegram refuses the HTML
        (which the renderer should never produce), the rest goes out as plain text.
        """
        parts = self._parts(lang, reply, markup=True)
        offset = progress.offset
        progress.offset += len(parts)
        if progress.offset <= progress.done:
            return None  # all of it arrived on an earlier try
        in_place = reply.edit and len(parts) == 1 and parts[0].kind == "text"
        if (
            in_place
            and origin is not None
            and await self._edit_in_place(bot, chat_id, parts[0], origin)
        ):
            progress.done = progress.offset
            return origin
        last = None
        for index, part in enumerate(parts):
            if offset + index < progress.done:
                continue
            try:
                last = await self._send_part(bot, chat_id, part, topic)
            except BadRequest as exc:
                if not _unparsable(exc):
                    raise
                log.warning(
                    "telegram refused the HTML of a reply, sending plain text key=%s error=%s",
                    reply.key,
                    exc,
                )
                last = await self._send_plain(bot, chat_id, lang, reply, index, topic)
                progress.done = progress.offset
                return last
            progress.done = offset + index + 1
        return last

    async def _send_plain(
        self, bot: Bot, chat_id: str, lang: str, reply: Reply, failed: int, topic: int | None
    ) -> str | None:
        """The reply as plain text: all of its text (a cut may fall elsewhere than in the
        HTML), but not a photo or file that arrived before the refused part."""
        last = None
        for index, part in enumerate(self._parts(lang, reply, markup=False)):
            if index < failed and part.kind != "text":
                continue
            last = await self._send_part(bot, chat_id, part, topic)
        return last

    async def _edit_in_place(self, bot: Bot, chat_id: str, part: _Part, origin: str) -> bool:
        """Edit the message a button was under; False when it cannot be (too old, gone)."""
        try:
            await bot.edit_message_text(
                part.text or "",
                chat_id=chat_id,
                message_id=int(origin),
                parse_mode=ParseMode.HTML,
                reply_markup=part.keyboard,
            )
        except BadRequest as exc:
            # "Not modified" is what was wanted; otherwise a new message is sent instead.
            return "not modified" in str(exc).lower()
        return True

    def _parts(self, lang: str, reply: Reply, *, markup: bool) -> list[_Part]:
        """The calls one reply takes: its photo or file (with the text as caption when it
        fits), then its text in as many messages as it needs; buttons under the last."""
        catalog = self.app.catalog
        # The reply's own text and each of its parts (as the catalog joins them): a long
        # reply is cut between these where it can be.
        blocks = catalog.blocks(lang, reply, markup=markup)
        text = "\n".join(blocks)
        laid_out = self._keyboards(lang, reply)
        keyboard, more = (laid_out[0], laid_out[1:]) if laid_out else (None, [])
        # Buttons beyond what one message takes come under short messages of their own.
        overflow = [
            _Part(
                "text",
                catalog.text(lang, "telegram.more_buttons", {}, markup=markup),
                markup,
                rest,
            )
            for rest in more
        ]
        media: _Part | None = None
        if reply.photo_id is not None:
            media = _Part("photo", None, markup, keyboard, photo_id=reply.photo_id)
        elif reply.document is not None:
            media = _Part("document", None, markup, keyboard, document=reply.document)
        if media is not None:
            if not text.strip():
                return [media, *overflow]
            if fits(text, CAPTION_LIMIT, markup=markup):
                return [replace(media, text=text), *overflow]
            media = replace(media, keyboard=None)
        chunks = pack(blocks, TEXT_LIMIT, markup=markup) or [text]
        texts = [
            _Part("text", chunk, markup, keyboard if n == len(chunks) - 1 else None)
            for n, chunk in enumerate(chunks)
        ]
        return [*([media] if media is not None else []), *texts, *overflow]

    async def _send_part(
        self, bot: Bot, chat_id: str, part: _Part, topic: int | None = None
    ) -> str:
        """One call to Telegram (into a forum's ``topic``, if given); returns the id of the
        message it made."""
        parse_mode = ParseMode.HTML if part.markup else None
        if part.kind == "photo":
            assert part.photo_id is not None
            return await self._send_photo(bot, chat_id, part.photo_id, part, parse_mode, topic)
        if part.kind == "document":
            assert part.document is not None
            sent = await bot.send_document(
                chat_id,
                InputFile(part.document.data, filename=part.document.filename),
                caption=part.text,
                parse_mode=parse_mode,
                reply_markup=part.keyboard,
                message_thread_id=topic,
            )
            return str(sent.message_id)
        sent = await bot.send_message(
            chat_id,
            part.text or "",
            parse_mode=parse_mode,
            reply_markup=part.keyboard,
            disable_web_page_preview=True,
            message_thread_id=topic,
        )
        return str(sent.message_id)

    async def _send_photo(
        self,
        bot: Bot,
        chat_id: str,
        media_id: int,
        part: _Part,
        parse_mode: str | None,
        topic: int | None = None,
    ) -> str:
        media = self.app.repos.media
        ref = await media.platform_ref(media_id, PLATFORM)
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
            caption=part.text,
            parse_mode=parse_mode,
            reply_markup=part.keyboard,
            message_thread_id=topic,
        )
        if ref is None and sent.photo:
            async with self.app.db.transaction():
                await media.remember_ref(media_id, PLATFORM, sent.photo[-1].file_id)
        return str(sent.message_id)

    def _keyboards(self, lang: str, message: Reply) -> list[InlineKeyboardMarkup]:
        """The reply's buttons as inline keyboards: one, unless they are more than a
        message takes (then the others go under messages of their own after it)."""
        catalog = self.app.catalog
        labelled = [
            [(catalog.label(lang, b), self._payloads.short(b.payload)) for b in row]
            for row in message.buttons
        ]
        laid_out = keyboards(labelled)
        if len(laid_out) > 1:
            log.warning(
                "a reply has more buttons than a Telegram message takes key=%s messages=%d",
                message.key,
                len(laid_out),
            )
        return [_markup(tuple(tuple(row) for row in rows)) for rows in laid_out]


@dataclass(frozen=True)
class _Part:
    """One call to Telegram that a reply takes: a text, or a photo or file with a caption."""

    kind: str
    #: The text or caption (None: a photo or file without one).
    text: str | None
    #: Whether ``text`` is HTML.
    markup: bool
    keyboard: InlineKeyboardMarkup | None
    photo_id: int | None = None
    document: Document | None = None


@dataclass
class _Progress:
    """How far the calls of one send got, counted over all its replies' parts."""

    #: Parts that arrived, in order: at first those of an earlier try.
    done: int = 0
    #: Where the reply being sent begins.
    offset: int = 0


class _LongPayloads:
    """Button payloads over Telegram's 64 bytes of callback data, sent as a short digest.

    No feature's payload is that long today (they are built to fit); should one be, its
    button still works while this process remembers it, and says it is out of date after a
    restart, like any old button, instead of making Telegram refuse the whole message.
    """

    def __init__(self, size: int = 10_000):
        self._size = size
        self._known: OrderedDict[str, str] = OrderedDict()

    def short(self, payload: str) -> str:
        if len(payload.encode()) <= CALLBACK_DATA_LIMIT:
            return payload
        digest = hashlib.sha256(payload.encode()).digest()
        ref = "#" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if ref not in self._known:
            log.warning("a button payload is over 64 bytes; sent as %s", ref[:9])
            if len(self._known) >= self._size:
                self._known.popitem(last=False)
        self._known[ref] = payload
        self._known.move_to_end(ref)
        return ref

    def original(self, data: str) -> str:
        """The payload a pressed button stands for (unknown refs stay as they are: stale)."""
        return self._known.get(data, data)


def _unparsable(error: BadRequest) -> bool:
    """Whether Telegram refused a text's HTML."""
    return "can't parse entities" in str(error).lower()


@contextmanager
def _delivery_errors(progress: _Progress, lost: Lost) -> Iterator[None]:
    """Telegram's failures as delivery understands them, with the parts that arrived; a
    refused token also means the bot is lost (a webhook bot learns it only here)."""
    try:
        yield
    except InvalidToken as exc:
        lost.set(TOKEN_REFUSED)
        raise DeliveryError(str(exc), delivered=progress.done) from exc
    except Forbidden as exc:
        raise Blocked(str(exc), delivered=progress.done) from exc
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater(seconds, str(exc), delivered=progress.done) from exc
    except TelegramError as exc:
        raise DeliveryError(str(exc), delivered=progress.done) from exc
    except DeliveryError as exc:
        exc.delivered = progress.done
        raise


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


def _not_own_chat(chat: Chat, user: User) -> bool:
    """Whether a private chat is not the sender's own: a forged update, dropped and logged.

    On Telegram a private chat's id is the other person's user id, always. An update that
    says otherwise did not come from Telegram (a leaked webhook secret, a bug): answering it
    would send the sender's replies and data into someone else's chat.
    """
    if chat.type != Chat.PRIVATE or chat.id == user.id:
        return False
    log.warning(
        "update dropped: a private chat that is not the sender's own chat sender=%s chat=%s",
        pseudonym(str(user.id)),
        pseudonym(str(chat.id)),
    )
    return True


@contextmanager
def _room_errors() -> Iterator[None]:
    """Telegram's refusals in a room as the room worker understands them."""
    try:
        yield
    except (BadRequest, Forbidden) as exc:
        # Not admin, not in the group any more, the message already gone: trying again
        # changes nothing.
        raise RoomError(str(exc), lasting=True) from exc
    except TelegramError as exc:
        raise RoomError(str(exc)) from exc


def _out_of_group(change: ChatMemberUpdated) -> bool:
    """Whether a change of the bot's own membership takes it out of a group."""
    out = change.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED)
    return out and change.chat.type != Chat.PRIVATE


def _topic(update: Update) -> int | None:
    """The topic of a forum group an update came from, which its answer goes to: sent
    without one, it would land in the group's General topic, where the person who asked
    in another topic does not look."""
    query = update.callback_query
    message = query.message if query is not None else update.message
    if message is None or not getattr(message, "is_topic_message", False):
        return None  # a private chat, a group without topics, or General
    thread: int | None = getattr(message, "message_thread_id", None)
    return thread


def _quoted(message: Message | None) -> Quoted | None:
    """The message a command in a group replies to, as handlers read it. In a group with
    topics every message that replies to nothing replies to the line that opened its
    topic, as Telegram sends it: that is no reply to anyone's message."""
    if message is None or message.forum_topic_created is not None:
        return None
    author = message.from_user
    try:
        link = message.link
    except Exception:  # PTB cannot build one for this chat
        link = None
    return Quoted(
        message_id=str(message.message_id),
        sender_id=str(author.id) if author is not None else None,
        text=message.text or message.caption,
        from_bot=author is not None and author.is_bot,
        link=link,
    )


def _sender(user: Any) -> Sender:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return Sender(
        platform_user_id=str(user.id),
        display_name=name or user.username,
        language_hint=user.language_code,
    )


#: A command with letters Telegram does not take into its commands (``/ideeën``, ``/мої``):
#: Telegram sends it as plain text, without a ``bot_command`` entity.
_WORD_COMMAND = re.compile(r"/(\w{1,64}(?:@\w{3,32})?)(?:\s+(.*))?", re.DOTALL)


def _command(message: Message) -> tuple[str, str] | None:
    """(command, args) when the message starts with a bot command.

    Telegram marks only commands of ASCII letters, digits and ``_``; one with other
    letters (the Dutch ``/ideeën`` our menus name) comes as text and is read here, or a
    resident typing it would have it taken as their answer to a dialog's question.
    """
    text = message.text or ""
    for entity in message.entities or ():
        if entity.type == MessageEntityType.BOT_COMMAND and entity.offset == 0:
            command = message.parse_entity(entity)[1:]
            args = text[len(command) + 1 :].strip()
            return command, args
    found = _WORD_COMMAND.fullmatch(text.strip())
    if found is not None and not found[1].isascii():
        return found[1], (found[2] or "").strip()
    return None


def _sent_as_chat(message: Message) -> bool:
    """Whether a message in a group was sent as a chat (the group itself, for an anonymous
    admin, or a channel) rather than by a person who can be told apart."""
    return message.sender_chat is not None and message.chat.type != Chat.PRIVATE


def _album(message: Message) -> str | None:
    """The album a message belongs to (several photos or files sent at once), as the
    router knows it: Telegram sends each as a message of its own with the same
    ``media_group_id``."""
    if not message.media_group_id:
        return None
    return f"{message.chat.id}:{message.media_group_id}"


def _sent_as_file(message: Message) -> bool:
    """A picture sent as a file (uncompressed: Telegram Desktop, "send as file" on a
    phone): meant as a photo all the same."""
    document = message.document
    return document is not None and (document.mime_type or "").startswith("image/")


#: Telegram's own lines about something done in a private chat (a message pinned, an
#: auto-delete timer or a wallpaper set, the bot allowed to write): sent to the bot as
#: messages from the person, but nothing they wrote.
_SERVICE = (
    "pinned_message",
    "message_auto_delete_timer_changed",
    "chat_background_set",
    "write_access_allowed",
)


def _service(message: Message) -> bool:
    """Whether a message is one of Telegram's lines about the chat (:data:`_SERVICE`)."""
    return any(getattr(message, kind, None) is not None for kind in _SERVICE)


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
