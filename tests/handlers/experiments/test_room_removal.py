"""Out of an experiment's room: who may no longer be there (left the experiment, banned from
the bot, erased) is taken out through the router's own paths, told so in private, and nobody
else is touched; the room tasks this leaves are in the person's data and hold nothing of
them once carried out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from bot.app import App
from bot.rooms import RoomWorker
from handlers.contract import Quoted, Role, RoomError
from storage.clock import utcnow
from tests.handlers.experiments.test_rooms import GROUP, bobs, group_command, linked
from tests.handlers.ideas.helpers import seed_idea
from tests.people import audit_actions, banned_over_reports, for_user, person, row, with_role
from tests.privacy import traces
from tests.support import Chat


class Room:
    """Rooms on a platform that remember who is in them (or invited), and what was done."""

    def __init__(self, *inside: str) -> None:
        self.members = {(GROUP, person) for person in inside}
        self.done: list[tuple[str, str]] = []

    @property
    def inside(self) -> set[str]:
        """Who is in any of the rooms."""
        return {person for _, person in self.members}

    async def invite(self, room: str, person: str) -> str | None:
        self.done.append(("invite", person))
        self.members.add((room, person))  # a Matrix invite: on their way in
        return None

    async def hide(self, room: str, message_id: str) -> None:
        self.done.append(("hide", message_id))

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        self.done.append(("mute" if until else "unmute", person))

    async def ban(self, room: str, person: str) -> None:
        self.done.append(("ban", person))
        self.members.discard((room, person))

    async def unban(self, room: str, person: str) -> None:
        self.done.append(("unban", person))

    async def remove(self, room: str, person: str) -> bool:
        if (room, person) not in self.members:
            return False
        self.done.append(("remove", person))
        self.members.remove((room, person))
        return True

    async def admin_problem(self, room: str) -> str | None:
        return None


def worker(app: App, room: Room) -> RoomWorker:
    now = utcnow()
    return RoomWorker(app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now)


async def tasks(app: App) -> list[tuple[str, str, int | None]]:
    rows = await app.db.fetchall("SELECT op, target, user_id FROM room_tasks ORDER BY id")
    return [(r["op"], r["target"], r["user_id"]) for r in rows]


async def room_notes(app: App, chat: Chat) -> list[str]:
    return [q.replies[0].key for q in await for_user(app, chat, "room")]


async def in_room(app: App, chat: Chat, room: Room) -> None:
    """``chat`` joins experiment 1 and its room (the invite carried out)."""
    await chat.press_payload("exp.join:1")
    await worker(app, room).run_due()
    assert chat.user_id in room.inside


async def test_leaving_takes_the_participant_out_of_the_room_and_tells_only_them_in_private(
    app: App,
) -> None:
    _, anna, bob, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)
    await in_room(app, bob, room)
    outbox_before = await app.db.fetchval("SELECT COUNT(*) FROM outbox")

    await anna.press_payload("exp.leave:1")
    assert anna.keys == ["experiments.left"]
    anna_id = (await row(app, anna)).id
    assert await tasks(app) == [("remove", "anna", anna_id)]
    # Pressed again (a stale button): nothing more is queued.
    await anna.press_payload("exp.leave:1")
    assert anna.keys == ["experiments.not_joined"]
    assert len(await tasks(app)) == 1

    assert await worker(app, room).run_due() == 1
    assert room.done[-1] == ("remove", "anna") and room.inside == {"bob"}
    assert await tasks(app) == []
    [note] = [q for q in await for_user(app, anna, "room") if q.replies[0].key == "rooms.removed"]
    assert "Speeltuin" in note.text(app, "nl") and "niet meer mee" in note.text(app, "nl")
    # Only Anna heard of it: no message to the group, none to Bob.
    queued = await app.db.fetchall("SELECT user_id FROM outbox ORDER BY id")
    assert [r[0] for r in queued[outbox_before:]] == [anna_id]
    assert await room_notes(app, bob) == ["rooms.invited"]


async def test_someone_who_left_before_using_the_invite_is_not_told_they_were_taken_out(
    app: App,
) -> None:
    _, anna, _, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)
    room.members.clear()  # she declined the invite, or left the room herself
    await anna.press_payload("exp.leave:1")
    assert await worker(app, room).run_due() == 1
    assert ("remove", "anna") not in room.done
    assert await room_notes(app, anna) == ["rooms.invited"]
    assert await tasks(app) == []


async def test_joining_again_before_the_removal_ran_keeps_the_person_in(app: App) -> None:
    _, anna, _, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)
    await anna.press_payload("exp.leave:1")
    await anna.press_payload("exp.join:1")
    assert [t[0] for t in await tasks(app)] == ["invite"]
    await worker(app, room).run_due()
    assert "anna" in room.inside
    assert "rooms.removed" not in await room_notes(app, anna)


async def test_a_removal_waiting_for_someone_who_took_part_again_meanwhile_is_skipped(
    app: App,
) -> None:
    _, anna, _, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)
    await anna.press_payload("exp.leave:1")
    # Back in the experiment by another way than the button (staff, a restore).
    async with app.db.transaction():
        await app.repos.experiments.join(1, (await row(app, anna)).id, utcnow())
    assert await worker(app, room).run_due() == 1
    assert "anna" in room.inside and ("remove", "anna") not in room.done


async def _ban_from_the_bot(app: App, ria: Chat, author: Chat) -> None:
    """``author`` comments on an idea of their own, three residents report it, and Ria
    bans the author from /meldingen."""
    idea = await seed_idea(app, f"Een speeltuin voor {author.user_id}")
    await author.press_payload(f"idea.comment:{idea.id}")
    await author.send("Wat een onzin, jullie zijn allemaal gek.")
    await banned_over_reports(app, ria, idea.id, reporters=f"{author.user_id}-r")


async def test_a_ban_from_the_bot_takes_the_resident_out_of_every_room_and_lifting_it_lets_him_back(  # noqa: E501
    app: App,
) -> None:
    wim, anna, bob, ria = await linked(app)
    # A second experiment with its own room; Bob takes part in both.
    other = "-1007002"
    group2 = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id=other)
    await group2.handle(group2.event(command="koppel", args="2", is_group=True))
    assert group2.keys == ["rooms.linked"]
    room = Room()
    await in_room(app, bob, room)
    await in_room(app, anna, room)
    await bob.press_payload("exp.join:2")
    await worker(app, room).run_due()

    await _ban_from_the_bot(app, ria, bob)
    bob_id = (await row(app, bob)).id
    assert await tasks(app) == [("remove", "bob", bob_id), ("remove", "bob", bob_id)]
    await worker(app, room).run_due()
    assert room.inside == {"anna"}
    assert [k for k in await room_notes(app, bob) if k.startswith("rooms.removed")] == [
        "rooms.removed_banned",
        "rooms.removed_banned",
    ]
    # Still taking part, but banned: the room stays closed to him.
    await bob.press_payload("exp.join:1")
    assert await tasks(app) == []

    # The ban lifted: taking part in both still, he cannot join again to be invited, so he
    # is invited again to both rooms; once (a second press lifts nothing).
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["moderation.lifted"]
    assert await tasks(app) == [("invite", "bob", bob_id), ("invite", "bob", bob_id)]
    await ria.press_payload(f"mod.lift:{bob_id}")
    assert ria.keys == ["moderation.nothing_to_lift"]
    assert len(await tasks(app)) == 2
    await worker(app, room).run_due()
    assert room.inside == {"anna", "bob"} and await tasks(app) == []
    assert (await room_notes(app, bob))[-2:] == ["rooms.invited", "rooms.invited"]


async def test_a_ban_from_the_bot_leaves_a_stranger_and_a_room_ban_as_they_are(app: App) -> None:
    _, anna, bob, ria = await linked(app)
    room = Room("carl")
    # Bob took part, and the connector banned him from the room.
    await in_room(app, bob, room)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await worker(app, room).run_due()
    assert room.done[-1] == ("ban", "bob")
    before = list(room.done)
    # Banned from the bot too: the room's ban stays as it is (a removal would end it on
    # Telegram). Carl is in the group but never took part in anything: untouched.
    await _ban_from_the_bot(app, ria, bob)
    carl = await person(app, "carl")
    await _ban_from_the_bot(app, ria, carl)
    assert await tasks(app) == []
    await worker(app, room).run_due()
    assert room.done == before and room.inside == {"carl"}
    # The ban from the bot lifted: the room's ban still keeps Bob out, so no invite.
    await ria.press_payload(f"mod.lift:{(await row(app, bob)).id}")
    assert ria.keys == ["moderation.lifted"]
    assert await tasks(app) == []


async def test_staff_who_stop_taking_part_stay_in_the_room(app: App) -> None:
    wim, _, _, _ = await linked(app)
    room = Room()
    await in_room(app, wim, room)
    await wim.press_payload("exp.leave:1")
    assert await tasks(app) == []
    # A resident again, leaving after joining: taken out like everyone.
    await with_role(app, wim, Role.RESIDENT)
    await wim.press_payload("exp.join:1")
    await wim.press_payload("exp.leave:1")
    assert [t[0] for t in await tasks(app)] == ["remove"]


async def test_an_erased_participant_is_taken_out_and_the_task_keeps_nothing_of_them_after(
    app: App,
) -> None:
    _, _, _, _ = await linked(app)
    zus = await person(app, "zus-5Tq8")
    room = Room()
    await in_room(app, zus, room)
    export = await app.repos.personal.export((await row(app, zus)).id, utcnow())
    assert export is not None and export.sections["room_tasks"].rows == []
    await zus.send("/vergeetmij")
    await zus.press("Ja, wis mijn gegevens")
    assert zus.keys == ["privacy.forget.done"]
    # Only her account is left, in the task that takes it out; no person, no error.
    assert await tasks(app) == [("remove", "zus-5Tq8", None)]
    assert await traces(app.db, ["zus-5Tq8"]) == ["room_tasks.target: zus-5Tq8"]
    assert await worker(app, room).run_due() == 1
    assert room.inside == set() and room.done[-1] == ("remove", "zus-5Tq8")
    assert await traces(app.db, ["zus-5Tq8"]) == []
    # Nobody is told: the bot does not know her any more.
    assert await app.db.fetchval("SELECT COUNT(*) FROM outbox WHERE kind = 'room'") == 0


async def test_a_removal_left_by_leaving_survives_the_erasure_that_follows_at_once(
    app: App,
) -> None:
    _, _, _, _ = await linked(app)
    zus = await person(app, "zus-5Tq8")
    room = Room()
    await in_room(app, zus, room)
    await zus.press_payload("exp.leave:1")
    # Her export shows the removal still to be done.
    user = await row(app, zus)
    export = await app.repos.personal.export(user.id, utcnow())
    assert export is not None
    assert [r["op"] for r in export.sections["room_tasks"].rows] == ["remove"]
    await zus.send("/vergeetmij")
    await zus.press("Ja, wis mijn gegevens")
    assert await tasks(app) == [("remove", "zus-5Tq8", None)]
    await worker(app, room).run_due()
    assert room.inside == set()
    assert await traces(app.db, ["zus-5Tq8"]) == []


async def _muted_for_a_week(app: App) -> tuple[Chat, Room]:
    """Bob, in the experiment's room, reported by Anna there and muted for a week by Ria."""
    _, anna, bob, ria = await linked(app)
    room = Room()
    await in_room(app, bob, room)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:mute")
    await ria.press("1 week")
    await ria.send("Schelden hoort hier niet.")
    await worker(app, room).run_due()
    return bob, room


async def test_a_mute_that_holds_is_put_back_after_the_removal(app: App) -> None:
    bob, room = await _muted_for_a_week(app)
    await bob.press_payload("exp.leave:1")
    await worker(app, room).run_due()
    assert [d for d in room.done if d[1] == "bob"][-2:] == [("remove", "bob"), ("mute", "bob")]
    assert [t[0] for t in await tasks(app)] == ["unmute"]


async def test_whoever_may_no_longer_be_in_a_room_the_bot_was_out_of_is_taken_out_when_it_is_back(
    app: App,
) -> None:
    """The bot was removed from the group; meanwhile one resident leaves, one is banned from
    the bot and one erases their data. Nothing can be done there until staff add the bot
    back and link the group again: then all three are taken out, and the others stay."""
    wim, anna, bob, ria = await linked(app)
    zus = await person(app, "zus-5Tq8")
    cas = await person(app, "cas")
    room = Room()
    for chat in (anna, bob, zus, cas):
        await in_room(app, chat, room)
    await app.room_gone("test", GROUP)

    await anna.press_payload("exp.leave:1")
    await _ban_from_the_bot(app, ria, bob)
    await zus.send("/vergeetmij")
    await zus.press("Ja, wis mijn gegevens")
    before = list(room.done)
    assert await worker(app, room).run_due() == 0
    assert room.done == before  # the bot is not in the group: it waits
    assert sorted(t[1] for t in await tasks(app)) == ["anna", "bob", "zus-5Tq8"]

    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]
    await worker(app, room).run_due()
    assert room.inside == {"cas"}
    assert "rooms.removed" in await room_notes(app, anna)
    assert "rooms.removed_banned" in await room_notes(app, bob)
    assert not [k for k in await room_notes(app, cas) if k.startswith("rooms.removed")]
    assert await traces(app.db, ["zus-5Tq8"]) == []


async def test_a_removal_that_finds_the_bot_out_of_the_group_waits_for_it_to_be_back(
    app: App,
) -> None:
    """The platform says the bot is no longer in the group only when the removal is tried
    (the news of its removal was missed): taken out all the same once it is back."""
    wim, anna, _, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)

    async def refused(chat: str, person: str) -> bool:
        await app.room_gone("test", chat)  # as the adapters do when the platform refuses
        raise RoomError("Forbidden: bot was kicked from the supergroup chat", lasting=True)

    out = Room(*room.inside)
    out.remove = refused  # type: ignore[method-assign]
    await anna.press_payload("exp.leave:1")
    await worker(app, out).run_due()
    assert [t[0] for t in await tasks(app)] == ["remove"]
    assert "room.task_failed" not in await audit_actions(app)

    await group_command(wim, "koppel", "1")
    later = utcnow() + timedelta(minutes=1)  # past the pause before another try
    back = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: later
    )
    await back.run_due()
    assert room.inside == set() and room.done[-1] == ("remove", "anna")
    assert "rooms.removed" in await room_notes(app, anna)


async def test_linked_in_another_group_nobody_waiting_to_be_taken_out_is_touched_there(
    app: App,
) -> None:
    wim, anna, _, _ = await linked(app)
    room = Room()
    await in_room(app, anna, room)
    await app.room_gone("test", GROUP)
    await anna.press_payload("exp.leave:1")
    assert [t[0] for t in await tasks(app)] == ["remove"]

    group = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id="-1007002")
    await group.handle(group.event(command="koppel", args="1", is_group=True))
    assert group.keys == ["rooms.linked"]
    assert await tasks(app) == []
    assert await worker(app, room).run_due() == 0
    assert not [k for k in await room_notes(app, anna) if k.startswith("rooms.removed")]


async def test_a_room_ban_decided_while_the_bot_was_out_is_done_when_it_is_back(
    app: App,
) -> None:
    """The connector decides on a report while the bot is out of the group (its removal
    noticed only when the ban is tried): the ban and the hiding of the message wait, and
    are carried out once the bot is back in that group."""
    wim, anna, bob, ria = await linked(app)
    room = Room()
    await in_room(app, bob, room)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))

    async def refused(*_: object) -> None:
        await app.room_gone("test", GROUP)  # as the adapters do when the platform refuses
        raise RoomError("Forbidden: bot was kicked from the supergroup chat", lasting=True)

    out = Room(*room.inside)
    out.ban = refused  # type: ignore[method-assign]
    out.hide = refused  # type: ignore[method-assign]
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await worker(app, out).run_due()
    assert sorted(t[0] for t in await tasks(app)) == ["ban", "hide"]
    assert "room.task_failed" not in await audit_actions(app)

    await group_command(wim, "koppel", "1")
    later = utcnow() + timedelta(minutes=1)  # past the pause before another try
    back = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: later
    )
    await back.run_due()
    assert ("ban", "bob") in room.done and "bob" not in room.inside
    assert [d[0] for d in room.done].count("hide") == 1
    assert await tasks(app) == []


async def test_in_another_group_a_ban_that_waited_is_done_there_once(app: App) -> None:
    wim, anna, bob, ria = await linked(app)
    room = Room()
    await in_room(app, bob, room)
    await app.room_gone("test", GROUP)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    assert sorted(t[0] for t in await tasks(app)) == ["ban", "hide"]

    group = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id="-1007003")
    await group.handle(group.event(command="koppel", args="1", is_group=True))
    assert group.keys == ["rooms.linked"]
    # The ban in force is carried out in the new group, once; the old group's message
    # is out of reach.
    assert [t[:2] for t in await tasks(app)] == [("ban", "bob")]
    await worker(app, room).run_due()
    assert [d for d in room.done if d[0] == "ban"] == [("ban", "bob")]


async def test_a_ban_from_the_bot_replaced_by_a_mute_lets_the_resident_back_into_the_room(
    app: App,
) -> None:
    """Muted, a resident may still take part and talk in experiments' rooms (a mute from
    the bot limits posting in the bot): the ban it replaces no longer keeps him out."""
    _, _, bob, ria = await linked(app)
    room = Room()
    await in_room(app, bob, room)
    reporters = [await person(app, f"bob-r{n}") for n in range(3)]
    for title, said in (("Een speeltuin", "Wat een onzin."), ("Een bankje", "Sukkels.")):
        idea = await seed_idea(app, title)
        await bob.press_payload(f"idea.comment:{idea.id}")
        await bob.send(said)
        for other in reporters:
            await other.press_payload(f"idea.comments:{idea.id}")
            await other.press("Meld 1")
            await other.press("Schelden of beledigend")
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Herhaaldelijk schelden.")
    assert ria.keys[0] == "moderation.done_ban"
    await worker(app, room).run_due()
    assert room.inside == set()

    # The next card: Ria mutes him for a day, which replaces the ban.
    await ria.press("Dempen")
    await ria.press("1 dag")
    await ria.send("Een dag pauze.")
    assert ria.keys[0] == "moderation.done_mute"
    bob_id = (await row(app, bob)).id
    assert await tasks(app) == [("invite", "bob", bob_id)]
    await worker(app, room).run_due()
    assert room.inside == {"bob"}
    assert (await room_notes(app, bob))[-1] == "rooms.invited"


async def test_a_removal_done_on_the_platform_just_before_a_stop_is_followed_up_once_after(
    app: App,
) -> None:
    """The platform took Bob out, and the process stopped before it noted that: after the
    restart he is out already, and is still told so (once) and muted again (a removal on
    Telegram ends a restriction)."""
    bob, room = await _muted_for_a_week(app)
    await bob.press_payload("exp.leave:1")

    platform = room.remove

    async def removed_then_stopped(chat: str, account: str) -> bool:
        await platform(chat, account)
        raise asyncio.CancelledError  # the process stops: nothing after this is noted

    room.remove = removed_then_stopped  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await worker(app, room).run_due()
    assert room.inside == set() and [t[0] for t in await tasks(app)] == ["unmute", "remove"]
    del room.remove

    await worker(app, room).run_due()  # after the restart
    assert [d for d in room.done if d[1] == "bob"][-2:] == [("remove", "bob"), ("mute", "bob")]
    assert [k for k in await room_notes(app, bob) if k.startswith("rooms.removed")] == [
        "rooms.removed"
    ]
    assert [t[0] for t in await tasks(app)] == ["unmute"]
    await worker(app, room).run_due()
    assert [k for k in await room_notes(app, bob) if k.startswith("rooms.removed")] == [
        "rooms.removed"
    ]


async def _moved_to_another_group(app: App, wim: Chat) -> Chat:
    """The bot is removed from the experiment's group, and Wim links it in another one;
    returns Wim there."""
    await app.room_gone("test", GROUP)
    group = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id="-1007002")
    await group.handle(group.event(command="koppel", args="1", is_group=True))
    assert group.keys == ["rooms.linked"]
    return group


async def test_a_report_in_the_new_group_is_about_its_own_message_not_the_old_groups_same_number(
    app: App,
) -> None:
    """Telegram numbers messages per group: message 55 of the new group is another
    message, by another author, than message 55 of the old one."""
    wim, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await _moved_to_another_group(app, wim)
    there = Chat(app, anna.user_id, name=anna.name, platform=anna.platform, chat_id="-1007002")
    spam = Quoted(message_id="55", sender_id="carl", text="Koop nu!", link=None)
    await there.handle(there.event(command="melden", is_group=True, reply_to=spam))
    # Thanked for each report, in private.
    thanks = [q.replies[0].key for q in await for_user(app, anna, "moderation")]
    assert thanks == ["rooms.reported", "rooms.reported"]

    first = await app.repos.rooms.get_report(1)
    second = await app.repos.rooms.get_report(2)
    assert first is not None and second is not None
    assert (first.author_platform_id, first.body) == ("bob", "Ik kom jullie halen")
    assert (second.author_platform_id, second.body) == ("carl", "Koop nu!")

    # Banning the author of the new group's message bans Carl, not Bob.
    await ria.press_payload("mod.do:r2:ban")
    await ria.send("Spam.")
    assert ria.keys[0] == "rooms.mod.done_ban"
    assert [t[:2] for t in await tasks(app)] == [("hide", "55"), ("ban", "carl")]


async def test_a_message_of_the_group_the_room_left_cannot_be_hidden_in_the_new_one(
    app: App,
) -> None:
    wim, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await _moved_to_another_group(app, wim)

    await ria.send("/meldingen")
    assert "Weghalen kan daarom niet" in ria.text
    payloads = [payload for _, payload in ria.buttons()]
    assert "mod.do:r1:hide" not in payloads and "mod.do:r1:ban" in payloads
    # A forged or stale button to hide it changes nothing.
    await ria.press_payload("mod.do:r1:hide")
    assert "rooms.mod.done_hide" not in ria.keys
    assert await tasks(app) == []

    # Bob is still banned from the room (it moved): the ban is carried out in the new
    # group, and the number 55 there, another message, is left alone. Nothing says the
    # message is taken away: it stays in the old group.
    await ria.press_payload("mod.do:r1:ban")
    assert ria.keys == ["rooms.mod.ask_reason_ban_kept"]
    await ria.send("Bedreigen kan niet.")
    assert ria.keys[0] == "rooms.mod.done_ban_kept"
    assert "blijft in de oude groep staan" in ria.text and "weggehaald" not in ria.text
    assert [t[:2] for t in await tasks(app)] == [("ban", "bob")]


async def test_a_mute_over_a_message_of_the_group_the_room_left_tells_no_one_it_was_removed(
    app: App,
) -> None:
    wim, anna, bob, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await _moved_to_another_group(app, wim)

    await ria.press_payload("mod.do:r1:mute")
    await ria.press("1 week")
    assert ria.keys == ["rooms.mod.ask_reason_mute_kept"]
    assert "weggehaald" not in ria.text
    await ria.send("Dreigen hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_mute_kept"
    assert "weggehaald" not in ria.text
    assert [t[:2] for t in await tasks(app)] == [("mute", "bob"), ("unmute", "bob")]
    [told] = await for_user(app, bob, "moderation")
    assert [reply.key for reply in told.replies] == ["rooms.mod.told_mute_kept"]
    text = app.catalog.render("nl", told.replies[0], markup=False)
    assert "gedempt" in text and "Ik kom jullie halen" in text and "weggehaald" not in text


async def test_a_group_upgraded_to_a_supergroup_keeps_its_reported_messages_within_reach(
    app: App,
) -> None:
    """The same group under a new id (Telegram's upgrade): a message reported before is
    still the room's, and hidden there as before."""
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    assert await app.room_moved("test", GROUP, "-1009001")
    await ria.send("/meldingen")
    assert "Weghalen kan daarom niet" not in ria.text
    await ria.press_payload("mod.do:r1:hide")
    await ria.send("Bedreigen kan niet.")
    assert ria.keys[0] == "rooms.mod.done_hide"
    rows = await app.db.fetchall(
        "SELECT t.op, t.target, r.chat_id FROM room_tasks t"
        " JOIN experiment_rooms r ON r.id = t.room_id"
    )
    assert [tuple(r) for r in rows] == [("hide", "55", "-1009001")]
