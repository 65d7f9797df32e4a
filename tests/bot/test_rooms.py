"""The room worker: what a platform's refusal leaves behind (logs, the audit log, the task)
names a person only by a pseudonym, and their erasure leaves nothing of them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.rooms import RoomWorker
from bot.settings import Settings
from handlers import when
from handlers.contract import Quoted, Role, RoomError
from handlers.profile import DEFAULT_PROFILE
from storage.clock import iso, utcnow
from storage.community.moderation import SanctionKind
from tests.handlers.experiments.test_rooms import GROUP, bobs, group_command, in_group, linked
from tests.meetings import ZONE
from tests.people import for_user, person, row, with_role
from tests.privacy import traces
from tests.support import Chat

#: A Matrix account, as a homeserver names it in its refusals.
CARL = "@carl:hs.example"


class RefusingRoom:
    """A room where the platform refuses to ban, naming the person as a homeserver does:
    first in a way that may pass, then for good."""

    def __init__(self) -> None:
        self.refusals = [
            RoomError(f"{CARL} is already in the room"),
            RoomError(f"{CARL} is banned from the room", lasting=True),
        ]

    async def invite(self, room: str, person: str) -> str | None:
        return None

    async def hide(self, room: str, message_id: str) -> None:
        return None

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        return None

    async def ban(self, room: str, person: str) -> None:
        raise self.refusals.pop(0)

    async def unban(self, room: str, person: str) -> None:
        return None

    async def remove(self, room: str, person: str) -> bool:
        return False

    async def admin_problem(self, room: str) -> str | None:
        return None


async def test_a_refusal_naming_the_person_is_logged_and_recorded_by_pseudonym_only(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    _, anna, _, ria = await linked(app)
    carl = await person(app, CARL)
    message = Quoted(message_id="56", sender_id=CARL, text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=message)
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Spam.")
    assert ria.keys[0] == "rooms.mod.done_ban"

    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", RefusingRoom(), profile=app.profile, clock=lambda: now
    )
    with caplog.at_level(logging.INFO):
        assert await worker.run_due() == 1  # the message hidden; the ban waits for a retry
        stored = await app.db.fetchval("SELECT last_error FROM room_tasks WHERE op = 'ban'")
        assert "already in the room" in stored
        assert CARL not in stored
        now += timedelta(minutes=1)
        assert await worker.run_due() == 1  # given up
    assert "room task given up op=ban" in caplog.text
    assert "is banned from the room" in caplog.text
    assert CARL not in caplog.text
    failed = await app.db.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'room.task_failed'"
    )
    assert "is banned from the room" in failed
    assert CARL not in failed
    assert CARL not in await app.db.fetchval("SELECT group_concat(detail) FROM audit_log")

    await carl.send("/vergeetmij")
    await carl.press("Ja, wis mijn gegevens")
    assert carl.keys == ["privacy.forget.done"]
    # The ban still holds (as decided): only the account it holds for is kept, so that the
    # connector can lift it; lifted, and its unban done, nothing of him is left.
    assert await traces(app.db, [CARL]) == ["room_sanctions.target: " + CARL]
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    assert await traces(app.db, [CARL]) == ["room_tasks.target: " + CARL]
    assert await worker.run_due() == 2  # the unban, and the rights back should he be muted
    assert await traces(app.db, [CARL]) == []


class ObedientRoom(RefusingRoom):
    """A room where the platform does what it is asked; it remembers what."""

    def __init__(self) -> None:
        super().__init__()
        self.done: list[tuple[str, str]] = []

    async def hide(self, room: str, message_id: str) -> None:
        self.done.append(("hide", message_id))

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        self.done.append(("mute" if until else "unmute", person))

    async def invite(self, room: str, person: str) -> str | None:
        self.done.append(("invite", person))
        return None

    async def ban(self, room: str, person: str) -> None:
        self.done.append(("ban", person))

    async def unban(self, room: str, person: str) -> None:
        self.done.append(("unban", person))


async def _erase(chat: Chat) -> None:
    """``/vergeetmij``, confirmed: everything of this person is erased."""
    await chat.send("/vergeetmij")
    await chat.press("Ja, wis mijn gegevens")
    assert chat.keys == ["privacy.forget.done"]


async def _room_tasks(app: App, chat: Chat) -> list[str]:
    user = await row(app, chat)
    found = await app.repos.personal.export(user.id, utcnow())
    assert found is not None
    return [str(task["op"]) for task in found.sections["room_tasks"].rows]


async def test_a_mute_is_in_the_muted_persons_data_and_after_their_erasure_only_its_end_waits(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    carl = await person(app, CARL)
    message = Quoted(message_id="56", sender_id=CARL, text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=message)
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Spam.")
    assert ria.keys[0] == "rooms.mod.done_mute"
    assert await _room_tasks(app, carl) == ["mute", "unmute"]

    now = utcnow()
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2
    assert room.done == [("hide", "56"), ("mute", CARL)]
    assert await _room_tasks(app, carl) == ["unmute"]

    await carl.send("/vergeetmij")
    await carl.press("Ja, wis mijn gegevens")
    assert carl.keys == ["privacy.forget.done"]
    # The mute stays on the platform until its end, which still needs the account, and it
    # stays listed (by the account alone) so that the connector can lift it.
    assert await traces(app.db, [CARL]) == [
        "room_sanctions.target: " + CARL,
        "room_tasks.target: " + CARL,
    ]
    now += timedelta(days=8)
    assert await worker.run_due() == 1
    assert room.done[-1] == ("unmute", CARL)
    assert await traces(app.db, [CARL]) == []


async def test_a_lifted_room_mute_ends_on_the_platform_now_not_at_its_planned_end(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    now = utcnow()
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2
    assert room.done == [("hide", "55"), ("mute", "bob")]

    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_mute"]
    now = utcnow()
    assert await worker.run_due() == 1
    assert room.done[-1] == ("unmute", "bob")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
    # Nothing is left to undo it again a week later.
    now += timedelta(days=8)
    assert await worker.run_due() == 0


async def test_a_lifted_room_ban_is_undone_on_the_platform_before_the_new_invite(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await bob.press_payload("exp.join:1")
    now = utcnow()
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    now = utcnow()
    assert await worker.run_due() == 2
    assert room.done == [("invite", "bob"), ("hide", "55"), ("ban", "bob")]

    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    now = utcnow()
    assert await worker.run_due() == 2
    assert room.done[-2:] == [("unban", "bob"), ("invite", "bob")]
    invited = await for_user(app, bob, "room")
    assert [q.replies[0].key for q in invited] == ["rooms.invited", "rooms.invited"]


class StuckRoom(ObedientRoom):
    """A room where the bot lost its rights: an unban is refused for good."""

    async def unban(self, room: str, person: str) -> None:
        raise RoomError("not enough rights to restrict/unrestrict chat member", lasting=True)


async def test_an_unban_the_platform_refuses_is_given_up_and_the_connector_is_told(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", StuckRoom(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2  # the hide, and the unban given up
    [told] = await for_user(app, ria, "room")
    assert told.replies[0].key == "rooms.failed_unban"
    assert "Speeltuin" in told.text(app, "nl")


class NoRightsBack(ObedientRoom):
    """A room where the bot lost its rights after a mute: its end is refused for good."""

    async def mute(self, room: str, person: str, until: datetime | None) -> None:
        if until is None:
            raise RoomError("not enough rights to restrict/unrestrict chat member", lasting=True)
        await super().mute(room, person, until)


async def test_a_refusal_after_the_deciding_connector_lost_the_role_reaches_the_connectors_of_now(
    app: App,
) -> None:
    """A mute's end waits for days: whoever decided it may be no connector by then, or
    erased. The refusal of its end goes to the connectors of now, not to a resident."""
    _, anna, _, ria = await linked(app)
    karel = await with_role(app, await person(app, "karel"), Role.CONNECTOR)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_mute"
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoRightsBack(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2  # the hide and the mute; its end waits
    await with_role(app, ria, Role.RESIDENT)
    now += timedelta(days=8)
    assert await worker.run_due() == 1  # the end refused for good
    assert await for_user(app, ria, "room") == []
    [told] = await for_user(app, karel, "room")
    assert told.replies[0].key == "rooms.failed_unmute"
    assert "Speeltuin" in told.text(app, "nl")


async def test_a_refusal_of_a_ban_decided_by_an_erased_connector_reaches_the_connectors(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    karel = await with_role(app, await person(app, "karel"), Role.CONNECTOR)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await _erase(await with_role(app, ria, Role.RESIDENT))
    now = utcnow()
    room = RefusingRoom()
    room.refusals = [RoomError("not enough rights to ban", lasting=True)]
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2  # the hide, and the ban given up
    assert [q.replies[0].key for q in await for_user(app, karel, "room")] == ["rooms.failed_ban"]


class NoHiding(ObedientRoom):
    """A room where the bot may not delete messages."""

    async def hide(self, room: str, message_id: str) -> None:
        raise RoomError("message can't be deleted", lasting=True)


async def _reports_sukkels(anna: Chat) -> Chat:
    """Anna replies /melden (her message 77) to Bob's "Sukkels" in the group; returns the
    group as she types in it."""
    group = in_group(anna)
    await group.handle(
        group.event(command="melden", is_group=True, reply_to=bobs("Sukkels"), message_id="77")
    )
    return group


async def _report_and_erase(app: App) -> tuple[Chat, Chat]:
    """Anna reports Bob's message with /melden (her message 77) and erases her data before
    the bot took her /melden out of the group. Returns Anna and Ria (connector)."""
    _, anna, _, ria = await linked(app)
    group = await _reports_sukkels(anna)
    assert group.keys == []  # the group hears nothing
    await _erase(anna)
    assert await traces(app.db, ["anna"]) == []
    return anna, ria


async def test_a_reporters_own_melden_still_leaves_the_group_after_they_erased_their_data(
    app: App,
) -> None:
    """Her /melden in the group would show Bob who reported him: it goes all the same,
    by its number alone, and nothing of her is kept for it."""
    await _report_and_erase(app)
    now = utcnow()
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    assert room.done == [("hide", "77")]
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
    assert await traces(app.db, ["anna"]) == []


async def test_an_erased_reporters_melden_still_to_leave_the_group_says_not_what_she_reported(
    app: App,
) -> None:
    """Her row among Bob's reporters goes with her erasure: the /melden still to be taken
    out of the group, her message by its number, does not point at his report either."""
    await _report_and_erase(app)
    [[report_id]] = await app.db.fetchall("SELECT report_id FROM room_tasks")
    assert report_id is None
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reporters") == 0


async def test_an_erased_reporters_melden_that_cannot_be_taken_out_is_nobodys_decision(
    app: App,
) -> None:
    """As before her erasure: left in the group, it is in the log and the audit log only,
    not put to the connectors as a decision of theirs that failed."""
    _, ria = await _report_and_erase(app)
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    assert await for_user(app, ria, "room") == []
    failed = "SELECT subject_user_id FROM audit_log WHERE action = 'room.task_failed'"
    assert [r[0] for r in await app.db.fetchall(failed)] == [None]


async def test_a_connectors_hide_refused_after_their_erasure_still_reaches_the_connectors(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    karel = await with_role(app, await person(app, "karel"), Role.CONNECTOR)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:hide")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_hide"
    await _erase(await with_role(app, ria, Role.RESIDENT))
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    assert [q.replies[0].key for q in await for_user(app, karel, "room")] == ["rooms.failed_hide"]


class ClosedRoom(RefusingRoom):
    """A room the bot cannot invite anyone to (it is no admin there any more)."""

    async def invite(self, room: str, person: str) -> str | None:
        raise RoomError("not allowed to invite", lasting=True)


async def test_an_invite_that_fails_for_good_says_who_to_ask_by_name_in_their_language(
    settings: Settings, tmp_path: Path
) -> None:
    text = DEFAULT_PROFILE.read_text()
    velsens = 'connector = { nl = "Burgerbeest", en = "Burgerbeest" }'
    assert text.count(velsens) == 1
    profile = tmp_path / "elders.toml"
    profile.write_text(
        text.replace(velsens, 'connector = { nl = "Buurtmaker", en = "Neighbour Maker" }')
    )
    app = await App.open(settings.model_copy(update={"profile": profile}))
    try:
        _, anna, _, _ = await linked(app)
        emma = await person(app, "emma", language="English")
        await anna.press_payload("exp.join:1")
        await emma.press_payload("exp.join:1")
        now = utcnow()
        worker = RoomWorker(
            app.repos, app.catalog, "test", ClosedRoom(), profile=app.profile, clock=lambda: now
        )
        assert await worker.run_due() == 2
        assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
        [told_anna] = await for_user(app, anna, "room")
        [told_emma] = await for_user(app, emma, "room")
        assert [r.key for r in told_anna.replies] == ["rooms.invite_failed"]
        assert "Buurtmaker" in told_anna.text(app, "nl")
        assert "Neighbour Maker" in told_emma.text(app, "en")
    finally:
        await app.close()


async def test_invites_that_fail_for_good_reach_the_connectors_once_a_day_a_room(
    app: App,
) -> None:
    """Nobody gets into the room (the bot is no admin there any more): the residents are
    told whom to ask, and the connectors hear it, once a day, not for each who joins."""
    _, anna, bob, ria = await linked(app)
    later = [timedelta(0)]
    worker = RoomWorker(
        app.repos,
        app.catalog,
        "test",
        ClosedRoom(),
        profile=app.profile,
        clock=lambda: utcnow() + later[0],
    )
    for chat in (anna, bob):
        await chat.press_payload("exp.join:1")
    assert await worker.run_due() == 2
    told = await for_user(app, ria, "room")
    assert [q.replies[0].key for q in told] == ["rooms.failed_invite"]
    assert "Speeltuin" in told[0].text(app, "nl")
    # Later that day someone else joins: the connectors know already.
    carl = await person(app, "carl")
    await carl.press_payload("exp.join:1")
    later[0] = timedelta(hours=3)
    assert await worker.run_due() == 1
    assert len(await for_user(app, ria, "room")) == 1
    # The next day it still fails: told again.
    dirk = await person(app, "dirk")
    await dirk.press_payload("exp.join:1")
    later[0] = timedelta(days=1, hours=4)
    assert await worker.run_due() == 1
    assert len(await for_user(app, ria, "room")) == 2


class NoRemovalRoom(ObedientRoom):
    """A room the bot cannot take anyone out of."""

    async def remove(self, room: str, person: str) -> bool:
        raise RoomError("not enough rights to remove members", lasting=True)


async def test_someone_who_cannot_be_taken_out_of_the_room_is_the_connectors_to_know(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await anna.press_payload("exp.join:1")
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoRemovalRoom(), profile=app.profile, clock=utcnow
    )
    assert await worker.run_due() == 1  # invited
    await anna.press_payload("exp.leave:1")
    assert await worker.run_due() == 1  # taking her out given up
    told = await for_user(app, ria, "room")
    assert [q.replies[0].key for q in told] == ["rooms.failed_remove"]
    assert "anna" not in told[0].text(app, "nl").lower()  # nobody named


async def _mute_then_ban_bob(
    app: App,
) -> tuple[Chat, list[timedelta], ObedientRoom, RoomWorker]:
    """Bob muted for a week for one message and banned for another, both carried out by a
    worker whose clock the test moves on (by ``later``)."""
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await group_command(anna, "melden", reply_to=bobs("Ik kom je halen", message_id="56"))
    later = [timedelta(0)]
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos,
        app.catalog,
        "test",
        room,
        profile=app.profile,
        clock=lambda: utcnow() + later[0],
    )
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    assert await worker.run_due() == 2
    await ria.press_payload("mod.do:r2:ban")
    await ria.send("Bedreigen kan niet.")
    assert ria.keys[0] == "rooms.mod.done_ban"
    assert await worker.run_due() == 2
    assert room.done == [("hide", "55"), ("mute", "bob"), ("hide", "56"), ("ban", "bob")]
    return ria, later, room, worker


async def test_a_mute_decided_after_a_ban_is_not_carried_out_on_the_platform(app: App) -> None:
    # On Telegram restricting a banned member ends the ban.
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom je halen"))
    await group_command(anna, "melden", reply_to=bobs("Sukkels", message_id="56"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await ria.press_payload("mod.do:r2:mute")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    room = ObedientRoom()
    worker = RoomWorker(app.repos, app.catalog, "test", room, profile=app.profile, clock=utcnow)
    assert await worker.run_due() == 4
    assert room.done == [("hide", "55"), ("ban", "bob"), ("hide", "56")]


async def test_a_mutes_end_is_not_carried_out_while_the_bots_records_hold_a_ban(
    app: App,
) -> None:
    _, later, room, worker = await _mute_then_ban_bob(app)
    later[0] = timedelta(days=8)
    assert await worker.run_due() == 1  # settled without a word to the platform
    assert room.done[-1] == ("ban", "bob")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0


async def test_a_ban_lifted_while_a_mute_holds_puts_the_mute_back_until_its_end(
    app: App,
) -> None:
    ria, later, room, worker = await _mute_then_ban_bob(app)
    ban = await app.db.fetchval("SELECT id FROM room_sanctions WHERE kind = 'ban'")
    await ria.press_payload(f"mod.lift_room:{ban}")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    assert await worker.run_due() == 2
    # The ban replaced the mute on Telegram: it is made again after the unban.
    assert room.done[-2:] == [("unban", "bob"), ("mute", "bob")]
    # The mute's own end, after the ban was lifted, gives the rights back.
    later[0] = timedelta(days=8)
    assert await worker.run_due() == 1
    assert room.done[-1] == ("unmute", "bob")


async def test_a_ban_lifted_after_the_banned_person_erased_their_data_gives_their_rights_back(
    app: App,
) -> None:
    """Muted, then banned, then erased: the mute's end under the ban was not carried out (on
    Matrix they are still at the muted level), and its row no longer names the account. The
    ban's lift still gives their rights back, as it does for anyone."""
    ria, later, room, worker = await _mute_then_ban_bob(app)
    bob = Chat(app, "bob")
    await bob.send("/vergeetmij")
    await bob.press("Ja, wis mijn gegevens")
    assert bob.keys == ["privacy.forget.done"]
    later[0] = timedelta(days=8)
    assert await worker.run_due() == 1  # the mute's end, settled without the platform
    assert room.done[-1] == ("ban", "bob")

    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    assert await worker.run_due() == 2
    assert room.done[-2:] == [("unban", "bob"), ("unmute", "bob")]
    assert await traces(app.db, ["bob"]) == []


class LinkRoom(ObedientRoom):
    """A room where the platform makes a personal invite link."""

    async def invite(self, room: str, person: str) -> str | None:
        self.done.append(("invite", person))
        return "https://t.me/+personal"


async def test_leaving_before_the_invite_went_out_sends_no_room_link(app: App) -> None:
    _, anna, _, _ = await linked(app)
    await anna.press_payload("exp.join:1")
    await anna.press_payload("exp.leave:1")
    assert anna.keys == ["experiments.left"]
    # The invite is gone; what is left is making sure she is not in the room.
    assert [r[0] for r in await app.db.fetchall("SELECT op FROM room_tasks")] == ["remove"]
    now = utcnow()
    room = LinkRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    await worker.run_due()
    assert room.done == []
    assert await for_user(app, anna, "room") == []


async def test_an_invite_waiting_for_someone_banned_or_gone_meanwhile_is_not_made(
    app: App,
) -> None:
    _, anna, bob, _ = await linked(app)
    for chat in (anna, bob):
        await chat.press_payload("exp.join:1")
    now = utcnow()
    async with app.db.transaction():
        # Bob is banned from the bot; Anna stops taking part without the button (an erasure
        # of the experiment's participants, a change by staff).
        await app.repos.sanctions.add(
            (await row(app, bob)).id, SanctionKind.BAN, reason="Spam.", by_user_id=None, now=now
        )
        await app.repos.experiments.leave(1, (await row(app, anna)).id)
    room = LinkRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 2
    assert room.done == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
    for chat in (anna, bob):
        assert await for_user(app, chat, "room") == []


async def test_someone_who_left_while_the_platform_made_the_invite_gets_no_link(
    app: App,
) -> None:
    _, anna, _, _ = await linked(app)
    await anna.press_payload("exp.join:1")
    now = utcnow()

    class LeavingRoom(LinkRoom):
        async def invite(self, room: str, person: str) -> str | None:
            link = await super().invite(room, person)
            await anna.press_payload("exp.leave:1")  # while the platform call is under way
            return link

    room = LeavingRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    assert room.done == [("invite", "anna")]
    assert await for_user(app, anna, "room") == []


async def test_a_week_long_room_mute_ends_at_the_clock_time_it_names_across_a_clock_change(
    app: App,
) -> None:
    # Muted on 27 October 2027 at 17:20 in Velsen, for 7 days: 7 times 24 hours would end
    # at 16:20 on 3 November's clock, after the clocks went back.
    muted = datetime(2027, 10, 27, 17, 20, tzinfo=ZONE)
    ends = datetime(2027, 11, 3, 17, 20, tzinfo=ZONE)
    app.router.clock = lambda: muted.astimezone(UTC)
    _, anna, _, ria = await linked(app)
    carl = await person(app, CARL)
    message = Quoted(message_id="56", sender_id=CARL, text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=message)
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Spam.")
    assert ria.keys[0] == "rooms.mod.done_mute"
    tasks = await app.db.fetchall("SELECT op, until, due_at FROM room_tasks ORDER BY id")
    stamp = iso(ends)
    assert [tuple(task) for task in tasks if task["op"] in ("mute", "unmute")] == [
        ("mute", stamp, iso(muted)),
        ("unmute", None, stamp),
    ]
    told = (await for_user(app, carl, "moderation"))[-1]
    assert f"Tot {when.moment(ends, 'nl')} kun je daar niets schrijven" in told.text(app, "nl")


async def test_a_group_is_unlinked_once_the_reporters_melden_left_it_and_a_mute_was_lifted(
    app: App,
) -> None:
    """Unlinked before, Anna's /melden would stay in the group for Bob to see, and Bob
    would stay muted there for good: the connector hears what comes first."""
    _, anna, _, ria = await linked(app)
    await _reports_sukkels(anna)
    await ria.press_payload("mod.do:r1:mute")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_mute"
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_busy"]
    now = utcnow()
    room = ObedientRoom()
    worker = RoomWorker(
        app.repos, app.catalog, "test", room, profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 3  # her /melden, his message, the mute; its end waits
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_busy"]
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_mute"]
    now = utcnow() + timedelta(seconds=1)
    assert await worker.run_due() == 1
    assert room.done[-1] == ("unmute", "bob")
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlinked"]
    assert await app.repos.rooms.all() == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_sanctions") == 0


async def test_a_civil_servant_does_not_unlink_a_group_where_a_connectors_ban_holds(
    app: App,
) -> None:
    """Unlinking forgets the group's bans: a civil servant, who has no /beperkingen, would
    undo the connector's decision unknowingly (Bob invited again at the next /koppel). A
    connector may, knowing it; a mute that ended no longer stands in the way."""
    wim, anna, _, ria = await linked(app)
    await _reports_sukkels(anna)
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_ban"
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", ObedientRoom(), profile=app.profile, clock=lambda: now
    )
    await worker.run_due()
    assert await app.repos.rooms.unlink_waits_for((await app.repos.rooms.all())[0].id) is None
    await group_command(wim, "ontkoppel")
    assert wim.keys == ["rooms.unlink_bans_staff"]
    assert "/beperkingen" not in wim.text
    for name in ("anna", "bob", "ria", "wim", "Sukkels"):
        assert name not in wim.text.casefold()
    assert len(await app.repos.rooms.all()) == 1
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlinked"]
    assert await app.repos.rooms.all() == []


async def test_a_group_the_bot_was_removed_from_is_linked_again_before_it_is_unlinked(
    app: App,
) -> None:
    """The work waiting there is done only once it is linked again: the connector hears so."""
    wim, anna, _, ria = await linked(app)
    await _reports_sukkels(anna)
    await ria.press_payload("mod.do:r1:keep")
    await ria.send("Mag blijven.")
    async with app.db.transaction():
        assert await app.repos.rooms.gone("test", GROUP, utcnow()) is not None
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_gone"]
    assert "/koppel 1" in ria.text
    await group_command(wim, "koppel", "1")
    now = utcnow() + timedelta(seconds=1)
    worker = RoomWorker(
        app.repos, app.catalog, "test", ObedientRoom(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlinked"]


async def test_a_reporter_whose_melden_cannot_be_taken_out_hears_it_to_remove_it_themselves(
    app: App,
) -> None:
    """Left in the group, her /melden shows Bob who reported him: Anna hears so in private,
    in her language, to delete it herself; the connectors are not put to it."""
    _, anna, _, ria = await linked(app)
    await anna.send("/taal")
    await anna.press("English")
    group = await _reports_sukkels(anna)
    assert group.keys == []
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1
    [told] = await for_user(app, anna, "room")
    assert told.replies[0].key == "rooms.own_report_left"
    text = told.text(app, "en")
    assert "Natural Playground" in text and "/flag" in text and "remove it yourself" in text
    assert await for_user(app, ria, "room") == []


async def _melden(chat: Chat, quoted: Quoted, message_id: str) -> None:
    """``chat`` replies /melden (their message ``message_id``) to ``quoted`` in the group."""
    group = in_group(chat)
    await group.handle(
        group.event(command="melden", is_group=True, reply_to=quoted, message_id=message_id)
    )


async def _told_left(app: App, chat: Chat) -> int:
    return sum(
        q.replies[0].key == "rooms.own_report_left" for q in await for_user(app, chat, "room")
    )


async def test_a_reporter_who_reports_the_same_message_twice_hears_once_their_melden_was_left(
    app: App,
) -> None:
    """Neither /melden can be taken out of the group: Anna hears it once for Bob's message,
    however often she reports it, and once more for another message she reports."""
    _, anna, _, ria = await linked(app)
    now = utcnow()
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    await _melden(anna, bobs("Sukkels"), "77")
    await _melden(anna, bobs("Sukkels"), "78")
    now = utcnow() + timedelta(seconds=1)
    assert await worker.run_due() == 2  # both tried, both given up
    assert await _told_left(app, anna) == 1
    # Later, a third time: the /melden is tried again, and she is not told again.
    await _melden(anna, bobs("Sukkels"), "79")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 1
    now = utcnow() + timedelta(seconds=1)
    assert await worker.run_due() == 1
    assert await _told_left(app, anna) == 1
    # Another message of Bob's is another report: she hears of that /melden too.
    await _melden(anna, bobs("Sukkels!", message_id="56"), "80")
    now = utcnow() + timedelta(seconds=1)
    assert await worker.run_due() == 1
    assert await _told_left(app, anna) == 2
    # One report each, one reporter each; the connectors are not put to it.
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reporters") == 2
    assert await for_user(app, ria, "room") == []
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0


async def test_a_reporter_banned_from_the_room_by_then_is_not_told_their_melden_was_left(
    app: App,
) -> None:
    """Anna reported Bob's message; before the bot gets to her /melden, Bob's report of her
    got her banned from the group: she is not told to take it away. Bob, who is not
    banned, is told of his."""
    _, anna, bob, ria = await linked(app)
    await _melden(anna, bobs("Sukkels"), "77")
    annas = Quoted(message_id="60", sender_id="anna", text="Jullie ook", link=None)
    await _melden(bob, annas, "78")
    await ria.press_payload("mod.do:r2:ban")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_ban"
    now = utcnow() + timedelta(seconds=1)
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    await worker.run_due()
    assert await _told_left(app, anna) == 0
    assert await _told_left(app, bob) == 1


async def test_a_reporter_whose_room_ban_was_lifted_is_told_their_melden_was_left(
    app: App,
) -> None:
    """Only a ban that holds by then keeps the note back."""
    _, anna, bob, ria = await linked(app)
    await _melden(anna, bobs("Sukkels"), "77")
    annas = Quoted(message_id="60", sender_id="anna", text="Jullie ook", link=None)
    await _melden(bob, annas, "78")
    await ria.press_payload("mod.do:r2:ban")
    await ria.send("Schelden hoort hier niet.")
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    now = utcnow() + timedelta(seconds=1)
    worker = RoomWorker(
        app.repos, app.catalog, "test", NoHiding(), profile=app.profile, clock=lambda: now
    )
    await worker.run_due()
    assert await _told_left(app, anna) == 1


async def test_an_ended_experiments_group_the_bot_was_removed_from_is_linked_back_and_unlinked(
    app: App,
) -> None:
    """The connector is told to type /koppel with the experiment's number first: for an
    experiment that ended, that links the group back too, and it can then be unlinked."""
    wim, anna, _, ria = await linked(app)
    await _reports_sukkels(anna)
    await ria.press_payload("mod.do:r1:keep")
    await ria.send("Mag blijven.")
    async with app.db.transaction():
        assert await app.repos.rooms.gone("test", GROUP, utcnow()) is not None
        assert await app.repos.experiments.end(1)
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_gone"]
    assert "/koppel 1" in ria.text
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]
    now = utcnow() + timedelta(seconds=1)
    worker = RoomWorker(
        app.repos, app.catalog, "test", ObedientRoom(), profile=app.profile, clock=lambda: now
    )
    assert await worker.run_due() == 1  # her /melden
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlinked"]
    # Only the group it was the room of is linked back: the ended experiment takes no other.
    await group_command(wim, "koppel", "1")
    assert wim.keys != ["rooms.linked"]


class UnlinkedMeanwhile(ObedientRoom):
    """A room unlinked by its connector while the platform makes the first invite (with
    a link of its own, as on Telegram)."""

    def __init__(self, connector: Chat) -> None:
        super().__init__()
        self.connector = connector

    async def invite(self, room: str, person: str) -> str | None:
        await super().invite(room, person)
        if len(self.done) == 1:
            await group_command(self.connector, "ontkoppel")
            assert self.connector.keys == ["rooms.unlinked"]
        return f"https://t.me/+{person}"


async def test_a_group_unlinked_while_its_invites_are_made_sends_no_invite_to_it(
    app: App,
) -> None:
    """Linked to the wrong group and unlinked at once: the invites the bot was making for
    it (for everyone taking part) stop, and nobody gets a link to a group that is no
    longer the experiment's."""
    _, anna, bob, ria = await linked(app)
    await anna.press_payload("exp.join:1")
    await bob.press_payload("exp.join:1")
    room = UnlinkedMeanwhile(ria)
    worker = RoomWorker(app.repos, app.catalog, "test", room, profile=app.profile, clock=utcnow)
    await worker.run_due()
    assert len(room.done) == 1  # the one on its way; the other is not made
    for chat in (anna, bob):
        assert await for_user(app, chat, "room") == []


async def test_a_reporter_whose_melden_stays_behind_in_a_group_the_room_moved_from_hears_it(
    app: App,
) -> None:
    """The bot was removed from the group before it took Anna's /melden out; linked in
    another group, the room moves there and the old group's messages are out of reach:
    her /melden stays where Bob can see it, so she hears it, to take it away herself."""
    wim, anna, _, ria = await linked(app)
    await anna.send("/taal")
    await anna.press("English")
    await _reports_sukkels(anna)
    await _melden(anna, bobs("Sukkels"), "78")  # the same message once more: told once
    async with app.db.transaction():
        assert await app.repos.rooms.gone("test", GROUP, utcnow()) is not None
    other = Chat(app, wim.user_id, name=wim.name, platform=wim.platform, chat_id="-200")
    seen = await other.handle(other.event(command="koppel", args="1", is_group=True))
    assert [s.key for s in seen] == ["rooms.linked"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks WHERE op = 'hide'") == 0
    [told] = await for_user(app, anna, "room")
    assert told.replies[0].key == "rooms.own_report_left"
    assert "Natural Playground" in told.text(app, "en")
    assert await for_user(app, ria, "room") == []
    # Nothing is said in either group, naming nobody.
    assert "anna" not in "".join(s.text for s in seen).casefold()
