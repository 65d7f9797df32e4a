"""An experiment's room the bot lost or that its platform replaced, as adapters report it to
the app: who hears of it (the staff member who linked it, in private, once), what waits,
and how the room moves on (/koppel elsewhere, or the platform's replacement room)."""

from __future__ import annotations

from bot.app import App
from bot.rooms import RoomWorker
from handlers.contract import Role
from storage.clock import utcnow
from tests.bot.test_rooms import ObedientRoom
from tests.handlers.experiments.test_rooms import GROUP, bobs, group_command, linked
from tests.people import audit_actions, for_user, outbox, person, row, with_role
from tests.support import Chat

NEW = "-1007002"


async def _worker(app: App, room: ObedientRoom) -> RoomWorker:
    return RoomWorker(app.repos, app.catalog, "test", room, profile=app.profile, clock=utcnow)


async def _tasks(app: App) -> list[tuple[str, str, str]]:
    rows = await app.db.fetchall(
        "SELECT r.chat_id, t.op, t.target FROM room_tasks t"
        " JOIN experiment_rooms r ON r.id = t.room_id ORDER BY t.id"
    )
    return [tuple(r) for r in rows]


async def test_the_civil_servant_who_linked_a_room_hears_once_in_private_that_the_bot_is_out(
    app: App,
) -> None:
    wim, anna, _, _ = await linked(app)
    await app.room_gone("test", GROUP)
    await app.room_gone("test", GROUP)  # reported again (a replayed sync): nothing new

    [told] = await for_user(app, wim, "room")
    assert [r.key for r in told.replies] == ["rooms.gone"]
    text = told.text(app, "nl")
    assert "Speeltuin" in text and "/koppel 1" in text
    # Nobody else hears it; the outbox goes to people's private chats only.
    assert [q.user_id for q in await outbox(app)] == [(await row(app, wim)).id]
    assert await audit_actions(app) == ["room.link", "room.gone"]

    # Joining meanwhile queues no invite to the lost room; /koppel in a new group moves the
    # room there, and then the invite is made.
    await anna.press_payload("exp.join:1")
    assert await _tasks(app) == []
    group = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id=NEW)
    await group.handle(group.event(command="koppel", args="1", is_group=True))
    assert group.keys == ["rooms.linked"]
    assert await _tasks(app) == [(NEW, "invite", "anna")]


async def test_the_linker_hears_in_their_own_language_and_not_once_they_are_no_longer_staff(
    app: App,
) -> None:
    wim = await with_role(app, await person(app, "wim", language="English"), Role.CIVIL_SERVANT)
    await group_command(wim, "koppel", "1")
    await app.room_upgrade_failed("test", GROUP, "M_FORBIDDEN: not invited")
    [told] = await for_user(app, wim, "room")
    assert [r.key for r in told.replies] == ["rooms.upgrade_failed"]
    assert "Invite the bot to the new room" in told.text(app, "en")

    # Wim is no civil servant any more: he could not link a new group, so is not asked to.
    await with_role(app, wim, Role.RESIDENT)
    await app.room_gone("test", GROUP)
    assert len(await for_user(app, wim, "room")) == 1
    assert "room.gone" in await audit_actions(app)


async def test_with_the_linker_no_longer_staff_the_connectors_hear_it_in_private_instead(
    app: App,
) -> None:
    wim, anna, _, ria = await linked(app)
    sam = await with_role(app, await person(app, "sam", language="English"), Role.CONNECTOR)
    await with_role(app, wim, Role.RESIDENT)
    await app.room_gone("test", GROUP)
    await app.room_gone("test", GROUP)  # reported again: nothing new

    assert await for_user(app, wim, "room") == []
    [to_ria] = await for_user(app, ria, "room")
    assert [r.key for r in to_ria.replies] == ["rooms.gone"]
    assert "Speeltuin" in to_ria.text(app, "nl") and "/koppel 1" in to_ria.text(app, "nl")
    [to_sam] = await for_user(app, sam, "room")
    assert "/link 1" in to_sam.text(app, "en")
    # In their private chats only; nobody else hears it.
    ids = sorted([(await row(app, ria)).id, (await row(app, sam)).id])
    assert sorted(q.user_id for q in await outbox(app)) == ids
    assert await for_user(app, anna, "room") == []


async def test_with_the_linker_erased_the_connectors_hear_of_a_replacement_the_bot_missed(
    app: App,
) -> None:
    wim, _, _, ria = await linked(app)
    await wim.send("/vergeetmij")
    await wim.press("Ja, wis mijn gegevens")
    assert wim.keys == ["privacy.forget.done"]
    await app.room_upgrade_failed("test", GROUP, "M_FORBIDDEN: not invited")
    [told] = await for_user(app, ria, "room")
    assert [r.key for r in told.replies] == ["rooms.upgrade_failed"]
    await app.room_gone("test", GROUP)
    assert [q.replies[0].key for q in await for_user(app, ria, "room")] == [
        "rooms.upgrade_failed",
        "rooms.gone",
    ]


async def test_an_upgraded_room_moves_with_its_ban_and_invites_the_participants_once(
    app: App,
) -> None:
    wim, anna, bob, ria = await linked(app)
    for chat in (anna, bob):
        await chat.press_payload("exp.join:1")
    platform = ObedientRoom()
    worker = await _worker(app, platform)
    await worker.run_due()
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await worker.run_due()
    assert platform.done[-1] == ("ban", "bob")
    # The old room still had an invite waiting for someone who joined just now.
    cas = await person(app, "cas")
    await cas.press_payload("exp.join:1")

    assert await app.room_upgraded("test", GROUP, NEW)
    [room] = await app.repos.rooms.all()
    assert (room.chat_id, room.gone) == (NEW, False)
    assert await app.repos.rooms.linked_by(room.id) == (await row(app, wim)).id
    # The ban holds in the new room; Anna and Cas are invited there, Bob is not.
    assert sorted(await _tasks(app)) == [
        (NEW, "ban", "bob"),
        (NEW, "invite", "anna"),
        (NEW, "invite", "cas"),
    ]
    [sanction] = await app.repos.rooms.in_force(utcnow())
    assert (sanction.room.chat_id, sanction.kind) == (NEW, "ban")

    # Seen again (a replayed sync, a restart): nothing moves or is queued twice.
    assert not await app.room_upgraded("test", GROUP, NEW)
    assert len(await _tasks(app)) == 3
    assert (await audit_actions(app)).count("room.upgrade") == 1
    # Nobody was told anything went wrong.
    assert await for_user(app, wim, "room") == []


async def test_an_upgrade_to_a_room_linked_already_or_of_an_unlinked_room_changes_nothing(
    app: App,
) -> None:
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    await group_command(wim, "koppel", "1")
    other = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id=NEW)
    await other.handle(other.event(command="koppel", args="2", is_group=True))
    assert other.keys == ["rooms.linked"]

    assert not await app.room_upgraded("test", GROUP, NEW)
    assert not await app.room_upgraded("test", "-1009999", "-1009998")
    rooms = await app.repos.rooms.all()
    assert [(r.chat_id, r.experiment_id, r.gone) for r in rooms] == [
        (GROUP, 1, False),
        (NEW, 2, False),
    ]


async def test_a_reporter_whose_melden_stays_in_the_upgraded_room_hears_it_once(
    app: App,
) -> None:
    """Anna's /melden (her message 77) was not taken out yet when the room was upgraded:
    the new room does not have it, and the old one keeps it for Bob to see. She hears so
    in private, to take it away herself; seen again, the upgrade tells her nothing more."""
    _, anna, _, ria = await linked(app)
    group = Chat(app, anna.user_id, name=anna.name, platform=anna.platform, chat_id=GROUP)
    await group.handle(
        group.event(command="melden", is_group=True, reply_to=bobs("Sukkels"), message_id="77")
    )
    assert await app.room_upgraded("test", GROUP, NEW)
    assert await _tasks(app) == []
    [told] = await for_user(app, anna, "room")
    assert told.replies[0].key == "rooms.own_report_left"
    assert "Speeltuin" in told.text(app, "nl")
    assert not await app.room_upgraded("test", GROUP, NEW)
    assert len(await for_user(app, anna, "room")) == 1
    assert await for_user(app, ria, "room") == []
