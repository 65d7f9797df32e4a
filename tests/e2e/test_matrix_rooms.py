"""An experiment's room on Matrix, through the real adapter against Synapse.

A civil servant makes a room, invites the bot (and raises it to admin), and links it with
/koppel; a resident who joins the experiment is invited to the room by the bot; newcomers
are welcomed once; a reply /melden (or the profile's reaction) reports a message; the
connector redacts it from /meldingen and the author hears why in private. The room's
state on the server is checked: the event is redacted, a mute is a power level of -1, a ban
is a ban, and nothing personal was ever posted in the room.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from nio import (
    ErrorResponse,
    JoinError,
    RoomBanError,
    RoomCreateError,
    RoomInviteError,
    RoomPutStateError,
    RoomSendError,
)

from bot.admin.doctor import run_checks
from bot.app import App
from handlers.contract import Role
from handlers.experiments.rooms import let_back
from tests.e2e.matrix_support import (
    ENCRYPTION,
    WAIT_SECONDS,
    MatrixBot,
    MatrixResident,
    Residents,
    bot_settings,
    containing,
)
from tests.e2e.rooms_support import mutes_end_now
from tests.e2e.synapse import SynapseServer
from tests.e2e.telegram_support import running_bot
from tests.waiting import until

pytestmark = pytest.mark.e2e


async def onboard(resident: MatrixResident, bot_id: str) -> None:
    await resident.open_chat(bot_id, encrypted=False)
    await resident.wait_for_reply(containing("Welkom bij"))
    for answer, next_question in (
        ("1", "In welke taal"),
        ("Nederlands", "In welke wijk"),
        ("IJmuiden", "Klaar, welkom!"),
    ):
        await resident.send(answer)
        await resident.wait_for_reply(containing(next_question))


async def set_role(app: App, resident: MatrixResident, role: Role) -> None:
    user = await app.repos.users.find("matrix", resident.user_id)
    assert user is not None
    async with app.db.transaction():
        await app.repos.users.set_role(user.id, role)


class Room:
    """The experiment's room as its creator (a civil servant) sees it on the server."""

    def __init__(self, server: SynapseServer, owner: MatrixResident, room_id: str):
        self.server, self.owner, self.room_id = server, owner, room_id

    def get(self, path: str) -> dict[str, Any]:
        return self.server.request_json(
            "GET",
            f"/_matrix/client/v3/rooms/{quote(self.room_id, safe='')}{path}",
            access_token=self.owner.client.access_token,
        )

    def event(self, event_id: str) -> dict[str, Any]:
        return self.get(f"/event/{quote(event_id, safe='')}")

    def member(self, user_id: str) -> str:
        return str(self.get(f"/state/m.room.member/{quote(user_id, safe='')}")["membership"])

    def power_level(self, user_id: str) -> int:
        levels = self.get("/state/m.room.power_levels")
        return int(levels.get("users", {}).get(user_id, levels.get("users_default", 0)))

    def bot_messages(self, bot_id: str) -> list[str]:
        """Every message the bot posted in the room, oldest first."""
        answer = self.get("/messages?dir=f&limit=1000")
        return [
            str(event["content"].get("body", ""))
            for event in answer["chunk"]
            if event["type"] == "m.room.message" and event["sender"] == bot_id
        ]

    async def wait_for_bot(self, bot_id: str, needle: str, count: int = 1) -> None:
        def found() -> bool:
            return sum(needle in body for body in self.bot_messages(bot_id)) >= count

        await until(found, WAIT_SECONDS, what=f"the bot saying {needle!r} in the room")


async def send_in(
    resident: MatrixResident, room_id: str, content: dict[str, Any], kind: str = "m.room.message"
) -> str:
    await resident.sync_until(lambda: room_id in resident.client.rooms, "the room")
    if resident.client.rooms[room_id].encrypted:
        await resident.sync(0)  # the devices of whoever joined since, to encrypt for them
    sent = await resident.client.room_send(room_id, kind, content, ignore_unverified_devices=True)
    assert not isinstance(sent, RoomSendError), sent
    return str(sent.event_id)


async def accept_invite(resident: MatrixResident, room_id: str) -> None:
    await resident.sync_until(lambda: room_id in resident.client.invited_rooms, "the invite")
    joined = await resident.client.join(room_id)
    assert not isinstance(joined, JoinError), joined


async def _people(
    app: App, residents: Residents, bot_id: str
) -> tuple[MatrixResident, MatrixResident, MatrixResident, MatrixResident, MatrixResident]:
    """Wim (civil servant) and his colleague Kim, residents Anna and Bob, Ria (connector)."""
    wim, kim = await residents("wim"), await residents("kim")
    anna, bob, ria = await residents("anna"), await residents("bob"), await residents("ria")
    for person in (wim, anna, bob, ria):
        await onboard(person, bot_id)
    await set_role(app, wim, Role.CIVIL_SERVANT)
    await set_role(app, ria, Role.CONNECTOR)
    return wim, kim, anna, bob, ria


async def _group(
    synapse: SynapseServer, wim: MatrixResident, bot_id: str, members: list[MatrixResident]
) -> Room:
    """Wim's room for the experiment, with the bot and ``members`` in it (with one more
    person than the bot it is a group, not a private chat)."""
    created = await wim.client.room_create(
        name="Speeltuin Zeewijk", invite=[bot_id, *(m.user_id for m in members)]
    )
    assert not isinstance(created, RoomCreateError), created
    room = Room(synapse, wim, str(created.room_id))
    for member in members:
        await accept_invite(member, room.room_id)
    await until(lambda: room.member(bot_id) == "join", WAIT_SECONDS, what="the bot joins")
    return room


async def _make_admin(room: Room, wim: MatrixResident, bot_id: str) -> None:
    levels = room.get("/state/m.room.power_levels")
    levels["users"][bot_id] = 100
    raised = await wim.client.room_put_state(room.room_id, "m.room.power_levels", levels)
    assert not isinstance(raised, RoomPutStateError), raised


async def _report_by_reply(reporter: MatrixResident, room: Room, event_id: str) -> None:
    """``/melden`` typed in reply to a message."""
    await send_in(
        reporter,
        room.room_id,
        {
            "msgtype": "m.text",
            "body": "/melden",
            "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
        },
    )


async def _link(room: Room, wim: MatrixResident, bot_id: str) -> None:
    """Wim links the room to experiment 1."""
    await send_in(wim, room.room_id, {"msgtype": "m.text", "body": "/koppel 1"})
    await room.wait_for_bot(bot_id, "hoort nu bij")


async def _linked_group(
    synapse: SynapseServer, wim: MatrixResident, bot_id: str, members: list[MatrixResident]
) -> Room:
    """Wim's room (see :func:`_group`) with the bot as its admin, linked to experiment 1."""
    room = await _group(synapse, wim, bot_id, members)
    await _make_admin(room, wim, bot_id)
    await _link(room, wim, bot_id)
    return room


async def _take_part(person: MatrixResident, room: Room) -> None:
    """Joining experiment 1 in private, then the room the bot invites to."""
    await person.send("/start exp_1")
    await person.wait_for_reply(containing("Doe mee"))
    await person.send("Doe mee")
    await person.wait_for_reply(containing("uitgenodigd"))
    await accept_invite(person, room.room_id)


async def _ban_for_threat(room: Room, ria: MatrixResident, bob: MatrixResident) -> None:
    """Ria bans Bob for "Ik kom je halen" from /meldingen; Synapse and Bob show it."""
    await ria.send("/meldingen")
    await ria.wait_for_reply(containing("Ik kom je halen"))
    await ria.send("Blokkeren")
    await ria.wait_for_reply(containing("uit de groep"))
    await ria.send("Bedreigen kan niet.")
    await until(lambda: room.member(bob.user_id) == "ban", WAIT_SECONDS, what="Bob banned")
    await bob.wait_for_reply(containing("Bedreigen kan niet."))


async def test_link_invite_welcome_report_and_redact_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)

        # Wim makes the room with the bot and a colleague, and makes the bot an admin.
        room = await _group(synapse, wim, bot_id, [kim])
        assert await app.repos.rooms.all() == []
        await _link(room, wim, bot_id)

        # samenspel doctor says the homeserver takes the bot's token, and that the bot is no
        # admin there, until Wim makes it one.
        checks = {c.name: c for c in await run_checks(settings)}
        assert checks["matrix"].ok and bot_id in checks["matrix"].detail
        check = checks["matrix rooms"]
        assert not check.ok and "power level 0 is too low" in check.detail
        await _make_admin(room, wim, bot_id)
        [check] = [c for c in await run_checks(settings) if c.name == "matrix rooms"]
        assert check.ok, check.detail

        # Anna and Bob join the experiment privately; the bot invites them to the room.
        for person in (anna, bob):
            await _take_part(person, room)
        await room.wait_for_bot(bot_id, "Welkom in de groep", count=2)

        said = await send_in(
            bob, room.room_id, {"msgtype": "m.text", "body": "Anna woont op Dorpsstraat 5"}
        )
        flagged = await send_in(
            anna,
            room.room_id,
            {
                "msgtype": "m.text",
                "body": f"> <{bob.user_id}> Anna woont op Dorpsstraat 5\n\n/melden",
                "m.relates_to": {"m.in_reply_to": {"event_id": said}},
            },
        )
        await anna.wait_for_reply(containing("Je melding is binnen"))
        # Her /melden is taken out of the room again: Bob does not see who reported him.
        await until(
            lambda: "redacted_because" in room.event(flagged).get("unsigned", {}),
            WAIT_SECONDS,
            what="the report redacted",
        )
        assert "redacted_because" not in room.event(said).get("unsigned", {})

        await ria.send("/meldingen")
        card = await ria.wait_for_reply(containing("Dorpsstraat 5"))
        assert "matrix.to" in card.body
        await ria.send("Verbergen")
        await ria.wait_for_reply(containing("Waarom haal je het bericht weg"))
        await ria.send("Geen adressen van anderen delen.")
        await ria.wait_for_reply(containing("wordt uit de groep gehaald"))

        await until(
            lambda: "redacted_because" in room.event(said).get("unsigned", {}),
            WAIT_SECONDS,
            what="the message redacted",
        )
        assert room.event(said)["content"] == {}
        told = await bob.wait_for_reply(containing("weggehaald"))
        assert "Geen adressen van anderen delen." in told.body

        # Nothing personal was posted in the room: no names, no message, no reason.
        posted = room.bot_messages(bot_id)
        assert sum("Welkom in de groep" in body for body in posted) == 2
        for body in posted:
            for secret in ("anna", "bob", "ria", "Dorpsstraat", "Geen adressen"):
                assert secret.casefold() not in body.casefold(), (secret, body)


async def test_mute_and_ban_reach_synapse_as_power_level_and_ban(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])

        # A report by the profile's reaction, then a mute.
        rude = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        relates = {"rel_type": "m.annotation", "event_id": rude, "key": "⚠️"}
        flagged = await send_in(anna, room.room_id, {"m.relates_to": relates}, "m.reaction")
        await anna.wait_for_reply(containing("Je melding is binnen"))
        # The reaction goes again: nobody sees who reported.
        await until(
            lambda: "redacted_because" in room.event(flagged).get("unsigned", {}),
            WAIT_SECONDS,
            what="the reaction redacted",
        )
        await _mute_for_a_week(room, ria, bob)
        refused = await bob.client.room_send(
            room.room_id, "m.room.message", {"msgtype": "m.text", "body": "mag ik nog?"}
        )
        assert isinstance(refused, RoomSendError)
        await bob.wait_for_reply(containing("Schelden hoort hier niet."))

        # A ban: Bob's older message is reported by reply, and he is banned.
        async with app.db.transaction():
            await app.db.execute("DELETE FROM room_tasks")
        levels = room.get("/state/m.room.power_levels")
        del levels["users"][bob.user_id]
        await wim.client.room_put_state(room.room_id, "m.room.power_levels", levels)
        threat = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Ik kom je halen"})
        await _report_by_reply(anna, room, threat)
        await _ban_for_threat(room, ria, bob)
        for body in room.bot_messages(bot_id):
            for secret in ("bob", "anna", "Sukkels", "halen", "Schelden", "Bedreigen"):
                assert secret.casefold() not in body.casefold(), (secret, body)


async def test_a_lifted_ban_lets_the_person_back_into_the_room_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        # With a colleague in it, the room is a group, not a private chat with the bot.
        room = await _linked_group(synapse, wim, bot_id, [kim])
        for person in (anna, bob):
            await _take_part(person, room)

        threat = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Ik kom je halen"})
        await _report_by_reply(anna, room, threat)
        await anna.wait_for_reply(containing("Je melding is binnen"))
        await _ban_for_threat(room, ria, bob)

        await ria.send("/beperkingen")
        listed = await ria.wait_for_reply(containing("Opheffen"))
        assert "Speeltuin" in listed.body and "Ik kom je halen" in listed.body
        await ria.send("1")
        await ria.wait_for_reply(containing("mag weer in de groep"))
        # Unbanned ("leave"), and at once invited again: a sync may bring both together.
        await until(
            lambda: room.member(bob.user_id) in ("leave", "invite"), WAIT_SECONDS, what="unbanned"
        )
        told = await bob.wait_for_reply(containing("laat je weer toe"))
        assert "Speeltuin" in told.body
        # Still taking part: invited again, and he can join.
        await accept_invite(bob, room.room_id)
        await until(lambda: room.member(bob.user_id) == "join", WAIT_SECONDS, what="Bob back")


async def _mute_for_a_week(room: Room, ria: MatrixResident, bob: MatrixResident) -> None:
    """Ria mutes Bob for "Sukkels" for a week from /meldingen; Synapse shows level -1."""
    await ria.send("/meldingen")
    await ria.wait_for_reply(containing("Sukkels"))
    await ria.send("Dempen")
    await ria.wait_for_reply(containing("Hoe lang dempen"))
    await ria.send("1 week")
    await ria.wait_for_reply(containing("Waarom demp je"))
    await ria.send("Schelden hoort hier niet.")
    await until(lambda: room.power_level(bob.user_id) == -1, WAIT_SECONDS, what="Bob muted")


async def test_a_mute_that_ends_by_itself_gives_no_rights_back_to_someone_banned_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        rude = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        threat = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Ik kom je halen"})
        await _report_by_reply(anna, room, rude)
        await _report_by_reply(anna, room, threat)
        await _mute_for_a_week(room, ria, bob)
        await _ban_for_threat(room, ria, bob)

        await mutes_end_now(app, WAIT_SECONDS)
        assert room.member(bob.user_id) == "ban"
        assert room.power_level(bob.user_id) == -1

        # Lifted, the ban lets him back with the rights the mute's end would have given.
        await ria.send("/beperkingen")
        listed = await ria.wait_for_reply(containing("Opheffen"))
        assert "gedempt tot" not in listed.body
        await ria.send("1")
        await ria.wait_for_reply(containing("mag weer in de groep"))
        await until(lambda: room.member(bob.user_id) == "leave", WAIT_SECONDS, what="unbanned")
        await until(lambda: room.power_level(bob.user_id) == 0, WAIT_SECONDS, what="rights back")


async def test_a_mute_that_ends_by_itself_leaves_someone_banned_by_hand_muted_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        rude = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        await _report_by_reply(anna, room, rude)
        await _mute_for_a_week(room, ria, bob)
        # Wim bans Bob in his Matrix client: the bot's records know nothing of it.
        banned = await wim.client.room_ban(room.room_id, bob.user_id, "Genoeg.")
        assert not isinstance(banned, RoomBanError), banned
        await mutes_end_now(app, WAIT_SECONDS)
        assert room.member(bob.user_id) == "ban"
        assert room.power_level(bob.user_id) == -1


async def test_a_ban_stays_listed_and_liftable_after_the_banned_person_erased_their_data_on_synapse(  # noqa: E501
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        threat = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Ik kom je halen"})
        await _report_by_reply(anna, room, threat)
        await anna.wait_for_reply(containing("Je melding is binnen"))
        await _ban_for_threat(room, ria, bob)

        await bob.send("/vergeetmij")
        await bob.wait_for_reply(containing("Weet je het zeker?"))
        await bob.send("Ja, wis mijn gegevens")
        await bob.wait_for_reply(containing("Je gegevens zijn gewist"))
        assert await app.repos.users.find("matrix", bob.user_id) is None

        await ria.send("/beperkingen")
        listed = await ria.wait_for_reply(containing("Opheffen"))
        pseudonym = await app.db.fetchval("SELECT pseudonym FROM erasures")
        assert f"een verwijderd account ({pseudonym})" in listed.body
        assert "Speeltuin" in listed.body
        for gone in ("bob", "halen", "Bedreigen"):
            assert gone not in listed.body.casefold(), gone
        await ria.send("1")
        await ria.wait_for_reply(containing("mag weer in de groep"))
        await until(lambda: room.member(bob.user_id) == "leave", WAIT_SECONDS, what="unbanned")

        async def account_gone() -> bool:
            held = await app.db.fetchval(
                "SELECT COUNT(*) FROM room_sanctions WHERE target IS NOT NULL"
            )
            return held == 0 and await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await until(account_gone, WAIT_SECONDS, what="the account forgotten")


async def test_an_experiments_room_the_bot_is_invited_back_to_never_becomes_someones_chat(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim = await residents("wim"), await residents("kim")
        for person in (wim, kim):
            await onboard(person, bot_id)
        direct = kim.room_id
        await set_role(app, wim, Role.CIVIL_SERVANT)
        room = await _group(synapse, wim, bot_id, [kim])
        await _link(room, wim, bot_id)

        # Wim removes the bot and leaves; Kim, who never said a word there, invites the
        # bot back: only she and the bot are in the room.
        kicked = await wim.client.room_kick(room.room_id, bot_id)
        assert not isinstance(kicked, ErrorResponse), kicked
        await until(lambda: room.member(bot_id) == "leave", WAIT_SECONDS, what="bot out")
        left = await wim.client.room_leave(room.room_id)
        assert not isinstance(left, ErrorResponse), left
        await kim.sync_until(lambda: room.room_id in kim.client.rooms, "the room")
        invited = await kim.client.room_invite(room.room_id, bot_id)
        assert not isinstance(invited, ErrorResponse), invited
        room.owner = kim
        await until(lambda: room.member(bot_id) == "join", WAIT_SECONDS, what="bot back")
        # Wim's second answer comes from a sync after the one with the bot's join: the bot
        # has done all it does on joining by then.
        for _ in range(2):
            await wim.send("/help")
            await wim.wait_for_reply(containing("Met Samenspel praat je mee"))

        user = await app.repos.users.find("matrix", kim.user_id)
        assert user is not None and user.chat_id == direct
        [linked] = room.bot_messages(bot_id)
        assert "hoort nu bij" in linked


async def test_a_muted_moderator_gets_their_own_level_back_when_the_mute_ends_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        # Wim made Bob a moderator of the room.
        levels = room.get("/state/m.room.power_levels")
        levels["users"][bob.user_id] = 50
        raised = await wim.client.room_put_state(room.room_id, "m.room.power_levels", levels)
        assert not isinstance(raised, RoomPutStateError), raised

        rude = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        await _report_by_reply(anna, room, rude)
        await anna.wait_for_reply(containing("Je melding is binnen"))
        await _mute_for_a_week(room, ria, bob)
        await mutes_end_now(app, WAIT_SECONDS)
        assert room.power_level(bob.user_id) == 50


def _encrypted(person: MatrixResident, room: Room) -> bool:
    seen = person.client.rooms.get(room.room_id)
    return seen is not None and seen.encrypted


async def _edit_in(resident: MatrixResident, room: Room, event_id: str, text: str) -> None:
    await send_in(
        resident,
        room.room_id,
        {
            "msgtype": "m.text",
            "body": f"* {text}",
            "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        },
    )


async def test_a_message_edited_before_its_report_reaches_the_connector_as_shown_and_as_first_written(  # noqa: E501
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        # Wim turns on encryption: what is said from now on the bot must decrypt.
        on = await wim.client.room_put_state(
            room.room_id, ENCRYPTION["type"], ENCRYPTION["content"]
        )
        assert not isinstance(on, RoomPutStateError), on
        for person in (kim, anna, bob):
            await person.sync_until(lambda p=person: _encrypted(p, room), "encryption on")
        # Bob threatens, then edits it twice to something harmless; Kim, who may not
        # edit Bob's message, sends an "edit" of it too, which no client shows.
        said = await send_in(
            bob,
            room.room_id,
            {"msgtype": "m.text", "body": "Ik weet waar je woont, Dorpsstraat 5"},
        )
        assert room.event(said)["type"] == "m.room.encrypted"
        await _edit_in(bob, room, said, "Ik weet waar je woont")
        await _edit_in(bob, room, said, "Hallo allemaal")
        await _edit_in(kim, room, said, "Kim was hier")
        await _report_by_reply(anna, room, said)
        await anna.wait_for_reply(containing("Je melding is binnen"))

        await ria.send("/meldingen")
        card = await ria.wait_for_reply(containing("Hallo allemaal"))
        shown, _, first = card.body.partition("Eerst stond er")
        assert "Hallo allemaal" in shown and "Dorpsstraat" not in shown
        assert "Ik weet waar je woont, Dorpsstraat 5" in first
        assert "Kim was hier" not in card.body


async def _stop_taking_part(person: MatrixResident) -> None:
    await person.send("/start exp_1")
    await person.wait_for_reply(containing("Stop met meedoen"))
    await person.send("Stop met meedoen")
    await person.wait_for_reply(containing("geen berichten meer"))


async def test_leaving_or_erasing_takes_the_person_out_of_the_room_and_withdraws_an_invite_on_synapse(  # noqa: E501
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, _ = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim])
        await _take_part(anna, room)
        await room.wait_for_bot(bot_id, "Welkom in de groep")
        # Bob takes part too; the bot's invite waits for him to accept it.
        await bob.send("/start exp_1")
        await bob.wait_for_reply(containing("Doe mee"))
        await bob.send("Doe mee")
        await bob.wait_for_reply(containing("uitgenodigd"))
        assert room.member(bob.user_id) == "invite"

        # Both stop: Anna is kicked (not banned), Bob's invite withdrawn; both told privately.
        for person in (anna, bob):
            await _stop_taking_part(person)
            told = await person.wait_for_reply(containing("uit de groep gehaald"))
            assert "Speeltuin Zeewijk" in told.body
        for person in (anna, bob):
            await until(
                lambda p=person: room.member(p.user_id) == "leave", WAIT_SECONDS, what="out"
            )
        refused = await bob.client.join(room.room_id)
        assert isinstance(refused, JoinError), refused
        # Kim, in the room but never taking part, stays.
        assert room.member(kim.user_id) == "join"

        # Taking part again lets Anna back in; erasing her data takes her out again.
        await _take_part(anna, room)
        assert room.member(anna.user_id) == "join"
        await anna.send("/vergeetmij")
        await anna.wait_for_reply(containing("Weet je het zeker?"))
        await anna.send("Ja, wis mijn gegevens")
        await anna.wait_for_reply(containing("Je gegevens zijn gewist"))
        await until(lambda: room.member(anna.user_id) == "leave", WAIT_SECONDS, what="erased")

        async def done() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await until(done, WAIT_SECONDS, what="the task done and gone")
        assert room.member(kim.user_id) == "join"
        for body in room.bot_messages(bot_id):
            for secret in ("anna", "bob", "gehaald", "meer mee"):
                assert secret not in body.casefold(), (secret, body)


async def test_an_invite_for_someone_in_the_room_already_is_done_not_failed_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    """Anna is in the room, and an invite for her is queued all the same (a ban from the
    bot that ended before its removal was carried out lets her back in): Synapse refuses
    to invite a member, which is no failure: she is in."""
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, _, _ = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim])
        await _take_part(anna, room)
        await until(lambda: room.member(anna.user_id) == "join", WAIT_SECONDS, what="Anna in")

        user = await app.repos.users.find("matrix", anna.user_id)
        assert user is not None
        async with app.db.transaction():
            assert await let_back(app.repos, user.id, app.router.clock()) == 1

        async def done() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await until(done, WAIT_SECONDS, what="the invite settled")
        assert "room.task_failed" not in [
            r[0] for r in await app.db.fetchall("SELECT action FROM audit_log")
        ]
        assert not [m for m in anna.replies() if "lukte niet" in m.body]
        assert room.member(anna.user_id) == "join"


async def test_the_civil_servant_unlinks_the_room_and_it_can_be_linked_again_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, _, _, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, ria])
        # Wim, who linked it, is no longer staff: his /ontkoppel changes nothing.
        await set_role(app, wim, Role.RESIDENT)
        await send_in(wim, room.room_id, {"msgtype": "m.text", "body": "/ontkoppel"})
        await room.wait_for_bot(bot_id, "privégesprek")
        assert len(await app.repos.rooms.all("matrix")) == 1
        # Staff again, he may unlink the room he may link.
        await set_role(app, wim, Role.CIVIL_SERVANT)
        await send_in(wim, room.room_id, {"msgtype": "m.text", "body": "/ontkoppel"})
        await room.wait_for_bot(bot_id, "hoort niet meer bij")
        assert await app.repos.rooms.all("matrix") == []
        for said in room.bot_messages(bot_id):
            for name in ("wim", "kim", "ria", "Wim", "Kim", "Ria"):
                assert name not in said, said
        # The bot leaves the room it no longer belongs to: with only Kim left beside it,
        # the room would otherwise look like her private chat.
        await until(lambda: room.member(bot_id) == "leave", WAIT_SECONDS, what="the bot leaves")
        # Invited back by Wim and linked again, it is the experiment's room once more.
        invited = await wim.client.room_invite(room.room_id, bot_id)
        assert not isinstance(invited, RoomInviteError), invited
        await until(lambda: room.member(bot_id) == "join", WAIT_SECONDS, what="the bot joins")
        await _make_admin(room, wim, bot_id)
        await send_in(wim, room.room_id, {"msgtype": "m.text", "body": "/koppel 1"})
        await room.wait_for_bot(bot_id, "hoort nu bij", count=2)
        assert len(await app.repos.rooms.all("matrix")) == 1


async def test_a_room_unlinked_with_a_capital_command_is_left_as_well_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    """A phone may write the command's first letter as a capital: /Ontkoppel unlinks the
    room as /ontkoppel does, and the bot leaves it all the same."""
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, _, _, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, ria])
        await send_in(ria, room.room_id, {"msgtype": "m.text", "body": "/Ontkoppel"})
        await room.wait_for_bot(bot_id, "hoort niet meer bij")
        assert await app.repos.rooms.all("matrix") == []
        await until(lambda: room.member(bot_id) == "leave", WAIT_SECONDS, what="the bot leaves")


async def test_an_experiments_room_of_two_is_not_asked_to_send_an_unreadable_message_again(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot = MatrixBot(settings, poll_ms=300, key_patience=timedelta(0))
    await bot.start()
    try:
        wim, kim = await residents("wim"), await residents("kim")
        await onboard(wim, bot.user_id)
        await set_role(bot.running, wim, Role.CIVIL_SERVANT)
        room = await _group(synapse, wim, bot.user_id, [kim])
        await _link(room, wim, bot.user_id)
        left = await kim.client.room_leave(room.room_id)
        assert not isinstance(left, ErrorResponse), left
        # Only Wim and the bot are left in the experiment's room; someone there sends
        # something nobody can read (chatter, as far as the bot knows).
        content = {
            "algorithm": "m.megolm.v1.aes-sha2",
            "sender_key": "bogus-sender-key-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "session_id": "bogus-session-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "device_id": "WIMSPHONE",
            "ciphertext": "AwgAEpABbogus",
        }
        path = f"/_matrix/client/v3/rooms/{quote(room.room_id)}/send/m.room.encrypted/unread-1"
        await asyncio.to_thread(
            synapse.request_json, "PUT", path, content, access_token=wim.client.access_token
        )
        for _ in range(3):  # syncs after it: given up, and whatever that leads to
            await wim.send("/help")
            await wim.wait_for_reply(containing("Met Samenspel praat je mee"))
        assert not [said for said in room.bot_messages(bot.user_id) if "niet lezen" in said], (
            "the experiment's room was asked to send a message again"
        )
    finally:
        await bot.stop()


async def test_a_reported_reply_reaches_the_connector_without_the_message_it_quotes_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim])
        for person in (anna, bob):
            await _take_part(person, room)
        await room.wait_for_bot(bot_id, "Welkom in de groep", count=2)

        said = await send_in(
            anna, room.room_id, {"msgtype": "m.text", "body": "Wie helpt zaterdag mee?"}
        )
        # Bob answers her with a reply; his app quotes her message above his words.
        rude = await send_in(
            bob,
            room.room_id,
            {
                "msgtype": "m.text",
                "body": f"> <{anna.user_id}> Wie helpt zaterdag mee?\n\nJij zeker niet, sukkel",
                "m.relates_to": {"m.in_reply_to": {"event_id": said}},
            },
        )
        await _report_by_reply(anna, room, rude)
        await anna.wait_for_reply(containing("Je melding is binnen"))
        await ria.send("/meldingen")
        card = await ria.wait_for_reply(containing("sukkel"))
        assert "Wie helpt zaterdag mee" not in card.body, "Anna's words shown as Bob's"


async def test_a_report_by_the_reaction_without_its_emoji_sign_is_a_report_too_on_synapse(
    synapse: SynapseServer, residents: Residents, tmp_path: Path
) -> None:
    settings = await bot_settings(synapse, tmp_path / "bot")
    bot_id = settings.matrix_user or ""
    async with running_bot(settings) as app:
        wim, kim, anna, bob, _ria = await _people(app, residents, bot_id)
        room = await _linked_group(synapse, wim, bot_id, [kim, anna, bob])
        rude = await send_in(bob, room.room_id, {"msgtype": "m.text", "body": "Sukkels"})
        # Some apps send the warning sign as text ("⚠", without U+FE0F): the same reaction.
        relates = {"rel_type": "m.annotation", "event_id": rude, "key": "\u26a0"}
        await send_in(anna, room.room_id, {"m.relates_to": relates}, "m.reaction")
        await anna.wait_for_reply(containing("Je melding is binnen"))
