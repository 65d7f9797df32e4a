"""Reading what residents send in Matrix: room events become Events for the router.

Texts (with commands, mentions in groups, quoted replies), pictures (decrypted when sent
encrypted), shared places, and names for what the bot cannot use (stickers, voice, files).
The rules on content are plain functions, each easy to test.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    DownloadResponse,
    MatrixRoom,
    RoomEncryptedAudio,
    RoomEncryptedFile,
    RoomEncryptedImage,
    RoomEncryptedVideo,
    RoomMemberEvent,
    RoomMessageAudio,
    RoomMessageEmote,
    RoomMessageFile,
    RoomMessageImage,
    RoomMessageNotice,
    RoomMessageText,
    RoomMessageUnknown,
    RoomMessageVideo,
    StickerEvent,
)
from nio.crypto.attachments import decrypt_attachment
from nio.exceptions import EncryptionError

from handlers.contract import Event, Location, Photo, Sender
from handlers.pictures import NOT_A_PICTURE, received_photo
from storage.clock import utcnow

log = logging.getLogger(__name__)

PLATFORM = "matrix"
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_MEDIA_KINDS: list[tuple[tuple[type, ...], str]] = [
    ((RoomMessageFile, RoomEncryptedFile), "document"),
    ((RoomMessageAudio, RoomEncryptedAudio), "audio"),
    ((RoomMessageVideo, RoomEncryptedVideo), "video"),
    ((StickerEvent,), "sticker"),
]

#: A command starts with / (as in Telegram) or ! (the custom in Matrix bots, and what
#: Element sends without asking "send as message?"), then a letter; its name may hold any
#: letters (``/ideeën``, as the menus' Dutch reads), digits, ``_`` and ``-``.
_COMMAND = re.compile(r"^[/!]([^\W\d_][\w-]{0,63})(?:@(\S*))?(?:\s+(.*))?$", re.DOTALL)
#: The first line of the quote a client puts above a reply: whom it quotes, then what.
_REPLY_FALLBACK = re.compile(r"^> (?:\* )?<[^<>\n]+>")
#: The quote of the answered message a client puts above a reply's HTML.
_REPLY_QUOTE = re.compile(r"<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def relation(content: dict[str, Any]) -> str | None:
    """The kind of relation this content has to an earlier event (``m.replace``, ...)."""
    relates = content.get("m.relates_to")
    if isinstance(relates, dict):
        kind = relates.get("rel_type")
        return kind if isinstance(kind, str) else None
    return None


def is_edit(content: dict[str, Any]) -> bool:
    """Whether this message replaces (edits) an earlier one."""
    return relation(content) == "m.replace" or "m.new_content" in content


def is_notice(content: dict[str, Any]) -> bool:
    """Whether this is a notice (what bots send), or an edit that makes one."""
    new = content.get("m.new_content")
    return "m.notice" in (
        content.get("msgtype"),
        new.get("msgtype") if isinstance(new, dict) else None,
    )


def is_reply(content: dict[str, Any]) -> bool:
    relates = content.get("m.relates_to")
    return isinstance(relates, dict) and isinstance(relates.get("m.in_reply_to"), dict)


def strip_reply_fallback(body: str) -> str:
    """Drop the quote a client puts above a reply ("> <@bot:x> earlier text" lines).

    Only such a quote: it starts with whom it quotes (``> <@…>``, ``> * <@…>`` for an
    action). Newer apps put none there, and a reply of the person's own that starts with
    ">" ("> 65 jaar") is read whole.
    """
    lines = body.split("\n")
    if not lines or not _REPLY_FALLBACK.match(lines[0]):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def parse_command(text: str) -> tuple[str, str] | None:
    """(command, arguments) when the text is a command such as ``/start`` or ``!help x``."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return match.group(1), (match.group(3) or "").strip()


def addressing(
    text: str,
    content: dict[str, Any],
    bot_id: str,
    names: Iterable[str],
    commands: Callable[[str], bool] | None = None,
) -> tuple[bool, str]:
    """Whether a message in a group names the bot, and the text without a leading mention.

    The bot is addressed by a mention (``m.mentions`` or a link to its id, not one in the
    quote of a reply), its user id or display name in the text, or a command: one that
    ``commands`` takes for one, where given (a slash before a word that names none,
    "/één keer nog", is text, which the bot leaves alone in a group as any other).
    """
    candidates = sorted({bot_id, *(name for name in names if name)}, key=len, reverse=True)
    stripped = text.strip()
    for name in candidates:
        if stripped.casefold().startswith(name.casefold()):
            rest = stripped[len(name) :]
            if not rest or not (rest[0].isalnum() or rest[0] == "_"):
                return True, rest.lstrip(" :,\u00a0").strip()
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict) and bot_id in (mentions.get("user_ids") or []):
        return True, stripped
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and is_reply(content):
        # The quote of the message answered (another's, who named the bot) is not this one.
        formatted = _REPLY_QUOTE.sub("", formatted)
    if isinstance(formatted, str) and f"matrix.to/#/{bot_id}" in formatted:
        return True, stripped
    for name in candidates:
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", stripped, re.IGNORECASE):
            return True, stripped
    match = _COMMAND.match(stripped)
    if match is None or (commands is not None and not commands(match.group(1))):
        return False, stripped
    # "/help@otherbot", the way Telegram addresses one bot of several, is for that one.
    target = match.group(2)
    return not target or _names_bot(target, bot_id, candidates), stripped


def _names_bot(target: str, bot_id: str, names: Iterable[str]) -> bool:
    """Whether the ``@…`` after a command is this bot: its user id, with or without the
    server ("@samenspel:example.org", "samenspel"), or its display name."""
    wanted = target.removeprefix("@").casefold()
    localpart = bot_id.removeprefix("@").split(":", 1)[0].casefold()
    known = {localpart, bot_id.removeprefix("@").casefold()}
    return wanted in known | {name.removeprefix("@").casefold() for name in names}


def parse_geo_uri(uri: object) -> tuple[float, float] | None:
    """(latitude, longitude) from an ``m.location`` geo URI such as ``geo:52.46,4.62``."""
    if not isinstance(uri, str):
        return None
    match = _GEO.match(uri.strip())
    if match is None:
        return None
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


async def read_event(
    client: AsyncClient,
    names: set[str],
    room: MatrixRoom,
    native: Any,
    *,
    group: bool | None = None,
    commands: Callable[[str], bool] | None = None,
) -> Event | None:
    """The Event for a room event, or None for what the bot leaves alone.

    ``names`` are the bot's own names, by which residents address it in a group, as is
    a command ``commands`` takes for one (see :func:`addressing`); ``group``
    says whether the room was a group when the event was sent (an experiment's room always
    is, even with two members); without it, whether it is one now.
    """
    if group is None:
        group = is_group(room)
    base: dict[str, Any] = {
        "platform": PLATFORM,
        "chat_id": room.room_id,
        "sender": sender_of(room, native.sender),
        "is_group": group,
        "received_at": utcnow(),
        "event_id": native.event_id,
    }
    if isinstance(native, RoomMessageNotice):
        return None  # notices are what bots send: answering them makes loops
    if isinstance(native, (RoomMessageText, RoomMessageEmote)):
        content = native.source.get("content", {})
        text = strip_reply_fallback(native.body) if is_reply(content) else native.body
        if group:
            addressed, text = addressing(text, content, client.user_id, names, commands)
            if not addressed:
                return None
        command = parse_command(text)
        if command is not None:
            return Event(**base, command=command[0], args=command[1], written=text)
        return Event(**base, text=text)
    if group:
        return None  # in a group the bot reads only what is addressed to it
    if isinstance(native, (RoomMessageImage, RoomEncryptedImage)):
        photo = await download_photo(client, native)
        if isinstance(photo, Photo):
            return Event(**base, photo=photo)
        return Event(**base, unsupported=photo)
    for kinds, kind in _MEDIA_KINDS:
        if isinstance(native, kinds):
            return Event(**base, unsupported=kind)
    if isinstance(native, RoomMessageUnknown):
        if native.msgtype == "m.location":
            point = parse_geo_uri(native.content.get("geo_uri"))
            if point is not None:
                location = Location(latitude=point[0], longitude=point[1])
                return Event(**base, location=location)
        return Event(**base, unsupported="other")
    return None  # reactions, redactions, state, calls and custom events


async def download_photo(client: AsyncClient, native: Any) -> Photo | str:
    """The picture of an ``m.image``, decrypted if need be; or, when it cannot be used, the
    kind of unusable thing it is (``Event.unsupported``).

    Its content decides (:mod:`handlers.pictures`), not the type the sender's app declared.
    """
    content = native.source.get("content", {})
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    size = info.get("size")
    if isinstance(size, int) and size > MAX_PHOTO_BYTES:
        return "photo"
    mime = str(info.get("mimetype") or getattr(native, "mimetype", None) or "image/jpeg")
    if not mime.startswith("image/"):
        return NOT_A_PICTURE
    try:
        answer = await client.download(mxc=native.url)
    except (ClientError, TimeoutError, OSError) as exc:
        answer = exc
    if not isinstance(answer, DownloadResponse):
        log.warning("matrix photo download failed: %s", answer)
        return "photo"
    data = answer.body if isinstance(answer.body, bytes) else b""
    if isinstance(native, RoomEncryptedImage):
        try:
            key, digest = native.key["k"], native.hashes["sha256"]
            data = decrypt_attachment(data, key, digest, native.iv)
        except (EncryptionError, KeyError, ValueError) as exc:
            log.warning("matrix photo could not be decrypted: %s", exc)
            return "photo"
    if not data or len(data) > MAX_PHOTO_BYTES:
        return "photo"
    photo = await received_photo(data, native.url)
    return NOT_A_PICTURE if photo is None else photo


#: Join rules of a room nobody enters without being let in.
PRIVATE_JOIN_RULES = frozenset({"invite", "knock"})


def is_private(room: MatrixRoom) -> bool:
    """A room that can be a person's private chat with the bot: nobody enters it without
    being let in (join rule invite or knock), nor reads it from outside (its history is
    not world readable), it is a room and not a space, and at most the person and the bot
    are in it (or invited)."""
    return _closed(room) and int(room.member_count) <= 2


def _closed(room: MatrixRoom) -> bool:
    return (
        room.join_rule in PRIVATE_JOIN_RULES
        and room.history_visibility != "world_readable"
        and room.room_type != "m.space"
    )


#: Memberships that count someone in a room (as :func:`is_private` counts them).
_IN_ROOM = frozenset({"join", "invite"})


def private_when_sent(room: MatrixRoom, timeline: list[Any]) -> dict[str, bool]:
    """Whether the room was private when each event of its timeline was sent, by event id.

    ``room`` is as the whole sync left it; ``timeline`` is the room's events in that sync,
    oldest first. A message sent while the room was a direct chat of two is the person's,
    even when someone else joined later in the same sync (and the other way round): the
    member count is taken back, event by event, to what it was then. What came before the
    bot joined (the room's history, handed over with its joining) is left out: the bot was
    not there, and it is taken as the room is now.
    """
    closed = _closed(room)
    count = int(room.member_count)
    private: dict[str, bool] = {}
    for event in reversed(timeline):
        event_id = getattr(event, "event_id", None)
        if isinstance(event_id, str):
            private[event_id] = closed and count <= 2
        if isinstance(event, RoomMemberEvent):
            own = event.state_key == room.own_user_id
            if own and event.membership == "join" and event.prev_membership != "join":
                break
            count += (event.prev_membership in _IN_ROOM) - (event.membership in _IN_ROOM)
    return private


def is_group(room: MatrixRoom) -> bool:
    """Anything but a private room: more people, or open to anyone who finds it (a public
    room, a space), however few are in it now. The bot answers there only when addressed,
    and never with anything personal."""
    return not is_private(room)


def sender_of(room: MatrixRoom, user_id: str) -> Sender:
    """The sender as the room knows them (Matrix gives no language, so none is hinted)."""
    member = room.users.get(user_id)
    name = getattr(member, "display_name", None) if member is not None else None
    return Sender(platform_user_id=user_id, display_name=name or None)
