"""How the Matrix adapter reads room events, without a homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nio import AsyncClient, MatrixRoom
from nio import Event as NioEvent

from bot.app import App
from bot.platforms._matrix_events import is_private, private_when_sent, read_event
from bot.platforms._matrix_session import client_config

BOT = "@samenspel:example.org"
ANNA = "@anna:example.org"


NAMES = {"Samenspel", "samenspel"}


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    """A client that never connects: reading events needs only its user id."""
    unconnected = AsyncClient("http://127.0.0.1:9", BOT)
    try:
        yield unconnected
    finally:
        await unconnected.close()


def _room(*members: str) -> MatrixRoom:
    room = MatrixRoom("!room:example.org", BOT)
    for member in (BOT, *members):
        room.add_member(member, member[1:].split(":")[0].title(), None)
    return room


def _native(content: dict[str, Any], kind: str = "m.room.message", sender: str = ANNA) -> Any:
    return NioEvent.parse_event(
        {
            "type": kind,
            "event_id": f"$e{abs(hash(str(content)))}",
            "sender": sender,
            "origin_server_ts": 1,
            "content": content,
        }
    )


@pytest.mark.parametrize(
    ("join_rule", "room_type", "others", "private"),
    [
        ("invite", None, [ANNA], True),
        ("knock", None, [ANNA], True),
        ("invite", None, [], True),
        ("invite", None, [ANNA, "@bob:example.org"], False),
        ("public", None, [ANNA], False),
        ("restricted", None, [ANNA], False),
        ("invite", "m.space", [ANNA], False),
    ],
)
def test_only_a_closed_room_of_the_resident_and_the_bot_is_private(
    join_rule: str, room_type: str | None, others: list[str], private: bool
) -> None:
    room = _room(*others)
    room.join_rule, room.room_type = join_rule, room_type
    assert is_private(room) is private


async def test_a_text_in_a_public_room_of_two_is_read_as_in_a_group(
    client: AsyncClient,
) -> None:
    room = _room(ANNA)
    room.join_rule = "public"
    chatter = await read_event(client, NAMES, room, _native({"msgtype": "m.text", "body": "hoi"}))
    assert chatter is None
    named = _native({"msgtype": "m.text", "body": "Samenspel: /mijngegevens"})
    event = await read_event(client, NAMES, room, named)
    assert event is not None and event.is_group and event.command == "mijngegevens"


async def test_a_slash_before_a_word_that_names_no_command_is_text_a_group_leaves_alone(
    client: AsyncClient, app: App
) -> None:
    client.user_id = BOT  # as after logging in
    room = _room(ANNA, "@bert:example.org")
    commands = app.router.names_command
    for body in ("/één keer nog", "/ça va?", "/مرحبا"):
        native = _native({"msgtype": "m.text", "body": body})
        assert (
            await read_event(client, NAMES, room, native, group=True, commands=commands) is None
        ), body
    for body in ("/ideeën", "/help"):
        native = _native({"msgtype": "m.text", "body": body})
        event = await read_event(client, NAMES, room, native, group=True, commands=commands)
        assert event is not None and event.is_group and event.command == body[1:]
    # Addressed by name, it is text said to the bot (the router answers it as such).
    named = _native({"msgtype": "m.text", "body": "Samenspel: /één keer nog"})
    event = await read_event(client, NAMES, room, named, group=True, commands=commands)
    assert event is not None and event.command == "één"


async def test_a_command_for_another_bot_in_a_group_is_left_alone(
    client: AsyncClient, app: App
) -> None:
    client.user_id = BOT  # as after logging in
    room = _room(ANNA, "@bert:example.org")
    commands = app.router.names_command
    for body in ("/help@otherbot", "/menu@weerbot hoi", "!help@otherbot"):
        native = _native({"msgtype": "m.text", "body": body})
        assert (
            await read_event(client, NAMES, room, native, group=True, commands=commands) is None
        ), body
    # Named after the "@" (its id with or without the server, or its name): for the bot.
    localpart = BOT.removeprefix("@").split(":")[0]
    for body in (f"/help@{localpart}", f"/help{BOT}", "/help"):
        native = _native({"msgtype": "m.text", "body": body})
        event = await read_event(client, NAMES, room, native, group=True, commands=commands)
        assert event is not None and event.is_group and event.command == "help", body
    # In a direct chat the "@…" changes nothing: the person talks to the bot.
    direct = _native({"msgtype": "m.text", "body": "/help@otherbot"})
    event = await read_event(client, NAMES, _room(ANNA), direct)
    assert event is not None and event.command == "help"


async def test_a_text_becomes_an_event_with_its_id_and_sender(client: AsyncClient) -> None:
    native = _native({"msgtype": "m.text", "body": "hoi"})
    event = await read_event(client, NAMES, _room(ANNA), native)
    assert event is not None
    assert (event.platform, event.chat_id, event.text, event.is_group) == (
        "matrix",
        "!room:example.org",
        "hoi",
        False,
    )
    assert event.event_id == native.event_id
    assert event.sender.platform_user_id == ANNA and event.sender.display_name == "Anna"


async def test_a_hundred_kilobyte_text_reaches_the_handlers_whole(client: AsyncClient) -> None:
    body = "lang verhaal " * 8_000
    event = await read_event(
        client, NAMES, _room(ANNA), _native({"msgtype": "m.text", "body": body})
    )
    assert event is not None and event.text == body and len(body) > 100_000


async def test_commands_and_quoted_replies(client: AsyncClient) -> None:
    command = await read_event(
        client, NAMES, _room(ANNA), _native({"msgtype": "m.text", "body": "!start x"})
    )
    assert command is not None and (command.command, command.args) == ("start", "x")
    reply = _native(
        {
            "msgtype": "m.text",
            "body": "> <@samenspel:example.org> Kies\n\n2",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$earlier"}},
        }
    )
    answered = await read_event(client, NAMES, _room(ANNA), reply)
    assert answered is not None and answered.text == "2"


async def test_notices_reactions_and_custom_events_are_left_alone(client: AsyncClient) -> None:
    room = _room(ANNA)
    for native in (
        _native({"msgtype": "m.notice", "body": "ik ben een bot"}),
        _native(
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$x", "key": "👍"}},
            "m.reaction",
        ),
        _native({"redacts": "$x"}, "m.room.redaction"),
        _native({"anything": 1}, "org.example.custom"),
    ):
        assert await read_event(client, NAMES, room, native) is None, type(native).__name__


async def test_unusable_things_are_named_so_handlers_can_say_so(client: AsyncClient) -> None:
    room = _room(ANNA)
    sticker = _native({"body": "s", "url": "mxc://x/y", "info": {}}, "m.sticker")
    poll = _native({"msgtype": "org.example.poll", "body": "ja of nee?"})
    voice = _native({"msgtype": "m.audio", "body": "spraak", "url": "mxc://x/z"})
    kinds = [
        (await read_event(client, NAMES, room, native)).unsupported
        for native in (sticker, poll, voice)
    ]
    assert kinds == ["sticker", "other", "audio"]


async def test_a_shared_location_becomes_a_location(client: AsyncClient) -> None:
    native = _native({"msgtype": "m.location", "body": "hier", "geo_uri": "geo:52.46,4.62"})
    event = await read_event(client, NAMES, _room(ANNA), native)
    assert event is not None and event.location is not None
    assert (event.location.latitude, event.location.longitude) == (52.46, 4.62)


async def test_in_a_group_only_addressed_text_counts(client: AsyncClient) -> None:
    group = _room(ANNA, "@bob:example.org")
    chatter = await read_event(
        client, NAMES, group, _native({"msgtype": "m.text", "body": "hoi allen"})
    )
    named = await read_event(
        client, NAMES, group, _native({"msgtype": "m.text", "body": "Samenspel: 1"})
    )
    photo = _native({"msgtype": "m.image", "body": "x.jpg", "url": "mxc://x/y"})
    assert chatter is None
    assert named is not None and named.text == "1" and named.is_group
    assert await read_event(client, NAMES, group, photo) is None


async def test_a_picture_that_cannot_be_fetched_is_still_answered() -> None:
    offline = AsyncClient("http://127.0.0.1:9", BOT, config=client_config("test passphrase"))
    try:
        photo = _native({"msgtype": "m.image", "body": "x.jpg", "url": "mxc://x/y"})
        event = await read_event(offline, NAMES, _room(ANNA), photo)
    finally:
        await offline.close()
    assert event is not None and event.unsupported == "photo"


def _membership(who: str, membership: str, before: str | None, sender: str = ANNA) -> Any:
    unsigned = {"prev_content": {"membership": before}} if before else {}
    return NioEvent.parse_event(
        {
            "type": "m.room.member",
            "event_id": f"$m-{who}-{membership}",
            "sender": sender,
            "state_key": who,
            "origin_server_ts": 1,
            "content": {"membership": membership},
            "unsigned": unsigned,
        }
    )


def test_a_message_sent_before_someone_joined_in_the_same_sync_was_sent_privately() -> None:
    # One sync brings Anna's message to the bot alone, then Bob invited and joining.
    bob = "@bob:example.org"
    room = _room(ANNA, bob)
    room.join_rule = "invite"
    before = _native({"msgtype": "m.text", "body": "mijn adres is Dorpsstraat 1"})
    after = _native({"msgtype": "m.text", "body": "hoi Bob"})
    history = _native({"msgtype": "m.text", "body": "van voor de bot"})
    timeline = [
        history,
        _membership(BOT, "join", "invite", sender=BOT),
        before,
        _membership(bob, "invite", None),
        _membership(bob, "join", "invite", sender=bob),
        after,
    ]
    private = private_when_sent(room, timeline)
    assert private[before.event_id] is True
    assert private[after.event_id] is False
    assert not is_private(room)
    # What was said before the bot joined is history: taken as the room is now.
    assert history.event_id not in private


def test_a_message_sent_while_others_were_there_stays_group_talk_once_they_left() -> None:
    bob = "@bob:example.org"
    room = _room(ANNA)
    room.join_rule = "invite"
    during = _native({"msgtype": "m.text", "body": "Samenspel: hoi"})
    alone = _native({"msgtype": "m.text", "body": "nu alleen"})
    timeline = [during, _membership(bob, "leave", "join", sender=bob), alone]
    private = private_when_sent(room, timeline)
    assert (private[during.event_id], private[alone.event_id]) == (False, True)
    # A public room stays a group, whoever is in it.
    room.join_rule = "public"
    assert not any(private_when_sent(room, timeline).values())
