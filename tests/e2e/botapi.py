"""A small but real Telegram Bot API server for end-to-end tests and benchmarks.

The real python-telegram-bot library (PTB) talks HTTP to this server instead of to
``api.telegram.org``, so the whole stack (request encoding, update parsing, handlers,
error mapping, webhooks) is exercised without network access::

    async with BotApiServer(token=TOKEN) as server:
        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )
        anna = server.user(1001, first_name="Anna")
        anna.send_text("/start")
        ...
        await server.wait_for_messages(anna.id, 1)

What it models:

* Bot methods on ``/bot<TOKEN>/<method>`` (method names are case-insensitive). Parameters
  may come as JSON, as ``application/x-www-form-urlencoded`` (what PTB sends without
  files; every non-string value is JSON encoded) or as ``multipart/form-data`` (uploads).
* An update queue with Telegram's ``getUpdates`` semantics (``offset`` confirms,
  ``timeout`` long polls and returns as soon as an update arrives) and a webhook mode
  that POSTs queued updates to the URL given to ``setWebhook``.
* A per-chat store of the bot's messages (sends and edits), a file store behind
  ``getFile`` and ``GET /file/bot<TOKEN>/<file_path>``.
* Simulated users (:class:`FakeUser`) that send texts, photos, stickers and documents
  and press inline buttons.
* Telegram's limits, refused with Telegram's words: 4,096 UTF-16 units of text and 1,024 of
  caption, counted after the HTML is parsed; 64 bytes of callback data; 100 inline buttons a
  message and 8 a row; HTML that does not parse (unsupported, unclosed, unmatched or missing
  tags; only numeric entities and ``&lt; &gt; &amp; &quot;`` are decoded, any other ``&``
  stays a character).
* Failure injection: blocked chats (403), flood limits (429) and generic errors.
* Optionally Telegram's flood limits (:class:`FloodLimits`): messages beyond about 30 a
  second overall, one a second in a chat or 20 a minute in a group are refused with 429
  and a ``retry_after``, and counted in :attr:`BotApiServer.flood_refusals`.

Everything runs on one asyncio loop; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final, NamedTuple, TypeAlias
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tests.waiting import until

__all__ = [
    "BotApiError",
    "BotApiServer",
    "FakeUser",
    "JSONDict",
    "QueuedUpdate",
    "StoredFile",
    "WebhookState",
    "free_port",
]

_LOGGER = logging.getLogger(__name__)


def _kind(update: QueuedUpdate) -> str:
    """The kind of an update (``message``, ``edited_message``, ``callback_query``...)."""
    return next(key for key in update if key != "update_id")


#: A bot command as Telegram marks it at the start of a message: ASCII letters, digits and
#: ``_`` (and a bot's @name), not followed by a letter, digit, ``/``, ``<`` or ``>``.
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")

JSONDict: TypeAlias = dict[str, Any]
"""A decoded JSON object."""

DEFAULT_TOKEN: Final = "123456789:TEST-botapi-token_0123456789abcdefghijklm"
"""Token used when a test does not care which one it gets."""

TEXT_LIMIT: Final = 4096
"""Maximum message length in UTF-16 code units (after entity parsing)."""

CAPTION_LIMIT: Final = 1024
"""Maximum caption length in UTF-16 code units (after entity parsing)."""

CALLBACK_DATA_LIMIT: Final = 64
"""Maximum length of ``callback_data`` in bytes."""

INLINE_BUTTON_LIMIT: Final = 100
"""Maximum number of inline buttons under one message (not in the Bot API's documentation,
but enforced; python-telegram-bot's ``InlineKeyboardMarkupLimit``)."""

INLINE_ROW_LIMIT: Final = 8
"""Maximum number of inline buttons in one row of them (likewise)."""

# Parameters whose form values are plain strings. Every other form value is JSON decoded
# (PTB JSON-encodes everything that is not a string), so "123" becomes 123 and "true" True.
_STRING_PARAMS: Final = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "custom_emoji_id",
        "data",
        "description",
        "document",
        "emoji",
        "file_id",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "photo",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "title",
        "url",
    }
)

# Parameters that hold JSON objects/arrays. In a JSON body a client may still send them as
# JSON-encoded strings (that is what the Bot API accepts), so those strings get decoded.
_JSON_PARAMS: Final = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "permissions",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)

# Methods that target ``chat_id`` and fail with 403 when the chat blocked the bot.
_BLOCKABLE_METHODS: Final = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)

# Methods that create a message; they count as deliveries and obey ``flood()``.
_SEND_METHODS: Final = frozenset({"sendMessage", "sendPhoto", "sendDocument"})

# Tags Telegram accepts with parse_mode=HTML.
_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_HTML_TAG_RE: Final = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(\s[^<>]*)?>")
_HTML_STRIP_RE: Final = re.compile(r"<[^<>]*>")
_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_COMMAND_NAME_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
#: What the Bot API server trims from a command and its description (tdlib's ``trim``).
_COMMAND_TRIM: Final = " \t\r\n\v\x00"
#: Telegram's limits on a command menu (``BotCommand`` and ``setMyCommands``).
_MAX_COMMANDS: Final = 100
_MAX_COMMAND_DESCRIPTION: Final = 256
_LANGUAGE_CODE_RE: Final = re.compile(r"[a-z]{2}")
_SECRET_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_JPEG_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

_CONFLICT_OTHER_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

# Reasons a waiting getUpdates request / webhook worker is woken up.
#: An administrator's rights, as getChatMember lists them.
_ADMIN_RIGHTS: Final = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
#: What a restricted member may or may not do (ChatPermissions).
_MEMBER_PERMISSIONS: Final = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)

_WAKE_UPDATE: Final = "update"
_WAKE_CONFLICT: Final = "conflict"
_WAKE_WEBHOOK: Final = "webhook"
_WAKE_CLOSING: Final = "closing"


class _Unset:
    """Marker type for "argument not given" where ``None`` has a meaning of its own."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()


class BotApiError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``).

    Raised inside method handlers and turned into the HTTP response; also used to describe
    injected failures.

    Attributes:
        error_code: HTTP status and ``error_code`` field, e.g. 400, 403, 429.
        description: Telegram's human readable ``description``.
        parameters: Optional ``ResponseParameters`` object (``retry_after`` etc.).
    """

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSONDict:
        """Return the Bot API response body for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class Upload(NamedTuple):
    """A file part of a multipart request.

    Attributes:
        filename: The file name the client sent (may be empty).
        content_type: The part's MIME type.
        data: The file content.
    """

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class StoredFile:
    """A file known to the server, downloadable via ``getFile`` and the file URL.

    Attributes:
        file_id: Identifier used in Bot API calls.
        file_unique_id: Identifier that is stable for the same file.
        data: The file content.
        file_path: Path below ``/file/bot<TOKEN>/`` that serves :attr:`data`.
        mime_type: MIME type, if known.
        file_name: Original file name, if known.
    """

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None

    def to_file_json(self) -> JSONDict:
        """Return the Telegram ``File`` object describing this file."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class WebhookState:
    """Webhook configuration and delivery statistics, see :attr:`BotApiServer.webhook`.

    Attributes:
        url: The webhook URL; empty while polling is used.
        secret_token: Sent as ``X-Telegram-Bot-Api-Secret-Token`` when set.
        max_connections: Maximum number of concurrent deliveries (different chats).
        allowed_updates: As passed to ``setWebhook`` (recorded, not applied).
        ip_address: As passed to ``setWebhook`` (recorded only).
        has_custom_certificate: Whether a certificate was uploaded.
        set_count: How often ``setWebhook`` succeeded.
        delete_count: How often ``deleteWebhook`` was called.
        delivered: Number of updates the webhook accepted (2xx).
        last_error_date: Unix time of the last failed delivery attempt.
        last_error_message: Description of the last failed delivery attempt.
        failed_updates: Updates dropped after all delivery attempts failed.
    """

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None
    has_custom_certificate: bool = False
    set_count: int = 0
    delete_count: int = 0
    delivered: int = 0
    last_error_date: int | None = None
    last_error_message: str | None = None
    failed_updates: list[JSONDict] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether a webhook is set (``getUpdates`` is refused then)."""
        return bool(self.url)


async def _resolved(value: QueuedUpdate) -> QueuedUpdate:
    """Return ``value``; lets :class:`QueuedUpdate` be awaited."""
    return value


class QueuedUpdate(dict[str, Any]):
    """An update put into the server's queue, as a plain Telegram ``Update`` dict.

    The :class:`FakeUser` methods return it. It may be used directly or awaited
    (``await user.send_text("hi")`` is the same as ``user.send_text("hi")``), so tests can
    use either style.
    """

    @property
    def update_id(self) -> int:
        """The update's ``update_id``."""
        return int(self["update_id"])

    @property
    def message(self) -> JSONDict | None:
        """The ``message`` of a message update, else ``None``."""
        return self.get("message")

    @property
    def callback_query(self) -> JSONDict | None:
        """The ``callback_query`` of a button press, else ``None``."""
        return self.get("callback_query")

    def __await__(self) -> Generator[Any, None, QueuedUpdate]:
        return _resolved(self).__await__()


@dataclass(slots=True)
class _Chat:
    """Per-chat state: the chat object, message ids and the bot's messages."""

    json: JSONDict
    next_message_id: int = 1
    bot_messages: list[JSONDict] = field(default_factory=list)
    by_id: dict[int, JSONDict] = field(default_factory=dict)
    user_messages: dict[int, JSONDict] = field(default_factory=dict)
    delivered: int = 0
    #: Groups: each member's ``ChatMember`` fields (without ``user``), by user id; the
    #: bot's own entry says whether it is an administrator, and with which rights.
    members: dict[int, JSONDict] = field(default_factory=dict)
    #: Groups: invite links the bot created, by link.
    invite_links: dict[str, JSONDict] = field(default_factory=dict)
    #: A group upgraded to a supergroup: the supergroup's id (calls here are refused).
    migrated_to: int | None = None
    #: Groups: people who asked to join through a link that needs approval, and that
    #: link, until an admin approves or declines.
    join_requests: dict[int, JSONDict] = field(default_factory=dict)

    def take_message_id(self) -> int:
        """Reserve the next message id of this chat."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(slots=True)
class _Flood:
    """Remaining injected 429 answers for one chat."""

    times: int
    retry_after: int


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits as this server enforces them, when it is given them.

    Each limit is a bucket (the generic cell rate algorithm): messages may come at one per
    interval on average, ``burst`` of them at once. Telegram publishes the rates ("about
    30 messages per second", "no more than one message per second" in a chat, "short
    bursts" allowed, 20 a minute in a group), not the bursts: these are assumptions.
    Sends and edits count; callback answers, chat actions and reads do not.
    """

    rate: float = 30.0
    overall_burst: int = 30
    chat_interval: float = 1.0
    group_interval: float = 3.0
    chat_burst: int = 3


class _Bucket:
    """Theoretical arrival times per key: when the next message would be exactly on time."""

    def __init__(self, interval: float, burst: int):
        self.interval = interval
        self.tolerance = (burst - 1) * interval
        self.due: dict[Any, float] = {}

    def wait(self, key: Any, now: float) -> float:
        """Seconds before ``key`` may get a message (0 when it may now)."""
        return max(0.0, self.due.get(key, now) - self.tolerance - now)

    def take(self, key: Any, now: float) -> None:
        self.due[key] = max(self.due.get(key, now), now) + self.interval


@dataclass(slots=True)
class _Failure:
    """Remaining injected error answers for one method."""

    times: int
    error: BotApiError
    #: Only calls with these parameters fail.
    where: dict[str, Any] = field(default_factory=dict)


_Handler: TypeAlias = Callable[[JSONDict, dict[str, Upload]], Awaitable[Any]]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is currently free on ``host`` (e.g. for a webhook listener).

    Args:
        host: Interface to probe.

    Returns:
        The port number. Another process could grab it before it is used, which is
        unlikely enough for tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, as Telegram counts offsets."""
    return len(text.encode("utf-16-le")) // 2


def _decode_form_value(key: str, value: str) -> Any:
    """Decode one form field the way PTB encoded it (JSON unless it is a string param)."""
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_json_value(key: str, value: Any) -> Any:
    """Normalise one field of a JSON body (JSON-in-a-string objects are decoded)."""
    if key in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise BotApiError(400, f"Bad Request: can't parse {key} JSON object") from exc
    return value


def _as_int(value: Any, name: str) -> int:
    """Convert a parameter to int or fail with a Telegram-like 400 error."""
    if isinstance(value, bool):
        raise BotApiError(400, f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise BotApiError(400, f"Bad Request: invalid {name} specified")


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) of PNG, GIF or JPEG data, or ``None`` if unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if marker in _JPEG_SOF_MARKERS:
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            if marker == 0xFF or 0xD0 <= marker <= 0xD9 or marker == 0x01:
                pos += 2  # fill byte or marker without a length field
                continue
            (segment_length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            pos += 2 + int(segment_length)
    return None


def _unescape(text: str) -> str:
    """Decode entities as Telegram does: numeric ones and ``&lt; &gt; &amp; &quot;``; any
    other ``&`` stays a literal character."""
    return _ENTITY_RE.sub(_entity, text) if "&" in text else text


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        return _NAMED_ENTITIES.get(name, match.group())
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group()


def _check_html(text: str) -> str:
    """Validate Telegram HTML markup like Telegram does and return the text it shows.

    What Telegram rejects is rejected with its words: unsupported tags, a ``<`` that does
    not start a tag, a tag that is not closed with ``>``, end tags that do not match, and
    tags left open. Length limits apply to the returned text (in UTF-16 units).

    Raises:
        BotApiError: 400 "can't parse entities" for invalid markup.
    """
    if "<" not in text:
        return _unescape(text)
    stack: list[str] = []
    pos = text.find("<")
    while pos != -1:
        match = _HTML_TAG_RE.match(text, pos)
        offset = len(text[:pos].encode())
        if match is None:
            if re.match(r"</?[A-Za-z]", text[pos:]):
                raise _unparsable(f"Unclosed start tag at byte offset {offset}")
            raise _unparsable(f'Unsupported start tag "" at byte offset {offset}')
        closing, name = match.group(1), match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _unparsable(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            stack.append(name)
        elif not stack:
            raise _unparsable(f"Unexpected end tag at byte offset {offset}")
        elif stack[-1] != name:
            raise _unparsable(
                f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", '
                f'found "</{name}>"'
            )
        else:
            stack.pop()
        pos = text.find("<", match.end())
    if stack:
        raise _unparsable(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return _unescape(_HTML_STRIP_RE.sub("", text))


def _unparsable(reason: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: can't parse entities: {reason}")


def _check_reply_markup(markup: Any) -> None:
    """Validate an inline keyboard enough to catch typical bot bugs.

    Raises:
        BotApiError: 400 for malformed keyboards, more than 100 buttons (or 8 in a row) or
            too long ``callback_data``.
    """
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return  # reply keyboards, ReplyKeyboardRemove, ForceReply: accepted as they are
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BotApiError(400, "Bad Request: can't parse inline keyboard button")
    if (
        sum(len(row) for row in rows) > INLINE_BUTTON_LIMIT
        or max((len(row) for row in rows), default=0) > INLINE_ROW_LIMIT
    ):
        raise BotApiError(400, "Bad Request: reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise BotApiError(400, "Bad Request: can't parse inline keyboard button")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _iter_buttons(markup: Any) -> Iterator[JSONDict]:
    """Yield all inline buttons of a reply markup (nothing for other markups)."""
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard") or ():
            yield from row


def _update_chat_key(update: JSONDict) -> Any:
    """Return the chat an update belongs to (used to keep per-chat webhook order)."""
    for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
        message = update.get(key)
        if message:
            return message["chat"]["id"]
    for key in ("chat_join_request", "my_chat_member"):
        change = update.get(key)
        if change:
            return change["chat"]["id"]
    query = update.get("callback_query")
    if query:
        if query.get("message"):
            return query["message"]["chat"]["id"]
        return query["from"]["id"]
    return None


#: Telegram's ids of albums (``media_group_id``): long numbers, sent as strings.
_MEDIA_GROUP_IDS = itertools.count(13_881_234_567_890_123)


def new_media_group_id() -> str:
    """A new album's id, as Telegram gives it (see :meth:`FakeUser.send_album`)."""
    return str(next(_MEDIA_GROUP_IDS))


#: The user Telegram shows as the sender of an anonymous group admin's messages.
GROUP_ANONYMOUS_BOT: Final[JSONDict] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


def _json_response(body: JSONDict, status: int = 200) -> web.Response:
    """Serialize a Bot API answer."""
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return web.Response(body=payload, status=status, content_type="application/json")


class FakeUser:
    """A simulated Telegram user that sends updates to the bot.

    Create it with :meth:`BotApiServer.user`. Every method enqueues one update and returns
    it as a :class:`QueuedUpdate`, which may also be awaited. Private chats have
    ``chat_id == user id``; pass ``chat_id`` to act in a group registered with
    :meth:`BotApiServer.group`.

    Attributes:
        id: The Telegram user id (also the private chat id).
        first_name: Shown name.
        last_name: Optional last name.
        username: Optional ``@username`` without the ``@``.
        language_code: IETF language tag sent in ``from.language_code`` (may be ``None``).
    """

    def __init__(
        self,
        server: BotApiServer,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        last_name: str | None = None,
    ) -> None:
        self._server = server
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def json(self) -> JSONDict:
        """The Telegram ``User`` object of this user."""
        user: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def chat_id(self) -> int:
        """The id of the private chat with the bot."""
        return self.id

    def send_text(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        topic: int | None = None,
    ) -> QueuedUpdate:
        """Send a text message; ``/command args`` gets a ``bot_command`` entity where
        Telegram gives one: ASCII letters, digits and ``_`` followed by the end or a
        character that is no letter (``/ideeën`` comes without one, as plain text).

        Args:
            text: Message text.
            chat_id: Group to send in; defaults to the private chat.
            reply_to: Message id in the same chat this message replies to.
            topic: In a forum group, the topic it is typed in (the id of the message that
                opened it, see :meth:`create_topic`); it replies to that line unless
                ``reply_to`` says otherwise, as Telegram sends it.

        Returns:
            The queued update.
        """
        content: JSONDict = {"text": text}
        command = _BOT_COMMAND.match(text)
        if command is not None:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}
            ]
        if topic is not None:
            content["message_thread_id"] = topic
            content["is_topic_message"] = True
            reply_to = topic if reply_to is None else reply_to
        return self._server._enqueue_user_message(self, chat_id, content, reply_to)

    def create_topic(self, name: str, *, chat_id: int) -> QueuedUpdate:
        """Open a topic in a forum group: Telegram's service message that starts it, from
        this user. Every message typed in the topic replies to it, as Telegram sends it."""
        content: JSONDict = {"forum_topic_created": {"name": name, "icon_color": 7322096}}
        return self._server._enqueue_user_message(self, chat_id, content, None)

    def pin(self, message_id: int) -> QueuedUpdate:
        """Pin a message of the private chat with the bot (a question, the menu): Telegram
        shows "You pinned ..." there and sends the bot that service message."""
        chat = self._server._chat_for(self.id)
        record = chat.by_id.get(message_id)
        pinned = self._server.message_json(record) if record else chat.user_messages[message_id]
        return self._server._enqueue_user_message(self, None, {"pinned_message": pinned}, None)

    def edit_text(self, message_id: int, text: str, *, chat_id: int | None = None) -> QueuedUpdate:
        """Change the text of a message this user sent (``edited_message`` update).

        Raises:
            LookupError: this user sent no text message with that id in that chat.
        """
        return self._server._enqueue_user_edit(self, message_id, text, chat_id)

    def share_live_location(
        self, latitude: float, longitude: float, moves: int, *, chat_id: int | None = None
    ) -> list[QueuedUpdate]:
        """Share a live location and move it ``moves`` times, as Telegram does: the first
        position as a message, each move as an ``edited_message`` of it."""
        place = {"latitude": latitude, "longitude": longitude, "live_period": 900}
        sent = self._server._enqueue_user_message(self, chat_id, {"location": place}, None)
        assert sent.message is not None
        updates = [sent]
        for step in range(1, moves + 1):
            moved = {**place, "latitude": latitude + step / 10_000}
            edited = {**sent.message, "location": moved, "edit_date": int(time.time())}
            updates.append(self._server.enqueue_update({"edited_message": edited}))
        return updates

    def added(self, chat_id: int) -> QueuedUpdate:
        """Someone added this user to a group (the ``new_chat_members`` service message)."""
        chat = self._server._chats[chat_id]
        chat.members[self.id] = {"status": "member"}
        return self._server._enqueue_user_message(
            self, chat_id, {"new_chat_members": [self.json]}, None
        )

    def join(self, invite_link: str) -> QueuedUpdate:
        """Join a group through an invite link the bot created (as Telegram would check it).

        Raises:
            LookupError: the link is unknown, revoked or used up, or the user is banned.
        """
        return self._server._join_by_link(self, invite_link)

    def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        media_group_id: str | None = None,
    ) -> QueuedUpdate:
        """Send a photo; its bytes become downloadable by the bot via ``getFile``.

        Args:
            data: Image bytes (PNG/JPEG/GIF dimensions are detected, else 1280x960).
            caption: Optional caption.
            chat_id: Group to send in; defaults to the private chat.
            media_group_id: The album it belongs to (see :meth:`send_album`), for an
                album whose photos a test sends one by one.

        Returns:
            The queued update; ``update.message["photo"]`` holds three sizes with
            distinct file ids that all serve ``data``.
        """
        content: JSONDict = {"photo": self._server._make_photo_sizes(data)}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._server._enqueue_user_message(self, chat_id, content, None)

    def send_album(
        self, photos: list[bytes], caption: str | None = None, *, chat_id: int | None = None
    ) -> list[QueuedUpdate]:
        """Send several photos at once (an album), as Telegram does: one message each,
        sharing a ``media_group_id``; a caption goes with the first.

        Returns:
            The queued updates, in order. Call it again for a second album (a new id).
        """
        group = new_media_group_id()
        return [
            self.send_photo(
                data,
                caption if index == 0 else None,
                chat_id=chat_id,
                media_group_id=group,
            )
            for index, data in enumerate(photos)
        ]

    def send_video(
        self,
        data: bytes = b"\x00\x00\x00\x18ftypmp42 fake video",
        *,
        chat_id: int | None = None,
        media_group_id: str | None = None,
    ) -> QueuedUpdate:
        """Send a (fake MP4) video, as in an album with photos (``media_group_id``).

        Args:
            data: File content.
            chat_id: Group to send in; defaults to the private chat.
            media_group_id: The album it belongs to (see :meth:`send_album`).

        Returns:
            The queued update.
        """
        stored = self._server.register_file(
            data, kind="video", file_name="video.mp4", mime_type="video/mp4"
        )
        video: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 640,
            "height": 480,
            "duration": 3,
            "mime_type": "video/mp4",
            "file_size": len(stored.data),
        }
        content: JSONDict = {"video": video}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._server._enqueue_user_message(self, chat_id, content, None)

    def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None) -> QueuedUpdate:
        """Send a (fake WebP) sticker.

        Args:
            emoji: The sticker's emoji.
            chat_id: Group to send in; defaults to the private chat.

        Returns:
            The queued update.
        """
        stored = self._server.register_file(
            b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00fake-sticker", kind="sticker"
        )
        sticker: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(stored.data),
        }
        return self._server._enqueue_user_message(self, chat_id, {"sticker": sticker}, None)

    def send_document(
        self,
        data: bytes,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> QueuedUpdate:
        """Send a document (any file).

        Args:
            data: File content.
            file_name: The file's name.
            mime_type: The file's MIME type.
            caption: Optional caption.
            chat_id: Group to send in; defaults to the private chat.

        Returns:
            The queued update.
        """
        stored = self._server.register_file(
            data, kind="document", file_name=file_name, mime_type=mime_type
        )
        content: JSONDict = {"document": self._server._document_json(stored)}
        if caption is not None:
            content["caption"] = caption
        return self._server._enqueue_user_message(self, chat_id, content, None)

    def press(
        self,
        button: str,
        message: int | JSONDict | None = None,
        *,
        chat_id: int | None = None,
    ) -> QueuedUpdate:
        """Press an inline button, matched by its text or its ``callback_data``.

        Without ``message`` the bot's messages in the chat are searched from the newest
        to the oldest and the first one with a matching button is used.

        Args:
            button: Button text or callback data.
            message: The bot message (record or message id) that holds the button.
            chat_id: Group the message is in; defaults to the private chat.

        Returns:
            The queued ``callback_query`` update.

        Raises:
            LookupError: No such button (the error lists the buttons there are).
            ValueError: The button has no callback data (e.g. a URL button).
        """
        return self._server._press(self, button, message, chat_id)

    def press_data(
        self, data: str, message_id: int | None = None, *, chat_id: int | None = None
    ) -> QueuedUpdate:
        """Send a callback query with arbitrary (e.g. stale or forged) data.

        Args:
            data: The ``callback_data`` to send.
            message_id: Message the query claims to come from; defaults to the bot's
                latest message in the chat. Unknown ids produce an inaccessible message.
            chat_id: Group the message is in; defaults to the private chat.

        Returns:
            The queued ``callback_query`` update.
        """
        return self._server._press_data(self, data, message_id, chat_id)


class BotApiServer:
    """A fake Telegram Bot API server on 127.0.0.1, driven by PTB over real HTTP.

    Observation attributes (read them, clear them if needed):

    Attributes:
        token: The only token accepted; others get 401.
        calls: ``(method, params)`` of every request in order, failures included, except
            ``getUpdates``. Method names are canonical (``"sendMessage"``).
        errors: ``(method, params, error)`` of every request answered with an error.
        callback_answers: Parameters of every successful ``answerCallbackQuery``.
        commands: ``setMyCommands`` state keyed by ``(scope, language_code)``; scope is
            ``"default"``, ``"all_private_chats"``, ``"chat:<id>"`` ...; language ``""``
            means all languages. Values are lists of ``{"command", "description"}``.
        webhook: Webhook configuration and delivery statistics.
        validate_html: Reject invalid ``parse_mode="HTML"`` markup like Telegram does.
        strict_chats: Answer 400 "chat not found" for chats that were not created with
            :meth:`user` / :meth:`group` (otherwise they are created on first use).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Test Bot",
        bot_username: str = "test_bot",
        validate_html: bool = True,
        strict_chats: bool = False,
        webhook_attempts: int = 3,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 10.0,
        limits: FloodLimits | None = None,
        first_update_id: int = 1,
    ) -> None:
        """Configure the server; :meth:`start` binds it.

        Args:
            token: Bot token, ``"<bot id>:<secret>"``.
            host: Interface to bind.
            port: Port to bind, 0 for a free one.
            bot_first_name: ``first_name`` of the bot user (``getMe``).
            bot_username: ``username`` of the bot user.
            validate_html: See :attr:`validate_html`.
            strict_chats: See :attr:`strict_chats`.
            webhook_attempts: Delivery attempts per update before it is dropped.
            webhook_retry_delay: Seconds between delivery attempts.
            webhook_timeout: Seconds one webhook POST may take.
            limits: Telegram's flood limits to enforce (none by default).
            first_update_id: The first ``update_id``. Telegram counts a bot's updates on
                from its last one; a server standing in for it again for the same bot (and
                database) starts above the ids it gave before.
        """
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError("token must look like '<numeric bot id>:<secret>'")
        self.token = token
        self.host = host
        self.validate_html = validate_html
        self.strict_chats = strict_chats
        self.webhook_attempts = max(1, webhook_attempts)
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self._requested_port = port
        self._port: int | None = None
        self.bot_user: JSONDict = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        self.calls: list[tuple[str, JSONDict]] = []
        self.errors: list[tuple[str, JSONDict, BotApiError]] = []
        self.callback_answers: list[JSONDict] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook = WebhookState()

        self._chats: dict[int, _Chat] = {}
        self._total_delivered = 0
        self._users: dict[int, FakeUser] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[JSONDict]] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._open_callback_queries: set[str] = set()

        self._updates: deque[QueuedUpdate] = deque()
        #: The kinds of update getUpdates hands out (its last ``allowed_updates``; None: all).
        self._allowed_updates: list[str] | None = None
        #: Join requests the bot approved and declined, as (chat id, user id).
        self.approved: list[tuple[int, int]] = []
        self.declined: list[tuple[int, int]] = []
        self._next_update_id = first_update_id
        self._fetched_up_to = 0
        self._inflight: dict[int, QueuedUpdate] = {}
        self._update_waiters: list[asyncio.Future[str]] = []
        self._active_poll: asyncio.Future[str] | None = None
        self._change_waiters: list[asyncio.Future[None]] = []

        self._blocked: set[int] = set()
        self._floods: dict[int, _Flood] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        #: Methods whose calls are held (see :meth:`hold`), the calls held so far, and
        #: what lets them go.
        self._held_methods: set[str] = set()
        self._held_answers: set[str] = set()
        self.held: list[tuple[str, JSONDict]] = []
        self._released = asyncio.Event()
        self.limits = limits
        #: ``(method, chat_id, which limit)`` of every send refused with 429 by the limits.
        self.flood_refusals: list[tuple[str, int, str]] = []
        if limits is not None:
            self._overall = _Bucket(1.0 / limits.rate, limits.overall_burst)
            self._per_chat = _Bucket(limits.chat_interval, limits.chat_burst)
            self._per_group = _Bucket(limits.group_interval, limits.chat_burst)

        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False

        handlers: list[tuple[str, _Handler]] = [
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("sendMessage", self._send_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("sendChatAction", self._send_chat_action),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("createChatInviteLink", self._create_chat_invite_link),
            ("approveChatJoinRequest", self._approve_chat_join_request),
            ("declineChatJoinRequest", self._decline_chat_join_request),
            ("restrictChatMember", self._restrict_chat_member),
            ("banChatMember", self._ban_chat_member),
            ("unbanChatMember", self._unban_chat_member),
            ("getChatMember", self._get_chat_member),
            ("answerCallbackQuery", self._answer_callback_query),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("getFile", self._get_file),
            ("close", self._close),
            ("logOut", self._log_out),
        ]
        self._methods: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the HTTP server and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port)
        await site.start()
        self._port = site.port
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
        )
        self._closing = False

    async def stop(self) -> None:
        """Stop webhook delivery, release waiting long polls and close the server."""
        self._closing = True
        await self._stop_webhook_worker()
        self._wake_update_waiters(_WAKE_CLOSING)
        self._notify_changed()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> BotApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("BotApiServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Value for PTB's ``ApplicationBuilder.base_url``."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for PTB's ``ApplicationBuilder.base_file_url``."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def bot_id(self) -> int:
        """The bot's user id (the numeric part of the token)."""
        return int(self.bot_user["id"])

    # ------------------------------------------------------------------ users and chats

    def user(
        self,
        user_id: int,
        first_name: str = "Anna",
        language_code: str | None = "nl",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """Create (or replace) a simulated user and their private chat with the bot.

        Args:
            user_id: Telegram user id (positive); also the private chat id.
            first_name: Shown name.
            language_code: ``from.language_code`` of the user's updates.
            username: Optional username.
            last_name: Optional last name.

        Returns:
            The :class:`FakeUser`. Calling this again with the same id keeps the chat
            history and returns a helper with the new profile data.
        """
        fake = FakeUser(self, user_id, first_name, language_code, username, last_name)
        self._users[user_id] = fake
        chat_json: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat_json["last_name"] = last_name
        if username:
            chat_json["username"] = username
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(chat_json)
        else:
            chat.json = chat_json
        return fake

    def group(
        self,
        chat_id: int,
        title: str = "Test Group",
        chat_type: str = "group",
        *,
        forum: bool = False,
    ) -> JSONDict:
        """Create (or rename) a group chat users can write in.

        Args:
            chat_id: Negative chat id, e.g. ``-1001`` (``-100…`` for supergroups).
            title: Group title.
            chat_type: ``"group"`` or ``"supergroup"``.
            forum: A supergroup with topics: a message sent without ``message_thread_id``
                lands in its General topic, as on Telegram.

        Returns:
            The Telegram ``Chat`` object.
        """
        chat_json: JSONDict = {"id": chat_id, "type": chat_type, "title": title}
        if forum:
            chat_json["is_forum"] = True
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_json)
        else:
            chat.json = chat_json
        chat.members.setdefault(self.bot_id, {"status": "member"})
        return chat_json

    # ------------------------------------------------------------------ groups: admins, members

    def make_admin(self, chat_id: int, **rights: bool) -> None:
        """Make the bot an administrator of a group; every right is granted unless given."""
        chat = self._chats[chat_id]
        member: JSONDict = {"status": "administrator"}
        for right in _ADMIN_RIGHTS:
            member[right] = rights.get(right, True)
        chat.members[self.bot_id] = member
        self._notify_changed()

    def migrate(
        self, chat_id: int, new_chat_id: int, by: FakeUser, *, announce: bool = True
    ) -> None:
        """``by`` upgrades a group to a supergroup, as Telegram does it.

        The supergroup (``-100…``) gets the group's title and members, the bot's rights
        included; the group says where it went (``migrate_to_chat_id``) and the supergroup
        where it came from (``migrate_from_chat_id``). From then on every call for the old
        group is refused with 400 and ``parameters.migrate_to_chat_id``. Without
        ``announce`` the bot gets neither service message (as when it was away too long).
        """
        old = self._chats[chat_id]
        chat_json: JSONDict = {"id": new_chat_id, "type": "supergroup", "title": old.json["title"]}
        new = self._chats[new_chat_id] = _Chat(chat_json)
        new.members = {user: dict(member) for user, member in old.members.items()}
        if announce:
            self._enqueue_user_message(by, chat_id, {"migrate_to_chat_id": new_chat_id}, None)
        old.migrated_to = new_chat_id
        if announce:
            self._enqueue_user_message(by, new_chat_id, {"migrate_from_chat_id": chat_id}, None)

    def remove_bot(self, chat_id: int, by: FakeUser | None = None) -> None:
        """Someone (``by``, else an admin the bot never met) removed the bot from the group:
        from now on its calls there get 403, and the bot hears of it in a ``my_chat_member``
        update if it asked for those."""
        chat = self._chats[chat_id]
        before = chat.members.get(self.bot_id, {"status": "member"})
        chat.members[self.bot_id] = {"status": "kicked", "until_date": 0}
        admin = {"id": 777000001, "is_bot": False, "first_name": "Beheerder"}
        old = {**before, "user": self.bot_user}
        if old["status"] == "administrator":
            old = {"can_be_edited": False, "is_anonymous": False, **old}
        self.enqueue_update(
            {
                "my_chat_member": {
                    "chat": chat.json,
                    "from": by.json if by is not None else admin,
                    "date": int(time.time()),
                    "old_chat_member": old,
                    "new_chat_member": {
                        "status": "kicked",
                        "until_date": 0,
                        "user": self.bot_user,
                    },
                }
            }
        )

    def member(self, chat_id: int, user_id: int) -> JSONDict:
        """A group member's ``ChatMember`` as Telegram would answer getChatMember."""
        chat = self._chats[chat_id]
        fields = chat.members.get(user_id, {"status": "left"})
        user = self.bot_user if user_id == self.bot_id else self._users[user_id].json
        return {**fields, "user": user}

    def may_write(self, chat_id: int, user_id: int) -> bool:
        """Whether a member may send messages in the group now (not banned, not muted, and
        the group not upgraded to a supergroup: it takes no messages any more)."""
        chat = self._chats[chat_id]
        if chat.migrated_to is not None:
            return False
        fields = chat.members.get(user_id, {"status": "member"})
        status = fields["status"]
        if status == "kicked":
            return False
        if status == "restricted":
            until = int(fields.get("until_date") or 0)
            still = until == 0 or until > time.time()
            return not still or bool(fields.get("can_send_messages"))
        return True

    def user_message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message a user sent in a chat (``deleted`` once the bot deleted it)."""
        chat = self._chats.get(chat_id)
        return chat.user_messages.get(message_id) if chat else None

    def _join_by_link(self, user: FakeUser, link: str) -> QueuedUpdate:
        """Implement :meth:`FakeUser.join`."""
        for chat in self._chats.values():
            invite = chat.invite_links.get(link)
            if invite is None:
                continue
            if invite["is_revoked"]:
                raise LookupError("invite link revoked")
            limit = invite.get("member_limit")
            if limit is not None and invite["_joined"] >= limit:
                raise LookupError("invite link used up")
            member = chat.members.get(user.id, {})
            if member.get("status") == "kicked":
                raise LookupError("user is banned in this chat")
            if invite["creates_join_request"]:
                # Not in yet: the admins (the bot) hear of the request and decide (a bot
                # that did not ask for chat_join_request updates never gets it).
                shown = {k: v for k, v in invite.items() if not k.startswith("_")}
                chat.join_requests[user.id] = shown
                request = {
                    "chat": chat.json,
                    "from": user.json,
                    "user_chat_id": user.id,
                    "date": int(time.time()),
                    "invite_link": shown,
                }
                return self.enqueue_update({"chat_join_request": request})
            invite["_joined"] += 1
            return self._let_in(chat, user)
        raise LookupError(f"unknown invite link {link!r}")

    def _let_in(self, chat: _Chat, user: FakeUser) -> QueuedUpdate:
        """A user becomes a member of a group (the ``new_chat_members`` service message)."""
        member = chat.members.get(user.id, {})
        if member.get("status") == "restricted":
            # Restricted before joining (muted while away): still restricted inside.
            chat.members[user.id] = {**member, "is_member": True}
        else:
            chat.members[user.id] = {"status": "member"}
        return self._enqueue_user_message(
            user, chat.json["id"], {"new_chat_members": [user.json]}, None
        )

    def _group_as_admin(self, params: JSONDict, right: str, refusal: str) -> _Chat:
        """The group of a moderation call, if the bot is an administrator with ``right``."""
        chat = self._target_chat(params)
        if chat.json["type"] not in ("group", "supergroup"):
            raise BotApiError(400, "Bad Request: chat not found")
        bot = chat.members.get(self.bot_id, {"status": "member"})
        if bot["status"] != "administrator" or not bot.get(right):
            raise BotApiError(400, f"Bad Request: {refusal}")
        return chat

    def _member_target(self, chat: _Chat, params: JSONDict) -> int:
        user_id = _as_int(params.get("user_id"), "user_id")
        if user_id == self.bot_id:
            raise BotApiError(400, "Bad Request: can't restrict self")
        if chat.members.get(user_id, {}).get("status") in ("administrator", "creator"):
            raise BotApiError(400, "Bad Request: user is an administrator of the chat")
        return user_id

    def get_user(self, user_id: int) -> FakeUser:
        """Return the :class:`FakeUser` created with :meth:`user` for ``user_id``."""
        return self._users[user_id]

    # ------------------------------------------------------------------ observation

    def messages(self, chat_id: int) -> list[JSONDict]:
        """Return the bot's messages in a chat, oldest first.

        Each record is a dict with the keys ``message_id``, ``chat_id``, ``chat``,
        ``date``, ``method`` (``"sendMessage"``…), ``text`` (``None`` for media),
        ``caption``, ``parse_mode``, ``entities``, ``reply_markup`` (as sent, decoded),
        ``photo`` (list of PhotoSize dicts or ``None``), ``document``, ``params`` (the
        request parameters), ``edited`` (bool), ``edit_date``, ``edit_history`` (list of
        ``{"text", "caption", "parse_mode", "reply_markup"}`` snapshots before each edit)
        and ``deleted``. Text is stored exactly as sent (markup is not rendered). Records
        are live: later edits show up in them.
        """
        chat = self._chats.get(chat_id)
        return list(chat.bot_messages) if chat else []

    def texts(self, chat_id: int) -> list[str | None]:
        """Return the text (or caption for media) of each bot message in a chat."""
        return [
            record["text"] if record["text"] is not None else record["caption"]
            for record in self.messages(chat_id)
        ]

    def last_message(self, chat_id: int) -> JSONDict | None:
        """Return the bot's newest message record in a chat, or ``None``."""
        chat = self._chats.get(chat_id)
        return chat.bot_messages[-1] if chat and chat.bot_messages else None

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Return the bot's message record with that id, or ``None``."""
        chat = self._chats.get(chat_id)
        return chat.by_id.get(message_id) if chat else None

    def message_json(self, record: JSONDict) -> JSONDict:
        """Return the Telegram ``Message`` object for a bot message record."""
        message: JSONDict = {
            "message_id": record["message_id"],
            "date": record["date"],
            "chat": record["chat"],
            "from": self.bot_user,
        }
        if record["text"] is not None:
            message["text"] = record["text"]
            if record["entities"]:
                message["entities"] = record["entities"]
        if record["photo"] is not None:
            message["photo"] = record["photo"]
        if record["document"] is not None:
            message["document"] = record["document"]
        if record["caption"] is not None:
            message["caption"] = record["caption"]
            if record["entities"]:
                message["caption_entities"] = record["entities"]
        markup = record["reply_markup"]
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if record["edit_date"] is not None:
            message["edit_date"] = record["edit_date"]
        if record.get("topic") is not None:
            message["message_thread_id"] = record["topic"]
            message["is_topic_message"] = True
        return message

    def delivered_count(self, chat_id: int) -> int:
        """Return how many messages the bot successfully sent to a chat."""
        chat = self._chats.get(chat_id)
        return chat.delivered if chat else 0

    @property
    def total_delivered(self) -> int:
        """Messages successfully sent by the bot over all chats."""
        return self._total_delivered

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed (polling) or not yet delivered (webhook)."""
        return len(self._updates) + len(self._inflight)

    @property
    def waiting_polls(self) -> int:
        """Number of ``getUpdates`` requests currently waiting for updates."""
        return sum(1 for waiter in self._update_waiters if not waiter.done())

    def updates_consumed(self) -> bool:
        """Whether every queued update was fetched by the bot or delivered to its webhook."""
        if self._inflight:
            return False
        return not self._updates or self._updates[-1].update_id <= self._fetched_up_to

    def calls_to(self, method: str) -> list[JSONDict]:
        """Return the params of all calls of one method (case-insensitive name)."""
        wanted = method.lower()
        return [params for name, params in self.calls if name.lower() == wanted]

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10.0,  # noqa: ASYNC109 - a plain number is simplest for tests
        *,
        description: str | None = None,
    ) -> Any:
        """Wait until ``predicate()`` returns something truthy and return it.

        The predicate is re-evaluated after every request the server handles and at least
        every 50 ms (so it may also look at state outside the server). It may be a
        coroutine function.

        Args:
            predicate: Condition to wait for.
            timeout: Seconds to wait at most.
            description: Text for the timeout error.

        Raises:
            TimeoutError: The condition did not become true in time.
        """
        return await until(predicate, timeout, what=description, between=self._next_change)

    async def _next_change(self, remaining: float) -> None:
        """Return after the next request the server handles, or after 50 ms at most."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(waiter)
        await asyncio.wait({waiter}, timeout=min(remaining, 0.05))
        if not waiter.done():
            waiter.cancel()
            self._change_waiters.remove(waiter)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[JSONDict]:
        """Wait until the bot sent at least ``count`` messages to a chat.

        Returns:
            All bot message records of the chat (see :meth:`messages`).

        Raises:
            TimeoutError: Not enough messages in time; the error shows what arrived.
        """

        def enough() -> bool:
            chat = self._chats.get(chat_id)
            return chat is not None and len(chat.bot_messages) >= count

        try:
            await self.wait_for(enough, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"expected {count} bot message(s) in chat {chat_id} within {timeout} s, "
                f"got {self.texts(chat_id)!r}; last calls: {self.calls[-5:]!r}"
            ) from None
        return self.messages(chat_id)

    async def wait_until_consumed(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot fetched (or received via webhook) every queued update."""
        await self.wait_for(self.updates_consumed, timeout, description="updates consumed")

    # ------------------------------------------------------------------ failure injection

    def block(self, chat_id: int) -> None:
        """Make sends and edits to a chat fail with 403 (user blocked the bot)."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self._blocked.discard(chat_id)

    def flood(self, chat_id: int, retry_after: int = 1, times: int = 1) -> None:
        """Make the next ``times`` sends to a chat fail with 429 Too Many Requests.

        Args:
            chat_id: Target chat.
            retry_after: Value of ``parameters.retry_after`` in seconds.
            times: How many sends fail.
        """
        self._floods[chat_id] = _Flood(times, retry_after)

    def fail_next(
        self,
        method: str,
        times: int = 1,
        error_code: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> None:
        """Make the next ``times`` calls of a method fail (any chat).

        Failures queue up: a second call adds more failures after the first ones.

        Args:
            method: Bot API method name (case-insensitive).
            times: How many calls fail.
            error_code: HTTP status / ``error_code``.
            description: Error description; defaults to the HTTP reason phrase.
            retry_after: Adds ``parameters.retry_after`` (use with 429).
            where: Only calls with these parameters fail (``{"language_code": "en"}``);
                others pass while this failure waits for one.
        """
        if description is None:
            try:
                description = HTTPStatus(error_code).phrase
            except ValueError:
                description = "Error"
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        error = BotApiError(error_code, description, parameters)
        failure = _Failure(times, error, dict(where or {}))
        self._failures.setdefault(method.lower(), deque()).append(failure)

    def hold(self, *methods: str, carried_out: bool = False) -> None:
        """Hold every call of these methods, unanswered, until :meth:`release`.

        A held call then fails (500) without doing anything: a request that never reached
        Telegram, because the bot was killed while it waited. With ``carried_out`` the call
        is carried out first and only its answer is held: Telegram did it, and the bot,
        killed while it waited, never heard. Held calls are listed in :attr:`held`.
        """
        held = self._held_answers if carried_out else self._held_methods
        held.update(m.lower() for m in methods)
        self._released.clear()

    def release(self) -> None:
        """Stop holding; the calls held so far fail."""
        self._held_methods.clear()
        self._held_answers.clear()
        self._released.set()

    def is_confirmed(self, update: QueuedUpdate) -> bool:
        """Whether the bot confirmed an update (a getUpdates offset above it): Telegram has
        forgotten it and will not send it again."""
        return all(queued.update_id != update.update_id for queued in self._updates)

    def clear_failures(self) -> None:
        """Remove all blocks, floods and pending injected failures."""
        self._blocked.clear()
        self._floods.clear()
        self._failures.clear()

    # ------------------------------------------------------------------ files and updates

    def register_file(
        self,
        data: bytes,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store a file so the bot can ``getFile`` and download it.

        Args:
            data: File content.
            kind: ``"photo"``, ``"document"``, ``"sticker"``… (used in id and path).
            file_name: Original name; its extension is used in the file path.
            mime_type: MIME type.

        Returns:
            The stored file.
        """
        number = next(self._file_counter)
        if kind == "photo":
            extension = ".jpg"
        elif kind == "sticker":
            extension = ".webp"
        elif file_name and "." in file_name:
            extension = file_name[file_name.rfind(".") :]
        else:
            extension = ""
        stored = StoredFile(
            file_id=f"{kind}-file-{number:06d}-{self.bot_id}",
            file_unique_id=f"uniq{number:06d}",
            data=data,
            file_path=f"{kind}s/file_{number}{extension}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def file(self, file_id: str) -> StoredFile:
        """Return a stored file (e.g. to check what the bot uploaded).

        Raises:
            KeyError: Unknown file id.
        """
        return self._files[file_id]

    def enqueue_update(self, payload: JSONDict) -> QueuedUpdate:
        """Queue an arbitrary update body; ``update_id`` is assigned here.

        Args:
            payload: The update without ``update_id``, e.g. ``{"message": {...}}``.

        Returns:
            The queued update.
        """
        update = QueuedUpdate(update_id=self._next_update_id)
        update.update(payload)
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        self._updates.append(update)
        self._wake_update_waiters(_WAKE_UPDATE)
        self._notify_changed()
        return update

    async def post_raw_update(
        self,
        payload: JSONDict | bytes,
        secret: str | _Unset | None = _UNSET,
        *,
        url: str | None = None,
        content_type: str = "application/json",
    ) -> int:
        """POST an update straight to the webhook, bypassing the queue.

        Args:
            payload: Update dict (sent as JSON) or raw body bytes.
            secret: Secret header value; ``None`` sends no header; by default the
                secret given to ``setWebhook`` is used.
            url: Target URL; defaults to the current webhook URL.
            content_type: ``Content-Type`` header.

        Returns:
            The HTTP status code of the webhook's answer.
        """
        if self._session is None:
            raise RuntimeError("BotApiServer is not started")
        target = url or self.webhook.url
        if not target:
            raise RuntimeError("no webhook URL set and none given")
        if isinstance(secret, _Unset):
            secret = self.webhook.secret_token
        headers = {"Content-Type": content_type}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        async with self._session.post(target, data=body, headers=headers) as response:
            await response.read()
            return response.status

    # ------------------------------------------------------------------ HTTP layer

    async def _handle_method(self, request: web.Request) -> web.Response:
        """Serve ``/bot<TOKEN>/<method>``."""
        if request.match_info["token"] != self.token:
            return _json_response(BotApiError(401, "Unauthorized").to_json(), 401)
        spec = self._methods.get(request.match_info["method"].lower())
        if spec is None:
            error = BotApiError(404, "Not Found: method not found")
            return _json_response(error.to_json(), 404)
        method, handler = spec
        params: JSONDict = {}
        try:
            params, uploads = await self._read_params(request)
            if method.lower() in self._held_methods:
                self.held.append((method, params))
                self._notify_changed()
                await self._released.wait()
                raise BotApiError(500, "Internal Server Error: held and dropped")
            if method != "getUpdates":
                self.calls.append((method, params))
            self._check_injected_failure(method, params)
            if self.limits is not None:
                self._check_flood_limits(method, params)
            result = await handler(params, uploads)
            if method.lower() in self._held_answers:
                self.held.append((method, params))
                self._notify_changed()
                await self._released.wait()
                raise BotApiError(500, "Internal Server Error: done, answer dropped")
        except BotApiError as exc:
            self.errors.append((method, params, exc))
            self._notify_changed()
            return _json_response(exc.to_json(), exc.error_code)
        self._notify_changed()
        return _json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        """Serve ``/file/bot<TOKEN>/<file_path>``."""
        if request.match_info["token"] != self.token:
            return _json_response(BotApiError(401, "Unauthorized").to_json(), 401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return _json_response(BotApiError(404, "Not Found").to_json(), 404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, Upload]]:
        """Decode query string, JSON, urlencoded or multipart parameters and uploads."""
        params: JSONDict = {}
        uploads: dict[str, Upload] = {}
        for key, value in request.query.items():
            params[key] = _decode_form_value(key, value)
        if request.method != "POST" or not request.body_exists:
            return params, uploads
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError as exc:
                raise BotApiError(400, "Bad Request: can't parse JSON request") from exc
            if not isinstance(body, dict):
                raise BotApiError(400, "Bad Request: JSON request must be an object")
            for key, value in body.items():
                params[key] = _decode_json_value(key, value)
            return params, uploads
        if request.content_type == "application/x-www-form-urlencoded":
            # Fast path for PTB's most common request shape (no uploads).
            body_text = (await request.read()).decode()
            for key, value in parse_qsl(body_text, keep_blank_values=True):
                params[key] = _decode_form_value(key, value)
            return params, uploads
        form = await request.post()
        for key, part in form.items():
            if isinstance(part, web.FileField):
                uploads[key] = Upload(part.filename, part.content_type, part.file.read())
            elif isinstance(part, str):
                params[key] = _decode_form_value(key, part)
            else:
                params[key] = _decode_form_value(key, bytes(part).decode())
        return params, uploads

    def _check_injected_failure(self, method: str, params: JSONDict) -> None:
        """Raise the error injected by :meth:`fail_next`, :meth:`block` or :meth:`flood`."""
        if self._failures:
            queue = self._failures.get(method.lower())
            if queue and all(params.get(k) == v for k, v in queue[0].where.items()):
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                raise failure.error
        if method not in _BLOCKABLE_METHODS or not (self._blocked or self._floods):
            return
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if not isinstance(chat_id, int):
            return
        if chat_id in self._blocked:
            if chat_id < 0:
                raise BotApiError(403, "Forbidden: bot was kicked from the group chat")
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        if method in _SEND_METHODS:
            flood = self._floods.get(chat_id)
            if flood is not None:
                flood.times -= 1
                if flood.times <= 0:
                    del self._floods[chat_id]
                raise BotApiError(
                    429,
                    f"Too Many Requests: retry after {flood.retry_after}",
                    {"retry_after": flood.retry_after},
                )

    def _check_flood_limits(self, method: str, params: JSONDict) -> None:
        """Refuse a send or edit beyond :attr:`limits` with 429, as Telegram does."""
        if method == "sendChatAction" or method not in _BLOCKABLE_METHODS:
            return
        try:
            chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        now = time.monotonic()
        chat = self._per_group if chat_id < 0 else self._per_chat
        waits = [
            (chat.wait(chat_id, now), "group" if chat_id < 0 else "chat"),
            (self._overall.wait(None, now), "overall"),
        ]
        wait, which = max(waits)
        if wait > 0:
            self.flood_refusals.append((method, chat_id, which))
            retry_after = max(1, math.ceil(wait))
            raise BotApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        chat.take(chat_id, now)
        self._overall.take(None, now)

    # ------------------------------------------------------------------ wake-up plumbing

    def _notify_changed(self) -> None:
        """Wake :meth:`wait_for` callers so they re-check their predicates."""
        if self._change_waiters:
            waiters, self._change_waiters = self._change_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _wake_update_waiters(self, reason: str) -> None:
        """Wake waiting long polls and the webhook worker."""
        if self._update_waiters:
            waiters, self._update_waiters = self._update_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(reason)

    async def _wait_for_update(self) -> str:
        """Wait until woken up; return the reason (one of ``_WAKE_*``)."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._update_waiters.append(waiter)
        return await waiter

    # ------------------------------------------------------------------ chats and messages

    def _chat_for(self, chat_id: int) -> _Chat:
        """Return a chat's state, creating it unless :attr:`strict_chats` is set."""
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise BotApiError(400, "Bad Request: chat not found")
            if chat_id > 0:
                chat_json: JSONDict = {
                    "id": chat_id,
                    "type": "private",
                    "first_name": f"User {chat_id}",
                }
            else:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat_json = {"id": chat_id, "type": chat_type, "title": f"Chat {chat_id}"}
            chat = self._chats[chat_id] = _Chat(chat_json)
        return chat

    def _target_chat(self, params: JSONDict) -> _Chat:
        """Resolve the ``chat_id`` parameter of a bot call."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise BotApiError(400, "Bad Request: chat_id is empty")
        try:
            chat_id = _as_int(raw, "chat_id")
        except BotApiError:
            raise BotApiError(400, "Bad Request: chat not found") from None
        chat = self._chat_for(chat_id)
        if chat.migrated_to is not None:
            raise BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.members.get(self.bot_id, {}).get("status") in ("kicked", "left"):
            raise BotApiError(403, f"Forbidden: bot was kicked from the {chat.json['type']} chat")
        return chat

    def _target_record(self, params: JSONDict, action: str) -> JSONDict:
        """Resolve ``chat_id`` + ``message_id`` of an edit/delete to a bot message."""
        chat = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), "message_id")
        record = chat.by_id.get(message_id)
        if record is None or record["deleted"]:
            if message_id in chat.user_messages and action == "edit":
                raise BotApiError(400, "Bad Request: message can't be edited")
            raise BotApiError(400, f"Bad Request: message to {action} not found")
        return record

    def _checked_text(self, params: JSONDict, key: str, limit: int) -> str | None:
        """Validate a text/caption parameter (empty, too long, invalid HTML)."""
        value = params.get(key)
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        plain = text
        parse_mode = params.get("parse_mode")
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML" and self.validate_html:
            plain = _check_html(text)
        if key == "text" and not plain.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        is_markdown = isinstance(parse_mode, str) and parse_mode.lower().startswith("markdown")
        if not is_markdown and utf16_len(plain) > limit:
            if key == "text":
                raise BotApiError(400, "Bad Request: message is too long")
            raise BotApiError(400, "Bad Request: message caption is too long")
        return text

    def _store_bot_message(
        self,
        chat: _Chat,
        method: str,
        params: JSONDict,
        *,
        text: str | None = None,
        caption: str | None = None,
        photo: list[JSONDict] | None = None,
        document: JSONDict | None = None,
    ) -> JSONDict:
        """Create, store and count a bot message; return its Telegram ``Message``."""
        reply_markup = params.get("reply_markup")
        _check_reply_markup(reply_markup)
        message_id = chat.take_message_id()
        record: JSONDict = {
            "message_id": message_id,
            "chat_id": chat.json["id"],
            "chat": chat.json,
            "date": int(time.time()),
            "method": method,
            "text": text,
            "caption": caption,
            "parse_mode": params.get("parse_mode"),
            "entities": params.get("entities" if text is not None else "caption_entities"),
            "reply_markup": reply_markup,
            "photo": photo,
            "document": document,
            "params": params,
            "edited": False,
            "edit_date": None,
            "edit_history": [],
            "deleted": False,
            # The topic of a forum group it went to (None: the General one).
            "topic": params.get("message_thread_id") if chat.json.get("is_forum") else None,
        }
        chat.bot_messages.append(record)
        chat.by_id[message_id] = record
        chat.delivered += 1
        self._total_delivered += 1
        return self.message_json(record)

    def _apply_edit(self, record: JSONDict, changes: JSONDict) -> JSONDict:
        """Apply an edit to a bot message unless nothing changes; return the Message."""
        snapshot = {key: record[key] for key in ("text", "caption", "parse_mode", "reply_markup")}
        if all(record[key] == value for key, value in changes.items()):
            raise BotApiError(400, _NOT_MODIFIED)
        record["edit_history"].append(snapshot)
        record.update(changes)
        record["edited"] = True
        record["edit_date"] = int(time.time())
        return self.message_json(record)

    def _enqueue_user_message(
        self, user: FakeUser, chat_id: int | None, content: JSONDict, reply_to: int | None
    ) -> QueuedUpdate:
        """Store a user's message in its chat and queue the ``message`` update."""
        chat = self._chat_for(user.id if chat_id is None else chat_id)
        if chat_id is not None and "new_chat_members" not in content:
            if not self.may_write(chat_id, user.id):
                raise PermissionError(f"user {user.id} may not write in chat {chat_id}")
            chat.members.setdefault(user.id, {"status": "member"})
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "date": int(time.time()),
            "chat": chat.json,
            "from": user.json,
        }
        if reply_to is not None:
            replied = chat.by_id.get(reply_to)
            if replied is not None:
                message["reply_to_message"] = self.message_json(replied)
            elif reply_to in chat.user_messages:
                message["reply_to_message"] = chat.user_messages[reply_to]
        message.update(content)
        chat.user_messages[message["message_id"]] = message
        return self.enqueue_update({"message": message})

    def send_as_anonymous_admin(self, chat_id: int, text: str) -> QueuedUpdate:
        """A text an admin of a group sends while "Remain anonymous" is on: ``from`` is
        Telegram's GroupAnonymousBot (the same for every anonymous admin of every group)
        and ``sender_chat`` the group itself."""
        chat = self._chats[chat_id]
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "date": int(time.time()),
            "chat": chat.json,
            "from": dict(GROUP_ANONYMOUS_BOT),
            "sender_chat": chat.json,
            "text": text,
        }
        command = _BOT_COMMAND.match(text)
        if command is not None:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}
            ]
        chat.user_messages[message["message_id"]] = message
        return self.enqueue_update({"message": message})

    def _enqueue_service_message(self, chat: _Chat, content: JSONDict) -> QueuedUpdate:
        """A line Telegram itself shows in a group about what the bot did ("<bot> removed
        <user>"): a message of the group from the bot, which an administrator may delete
        like anyone's, and a ``message`` update."""
        message: JSONDict = {
            "message_id": chat.take_message_id(),
            "date": int(time.time()),
            "chat": chat.json,
            "from": self.bot_user,
            **content,
        }
        chat.user_messages[message["message_id"]] = message
        return self.enqueue_update({"message": message})

    def service_messages(self, chat_id: int) -> list[JSONDict]:
        """The lines about members Telegram showed in a group (``left_chat_member``), oldest
        first; a deleted one has ``deleted`` set."""
        chat = self._chats[chat_id]
        return [m for _, m in sorted(chat.user_messages.items()) if "left_chat_member" in m]

    def _enqueue_user_edit(
        self, user: FakeUser, message_id: int, text: str, chat_id: int | None
    ) -> QueuedUpdate:
        """The user changed the text of a message they sent: an ``edited_message`` update."""
        chat = self._chat_for(user.id if chat_id is None else chat_id)
        sent = chat.user_messages.get(message_id)
        if sent is None or sent.get("from", {}).get("id") != user.id or "text" not in sent:
            raise LookupError(f"user {user.id} sent no text message {message_id} here")
        edited = {**sent, "text": text, "edit_date": int(time.time())}
        edited.pop("entities", None)
        command = _BOT_COMMAND.match(text)
        if command is not None:
            edited["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}
            ]
        chat.user_messages[message_id] = edited
        return self.enqueue_update({"edited_message": edited})

    def _enqueue_callback(self, user: FakeUser, message: JSONDict, data: str) -> QueuedUpdate:
        """Queue a ``callback_query`` update for ``message``."""
        query_id = f"{self.bot_id}{next(self._callback_counter):08d}"
        self._open_callback_queries.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": user.json,
            "message": message,
            "chat_instance": f"-{abs(message['chat']['id'])}{self.bot_id}",
            "data": data,
        }
        return self.enqueue_update({"callback_query": query})

    def _press(
        self,
        user: FakeUser,
        button: str,
        message: int | JSONDict | None,
        chat_id: int | None,
    ) -> QueuedUpdate:
        """Implement :meth:`FakeUser.press`."""
        chat = self._chat_for(user.id if chat_id is None else chat_id)
        if message is None:
            candidates: list[JSONDict] = list(reversed(chat.bot_messages))
        else:
            message_id = message if isinstance(message, int) else message["message_id"]
            record = chat.by_id.get(message_id)
            if record is None:
                raise LookupError(f"no bot message {message_id} in chat {chat.json['id']}")
            candidates = [record]
        # An exact label or data wins, on any message; otherwise a label containing the text
        # (emoji prefixes) on the newest message that has buttons, as a person would look.
        with_buttons = [r for r in candidates if not r["deleted"] and r["reply_markup"]]
        for exact in (True, False):
            for record in candidates if exact else with_buttons[:1]:
                if record["deleted"]:
                    continue
                for candidate in _iter_buttons(record["reply_markup"]):
                    text = str(candidate.get("text", ""))
                    hit = (
                        candidate.get("callback_data") == button or text == button
                        if exact
                        else button.casefold() in text.casefold()
                    )
                    if hit:
                        if "callback_data" not in candidate:
                            raise ValueError(f"button {candidate!r} has no callback_data")
                        return self._enqueue_callback(
                            user, self.message_json(record), str(candidate["callback_data"])
                        )
        available = [
            (candidate.get("text"), candidate.get("callback_data"))
            for record in candidates[:3]
            for candidate in _iter_buttons(record["reply_markup"])
        ]
        raise LookupError(
            f"no inline button {button!r} in chat {chat.json['id']}; "
            f"buttons in the latest messages: {available!r}"
        )

    def _press_data(
        self, user: FakeUser, data: str, message_id: int | None, chat_id: int | None
    ) -> QueuedUpdate:
        """Implement :meth:`FakeUser.press_data`."""
        chat = self._chat_for(user.id if chat_id is None else chat_id)
        if message_id is None:
            if not chat.bot_messages:
                raise LookupError(f"the bot sent no message to chat {chat.json['id']} yet")
            record: JSONDict | None = chat.bot_messages[-1]
        else:
            record = chat.by_id.get(message_id)
        if record is not None and not record["deleted"]:
            message = self.message_json(record)
        else:
            # What Telegram sends for messages the bot can no longer access.
            message = {"chat": chat.json, "message_id": message_id, "date": 0}
        return self._enqueue_callback(user, message, data)

    def _make_photo_sizes(self, data: bytes) -> list[JSONDict]:
        """Register ``data`` as a photo in three sizes (distinct file ids, same bytes)."""
        width, height = _image_size(data) or (1280, 960)
        longest = max(width, height, 1)
        sizes: list[JSONDict] = []
        for limit in (90, 320, 1280):
            scale = min(1.0, limit / longest)
            stored = self.register_file(data, kind="photo", mime_type="image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(data),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        for size in sizes:
            self._photo_sizes[size["file_id"]] = sizes
        return sizes

    def _document_json(self, stored: StoredFile) -> JSONDict:
        """Return the Telegram ``Document`` object for a stored file."""
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    @staticmethod
    def _input_file(params: JSONDict, uploads: dict[str, Upload], key: str) -> Upload | str:
        """Return the upload for a file parameter, or the file_id/URL string given."""
        if key in uploads:
            return uploads[key]
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
            if upload is None:
                raise BotApiError(400, f"Bad Request: there is no {key} in the request")
            return upload
        if isinstance(value, str) and value:
            return value
        raise BotApiError(400, f"Bad Request: there is no {key} in the request")

    # ------------------------------------------------------------------ update delivery

    def _confirm_updates(self, offset: int) -> None:
        """Forget updates confirmed by a getUpdates ``offset``."""
        updates = self._updates
        if offset > 0:
            while updates and updates[0].update_id < offset:
                updates.popleft()
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()

    def _start_webhook_worker(self) -> None:
        """Start delivering queued updates to the webhook (no-op if running)."""
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(
                self._webhook_worker(), name="botapi-webhook-worker"
            )

    async def _stop_webhook_worker(self) -> None:
        """Stop webhook delivery; undelivered updates go back to the queue."""
        task, self._webhook_task = self._webhook_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def _webhook_worker(self) -> None:
        """Deliver queued updates in batches; per chat in order, chats in parallel."""
        try:
            while True:
                if not self._updates:
                    await self._wait_for_update()
                    continue
                batch = list(self._updates)
                self._updates.clear()
                self._inflight.update((update.update_id, update) for update in batch)
                groups: dict[Any, list[QueuedUpdate]] = {}
                for update in batch:
                    groups.setdefault(_update_chat_key(update), []).append(update)
                if len(groups) == 1:
                    await self._deliver_in_order(batch)
                else:
                    limit = asyncio.Semaphore(max(1, self.webhook.max_connections))
                    await asyncio.gather(
                        *(self._deliver_in_order(group, limit) for group in groups.values())
                    )
        finally:
            if self._inflight:
                # Cancelled mid-batch: keep what was not delivered, in order, for later.
                self._updates.extendleft(reversed(list(self._inflight.values())))
                self._inflight.clear()

    async def _deliver_in_order(
        self, updates: list[QueuedUpdate], limit: asyncio.Semaphore | None = None
    ) -> None:
        """Deliver updates one after another, holding ``limit`` (if given) meanwhile."""
        if limit is None:
            for update in updates:
                await self._deliver(update)
            return
        async with limit:
            for update in updates:
                await self._deliver(update)

    async def _deliver(self, update: QueuedUpdate) -> None:
        """POST one update to the webhook with retries; drop it if all attempts fail."""
        assert self._session is not None
        body = json.dumps(update, ensure_ascii=False).encode()
        for attempt in range(self.webhook_attempts):
            headers = {"Content-Type": "application/json"}
            if self.webhook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
            try:
                async with self._session.post(
                    self.webhook.url, data=body, headers=headers
                ) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.webhook.delivered += 1
                        break
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                error = f"Connection failed: {exc!r}"
            self.webhook.last_error_date = int(time.time())
            self.webhook.last_error_message = error
            _LOGGER.debug("webhook delivery of update %s failed: %s", update.update_id, error)
            if attempt + 1 < self.webhook_attempts:
                await asyncio.sleep(self.webhook_retry_delay)
        else:
            self.webhook.failed_updates.append(update)
        self._inflight.pop(update.update_id, None)
        self._notify_changed()

    # ------------------------------------------------------------------ Bot API methods
    # Each handler implements the Bot API method of the same name. It gets the decoded
    # parameters and uploads, returns the ``result`` value, or raises BotApiError.

    async def _get_me(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> list[QueuedUpdate]:
        if self.webhook.active:
            raise BotApiError(409, _CONFLICT_WEBHOOK)
        offset = _as_int(params.get("offset", 0), "offset")
        limit = min(100, max(1, _as_int(params.get("limit", 100), "limit")))
        timeout = params.get("timeout", 0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool):
            timeout = _as_int(timeout, "timeout")
        self._confirm_updates(offset)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            # As Telegram: kept for later requests; an empty list means the default kinds.
            self._allowed_updates = [str(kind) for kind in allowed] or None
        if self._allowed_updates is not None:
            # Telegram never sends a kind the bot did not ask for: those are dropped.
            kept = [u for u in self._updates if _kind(u) in self._allowed_updates]
            self._updates.clear()
            self._updates.extend(kept)
        # Like Telegram, a new getUpdates request terminates an older waiting one.
        if self._active_poll is not None and not self._active_poll.done():
            self._active_poll.set_result(_WAKE_CONFLICT)
        if not self._updates and timeout > 0 and not self._closing:
            waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._update_waiters.append(waiter)
            self._active_poll = waiter
            try:
                await asyncio.wait({waiter}, timeout=float(timeout))
            finally:
                if self._active_poll is waiter:
                    self._active_poll = None
                if not waiter.done():
                    waiter.cancel()
            if not waiter.cancelled() and waiter.result() == _WAKE_CONFLICT:
                raise BotApiError(409, _CONFLICT_OTHER_POLL)
            if self.webhook.active:
                raise BotApiError(409, _CONFLICT_WEBHOOK)
        batch = list(itertools.islice(self._updates, limit))
        if batch:
            self._fetched_up_to = max(self._fetched_up_to, batch[-1].update_id)
        return batch

    async def _send_message(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._target_chat(params)
        text = self._checked_text(params, "text", TEXT_LIMIT)
        if text is None:
            raise BotApiError(400, "Bad Request: message text is empty")
        return self._store_bot_message(chat, "sendMessage", params, text=text)

    async def _send_photo(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._target_chat(params)
        caption = self._checked_text(params, "caption", CAPTION_LIMIT)
        source = self._input_file(params, uploads, "photo")
        if isinstance(source, Upload):
            sizes = self._make_photo_sizes(source.data)
        elif source in self._photo_sizes:
            sizes = self._photo_sizes[source]
        elif source in self._files:
            sizes = self._make_photo_sizes(self._files[source].data)
        elif source.startswith(("http://", "https://")):
            sizes = self._make_photo_sizes(b"")  # URLs are not fetched (no network)
        else:
            raise BotApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return self._store_bot_message(chat, "sendPhoto", params, caption=caption, photo=sizes)

    async def _send_document(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._target_chat(params)
        caption = self._checked_text(params, "caption", CAPTION_LIMIT)
        source = self._input_file(params, uploads, "document")
        if isinstance(source, Upload):
            stored = self.register_file(
                source.data,
                kind="document",
                file_name=source.filename or None,
                mime_type=source.content_type or None,
            )
        elif source in self._files:
            stored = self._files[source]
        elif source.startswith(("http://", "https://")):
            stored = self.register_file(b"", kind="document", file_name=source.rsplit("/")[-1])
        else:
            raise BotApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        document = self._document_json(stored)
        return self._store_bot_message(
            chat, "sendDocument", params, caption=caption, document=document
        )

    async def _send_chat_action(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self._target_chat(params)
        if not params.get("action"):
            raise BotApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _edit_message_text(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True  # inline messages are not modelled
        record = self._target_record(params, "edit")
        if record["text"] is None:
            raise BotApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._checked_text(params, "text", TEXT_LIMIT)
        if text is None:
            raise BotApiError(400, "Bad Request: message text is empty")
        reply_markup = params.get("reply_markup")
        _check_reply_markup(reply_markup)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        changes = {
            "text": text,
            "parse_mode": params.get("parse_mode"),
            "entities": params.get("entities"),
            "reply_markup": reply_markup,
        }
        return self._apply_edit(record, changes)

    async def _edit_message_caption(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        record = self._target_record(params, "edit")
        if record["text"] is not None:
            raise BotApiError(400, "Bad Request: there is no caption in the message to edit")
        reply_markup = params.get("reply_markup")
        _check_reply_markup(reply_markup)
        changes = {
            "caption": self._checked_text(params, "caption", CAPTION_LIMIT),
            "parse_mode": params.get("parse_mode"),
            "entities": params.get("caption_entities"),
            "reply_markup": reply_markup,
        }
        return self._apply_edit(record, changes)

    async def _edit_message_reply_markup(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        record = self._target_record(params, "edit")
        reply_markup = params.get("reply_markup")
        _check_reply_markup(reply_markup)
        return self._apply_edit(record, {"reply_markup": reply_markup})

    async def _delete_message(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), "message_id")
        users = chat.user_messages.get(message_id)
        if users is not None and chat.json["type"] != "private":
            # Someone else's message in a group: only an administrator may delete it.
            if users.get("deleted"):
                raise BotApiError(400, "Bad Request: message to delete not found")
            bot = chat.members.get(self.bot_id, {"status": "member"})
            if bot["status"] != "administrator" or not bot.get("can_delete_messages"):
                raise BotApiError(400, "Bad Request: message can't be deleted")
            users["deleted"] = True
            return True
        record = self._target_record(params, "delete")
        record["deleted"] = True
        return True

    async def _create_chat_invite_link(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> JSONDict:
        chat = self._group_as_admin(
            params, "can_invite_users", "not enough rights to manage chat invite link"
        )
        limit = params.get("member_limit")
        if limit is not None and not 1 <= _as_int(limit, "member_limit") <= 99999:
            raise BotApiError(400, "Bad Request: member limit must be between 1 and 99999")
        if limit is not None and params.get("creates_join_request"):
            raise BotApiError(
                400, "Bad Request: member limit can't be specified for links requiring approval"
            )
        name = params.get("name")
        if name is not None and len(str(name)) > 32:
            raise BotApiError(400, "Bad Request: invite link name is too long")
        link = f"https://t.me/+{next(self._file_counter):06d}{abs(chat.json['id'])}"
        invite: JSONDict = {
            "invite_link": link,
            "creator": self.bot_user,
            "creates_join_request": bool(params.get("creates_join_request", False)),
            "is_primary": False,
            "is_revoked": False,
        }
        if name is not None:
            invite["name"] = str(name)
        if limit is not None:
            invite["member_limit"] = _as_int(limit, "member_limit")
        chat.invite_links[link] = {**invite, "_joined": 0}
        return invite

    def _join_request(self, params: JSONDict) -> tuple[_Chat, FakeUser]:
        chat = self._group_as_admin(
            params, "can_invite_users", "not enough rights to manage chat invite link"
        )
        user_id = _as_int(params.get("user_id"), "user_id")
        if user_id not in chat.join_requests:
            raise BotApiError(400, "Bad Request: HIDE_REQUESTER_MISSING")
        del chat.join_requests[user_id]
        return chat, self._users[user_id]

    async def _approve_chat_join_request(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> bool:
        chat, user = self._join_request(params)
        self.approved.append((chat.json["id"], user.id))
        self._let_in(chat, user)
        return True

    async def _decline_chat_join_request(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> bool:
        chat, user = self._join_request(params)
        self.declined.append((chat.json["id"], user.id))
        self._notify_changed()
        return True

    async def _restrict_chat_member(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat = self._group_as_admin(
            params, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        if chat.json["type"] != "supergroup":
            raise BotApiError(400, "Bad Request: method is available only for supergroups")
        user_id = self._member_target(chat, params)
        permissions = params.get("permissions")
        if not isinstance(permissions, dict):
            raise BotApiError(400, "Bad Request: can't parse permissions JSON object")
        until = int(params.get("until_date") or 0)
        granted = {key: bool(permissions.get(key, False)) for key in _MEMBER_PERMISSIONS}
        # Like the Bot API server: the new status is always "restricted, a member if they
        # were one" (is_chat_member of the old status), whatever it was, a ban included;
        # with every permission that is a plain member, or for a non-member "left". So a
        # banned user restricted or unrestricted is no longer banned and may join again.
        before = chat.members.get(user_id, {"status": "left"})
        was_member = before["status"] in ("member", "administrator", "creator") or (
            before["status"] == "restricted" and bool(before.get("is_member"))
        )
        if all(granted.values()):
            chat.members[user_id] = {"status": "member" if was_member else "left"}
        else:
            chat.members[user_id] = {
                "status": "restricted",
                "is_member": was_member,
                "until_date": until,
                **granted,
                # Newer in ChatMemberRestricted than in what is checked above.
                "can_edit_tag": bool(permissions.get("can_edit_tag", False)),
                "can_react_to_messages": bool(permissions.get("can_react_to_messages", False)),
            }
        return True

    async def _ban_chat_member(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        chat = self._group_as_admin(
            params, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        user_id = self._member_target(chat, params)
        was = chat.members.get(user_id, {})
        inside = was.get("status") == "member" or (
            was.get("status") == "restricted" and was.get("is_member", True)
        )
        chat.members[user_id] = {
            "status": "kicked",
            "until_date": int(params.get("until_date") or 0),
        }
        removed = self._users.get(user_id)
        if inside and removed is not None:
            # Telegram shows the group "<bot> removed <user>" (in groups of fewer than 50
            # members; always here, so that a test sees it).
            self._enqueue_service_message(chat, {"left_chat_member": removed.json})
        return True

    async def _unban_chat_member(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        """Like Telegram: a banned user may join again (status ``left``); a member is
        removed too unless ``only_if_banned``, which leaves anyone not banned as they are."""
        chat = self._group_as_admin(
            params, "can_restrict_members", "not enough rights to restrict/unrestrict chat member"
        )
        if chat.json["type"] != "supergroup":
            raise BotApiError(
                400, "Bad Request: method is available for supergroup and channel chats only"
            )
        user_id = self._member_target(chat, params)
        status = chat.members.get(user_id, {"status": "left"})["status"]
        if status == "kicked" or not params.get("only_if_banned"):
            chat.members[user_id] = {"status": "left"}
        return True

    async def _get_chat_member(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        chat = self._target_chat(params)
        user_id = _as_int(params.get("user_id"), "user_id")
        if user_id != self.bot_id and user_id not in self._users:
            raise BotApiError(400, "Bad Request: user not found")
        member = self.member(chat.json["id"], user_id)
        if member["status"] == "administrator":
            member = {"can_be_edited": False, "is_anonymous": False, **member}
        return member

    async def _answer_callback_query(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callback_queries:
            raise BotApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is "
                "invalid",
            )
        self._open_callback_queries.discard(query_id)
        self.callback_answers.append(params)
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        """Return the :attr:`commands` key for a scope/language_code pair.

        A language code is empty or two lowercase letters, as the Bot API server checks.
        """
        language_code = str(params.get("language_code") or "")
        if language_code and not _LANGUAGE_CODE_RE.fullmatch(language_code):
            raise BotApiError(400, "Bad Request: invalid language code specified")
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise BotApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        scope_key = str(scope["type"])
        if "chat_id" in scope:
            scope_key += f":{scope['chat_id']}"
        if "user_id" in scope:
            scope_key += f":{scope['user_id']}"
        return scope_key, language_code

    async def _set_my_commands(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        """Set a menu as the Bot API server and Telegram do: the language code is empty or
        two lowercase letters; each command and description is trimmed (a leading ``/``
        dropped from the command), then the command must be 1-32 lowercase letters, digits
        and underscores and the description 1-256 characters; at most 100 commands. One
        entry refused refuses the whole menu, which then stays as it was."""
        key = self._commands_key(params)
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise BotApiError(400, "Bad Request: can't parse commands JSON object")
        menu: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict) or not isinstance(command.get("command"), str):
                raise BotApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name = command["command"].strip(_COMMAND_TRIM).removeprefix("/")
            description = str(command.get("description", "")).strip(_COMMAND_TRIM)
            if not name:
                raise BotApiError(400, "Bad Request: command must be non-empty")
            if len(name) > 32:
                raise BotApiError(400, "Bad Request: command length must not exceed 32")
            if not description:
                raise BotApiError(400, "Bad Request: command description must be non-empty")
            if len(description) > _MAX_COMMAND_DESCRIPTION:
                raise BotApiError(
                    400,
                    "Bad Request: command description length must not exceed "
                    f"{_MAX_COMMAND_DESCRIPTION}",
                )
            if not _COMMAND_NAME_RE.fullmatch(name):
                raise BotApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            menu.append({"command": name, "description": description})
        if len(menu) > _MAX_COMMANDS:
            raise BotApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        if menu:
            self.commands[key] = menu
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(
        self, params: JSONDict, uploads: dict[str, Upload]
    ) -> list[JSONDict]:
        return list(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_webhook(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, uploads)
        if not url.startswith(("http://", "https://")):
            raise BotApiError(400, "Bad Request: bad webhook: Wrong URL host")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.match(str(secret)):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = _as_int(params.get("max_connections", 40), "max_connections")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook.url = url
        self.webhook.secret_token = str(secret) if secret else None
        self.webhook.max_connections = min(100, max(1, max_connections))
        self.webhook.allowed_updates = params.get("allowed_updates")
        self.webhook.ip_address = params.get("ip_address")
        self.webhook.has_custom_certificate = "certificate" in uploads
        self.webhook.set_count += 1
        # Waiting long polls end with a conflict now, like on Telegram.
        self._wake_update_waiters(_WAKE_WEBHOOK)
        self._start_webhook_worker()
        return True

    async def _delete_webhook(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        await self._stop_webhook_worker()
        self.webhook.url = ""
        self.webhook.secret_token = None
        self.webhook.delete_count += 1
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.url,
            "has_custom_certificate": self.webhook.has_custom_certificate,
            "pending_update_count": self.pending_update_count,
        }
        if self.webhook.active:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
        if self.webhook.last_error_date is not None:
            info["last_error_date"] = self.webhook.last_error_date
            info["last_error_message"] = self.webhook.last_error_message
        return info

    async def _get_file(self, params: JSONDict, uploads: dict[str, Upload]) -> JSONDict:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise BotApiError(400, "Bad Request: invalid file_id")
        return stored.to_file_json()

    async def _close(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        return True

    async def _log_out(self, params: JSONDict, uploads: dict[str, Upload]) -> bool:
        return True
