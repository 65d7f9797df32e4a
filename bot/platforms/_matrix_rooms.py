"""Experiments' rooms on Matrix: what a reply or reaction points at, and moderation there.

A reply ``/melden`` names the event it answers (``m.in_reply_to``); the bot fetches that
event to read its sender and text. Moderation uses the room's power levels: a muted member
gets level -1, below what sending a message needs, and is given their old level back when
the mute ends (not while they are banned from the room, nor when someone changed their
level by hand meanwhile). The old level is kept in the room itself, in a state event of
the bot's own per member, so it survives restarts; hiding is a redaction; a ban is a ban,
and lifting it an unban; taking out someone who may no longer be there is a kick. The bot
needs a power level at least that of each of these actions (``admin_problem`` says which
one it lacks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import ClientError
from nio import (
    AsyncClient,
    EncryptionError,
    ErrorResponse,
    Event,
    MegolmEvent,
    RoomBanError,
    RoomGetEventError,
    RoomGetStateError,
    RoomGetStateEventError,
    RoomInviteError,
    RoomKickError,
    RoomPutStateError,
    RoomRedactError,
)

from bot.platforms._matrix_events import is_reply, strip_reply_fallback
from handlers.contract import Quoted, RoomError

#: The level a muted member gets: below ``events_default`` (0), so they can only read.
MUTED = -1
POWER_LEVELS = "m.room.power_levels"
#: The level a muted member had before (state key: ``user:`` and the member's id, since a
#: key that is a user id may be set only by that user; content ``{"level": n}``, or no
#: level when they had the room's default).
LEVEL_BEFORE_MUTE = "org.samenspel.level_before_mute"
#: Edits of a reported message read, newest first: the latest of its author's is shown.
EDITS_READ = 50


def message_link(room_id: str, event_id: str) -> str:
    """A matrix.to link that opens the event in any client."""
    return f"https://matrix.to/#/{quote(room_id, safe='!:')}/{quote(event_id, safe='$:')}"


def replied_to(content: dict[str, Any]) -> str | None:
    """The event id a message replies to, if it is a reply."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    reply = relates.get("m.in_reply_to")
    event_id = reply.get("event_id") if isinstance(reply, dict) else None
    return event_id if isinstance(event_id, str) else None


async def quoted(client: AsyncClient, room_id: str, event_id: str) -> Quoted:
    """The event a reply or reaction points at, as handlers read it (fetched from the
    homeserver, decrypted where the room is encrypted; one that cannot be read still names
    its id, without author or text).

    Its text is what the room shows now: the latest edit's, if its author edited it (the
    event itself keeps the words as first written, and those are kept as ``original``).
    """
    link = message_link(room_id, event_id)
    event = await _fetch(client, room_id, event_id)
    if event is None:
        return Quoted(message_id=event_id, link=link)
    first = _body(event)
    now = await _latest_edit(client, room_id, event_id, event.sender)
    return Quoted(
        message_id=event_id,
        sender_id=event.sender,
        text=first if now is None else now,
        original=first if now is not None and now != first else None,
        from_bot=event.sender == client.user_id,
        link=link,
    )


async def _fetch(client: AsyncClient, room_id: str, event_id: str) -> Event | None:
    """One event of the room, decrypted if it was encrypted (None: it cannot be read)."""
    try:
        answer = await client.room_get_event(room_id, event_id)
    except (ClientError, TimeoutError, OSError):
        return None
    if isinstance(answer, RoomGetEventError):
        return None
    return _readable(client, room_id, answer.event)


def _readable(client: AsyncClient, room_id: str, event: Event) -> Event | None:
    """The event as its sender wrote it: an encrypted one decrypted with the room key the
    bot received with it (None when that key never came)."""
    if not isinstance(event, MegolmEvent):
        return event
    event.room_id = room_id
    try:
        decrypted = client.decrypt_event(event)
    except EncryptionError:
        return None
    return decrypted if isinstance(decrypted, Event) else None


def _content(event: Event) -> dict[str, Any]:
    source = event.source if isinstance(event.source, dict) else {}
    content = source.get("content")
    return content if isinstance(content, dict) else {}


def _body(event: Event) -> str | None:
    """What its author wrote: a reply without the quote of the message it answers (someone
    else's words, as their app put them above the reply)."""
    content = _content(event)
    body = content.get("body")
    if not isinstance(body, str):
        return None
    return strip_reply_fallback(body) if is_reply(content) else body


async def _latest_edit(
    client: AsyncClient, room_id: str, event_id: str, author: str
) -> str | None:
    """The text of the latest edit of a message by its author (None: never edited, or the
    edits cannot be read).

    The homeserver lists the edits (``m.replace`` relations), newest first; only its
    author's count (anyone can send an edit event, but clients show only the author's),
    and the new text is in the edit's ``m.new_content``.
    """
    path = (
        f"/_matrix/client/v1/rooms/{quote(room_id, safe='')}"
        f"/relations/{quote(event_id, safe='')}/m.replace?dir=b&limit={EDITS_READ}"
    )
    try:
        answer = await client.send(
            "GET", path, headers={"Authorization": f"Bearer {client.access_token}"}
        )
        listed = await answer.json() if answer.status == 200 else None
    except (ClientError, TimeoutError, OSError, ValueError):
        return None
    chunk = listed.get("chunk") if isinstance(listed, dict) else None
    edits: list[tuple[int, str, str]] = []
    for raw in chunk if isinstance(chunk, list) else []:
        if not isinstance(raw, dict) or raw.get("sender") != author:
            continue
        event = _readable(client, room_id, Event.parse_event(raw))
        new = _content(event).get("m.new_content") if event is not None else None
        body = new.get("body") if isinstance(new, dict) else None
        if event is not None and isinstance(body, str):
            edits.append((event.server_timestamp, event.event_id, body))
    # The latest by the time it was sent (ties broken by id), as clients choose it.
    return max(edits)[2] if edits else None


def _refused(answer: Any) -> RoomError:
    """A homeserver's refusal: lasting when it is about rights or things gone."""
    status = str(getattr(answer, "status_code", "") or "")
    lasting = status in ("M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN", "M_BAD_JSON")
    return RoomError(str(getattr(answer, "message", answer)), lasting=lasting)


async def invite(client: AsyncClient, room: str, person: str) -> None:
    """Invite someone to a room. Someone in it already (a ban from the bot that ended
    before its removal was carried out) is where the invite would bring them: the
    homeserver's refusal of that is no failure."""
    answer = await client.room_invite(room, person)
    if isinstance(answer, RoomInviteError):
        if await membership(client, room, person) in _INSIDE:
            return
        raise _refused(answer)


async def hide(client: AsyncClient, room: str, event_id: str) -> None:
    answer = await client.room_redact(room, event_id)
    if isinstance(answer, RoomRedactError):
        raise _refused(answer)


async def power_levels(client: AsyncClient, room: str) -> dict[str, Any]:
    answer = await client.room_get_state_event(room, POWER_LEVELS)
    if isinstance(answer, RoomGetStateEventError):
        raise _refused(answer)
    return dict(answer.content)


async def mute(client: AsyncClient, room: str, person: str, until: datetime | None) -> None:
    """Level -1 while muted; the level they had before again when it ends (None), unless
    the person is banned from the room (by the bot or by hand): a banned person gets no
    rights back."""
    if until is None and await membership(client, room, person) == "ban":
        return
    levels = await power_levels(client, room)
    users = dict(levels.get("users") or {})
    if until is not None:
        if users.get(person) == MUTED:
            return  # muted already (a longer mute): the level before is kept as it was
        before = users.get(person)
        await _put(
            client,
            room,
            LEVEL_BEFORE_MUTE,
            {} if before is None else {"level": before},
            _before_key(person),
        )
        users[person] = MUTED
    elif users.get(person) == MUTED:
        before = await _level_before_mute(client, room, person)
        if before is None:
            del users[person]
        else:
            users[person] = before
    else:
        return  # not muted (any more, or changed by hand): nothing to give back
    await _put(client, room, POWER_LEVELS, {**levels, "users": users})
    if until is None:
        await _put(client, room, LEVEL_BEFORE_MUTE, {}, _before_key(person))


def _before_key(person: str) -> str:
    return f"user:{person}"


async def _level_before_mute(client: AsyncClient, room: str, person: str) -> int | None:
    """The level a muted member had before, as the mute kept it (None: the default)."""
    state = await client.room_get_state_event(room, LEVEL_BEFORE_MUTE, _before_key(person))
    if isinstance(state, RoomGetStateEventError):
        if state.status_code == "M_NOT_FOUND":
            return None
        raise _refused(state)
    level = state.content.get("level")
    return level if isinstance(level, int) and not isinstance(level, bool) else None


async def _put(
    client: AsyncClient, room: str, kind: str, content: dict[str, Any], state_key: str = ""
) -> None:
    answer = await client.room_put_state(room, kind, content, state_key)
    if isinstance(answer, RoomPutStateError):
        raise _refused(answer)


async def ban(client: AsyncClient, room: str, person: str) -> None:
    answer = await client.room_ban(room, person)
    if isinstance(answer, RoomBanError):
        raise _refused(answer)


async def membership(client: AsyncClient, room: str, person: str) -> str | None:
    """The person's membership of the room as its state says (``join``, ``ban``, ...);
    None when they were never in it."""
    state = await client.room_get_state_event(room, "m.room.member", person)
    if isinstance(state, RoomGetStateEventError):
        if state.status_code == "M_NOT_FOUND":
            return None
        raise _refused(state)
    found = state.content.get("membership")
    return found if isinstance(found, str) else None


async def unban(client: AsyncClient, room: str, person: str) -> None:
    """Unbanning someone who is not banned is refused by the homeserver: first the member
    state is read, so a lift whose ban never reached the room changes nothing."""
    if await membership(client, room, person) != "ban":
        return
    answer = await client.room_unban(room, person)
    # nio's annotation names the ban's answer types; it returns RoomUnbanError.
    if isinstance(answer, ErrorResponse):
        raise _refused(answer)


#: Who is in a room, or on their way in, as a kick can take them out.
_INSIDE = ("join", "invite", "knock")


async def remove(client: AsyncClient, room: str, person: str) -> bool:
    """Take someone out of a room with a kick (they may come back when invited again): a
    member, or someone invited who has not accepted yet (the invite is withdrawn). Whether
    they were there; someone banned or gone is left as they are."""
    if await membership(client, room, person) not in _INSIDE:
        return False
    answer = await client.room_kick(room, person)
    if isinstance(answer, RoomKickError):
        raise _refused(answer)
    return True


async def admin_problem(client: AsyncClient, room: str) -> str | None:
    """Why the bot cannot moderate this room (its power level, or not being in it)."""
    try:
        levels = await power_levels(client, room)
    except RoomError as exc:
        return f"the power levels cannot be read: {exc}"
    users = levels.get("users") or {}
    own = int(users.get(client.user_id, levels.get("users_default", 0)))
    events = levels.get("events") or {}
    needed = {
        "redact": int(levels.get("redact", 50)),
        "ban": int(levels.get("ban", 50)),
        "kick": int(levels.get("kick", 50)),
        "invite": int(levels.get("invite", 0)),
        "power levels": int(events.get(POWER_LEVELS, levels.get("state_default", 50))),
    }
    short = [f"{what} ({level})" for what, level in needed.items() if own < level]
    if short:
        return f"the bot's power level {own} is too low for: {', '.join(short)}"
    return None


async def predecessor(client: AsyncClient, room: str) -> str | None:
    """The room this one replaced (its creation names it after a room upgrade); None when
    it replaced none. A creation that cannot be read is a :class:`RoomError`."""
    state = await client.room_get_state_event(room, "m.room.create")
    if isinstance(state, RoomGetStateEventError):
        raise _refused(state)
    found = state.content.get("predecessor")
    old = found.get("room_id") if isinstance(found, dict) else None
    return old if isinstance(old, str) else None


async def carry_levels_before_mute(client: AsyncClient, old: str, new: str) -> int:
    """A room upgrade copies the power levels (a muted member stays at -1 in the new room)
    but not the level each muted member had before, kept in the old room's state: copied
    here, so that a mute's end in the new room gives it back. Returns how many."""
    state = await client.room_get_state(old)
    if isinstance(state, RoomGetStateError):
        raise _refused(state)
    carried = 0
    for event in state.events:
        content = event.get("content") if isinstance(event, dict) else None
        key = event.get("state_key") if isinstance(event, dict) else None
        if event.get("type") == LEVEL_BEFORE_MUTE and content and isinstance(key, str):
            await _put(client, new, LEVEL_BEFORE_MUTE, content, key)
            carried += 1
    return carried


async def removal(client: AsyncClient, room: str) -> str | None:
    """How the bot's membership of a room it is no longer in ended: ``leave`` or ``ban``
    when someone else removed it, None when it left by itself (or it cannot be read).
    A homeserver shows a room's state to a former member as it was when they left."""
    state = await client.room_get_state(room)
    if isinstance(state, RoomGetStateError):
        return None
    for event in state.events:
        if (
            isinstance(event, dict)
            and event.get("type") == "m.room.member"
            and event.get("state_key") == client.user_id
        ):
            content = event.get("content")
            membership = content.get("membership") if isinstance(content, dict) else None
            if membership in ("leave", "ban") and event.get("sender") != client.user_id:
                return str(membership)
    return None
