"""Which Matrix invites the bot accepts, end to end against a real Synapse.

The bot joins a direct chat a person invites it to, and any room staff invite it to (a
room to link to an experiment). A group or public room from anyone else is declined
without a word there; a room that claims to be a direct chat but has others in it is left
as soon as the bot sees so, again without a word.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from nio import RoomCreateError, RoomPreset

from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from storage.users import Role
from tests.e2e.matrix_support import (
    WAIT_SECONDS,
    MatrixBot,
    MatrixResident,
    Residents,
    containing,
    make_staff,
)
from tests.e2e.synapse import SynapseServer
from tests.waiting import until

pytestmark = pytest.mark.e2e


def _membership(server: SynapseServer, reader: MatrixResident, room_id: str, who: str) -> str:
    path = (
        f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}"
        f"/state/m.room.member/{quote(who, safe='')}"
    )
    answer = server.request_json("GET", path, access_token=reader.client.access_token)
    return str(answer.get("membership", ""))


def _bot_joined(server: SynapseServer, reader: MatrixResident, room_id: str, bot_id: str) -> bool:
    """Whether the bot ever joined the room (by its membership events)."""
    path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?dir=f&limit=100"
    answer = server.request_json("GET", path, access_token=reader.client.access_token)
    return any(
        e["type"] == "m.room.member"
        and e.get("state_key") == bot_id
        and e["content"].get("membership") == "join"
        for e in answer["chunk"]
    )


def _bot_said(
    server: SynapseServer, reader: MatrixResident, room_id: str, bot_id: str
) -> list[Any]:
    path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?dir=f&limit=100"
    answer = server.request_json("GET", path, access_token=reader.client.access_token)
    return [e for e in answer["chunk"] if e["sender"] == bot_id and e["type"] != "m.room.member"]


async def _group(
    owner: MatrixResident, bot: MatrixBot, others: list[MatrixResident], **options: Any
) -> str:
    """A room ``owner`` makes with ``others`` (who join) and the bot invited."""
    created = await owner.client.room_create(
        invite=[bot.user_id, *(o.user_id for o in others)], **options
    )
    assert not isinstance(created, RoomCreateError), created
    room_id = str(created.room_id)
    for other in others:
        await other.join(room_id)
    return room_id


async def test_a_stranger_inviting_the_bot_to_a_group_is_declined_and_nothing_is_posted(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    carol, dave = await residents("carol"), await residents("dave")
    group = await _group(carol, matrix_bot, [dave], name="Buurtapp")

    def declined() -> bool:
        return _membership(synapse, carol, group, matrix_bot.user_id) == "leave"

    await until(declined, WAIT_SECONDS, what="the bot declines the invite")
    # A public room of a stranger's own is declined too.
    public = await _group(carol, matrix_bot, [], preset=RoomPreset.public_chat)
    await until(
        lambda: _membership(synapse, carol, public, matrix_bot.user_id) == "leave",
        WAIT_SECONDS,
        what="the bot declines the public room",
    )
    assert _bot_said(synapse, carol, group, matrix_bot.user_id) == []
    assert _bot_said(synapse, carol, public, matrix_bot.user_id) == []
    assert not _bot_joined(synapse, carol, group, matrix_bot.user_id)
    assert not _bot_joined(synapse, carol, public, matrix_bot.user_id)
    assert await matrix_bot.running.repos.users.find("matrix", carol.user_id) is None


async def test_a_group_that_claims_to_be_a_direct_chat_is_left_without_a_word(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    carol, dave, eve = await residents("carol"), await residents("dave"), await residents("eve")
    group = await _group(carol, matrix_bot, [dave, eve], is_direct=True)

    def left() -> bool:
        return _membership(synapse, carol, group, matrix_bot.user_id) == "leave"

    await until(left, WAIT_SECONDS, what="the bot leaves the group")
    assert _bot_joined(synapse, carol, group, matrix_bot.user_id)  # as a direct chat, at first
    assert _bot_said(synapse, carol, group, matrix_bot.user_id) == []
    user = await matrix_bot.running.repos.users.find("matrix", carol.user_id)
    assert user is None or user.chat_id != group


async def test_a_residents_direct_chat_is_joined_and_she_is_greeted(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom bij"))


async def test_a_banned_resident_still_gets_her_direct_chat_and_hears_why(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    # As on Telegram, where a banned person still reaches the bot and hears why (and
    # may still ask for or erase her data).
    anna = await residents("anna")
    await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom bij"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    app = matrix_bot.running
    user = await app.repos.users.find("matrix", anna.user_id)
    assert user is not None
    async with app.db.transaction():
        await app.repos.sanctions.add(
            user.id, SanctionKind.BAN, reason="Schelden", by_user_id=None, now=utcnow()
        )
    anna.last_sent = None
    anna.order.clear()
    await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("geblokkeerd"))


async def test_staff_may_bring_the_bot_into_a_group_and_a_banned_one_may_not(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    wim, ria, bob = await residents("wim"), await residents("ria"), await residents("bob")
    await make_staff(matrix_bot, wim, Role.CIVIL_SERVANT)
    await make_staff(matrix_bot, ria, Role.CONNECTOR)
    room = await _group(wim, matrix_bot, [bob], name="Speeltuin Zeewijk")
    await until(
        lambda: _membership(synapse, wim, room, matrix_bot.user_id) == "join",
        WAIT_SECONDS,
        what="the bot joins the staff member's room",
    )

    app = matrix_bot.running
    user = await app.repos.users.find("matrix", ria.user_id)
    assert user is not None
    async with app.db.transaction():
        await app.repos.sanctions.add(
            user.id, SanctionKind.BAN, reason="Misbruik", by_user_id=None, now=utcnow()
        )
    other = await _group(ria, matrix_bot, [bob], name="Achterkamer")
    await until(
        lambda: _membership(synapse, ria, other, matrix_bot.user_id) == "leave",
        WAIT_SECONDS,
        what="the bot declines a banned staff member's room",
    )
    assert _bot_said(synapse, wim, room, matrix_bot.user_id) == []
    assert _bot_said(synapse, ria, other, matrix_bot.user_id) == []


async def test_a_resident_who_sent_the_bot_away_before_agreeing_may_invite_it_back(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    # Not yet her chat (she never agreed to take part), and a room's own invite (Element's
    # "invite to this room") is not marked direct: the bot still comes back, and greets her.
    anna = await residents("anna")
    room = await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom bij"))
    await anna.client.room_kick(room, matrix_bot.user_id)
    await until(
        lambda: _membership(synapse, anna, room, matrix_bot.user_id) == "leave",
        WAIT_SECONDS,
        what="the bot is sent away",
    )
    anna.last_sent = None
    anna.order.clear()
    await anna.client.room_invite(room, matrix_bot.user_id)
    await until(
        lambda: _membership(synapse, anna, room, matrix_bot.user_id) == "join",
        WAIT_SECONDS,
        what="the bot comes back",
    )
    await anna.wait_for_reply(containing("Welkom bij"))


async def test_a_stranger_inviting_again_and_again_is_declined_each_time_and_not_kept(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    carol, dave = await residents("carol"), await residents("dave")
    group = await _group(carol, matrix_bot, [dave], name="Buurtapp")
    for attempt in range(4):
        await until(
            lambda: _membership(synapse, carol, group, matrix_bot.user_id) == "leave",
            WAIT_SECONDS,
            what=f"the bot declines invite {attempt + 1}",
        )
        if attempt < 3:
            await carol.client.room_invite(group, matrix_bot.user_id)
    assert not _bot_joined(synapse, carol, group, matrix_bot.user_id)
    assert _bot_said(synapse, carol, group, matrix_bot.user_id) == []
    adapter = matrix_bot.adapter
    assert adapter is not None
    # Synapse records the leave before the bot reads the answer to it: wait for the bot.
    await until(
        lambda: group not in adapter._client.invited_rooms,
        WAIT_SECONDS,
        what="the bot lets go of the declined invite",
    )
    assert group not in adapter._client.rooms


async def test_whoever_stays_in_a_chat_its_resident_left_may_not_invite_the_bot_back(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    # The chat was Anna's: left by her, the bot leaves too, and Dave, who stayed, is no
    # one who sent it out of a direct chat of his own.
    anna, dave = await residents("anna"), await residents("dave")
    room = await anna.open_chat(matrix_bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom bij"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    await anna.client.room_invite(room, dave.user_id)
    await dave.join(room)
    await anna.client.room_leave(room)
    await until(
        lambda: _membership(synapse, dave, room, matrix_bot.user_id) == "leave",
        WAIT_SECONDS,
        what="the bot leaves the chat its resident left",
    )
    await dave.client.room_invite(room, matrix_bot.user_id)
    await until(
        lambda: _membership(synapse, dave, room, matrix_bot.user_id) == "leave",
        WAIT_SECONDS,
        what="the bot declines Dave's invite",
    )
    assert await matrix_bot.running.repos.users.find("matrix", dave.user_id) is None
