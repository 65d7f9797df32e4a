"""An experiment's Matrix room that is lost or replaced, through the real adapter against
Synapse.

Kicked out of the room by one of its moderators, the bot notes the room as gone and tells
the civil servant who linked it, in private; /koppel in another room moves the experiment's
room there, with its bans, and the participants are invited. A room upgrade (Synapse's
``/upgrade``) leaves a tombstone naming the new room: the bot follows it there, by itself
where it may join, or once it is invited after the civil servant heard it could not.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from nio import ErrorResponse, RoomPutStateError

from bot.app import App
from tests.e2e.matrix_support import (
    WAIT_SECONDS,
    MatrixResident,
    Residents,
    bot_settings,
    containing,
)
from tests.e2e.rooms_support import mutes_end_now
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.e2e.test_matrix_rooms import (
    Room,
    _ban_for_threat,
    _group,
    _link,
    _mute_for_a_week,
    _people,
    _report_by_reply,
    _take_part,
    accept_invite,
    send_in,
)
from tests.waiting import until

pytestmark = pytest.mark.e2e

#: The bot's power level: enough to invite, redact and ban, below the room's creator (who
#: may then remove it) and a moderator at 75.
BOT_LEVEL = 50


async def _levels(room: Room, wim: MatrixResident, **users: int) -> None:
    """Wim sets power levels of members of his room (by user id)."""
    levels = room.get("/state/m.room.power_levels")
    levels["users"].update(users)
    raised = await wim.client.room_put_state(room.room_id, "m.room.power_levels", levels)
    assert not isinstance(raised, RoomPutStateError), raised


async def _linked(
    synapse: SynapseServer,
    wim: MatrixResident,
    bot_id: str,
    members: list[MatrixResident],
    level: int = BOT_LEVEL,
) -> Room:
    room = await _group(synapse, wim, bot_id, members)
    await _levels(room, wim, **{bot_id: level})
    await _link(room, wim, bot_id)
    return room


async def _bob_banned(
    room: Room, anna: MatrixResident, bob: MatrixResident, ria: MatrixResident
) -> None:
    threat = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Ik kom je halen"})
    await _report_by_reply(anna, room, threat)
    await anna.wait_for_reply(containing("Je melding is binnen"))
    await _ban_for_threat(room, ria, bob)


async def _room_at(app: App, chat_id: str) -> None:
    """The experiment's one room is at ``chat_id`` now, in use."""

    async def there() -> bool:
        rooms = await app.repos.rooms.all()
        return [(r.chat_id, r.gone) for r in rooms] == [(chat_id, False)]

    await until(there, WAIT_SECONDS, what="the experiment's room moved")


def _upgrade(synapse: SynapseServer, room: Room) -> str:
    """Wim upgrades his room through Synapse's API; returns the new room's id."""
    version = room.get("/state/m.room.create").get("room_version", "10")
    answer = synapse.request_json(
        "POST",
        f"/_matrix/client/v3/rooms/{quote(room.room_id, safe='')}/upgrade",
        {"new_version": version},
        access_token=room.owner.client.access_token,
    )
    return str(answer["replacement_room"])


async def test_a_bot_kicked_by_a_moderator_tells_the_linker_and_koppel_elsewhere_moves_the_room(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked(synapse, wim, bot_id, [kim])
        for person in (anna, bob):
            await _take_part(person, room)
        await _bob_banned(room, anna, bob, ria)

        # Kim, a moderator of the room, removes the bot.
        await _levels(room, wim, **{kim.user_id: 75})
        kicked = await kim.client.room_kick(room.room_id, bot_id, "Opruimen")
        assert not isinstance(kicked, ErrorResponse), kicked
        told = await wim.wait_for_reply(containing("De bot is uit de groep"))
        assert "Speeltuin" in told.body and "/koppel 1" in told.body
        [gone] = await app.repos.rooms.all()
        assert (gone.chat_id, gone.gone) == (room.room_id, True)
        # Nobody else heard of it, and nothing about it was said in the room.
        for person in (anna, bob, ria):
            assert not [m for m in person.replies() if "De bot is uit" in m.body]
        assert all("De bot is uit" not in body for body in room.bot_messages(bot_id))

        # Wim links a new room: the experiment's room moves there, Anna is invited again,
        # and Bob's ban holds there too.
        new = await _linked(synapse, wim, bot_id, [kim])
        await _room_at(app, new.room_id)
        await accept_invite(anna, new.room_id)
        await until(lambda: new.member(bob.user_id) == "ban", WAIT_SECONDS, what="Bob banned")
        await new.wait_for_bot(bot_id, "Welkom in de groep")
        assert [r.room.chat_id for r in await app.repos.rooms.in_force(app.router.clock())] == [
            new.room_id
        ]


async def test_an_upgraded_room_the_bot_may_join_moves_with_its_bans_mutes_and_participants(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        # The bot may change power levels (to mute); Kim helps out at level 25.
        room = await _linked(synapse, wim, bot_id, [kim], level=100)
        await _levels(room, wim, **{kim.user_id: 25})
        for person in (anna, bob):
            await _take_part(person, room)
        await _bob_banned(room, anna, bob, ria)
        rude = await send_in(kim, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        await _report_by_reply(anna, room, rude)
        await _mute_for_a_week(room, ria, kim)
        # Anyone may join Wim's room (and so its replacement).
        public = await wim.client.room_put_state(
            room.room_id, "m.room.join_rules", {"join_rule": "public"}
        )
        assert not isinstance(public, RoomPutStateError), public

        new_id = _upgrade(synapse, room)
        new = Room(synapse, wim, new_id)
        await _room_at(app, new_id)
        await until(lambda: new.member(bot_id) == "join", WAIT_SECONDS, what="the bot joins")
        await until(lambda: room.member(bot_id) == "leave", WAIT_SECONDS, what="old room left")
        await accept_invite(anna, new_id)
        await new.wait_for_bot(bot_id, "Welkom in de groep")
        assert new.member(bob.user_id) == "ban"
        # Kim is still muted there, and at its end gets her own level back.
        assert new.power_level(kim.user_id) == -1
        await mutes_end_now(app, WAIT_SECONDS)
        assert new.power_level(kim.user_id) == 25
        # Nothing went wrong, so Wim was not bothered.
        assert not [m for m in wim.replies() if "vervangen" in m.body or "gehaald" in m.body]

    # Started again (the tombstone is in the old room's state): nothing changes.
    async with running_bot(settings) as app:
        await wim.send("/help")
        await wim.wait_for_reply(containing("Met Samenspel praat je mee"))
        await _room_at(app, new_id)
        assert (
            await app.db.fetchval("SELECT COUNT(*) FROM audit_log WHERE action = 'room.upgrade'")
            == 1
        )


async def test_an_upgraded_room_the_bot_may_not_join_is_followed_once_it_is_invited(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, _, _ = await _people(app, residents, bot_id)
        room = await _linked(synapse, wim, bot_id, [kim])
        await _take_part(anna, room)

        new_id = _upgrade(synapse, room)
        new = Room(synapse, wim, new_id)
        told = await wim.wait_for_reply(containing("vervangen door een nieuwe ruimte"))
        assert "Speeltuin" in told.body
        [still] = await app.repos.rooms.all()
        assert (still.chat_id, still.gone) == (room.room_id, False)

    # Started again before Wim acted: he is not told a second time.
    async with running_bot(settings) as app:
        await wim.send("/help")
        await wim.wait_for_reply(containing("Met Samenspel praat je mee"))
        await wim.send("/help")
        await wim.wait_for_reply(containing("Met Samenspel praat je mee"))
        assert sum("vervangen" in m.body for m in wim.replies()) == 1

        invited = await wim.client.room_invite(new_id, bot_id)
        assert not isinstance(invited, ErrorResponse), invited
        await _room_at(app, new_id)
        await accept_invite(anna, new_id)
        await new.wait_for_bot(bot_id, "Welkom in de groep")
        # Wim's invite made the room the experiment's, not his private chat with the bot.
        user = await app.repos.users.find("matrix", wim.user_id)
        assert user is not None and user.chat_id == wim.room_id
        assert all("Welkom bij" not in body for body in new.bot_messages(bot_id))


async def test_a_bot_kicked_while_it_was_stopped_notices_at_its_start_and_tells_the_linker_once(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, *_ = await _people(app, residents, bot_id)
        room = await _linked(synapse, wim, bot_id, [kim])
    kicked = await wim.client.room_kick(room.room_id, bot_id)
    assert not isinstance(kicked, ErrorResponse), kicked
    async with running_bot(settings) as app:
        await wim.wait_for_reply(containing("De bot is uit de groep"))
        [gone] = await app.repos.rooms.all()
        assert (gone.chat_id, gone.gone) == (room.room_id, True)
    # Started once more: nothing new.
    async with running_bot(settings) as app:
        await wim.send("/help")
        await wim.wait_for_reply(containing("Met Samenspel praat je mee"))
    assert sum("De bot is uit de groep" in m.body for m in wim.replies()) == 1


async def test_someone_erased_while_the_bot_was_kicked_is_taken_out_when_it_is_back_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    """The bot, kicked, cannot act in the room: Anna's erasure meanwhile takes her out once
    Wim invites the bot back and links the room again (the bot has forgotten her by then:
    only the task knows her account). Kim, who never took part, stays."""
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, _, _ = await _people(app, residents, bot_id)
        room = await _linked(synapse, wim, bot_id, [kim])
        await _take_part(anna, room)
        await _levels(room, wim, **{kim.user_id: 75})
        kicked = await kim.client.room_kick(room.room_id, bot_id, "Opruimen")
        assert not isinstance(kicked, ErrorResponse), kicked
        await wim.wait_for_reply(containing("De bot is uit de groep"))

        await anna.send("/vergeetmij")
        await anna.wait_for_reply(containing("Weet je het zeker?"))
        await anna.send("Ja, wis mijn gegevens")
        await anna.wait_for_reply(containing("Je gegevens zijn gewist"))
        assert room.member(anna.user_id) == "join"

        invited = await wim.client.room_invite(room.room_id, bot_id)
        assert not isinstance(invited, ErrorResponse), invited
        await until(lambda: room.member(bot_id) == "join", WAIT_SECONDS, what="the bot back")
        await _link(room, wim, bot_id)
        await until(lambda: room.member(anna.user_id) == "leave", WAIT_SECONDS, what="Anna out")

        async def done() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await until(done, WAIT_SECONDS, what="the task done and gone")
        assert room.member(kim.user_id) == "join"


async def test_a_linked_room_everyone_left_keeps_the_bot_for_who_takes_part_later_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    """Everyone but the bot leaves the experiment's room for a while: the bot stays (it is
    the experiment's room, nobody's abandoned chat), so Anna, taking part later, is
    invited there and welcomed."""
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, _, _ = await _people(app, residents, bot_id)
        room = await _linked(synapse, wim, bot_id, [kim])
        for member in (kim, wim):
            left = await member.client.room_leave(room.room_id)
            assert not isinstance(left, ErrorResponse), left

        # Two exchanges in private after the leaving: the sync that brought it has been
        # handled before the invite is made.
        await _take_part(anna, room)
        inside = Room(synapse, anna, room.room_id)
        assert inside.member(bot_id) == "join"
        await inside.wait_for_bot(bot_id, "Welkom in de groep")
        [kept] = await app.repos.rooms.all()
        assert (kept.chat_id, kept.gone) == (room.room_id, False)
