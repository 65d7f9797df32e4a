"""Which Matrix room is a person's private chat, end to end against a real Synapse.

A room is private only when nobody enters it without being let in nor reads it from
outside, it is no space, and at most the resident and the bot are in it. A public room or a
space with only its maker in it is a group all the same: the bot says a short word there,
invites the person to a direct chat, and never makes it their chat (where their data export
would be posted). The bot joins such a room only when staff invite it (anyone else's is
declined: see test_matrix_invites), so its maker here is a civil servant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import JoinError, RoomCreateError, RoomInviteError, RoomKickError, RoomPreset

from storage.clock import iso, utcnow
from tests.e2e.matrix_support import (
    WAIT_SECONDS,
    MatrixBot,
    MatrixResident,
    Residents,
    bot_settings,
    containing,
    make_staff,
)
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.waiting import until

pytestmark = pytest.mark.e2e

PRIVATELY = "privégesprek"


async def _onboard(anna: MatrixResident, bot: MatrixBot) -> str:
    """Anna's direct chat with the bot, where she is onboarded; returns its room id."""
    await anna.open_chat(bot.user_id, encrypted=False)
    await anna.wait_for_reply(containing("Welkom bij"))
    for answer, question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await anna.send(answer)
        await anna.wait_for_reply(containing(question))
    return anna.room_id


async def _room_with_the_bot(anna: MatrixResident, bot: MatrixBot, **options: Any) -> str:
    """A room Anna makes (``options`` for room_create) with only the bot invited; from
    now on her messages go there and the bot's there count as replies."""
    created = await anna.client.room_create(invite=[bot.user_id], **options)
    assert not isinstance(created, RoomCreateError), created
    anna.room_id, anna.bot_id = str(created.room_id), bot.user_id
    anna.order.clear()
    anna.last_sent = None
    await anna.wait_for_member(bot.user_id)
    return anna.room_id


def _bot_said(
    server: SynapseServer, reader: MatrixResident, room_id: str, bot_id: str
) -> list[Any]:
    """The content of every message the bot posted in a room, as anyone in it reads back."""
    path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?dir=f&limit=100"
    answer = server.request_json("GET", path, access_token=reader.client.access_token)
    return [
        event["content"]
        for event in answer["chunk"]
        if event["sender"] == bot_id and event["type"] == "m.room.message"
    ]


async def _chat_of(bot: MatrixBot, resident: MatrixResident) -> str | None:
    user = await bot.running.repos.users.find("matrix", resident.user_id)
    return None if user is None else user.chat_id


async def test_a_public_room_with_only_the_resident_in_it_gets_no_personal_data(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    anna, carol = await residents("anna"), await residents("carol")
    direct = await _onboard(anna, matrix_bot)
    await make_staff(matrix_bot, anna)  # the bot joins no one else's public room

    public = await _room_with_the_bot(
        anna, matrix_bot, preset=RoomPreset.public_chat, name="Velsen praat"
    )
    greeting = await anna.wait_for_reply()
    assert PRIVATELY in greeting.body and "Wat wil je doen" not in greeting.body
    asked = await anna.send("/mijngegevens")
    answer = await anna.wait_for_reply(after=asked)
    assert PRIVATELY in answer.body and answer.answers == asked
    assert await _chat_of(matrix_bot, anna) == direct

    # Anyone may join a public room and read back what the bot said there: no export.
    joined = await carol.client.join(public)
    assert not isinstance(joined, JoinError), joined
    said = _bot_said(synapse, carol, public, matrix_bot.user_id)
    assert [c.get("msgtype") for c in said] == ["m.notice", "m.notice"]
    assert all(PRIVATELY in c["body"] for c in said)


async def test_a_space_with_only_the_resident_in_it_does_not_become_her_chat(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    direct = await _onboard(anna, matrix_bot)
    await make_staff(matrix_bot, anna)  # the bot joins no one else's space

    await _room_with_the_bot(anna, matrix_bot, space=True, name="Velsen buurten")
    greeting = await anna.wait_for_reply()
    assert PRIVATELY in greeting.body
    assert await _chat_of(matrix_bot, anna) == direct


async def test_a_room_anyone_may_read_without_joining_is_no_private_chat(
    matrix_bot: MatrixBot, residents: Residents, synapse: SynapseServer
) -> None:
    # Invite only, but its history readable by anyone who knows the room (a setting in
    # Element's room settings): what the bot says there is not private.
    anna, carol = await residents("anna"), await residents("carol")
    await make_staff(matrix_bot, anna)  # the bot joins no one else's room but a direct chat
    readable = {
        "type": "m.room.history_visibility",
        "state_key": "",
        "content": {"history_visibility": "world_readable"},
    }
    room = await _room_with_the_bot(anna, matrix_bot, initial_state=[readable])
    greeting = await anna.wait_for_reply()
    assert PRIVATELY in greeting.body and "Welkom bij" not in greeting.body
    asked = await anna.send("/start")
    answer = await anna.wait_for_reply(after=asked)
    assert PRIVATELY in answer.body and "Ja, ik doe mee" not in answer.body
    assert await _chat_of(matrix_bot, anna) is None

    # Carol, who was never in the room, reads it all back: only the short words.
    said = _bot_said(synapse, carol, room, matrix_bot.user_id)
    assert len(said) == 2 and all(PRIVATELY in c["body"] for c in said)


async def test_someone_new_in_a_public_room_is_invited_to_a_direct_chat_and_onboarded_there(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    carol = await residents("carol")
    # A civil servant who never wrote to the bot (it joins no one else's public room).
    await make_staff(matrix_bot, carol)
    public = await _room_with_the_bot(carol, matrix_bot, preset=RoomPreset.public_chat)
    greeting = await carol.wait_for_reply()
    assert "uitnodigingen" in greeting.body and "Welkom bij" not in greeting.body

    def invited() -> str | None:
        return next(
            (
                room_id
                for room_id, room in carol.client.invited_rooms.items()
                if room.inviter == matrix_bot.user_id
            ),
            None,
        )

    await carol.sync_until(lambda: invited() is not None, "an invite to a direct chat")
    direct = invited()
    assert direct is not None and direct != public
    await carol.join(direct)
    await carol.send("hallo")
    await carol.wait_for_reply(containing("Welkom bij"))
    await carol.send("1")
    await carol.wait_for_reply(containing("In welke taal"))
    assert await _chat_of(matrix_bot, carol) == direct


async def test_a_chat_its_resident_left_while_the_bot_was_down_never_shows_her_news_to_who_stayed(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    # Bob's chat with the bot; his wife Anna, a resident with a chat of her own, looks
    # along, so an answer for him waits. While the bot is down Bob leaves and Anna writes
    # there, to the bot alone: one sync brings both.
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot = MatrixBot(settings)
    anna, bob = await residents("anna"), await residents("bob")
    async with running_bot(settings) as app:
        await _onboard(anna, bot)
        bobs = await _onboard(bob, bot)
        invited = await bob.client.room_invite(bobs, anna.user_id)
        assert not isinstance(invited, RoomInviteError), invited
        await anna.join(bobs)
        asked = await anna.send("Samenspel: hoi")
        await anna.wait_for_reply(containing(PRIVATELY), after=asked)
        user = await app.repos.users.find("matrix", bob.user_id)
        assert user is not None
        async with app.db.transaction():
            await app.repos.outbox.enqueue(
                user.id,
                [{"key": "raw", "params": {"text": "Bob, je vraag over de Speeltuin"}}],
                kind="answer",
                now=utcnow(),
            )

        async def held() -> bool:
            later = await app.db.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND not_before > ?",
                (iso(utcnow()),),
            )
            return bool(later)

        await until(held, WAIT_SECONDS, what="Bob's answer held back")
    await bob.client.room_leave(bobs)
    await anna.send("De lantaarnpaal bij de school is al weken kapot")
    async with running_bot(settings) as app:
        await anna.wait_for_reply(containing("Je schreef"))

        async def settled() -> bool:
            rows = await app.repos.outbox.for_user(user.id)
            return all(row.status != "pending" for row in rows)

        await until(settled, WAIT_SECONDS, what="Bob's answer settled")
        await anna.sync()
        assert [m.body for m in anna.replies(None) if "Speeltuin" in m.body] == []
        rows = await app.repos.outbox.for_user(user.id)
        assert [row.status for row in rows] == ["unreachable"]
        # Anna is answered where she wrote: the room is hers and the bot's now.
        mine = await app.repos.users.find("matrix", anna.user_id)
        assert mine is not None and mine.chat_id == bobs and mine.unreachable_at is None


async def test_someone_who_sent_the_bot_out_of_her_chat_is_invited_to_a_new_one_from_a_group(
    matrix_bot: MatrixBot, residents: Residents
) -> None:
    anna = await residents("anna")
    first = await _onboard(anna, matrix_bot)
    kicked = await anna.client.room_kick(first, matrix_bot.user_id)
    assert not isinstance(kicked, RoomKickError), kicked

    async def seen() -> bool:
        user = await matrix_bot.running.repos.users.find("matrix", anna.user_id)
        return user is not None and user.unreachable_at is not None

    await until(seen, WAIT_SECONDS, what="the bot seeing it was sent away")
    # Later she addresses the bot in a public room: her old chat is no chat with the bot
    # any more, so she is invited to a new one.
    await make_staff(matrix_bot, anna)  # the bot joins no one else's public room
    await _room_with_the_bot(anna, matrix_bot, preset=RoomPreset.public_chat)
    await anna.wait_for_reply()
    asked = await anna.send("Samenspel: hallo")
    await anna.wait_for_reply(containing(PRIVATELY), after=asked)

    def invited() -> str | None:
        return next(
            (
                room_id
                for room_id, room in anna.client.invited_rooms.items()
                if room.inviter == matrix_bot.user_id
            ),
            None,
        )

    await anna.sync_until(lambda: invited() is not None, "an invite to a direct chat")
    assert invited() != first
