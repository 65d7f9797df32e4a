"""An experiment's room on Telegram, through the real adapter and the loopback Bot API server.

Staff link a supergroup to an experiment with /koppel; a resident who joins the experiment
gets a one-person invite link in private; newcomers are welcomed once; a reply /melden
reports a message; the connector hides it from /meldingen, and the message is deleted on the
server while its author hears why in private. Nothing personal is ever said in the group.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bot.admin.doctor import run_checks
from bot.app import App
from handlers.contract import Role
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.e2e.botapi import BotApiServer, FakeUser, JSONDict
from tests.e2e.rooms_support import mutes_end_now
from tests.e2e.telegram_support import (
    onboard,
    running_bot,
    telegram_settings,
    texts,
    wait_for_text,
)
from tests.privacy import traces
from tests.support import Chat

pytestmark = pytest.mark.e2e

GROUP = -1005001
INVITE = re.compile(r"https://t\.me/\+\S+")


async def make_staff(app: App, user: FakeUser, role: Role) -> int:
    found = await app.repos.users.find("telegram", str(user.id))
    assert found is not None
    async with app.db.transaction():
        await app.repos.users.set_role(found.id, role)
    return found.id


async def invite_link(server: BotApiServer, user: FakeUser) -> str:
    """Join experiment 1 in private and wait for the invite link the bot made."""
    user.press_data("exp.join:1")
    return await _new_link(server, user)


async def _new_link(server: BotApiServer, user: FakeUser, after: int = 0) -> str:
    """The invite link of the bot's next message to ``user`` (from message ``after`` on)."""
    text = await wait_for_text(server, user.chat_id, "alleen voor jou", after=after)
    found = INVITE.search(text)
    assert found is not None, text
    return found.group(0)


def group_texts(server: BotApiServer) -> list[str]:
    return [m["text"] or m["caption"] or "" for m in server.messages(GROUP)]


def assert_nothing_personal(server: BotApiServer, *secrets: str) -> None:
    """Every message the group received names nobody and carries nothing of them."""
    for text in group_texts(server):
        for secret in secrets:
            assert secret not in text, (secret, text)
        assert not INVITE.search(text), text


async def linked_room(server: BotApiServer, app: App) -> tuple[FakeUser, FakeUser, FakeUser]:
    """A linked group with Anna (reporter) and Bob (author) in it; Ria is the connector."""
    server.group(GROUP, title="Speeltuin Zeewijk", chat_type="supergroup")
    server.make_admin(GROUP)
    wim = server.user(3001, first_name="Wim")
    anna = server.user(3002, first_name="Anna")
    bob = server.user(3003, first_name="Bob")
    ria = server.user(3004, first_name="Ria")
    for user in (wim, anna, bob, ria):
        await onboard(server, user)
    await make_staff(app, wim, Role.CIVIL_SERVANT)
    await make_staff(app, ria, Role.CONNECTOR)
    wim.added(GROUP)
    await wim.send_text("/koppel 1", chat_id=GROUP)
    await wait_for_text(server, GROUP, "hoort nu bij")
    for user in (anna, bob):
        user.join(await invite_link(server, user))
    await server.wait_for(
        lambda: sum("Welkom in de groep" in t for t in group_texts(server)) >= 2,
        20,
        description="two welcomes",
    )
    return anna, bob, ria


async def _ban_for_threat(server: BotApiServer, ria: FakeUser, bob: FakeUser) -> None:
    """Ria bans Bob for "Ik kom jullie halen" from /meldingen, and the group shows it."""
    await ria.send_text("/meldingen")
    await wait_for_text(server, ria.chat_id, "Ik kom jullie halen")
    ria.press("Blokkeren")
    await wait_for_text(server, ria.chat_id, "Waarom haal je de schrijver uit de groep")
    await ria.send_text("Bedreigen kan niet.")
    await server.wait_for(
        lambda: server.member(GROUP, bob.id)["status"] == "kicked", 20, description="ban"
    )


async def test_link_invite_welcome_report_and_hide_reach_telegram_and_the_group_hears_nothing_personal(  # noqa: E501
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        # One invite link for each, and whoever uses it needs the bot's approval.
        invites = [params for method, params in server.calls if method == "createChatInviteLink"]
        assert [p["creates_join_request"] for p in invites] == [True, True]
        assert server.approved == [(GROUP, anna.id), (GROUP, bob.id)]
        # Welcomed once: Anna added again later is not welcomed again.
        anna.added(GROUP)
        said = await bob.send_text("Anna woont op Dorpsstraat 5, bel 0612345678", chat_id=GROUP)
        message_id = said["message"]["message_id"]
        flagged = await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        assert sum("Welkom in de groep" in t for t in group_texts(server)) == 2
        # Her /melden is taken out of the group again: Bob does not see who reported him.
        await server.wait_for(
            lambda: server.user_message(GROUP, flagged["message"]["message_id"]).get("deleted"),
            20,
            description="the report taken out of the group",
        )
        assert not server.user_message(GROUP, message_id).get("deleted")

        await ria.send_text("/meldingen")
        card = await wait_for_text(server, ria.chat_id, "Dorpsstraat 5")
        assert "Speeltuin" in card and "t.me/c/5001/" in card
        ria.press("Verbergen")
        await wait_for_text(server, ria.chat_id, "Waarom haal je het bericht weg")
        await ria.send_text("Geen adressen van anderen delen.")
        await wait_for_text(server, ria.chat_id, "wordt uit de groep gehaald")

        await server.wait_for(
            lambda: server.user_message(GROUP, message_id).get("deleted"),
            20,
            description="deleted",
        )
        told = await wait_for_text(server, bob.chat_id, "weggehaald")
        assert "Geen adressen van anderen delen." in told
        await wait_for_text(server, anna.chat_id, "heeft er iets aan gedaan")
        assert_nothing_personal(
            server, "Anna", "Bob", "Ria", "Dorpsstraat", "0612345678", "Geen adressen"
        )
        actions = await app.db.fetchall("SELECT action FROM audit_log ORDER BY id")
        assert [a[0] for a in actions if a[0].startswith("room.")] == [
            "room.link",
            "room.report",
            "room.hide",
        ]


async def test_a_reporter_erased_before_their_melden_left_the_group_still_is_not_shown_there(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Anna reports Bob and erases her data while Telegram has not yet deleted her /melden:
    it is deleted all the same, and nothing of her stays for it."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, _ = await linked_room(server, app)
        said = await bob.send_text("Sukkels", chat_id=GROUP)
        server.hold("deleteMessage")
        flagged = await anna.send_text(
            "/melden", chat_id=GROUP, reply_to=said["message"]["message_id"]
        )
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        await server.wait_for(lambda: len(server.held) == 1, 20, description="deleting held")
        await anna.send_text("/vergeetmij")
        await wait_for_text(server, anna.chat_id, "Weet je het zeker?")
        anna.press("Ja, wis mijn gegevens")
        await wait_for_text(server, anna.chat_id, "Je gegevens zijn gewist")
        assert await app.repos.users.find("telegram", str(anna.id)) is None
        # The first try never reached Telegram: the next one deletes it.
        server.release()
        await server.wait_for(
            lambda: server.user_message(GROUP, flagged["message"]["message_id"]).get("deleted"),
            30,
            description="the report taken out of the group",
        )
        assert not server.user_message(GROUP, said["message"]["message_id"]).get("deleted")

        async def nothing_left() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await server.wait_for(nothing_left, 20, description="the tasks done")
        assert await traces(app.db, [str(anna.id)]) == []
        assert_nothing_personal(server, "Anna", "Sukkels")


async def test_the_connector_unlinks_the_group_and_it_hears_so_naming_nobody(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A resident's /ontkoppel changes nothing; the connector's unlinks the group, which
    hears one line; a report there is no longer taken."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await anna.send_text("/ontkoppel", chat_id=GROUP)
        await wait_for_text(server, GROUP, "privégesprek")
        assert len(await app.repos.rooms.all("telegram")) == 1
        ria.added(GROUP)
        await ria.send_text("/ontkoppel", chat_id=GROUP)
        said = await wait_for_text(server, GROUP, "hoort niet meer bij")
        assert "Speeltuin" in said
        assert await app.repos.rooms.all("telegram") == []
        assert_nothing_personal(server, "Anna", "Bob", "Ria", "Wim")
        message = await bob.send_text("Sukkels", chat_id=GROUP)
        await anna.send_text("/melden", chat_id=GROUP, reply_to=message["message"]["message_id"])
        await wait_for_text(server, GROUP, "Hier kan ik niets melden")


async def test_a_hide_after_a_missed_upgrade_to_a_supergroup_deletes_nothing_there(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A supergroup numbers its messages anew: the reported message's number in the old
    group is somebody else's message in the supergroup, and it is left alone. The room
    moves; the connector hears the message could not be taken away."""
    new = -1005999
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        said = await bob.send_text("Anna woont op Dorpsstraat 5", chat_id=GROUP)
        message_id = said["message"]["message_id"]
        flagged = await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        await server.wait_for(
            lambda: server.user_message(GROUP, flagged["message"]["message_id"]).get("deleted"),
            20,
            description="the report taken out of the group",
        )
        server.migrate(GROUP, new, by=anna, announce=False)
        for n in range(message_id + 1):
            await bob.send_text(f"Bericht {n} in de supergroep", chat_id=new)
        await server.wait_until_consumed()
        other = server.user_message(new, message_id)
        assert other is not None and not other.get("deleted")

        await ria.send_text("/meldingen")
        await wait_for_text(server, ria.chat_id, "Dorpsstraat 5")
        ria.press("Verbergen")
        await wait_for_text(server, ria.chat_id, "Waarom haal je het bericht weg")
        await ria.send_text("Geen adressen van anderen delen.")
        await wait_for_text(server, ria.chat_id, "kon niet worden weggehaald")
        assert not server.user_message(new, message_id).get("deleted")
        rooms = await app.repos.rooms.all("telegram")
        assert [room.chat_id for room in rooms] == [str(new)]


async def _report(server: BotApiServer, anna: FakeUser, bob: FakeUser, text: str) -> int:
    said = await bob.send_text(text, chat_id=GROUP)
    message_id = int(said["message"]["message_id"])
    before = len(server.messages(anna.chat_id))
    await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
    await server.wait_for(
        lambda: any(
            "Je melding is binnen" in (m["text"] or "")
            for m in server.messages(anna.chat_id)[before:]
        ),
        20,
        description="the reporter thanked",
    )
    return message_id


async def test_mute_and_ban_reach_telegram_and_the_author_hears_why(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        first = await _report(server, anna, bob, "Wat een sukkels zijn jullie")
        await ria.send_text("/meldingen")
        await wait_for_text(server, ria.chat_id, "sukkels")
        ria.press("Dempen")
        await wait_for_text(server, ria.chat_id, "Hoe lang dempen")
        ria.press("1 week")
        await wait_for_text(server, ria.chat_id, "Waarom demp je")
        await ria.send_text("Schelden hoort hier niet.")
        await wait_for_text(server, ria.chat_id, "gedempt in de groep")
        await server.wait_for(
            lambda: not server.may_write(GROUP, bob.id), 20, description="Bob muted"
        )
        member = server.member(GROUP, bob.id)
        assert member["status"] == "restricted" and not member["can_send_messages"]
        assert member["until_date"] > 0
        assert server.user_message(GROUP, first).get("deleted")
        await wait_for_text(server, bob.chat_id, "Schelden hoort hier niet.")
        with pytest.raises(PermissionError):
            await bob.send_text("mag ik nog?", chat_id=GROUP)

        # The end of the mute is stored, due when the mute ends (the mute's own task is
        # deleted once the worker has carried it out: after the server saw it).
        async def only_the_unmute_left() -> bool:
            rows = await app.db.fetchall("SELECT op FROM room_tasks")
            return [row[0] for row in rows] == ["unmute"]

        await server.wait_for(only_the_unmute_left, 20, description="the unmute task only")

        # A stale card button, pressed after the decision, changes nothing.
        stale = next(m for m in server.messages(ria.chat_id) if "sukkels" in (m["text"] or ""))
        ria.press("Blokkeren", message=stale)
        await wait_for_text(server, ria.chat_id, "al besloten")
        assert server.member(GROUP, bob.id)["status"] == "restricted"

        # Anna's second report is about Bob's older message: a ban removes him for good.
        async with app.db.transaction():
            await app.db.execute("DELETE FROM room_tasks")  # lift the mute now, for the test
        server._chats[GROUP].members[bob.id] = {"status": "member"}
        await _report(server, anna, bob, "Ik kom jullie halen")
        await _ban_for_threat(server, ria, bob)
        told = await wait_for_text(server, bob.chat_id, "Je kunt er niet meer in")
        assert "Bedreigen kan niet." in told
        assert_nothing_personal(server, "Bob", "Anna", "sukkels", "halen", "Schelden", "Bedreigen")


async def test_a_lifted_ban_lets_the_person_back_into_the_group_with_a_new_invite(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await _report(server, anna, bob, "Ik kom jullie halen")
        await _ban_for_threat(server, ria, bob)
        await wait_for_text(server, bob.chat_id, "Je kunt er niet meer in")
        invites = len(server.messages(bob.chat_id))

        before = len(server.messages(ria.chat_id))
        await ria.send_text("/beperkingen")
        listed = await wait_for_text(server, ria.chat_id, "Opheffen", after=before)
        assert "Speeltuin" in listed and "Ik kom jullie halen" in listed
        ria.press("Opheffen")
        await wait_for_text(server, ria.chat_id, "mag weer in de groep", after=before)
        await server.wait_for(
            lambda: server.member(GROUP, bob.id)["status"] == "left", 20, description="unban"
        )
        [unban] = [params for method, params in server.calls if method == "unbanChatMember"]
        assert unban["only_if_banned"] is True
        await wait_for_text(server, bob.chat_id, "laat je weer toe", after=invites)
        # Still taking part in the experiment: a new link of his own, and it lets him in.
        bob.join(await _new_link(server, bob, after=invites))
        await server.wait_for(
            lambda: server.member(GROUP, bob.id)["status"] == "member", 20, description="back"
        )
        assert "room.lift" in [a[0] for a in await app.db.fetchall("SELECT action FROM audit_log")]
        assert_nothing_personal(server, "Bob", "Anna", "halen", "Bedreigen")


async def test_an_invite_link_lets_in_only_someone_who_takes_part_whoever_uses_it(
    server: BotApiServer, tmp_path: Path
) -> None:
    """A link passed on to a stranger, or used after leaving the experiment or after a ban
    from the bot, opens nothing; who left hears how to get back in."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await linked_room(server, app)
        cas, dirk = server.user(3005, first_name="Cas"), server.user(3006, first_name="Dirk")
        zoe = server.user(3007, first_name="Zoe")  # never used the bot
        for user in (cas, dirk):
            await onboard(server, user)
        cas_link, dirk_link = await invite_link(server, cas), await invite_link(server, dirk)
        # Cas forwards his link to Zoe, who uses it first.
        zoe.join(cas_link)
        await server.wait_for(lambda: (GROUP, zoe.id) in server.declined, 20, description="Zoe")
        # Cas leaves the experiment before he used his link.
        before = len(server.messages(cas.chat_id))
        cas.press_data("exp.leave:1")
        await wait_for_text(server, cas.chat_id, "niet meer", after=before)
        cas.join(cas_link)
        await server.wait_for(lambda: (GROUP, cas.id) in server.declined, 20, description="Cas")
        told = await wait_for_text(server, cas.chat_id, "alleen voor wie meedoet", after=before)
        assert "Speeltuin" in told
        # Dirk is banned from the bot after his link was made.
        found = await app.repos.users.find("telegram", str(dirk.id))
        assert found is not None
        async with app.db.transaction():
            await app.repos.sanctions.add(
                found.id, SanctionKind.BAN, reason="Spam.", by_user_id=None, now=utcnow()
            )
        dirk.join(dirk_link)
        await server.wait_for(lambda: (GROUP, dirk.id) in server.declined, 20, description="Dirk")
        for user in (zoe, cas, dirk):
            assert server.member(GROUP, user.id)["status"] == "left"
        # Back in the experiment, Cas gets in with a new link of his own.
        before = len(server.messages(cas.chat_id))
        cas.press_data("exp.join:1")
        cas.join(await _new_link(server, cas, after=before))
        await server.wait_for(
            lambda: server.member(GROUP, cas.id)["status"] == "member", 20, description="Cas in"
        )
        assert not any("Zoe" in text or "Cas" in text for text in group_texts(server))


async def test_someone_banned_from_the_bot_who_asks_to_enter_is_not_told_to_join_to_get_in(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Joining would not let someone banned from the bot in: the way in that someone who
    left hears ("Doe mee") is not offered to them."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await linked_room(server, app)
        dirk = server.user(3006, first_name="Dirk")
        await onboard(server, dirk)
        link = await invite_link(server, dirk)
        before = len(server.messages(dirk.chat_id))
        dirk.press_data("exp.leave:1")
        await wait_for_text(server, dirk.chat_id, "niet meer", after=before)
        found = await app.repos.users.find("telegram", str(dirk.id))
        assert found is not None
        async with app.db.transaction():
            await app.repos.sanctions.add(
                found.id, SanctionKind.BAN, reason="Spam.", by_user_id=None, now=utcnow()
            )
        dirk.join(link)
        await server.wait_for(lambda: (GROUP, dirk.id) in server.declined, 20, description="Dirk")
        told = await app.db.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND payload LIKE ?",
            (found.id, "%rooms.join_not_taking_part%"),
        )
        assert told == 0
        assert server.member(GROUP, dirk.id)["status"] == "left"


async def test_someone_who_asks_to_enter_after_the_experiment_ended_hears_joining_is_over(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Once the experiment ended nobody can join it: who left and asks to enter its group
    is not invited to take part, but told it ended."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await linked_room(server, app)
        cas = server.user(3005, first_name="Cas")
        await onboard(server, cas)
        link = await invite_link(server, cas)
        before = len(server.messages(cas.chat_id))
        cas.press_data("exp.leave:1")
        await wait_for_text(server, cas.chat_id, "niet meer", after=before)
        async with app.db.transaction():
            assert await app.repos.experiments.end(1)
        cas.join(link)
        await server.wait_for(lambda: (GROUP, cas.id) in server.declined, 20, description="Cas")
        told = await wait_for_text(server, cas.chat_id, "alleen voor wie meedoet", after=before)
        assert "afgelopen" in told and "Doe je mee" not in told


async def test_reporting_without_a_reply_or_the_bots_own_or_ones_own_message_gets_a_hint(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, _, _ = await linked_room(server, app)
        await anna.send_text("/melden", chat_id=GROUP)
        await wait_for_text(server, GROUP, "Antwoord dan op dat bericht met /melden")
        welcome = next(m for m in server.messages(GROUP) if "Welkom" in (m["text"] or ""))
        await anna.send_text("/melden", chat_id=GROUP, reply_to=welcome["message_id"])
        await wait_for_text(server, GROUP, "Dit bericht kun je niet melden")
        said = await anna.send_text("Hallo allemaal", chat_id=GROUP)
        await anna.send_text("/melden", chat_id=GROUP, reply_to=said["message"]["message_id"])
        await wait_for_text(server, GROUP, "Dit is je eigen bericht")
        assert await app.repos.rooms.waiting() == 0


async def test_melden_typed_in_a_forum_topic_without_a_reply_reports_nobody(
    server: BotApiServer, tmp_path: Path
) -> None:
    """In a group with topics every message replies to the line that opened its topic:
    /melden typed there, replying to nothing, is not a report about whoever opened it."""
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, _ = await linked_room(server, app)
        topic = bob.create_topic("Plannen voor de speeltuin", chat_id=GROUP)
        assert topic.message is not None
        await anna.send_text("/melden", chat_id=GROUP, reply_to=topic.message["message_id"])
        await wait_for_text(server, GROUP, "Antwoord dan op dat bericht met /melden")
        assert await app.repos.rooms.waiting() == 0


async def test_a_resident_or_a_revoked_civil_servant_cannot_link_a_group(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Speeltuin Zeewijk", chat_type="supergroup")
    server.make_admin(GROUP)
    wim = server.user(3101, first_name="Wim")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, wim)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        await wait_for_text(server, GROUP, "https://t.me/test_bot?start=group")
        staff = await make_staff(app, wim, Role.CIVIL_SERVANT)
        async with app.db.transaction():
            await app.repos.users.set_role(staff, Role.RESIDENT)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        await server.wait_for_messages(GROUP, 2)
        assert await app.repos.rooms.all() == []
        assert all("hoort nu bij" not in t for t in group_texts(server))


async def test_a_group_already_linked_is_not_linked_to_a_second_experiment(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Speeltuin Zeewijk", chat_type="supergroup")
    wim = server.user(3201, first_name="Wim")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        await onboard(server, wim)
        await make_staff(app, wim, Role.CIVIL_SERVANT)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        await wait_for_text(server, GROUP, "hoort nu bij")
        await wim.send_text("/koppel 2", chat_id=GROUP)
        await wait_for_text(server, GROUP, "hoort al bij een ander experiment")
        rooms = await app.repos.rooms.all()
        assert [(r.experiment_id, r.chat_id) for r in rooms] == [(1, str(GROUP))]


async def test_without_admin_rights_the_invite_fails_and_is_recorded(
    server: BotApiServer, tmp_path: Path
) -> None:
    server.group(GROUP, title="Speeltuin Zeewijk", chat_type="supergroup")  # bot not admin
    wim, anna = server.user(3301, first_name="Wim"), server.user(3302, first_name="Anna")
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        for user in (wim, anna):
            await onboard(server, user)
        await make_staff(app, wim, Role.CIVIL_SERVANT)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        await wait_for_text(server, GROUP, "hoort nu bij")
        anna.press_data("exp.join:1")

        async def given_up() -> Any:
            return await app.db.fetchval(
                "SELECT detail FROM audit_log WHERE action = 'room.task_failed'"
            )

        detail = await server.wait_for(given_up, 20, description="the failed invite recorded")
        assert "not enough rights" in detail.lower()
        assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
        # Anna, told an invite was coming, hears that it could not be made.
        await wait_for_text(server, anna.chat_id, "lukte niet")


async def test_doctor_says_when_the_bot_lacks_admin_rights_or_was_removed_from_a_linked_group(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        anna, bob, ria = await linked_room(server, app)
        [check] = [c for c in await run_checks(settings) if c.name == "telegram rooms"]
        assert check.ok, check.detail
        server.make_admin(GROUP, can_restrict_members=False)
        [check] = [c for c in await run_checks(settings) if c.name == "telegram rooms"]
        assert not check.ok and "lacks can_restrict_members" in check.detail

        # Removed from the group: the doctor says so, and a decision there waits for the
        # bot to be back (the message is still there, the decision still stands) instead
        # of being tried again and again, or given up.
        said = await bob.send_text("Rommel", chat_id=GROUP)
        message_id = said["message"]["message_id"]
        await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        server.remove_bot(GROUP)
        [check] = [c for c in await run_checks(settings) if c.name == "telegram rooms"]
        assert not check.ok and "kicked" in check.detail
        await ria.send_text("/meldingen")
        await wait_for_text(server, ria.chat_id, "Rommel")
        ria.press("Verbergen")
        await wait_for_text(server, ria.chat_id, "Waarom haal je het bericht weg")
        await ria.send_text("Opruimen.")
        hides = "SELECT COUNT(*) FROM room_tasks WHERE op = 'hide'"

        async def hide_stored() -> bool:
            return await app.db.fetchval(hides) == 1

        # The update fetched is not yet the decision stored: wait for its task.
        await server.wait_for(hide_stored, 20, description="the hiding stored")
        await asyncio.sleep(0.5)  # the room worker's turn, had it tried
        assert await app.db.fetchval(hides) == 1
        failed = "SELECT COUNT(*) FROM audit_log WHERE action = 'room.task_failed'"
        assert await app.db.fetchval(failed) == 0
        assert not server.user_message(GROUP, message_id).get("deleted")

        # The bot added back and the group linked again: the message goes after all.
        server.make_admin(GROUP)
        wim = server.get_user(3001)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        await server.wait_for(
            lambda: server.user_message(GROUP, message_id).get("deleted"), 20, description="hidden"
        )

        async def hide_done() -> bool:
            waiting = "SELECT COUNT(*) FROM room_tasks WHERE op = 'hide'"
            return await app.db.fetchval(waiting) == 0

        await server.wait_for(hide_done, 20, description="the hiding done")
        assert await app.db.fetchval(failed) == 0


async def test_after_the_bot_was_removed_from_the_group_staff_link_a_new_one_and_bans_hold_there(
    server: BotApiServer, tmp_path: Path
) -> None:
    """The experiment's group is lost (the bot removed): /koppel in a new group moves the
    room there; participants are invited again, someone banned from the room is not, and
    the ban is carried out in the new group too."""
    new_group = -1005002
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await _report(server, anna, bob, "Ik kom jullie halen")
        await _ban_for_threat(server, ria, bob)
        wim = server.get_user(3001)
        server.remove_bot(GROUP, by=wim)
        await server.wait_until_consumed()
        # Wim, who linked the group, hears it in private, with what to do.
        await wait_for_text(server, wim.chat_id, "/koppel 1")
        # Joining meanwhile, Cas is invited once the experiment has a group again.
        cas = server.user(3005, first_name="Cas")
        await onboard(server, cas)
        cas.press_data("exp.join:1")
        await wait_for_text(server, cas.chat_id, "Je doet nu mee")
        server.group(new_group, title="Speeltuin Zeewijk 2", chat_type="supergroup")
        server.make_admin(new_group)
        seen = {user.id: len(server.messages(user.chat_id)) for user in (anna, bob, cas)}
        wim.added(new_group)
        await wim.send_text("/koppel 1", chat_id=new_group)
        await wait_for_text(server, new_group, "hoort nu bij")
        for user in (anna, cas):
            user.join(await _new_link(server, user, after=seen[user.id]))
        await server.wait_for(
            lambda: (
                sum("Welkom in de groep" in (m["text"] or "") for m in server.messages(new_group))
                >= 2
            ),
            20,
            description="both welcomed in the new group",
        )
        await server.wait_for(
            lambda: server.member(new_group, bob.id)["status"] == "kicked", 20, description="ban"
        )
        assert all("alleen voor jou" not in t for t in texts(server, bob.chat_id)[seen[bob.id] :])
        [room] = await app.repos.rooms.all()
        assert (room.chat_id, room.gone) == (str(new_group), False)
        assert [(r.room.chat_id, r.kind) for r in await app.repos.rooms.in_force(utcnow())] == [
            (str(new_group), "ban")
        ]


async def test_a_restart_between_report_decision_and_telegram_loses_nothing(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        anna, bob, ria = await linked_room(server, app)
        said = await bob.send_text("Koop nu goedkope zonnepanelen!!!", chat_id=GROUP)
        message_id = said["message"]["message_id"]
        await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
    # Stopped before the connector decided. The decision is made while no adapter runs
    # (through the router alone): the deletion waits in the database.
    app = await App.open(settings)
    try:
        connector = Chat(app, str(ria.id), platform="telegram")
        await connector.send("/meldingen")
        assert "zonnepanelen" in connector.text
        await connector.press("Verbergen")
        await connector.send("Geen reclame.")
        assert connector.keys[0] == "rooms.mod.done_hide"
    finally:
        await app.close()
    assert not server.user_message(GROUP, message_id).get("deleted")
    async with running_bot(settings):
        await server.wait_for(
            lambda: server.user_message(GROUP, message_id).get("deleted"),
            20,
            description="deleted after the restart",
        )
        await wait_for_text(server, bob.chat_id, "Geen reclame.")


async def test_a_message_deleted_before_the_decision_is_given_up_and_recorded(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        said = await bob.send_text("Oeps", chat_id=GROUP)
        message_id = said["message"]["message_id"]
        await anna.send_text("/melden", chat_id=GROUP, reply_to=message_id)
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        server.user_message(GROUP, message_id)["deleted"] = True  # Bob removed it himself
        await ria.send_text("/meldingen")
        await wait_for_text(server, ria.chat_id, "Oeps")
        ria.press("Verbergen")
        await wait_for_text(server, ria.chat_id, "Waarom haal je het bericht weg")
        await ria.send_text("Opgeruimd.")

        async def given_up() -> Any:
            return await app.db.fetchval(
                "SELECT detail FROM audit_log WHERE action = 'room.task_failed'"
            )

        assert "not found" in await server.wait_for(given_up, 20, description="given up")
        assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0


async def test_doctor_with_linked_groups_and_a_refused_token_says_so_without_the_token(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        await linked_room(server, app)
    server.token = "4242:revoked"
    checks = {check.name: check for check in await run_checks(settings)}
    assert not checks["telegram rooms"].ok
    assert checks["telegram rooms"].detail == checks["telegram"].detail.removeprefix(
        "getMe failed: "
    )
    token = settings.telegram_token
    assert token is not None
    secret = token.get_secret_value().partition(":")[2]
    assert all(secret not in check.detail for check in checks.values())


# A mute's end and a ban on the same account -------------------------------------------------


async def _mute_for_a_week(server: BotApiServer, ria: FakeUser, bob: FakeUser) -> None:
    """Ria mutes Bob for "Wat een sukkels" for a week from /meldingen; Telegram shows it."""
    before = len(server.messages(ria.chat_id))
    await ria.send_text("/meldingen")
    await wait_for_text(server, ria.chat_id, "sukkels", after=before)
    ria.press("Dempen")
    await wait_for_text(server, ria.chat_id, "Hoe lang dempen", after=before)
    ria.press("1 week")
    await wait_for_text(server, ria.chat_id, "Waarom demp je", after=before)
    await ria.send_text("Schelden hoort hier niet.")
    await server.wait_for(lambda: not server.may_write(GROUP, bob.id), 20, description="muted")


async def _muted_then_banned(
    server: BotApiServer, anna: FakeUser, bob: FakeUser, ria: FakeUser
) -> None:
    """Anna reports two of Bob's messages; Ria mutes him for a week for the first and bans
    him for the second."""
    await _report(server, anna, bob, "Wat een sukkels")
    await _report(server, anna, bob, "Ik kom jullie halen")
    await _mute_for_a_week(server, ria, bob)
    await _ban_for_threat(server, ria, bob)


def _restricts(server: BotApiServer) -> int:
    return sum(method == "restrictChatMember" for method, _ in server.calls)


async def test_a_mute_that_ends_by_itself_leaves_someone_banned_meanwhile_banned(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await _muted_then_banned(server, anna, bob, ria)
        restricted = _restricts(server)

        await mutes_end_now(app)
        # restrictChatMember with every permission would have ended the ban (Telegram sets
        # a banned user who is unrestricted to "left": free to join again).
        assert server.member(GROUP, bob.id)["status"] == "kicked"
        assert _restricts(server) == restricted

        # Lifted, the ban lets him back as a member who may write: the mute is over.
        invites = len(server.messages(bob.chat_id))
        before = len(server.messages(ria.chat_id))
        await ria.send_text("/beperkingen")
        listed = await wait_for_text(server, ria.chat_id, "Opheffen", after=before)
        assert "gedempt tot" not in listed
        ria.press("Opheffen")
        await wait_for_text(server, ria.chat_id, "mag weer in de groep", after=before)
        bob.join(await _new_link(server, bob, after=invites))
        await server.wait_for(lambda: server.may_write(GROUP, bob.id), 20, description="back")


async def test_a_ban_lifted_while_a_mute_holds_lets_the_person_back_muted_until_its_end(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await _muted_then_banned(server, anna, bob, ria)
        invites = len(server.messages(bob.chat_id))

        ban = await app.db.fetchval("SELECT id FROM room_sanctions WHERE kind = 'ban'")
        before = len(server.messages(ria.chat_id))
        ria.press_data(f"mod.lift_room:{ban}")
        await wait_for_text(server, ria.chat_id, "mag weer in de groep", after=before)
        # The ban replaced the restriction on Telegram: the mute is put back after the unban.
        await server.wait_for(
            lambda: server.member(GROUP, bob.id)["status"] == "restricted",
            20,
            description="muted again",
        )
        bob.join(await _new_link(server, bob, after=invites))
        await server.wait_for(
            lambda: server.member(GROUP, bob.id).get("is_member") is True,
            20,
            description="let in",
        )
        assert not server.may_write(GROUP, bob.id)

        # The mute's timer, firing after the ban was lifted, gives him his rights back.
        await mutes_end_now(app)
        assert server.member(GROUP, bob.id)["status"] == "member"
        assert server.may_write(GROUP, bob.id)


async def test_a_mute_that_ends_by_itself_leaves_someone_an_admin_banned_by_hand_banned(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        await _report(server, anna, bob, "Wat een sukkels")
        await _mute_for_a_week(server, ria, bob)
        # A group admin bans Bob in Telegram itself: the bot's records know nothing of it.
        server._chats[GROUP].members[bob.id] = {"status": "kicked", "until_date": 0}
        restricted = _restricts(server)
        await mutes_end_now(app)
        assert server.member(GROUP, bob.id)["status"] == "kicked"
        assert _restricts(server) == restricted


# A ban after its person erased their data ---------------------------------------------------


async def test_a_ban_stays_listed_and_liftable_after_the_banned_person_erased_their_data(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        anna, bob, ria = await linked_room(server, app)
        await _report(server, anna, bob, "Ik kom jullie halen")
        await _ban_for_threat(server, ria, bob)
        await bob.send_text("/vergeetmij")
        await wait_for_text(server, bob.chat_id, "Weet je het zeker?")
        await bob.press("Ja, wis mijn gegevens")
        await wait_for_text(server, bob.chat_id, "Je gegevens zijn gewist")
        assert await app.repos.users.find("telegram", str(bob.id)) is None
        assert server.member(GROUP, bob.id)["status"] == "kicked"

        before = len(server.messages(ria.chat_id))
        await ria.send_text("/beperkingen")
        listed = await wait_for_text(server, ria.chat_id, "Opheffen", after=before)
        # By the erasure's pseudonym, with the group and since when; nothing of him.
        pseudonym = await app.db.fetchval("SELECT pseudonym FROM erasures")
        assert f"een verwijderd account ({pseudonym})" in listed
        assert "Speeltuin" in listed and "eruit gehaald op" in listed
        for gone in ("Bob", "halen", "Bedreigen", str(bob.id)):
            assert gone not in listed, gone
    # The lift is ordered while no adapter runs (a restart before Telegram hears of it).
    app = await App.open(settings)
    try:
        connector = Chat(app, str(ria.id), platform="telegram")
        await connector.send("/beperkingen")
        await connector.press("Opheffen")
        assert connector.keys == ["rooms.mod.lifted_ban"]
        assert f"een verwijderd account ({pseudonym})" in connector.text
        # Pressed again: nothing more to lift.
        sanction = await app.db.fetchval("SELECT id FROM room_sanctions")
        await connector.press_payload(f"mod.lift_room:{sanction}")
        assert connector.keys == ["general.stale_button"]
    finally:
        await app.close()
    assert server.member(GROUP, bob.id)["status"] == "kicked"
    async with running_bot(settings) as app:
        await server.wait_for(
            lambda: server.member(GROUP, bob.id)["status"] == "left", 20, description="unban"
        )

        async def account_gone() -> bool:
            held = await app.db.fetchval(
                "SELECT COUNT(*) FROM room_sanctions WHERE target IS NOT NULL"
            )
            return held == 0 and await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await server.wait_for(account_gone, 20, description="the account forgotten")
        [unban] = [params for method, params in server.calls if method == "unbanChatMember"]
        assert unban["only_if_banned"] is True
        # Erased, he is told nothing: the bot does not know him any more.
        assert not any("laat je weer toe" in t for t in texts(server, bob.chat_id))


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "found_out"])
async def test_a_linked_group_upgraded_to_a_supergroup_stays_the_experiments_room(
    server: BotApiServer, tmp_path: Path, announced: bool
) -> None:
    """Telegram turns a group into a supergroup with a new id (more members, a setting
    changed): the experiment's room moves with it, so invites, welcomes and reports go on.
    The bot hears of it from the service messages, or else from the refusal of its first
    call for the old group."""
    old, new = -5002, -1005002
    server.group(old, title="Speeltuin Zeewijk")
    server.make_admin(old)
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        wim = server.user(3001, first_name="Wim")
        anna = server.user(3002, first_name="Anna")
        bob = server.user(3003, first_name="Bob")
        for user in (wim, anna, bob):
            await onboard(server, user)
        await make_staff(app, wim, Role.CIVIL_SERVANT)
        wim.added(old)
        await wim.send_text("/koppel 1", chat_id=old)
        await wait_for_text(server, old, "hoort nu bij")

        server.migrate(old, new, by=wim, announce=announced)
        await server.wait_until_consumed()
        # Those who join the experiment now are invited to the supergroup, and welcomed.
        for user in (anna, bob):
            user.join(await invite_link(server, user))
        await server.wait_for(
            lambda: (
                sum("Welkom in de groep" in (m["text"] or "") for m in server.messages(new)) >= 2
            ),
            20,
            description="two welcomes in the supergroup",
        )
        said = await bob.send_text("Kom maar langs op Dorpsstraat 5", chat_id=new)
        await anna.send_text("/melden", chat_id=new, reply_to=said["message"]["message_id"])
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        rooms = await app.repos.rooms.all("telegram")
        assert [room.chat_id for room in rooms] == [str(new)]
        actions = await app.db.fetchall("SELECT action FROM audit_log ORDER BY id")
        assert [a[0] for a in actions if a[0].startswith("room.")][-2:] == [
            "room.move",
            "room.report",
        ]
        # Nothing failed on the way, and /koppel in the supergroup knows it is the room.
        assert "room.task_failed" not in [a[0] for a in actions]
        await wim.send_text("/koppel 1", chat_id=new)
        await wait_for_text(server, new, "hoort al bij")


def _removals(server: BotApiServer) -> list[tuple[str, int, JSONDict]]:
    """The bans and unbans the bot asked for: method, whom, the parameters."""
    return [
        (method, int(params["user_id"]), params)
        for method, params in server.calls
        if method in ("banChatMember", "unbanChatMember")
    ]


async def test_leaving_the_experiment_takes_the_participant_out_of_the_group_without_a_ban(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, _ = await linked_room(server, app)
        zoe = server.user(3007, first_name="Zoe")  # added by hand, never used the bot
        zoe.added(GROUP)
        before = len(server.messages(anna.chat_id))
        pressed = time.time()
        anna.press_data("exp.leave:1")
        told = await wait_for_text(server, anna.chat_id, "uit de groep gehaald", after=before)
        assert "Speeltuin Zeewijk" in told
        # Out, and not banned: a ban of a minute at most, lifted at once, only if banned.
        assert server.member(GROUP, anna.id)["status"] == "left"
        [(ban, banned, ban_params), (unban, unbanned, unban_params)] = _removals(server)
        assert (ban, banned, unban, unbanned) == (
            "banChatMember",
            anna.id,
            "unbanChatMember",
            anna.id,
        )
        # A minute from when it was asked, however long the rest took.
        assert pressed + 30 < int(ban_params["until_date"]) <= time.time() + 60
        assert unban_params["only_if_banned"] is True
        for user in (bob, zoe):
            assert server.member(GROUP, user.id)["status"] == "member"
        assert_nothing_personal(server, "Anna", "gehaald", "meer mee")
        assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
        # Telegram's own line in the group, "<bot> removed Anna", is deleted too.
        await _removal_lines_deleted(server, [anna.id])

        # Taking part again, she gets a new link of her own, and it lets her in.
        before = len(server.messages(anna.chat_id))
        anna.press_data("exp.join:1")
        anna.join(await _new_link(server, anna, after=before))
        await server.wait_for(
            lambda: server.member(GROUP, anna.id)["status"] == "member", 20, description="back"
        )


async def test_a_ban_from_the_bot_and_an_erasure_take_residents_out_of_the_group(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, ria = await linked_room(server, app)
        async with app.db.transaction():
            idea = await app.repos.ideas.create(
                category="wonen",
                title="Bankjes in het park",
                description="Meer bankjes in het park bij de speeltuin.",
                neighbourhood="ijmuiden",
                photo_id=None,
                author_user_id=None,
                now=utcnow(),
            )
        # Bob writes something rude under an idea; Anna reports it; Ria bans Bob.
        bob.press_data(f"idea.comment:{idea.id}")
        await wait_for_text(server, bob.chat_id, "Typ je reactie")
        await bob.send_text("Jullie zijn allemaal gek.")
        await wait_for_text(server, bob.chat_id, "Je reactie staat bij")
        anna.press_data(f"idea.comments:{idea.id}")
        await wait_for_text(server, anna.chat_id, "allemaal gek")
        anna.press("Meld 1")
        await wait_for_text(server, anna.chat_id, "Wat is er mis mee")
        anna.press("Schelden of beledigend")
        await wait_for_text(server, anna.chat_id, "Je melding is binnen")
        seen = len(server.messages(bob.chat_id))
        await ria.send_text("/meldingen")
        await wait_for_text(server, ria.chat_id, "allemaal gek")
        ria.press("Blokkeren")
        await wait_for_text(server, ria.chat_id, "Waarom")
        await ria.send_text("Herhaaldelijk schelden.")
        await wait_for_text(server, ria.chat_id, "geblokkeerd")
        told = await wait_for_text(server, bob.chat_id, "uit de groep", after=seen)
        assert "Speeltuin Zeewijk" in told and "geblokkeerd" in told
        assert server.member(GROUP, bob.id)["status"] == "left"
        assert [(m, who) for m, who, _ in _removals(server)] == [
            ("banChatMember", bob.id),
            ("unbanChatMember", bob.id),
        ]
        # Out, and his own link lets him in no more.
        link = await _new_link(server, bob)
        bob.join(link)
        await server.wait_for(lambda: (GROUP, bob.id) in server.declined, 20, description="Bob")

        # Anna erases her data: out of the group too; told nothing (the bot forgot her).
        await anna.send_text("/vergeetmij")
        await wait_for_text(server, anna.chat_id, "Weet je het zeker?")
        anna.press("Ja, wis mijn gegevens")
        await wait_for_text(server, anna.chat_id, "Je gegevens zijn gewist")
        await server.wait_for(
            lambda: server.member(GROUP, anna.id)["status"] == "left", 20, description="Anna out"
        )

        async def nothing_left() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await server.wait_for(nothing_left, 20, description="the task done and gone")
        assert await traces(app.db, [str(anna.id)]) == []
        assert not any("uit de groep" in t for t in texts(server, anna.chat_id))
        assert_nothing_personal(server, "Anna", "Bob", "gek", "schelden", "geblokkeerd")
        await _removal_lines_deleted(server, [bob.id, anna.id])


async def _removal_lines_deleted(server: BotApiServer, removed: list[int]) -> None:
    """Telegram told the group whom the bot removed, one line each: all deleted."""

    def deleted() -> bool:
        lines = server.service_messages(GROUP)
        return [m["left_chat_member"]["id"] for m in lines] == removed and all(
            m.get("deleted") for m in lines
        )

    await server.wait_for(deleted, 20, description="the removal lines deleted")


async def test_someone_who_left_while_the_bot_was_out_of_the_group_is_taken_out_when_it_is_back(
    server: BotApiServer, tmp_path: Path
) -> None:
    async with running_bot(telegram_settings(server, tmp_path / "bot.db")) as app:
        anna, bob, _ = await linked_room(server, app)
        wim = server.get_user(3001)
        server.remove_bot(GROUP, by=wim)
        await wait_for_text(server, wim.chat_id, "/koppel 1")
        before = len(server.messages(anna.chat_id))
        anna.press_data("exp.leave:1")
        await wait_for_text(server, anna.chat_id, "niet meer mee", after=before)
        assert server.member(GROUP, anna.id)["status"] == "member"

        # Wim adds the bot back and links the group again: Anna goes out now.
        server.make_admin(GROUP)
        await wim.send_text("/koppel 1", chat_id=GROUP)
        told = await wait_for_text(server, anna.chat_id, "uit de groep gehaald", after=before)
        assert "Speeltuin Zeewijk" in told
        assert server.member(GROUP, anna.id)["status"] == "left"
        assert server.member(GROUP, bob.id)["status"] == "member"
        assert_nothing_personal(server, "Anna", "gehaald", "meer mee")


async def test_a_restart_between_the_ban_and_its_unban_still_only_takes_the_person_out(
    server: BotApiServer, tmp_path: Path
) -> None:
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        anna, bob, _ = await linked_room(server, app)
        # Cas takes part, but Telegram never saw him in the group.
        cas = server.user(3005, first_name="Cas")
        await onboard(server, cas)
        cas.press_data("exp.join:1")
        await wait_for_text(server, cas.chat_id, "alleen voor jou")
        server.fail_next(
            "getChatMember",
            error_code=400,
            description="Bad Request: user not found",
            where={"user_id": cas.id},
        )
        cas.press_data("exp.leave:1")
        await wait_for_text(server, cas.chat_id, "niet meer mee")
        await server.wait_for(
            lambda: not server._failures["getchatmember"], 20, description="Cas looked up"
        )
        # Anna leaves; the bot stops after the ban, before Telegram answered the unban.
        server.hold("unbanChatMember")
        anna.press_data("exp.leave:1")
        await server.wait_for(lambda: len(server.held) == 1, 20, description="unban held")
    server.release()
    assert server.member(GROUP, anna.id)["status"] == "kicked"
    async with running_bot(settings) as app:
        told = await wait_for_text(server, anna.chat_id, "uit de groep gehaald")
        assert "Speeltuin Zeewijk" in told
        assert server.member(GROUP, anna.id)["status"] == "left"

        async def nothing_left() -> bool:
            return await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0

        await server.wait_for(nothing_left, 20, description="the tasks done")
        # One ban, and its unban after the restart (the held one never arrived).
        assert [(method, who) for method, who, _ in _removals(server)] == [
            ("banChatMember", anna.id),
            ("unbanChatMember", anna.id),
        ]
        assert server.member(GROUP, bob.id)["status"] == "member"
        # Cas was never in the group: nothing was done, nothing failed, he is told nothing.
        assert "room.task_failed" not in [
            a[0] for a in await app.db.fetchall("SELECT action FROM audit_log")
        ]
        assert not any("uit de groep" in t for t in texts(server, cas.chat_id))


async def test_a_stop_right_after_telegram_took_a_muted_person_out_keeps_them_muted_and_told(
    server: BotApiServer, tmp_path: Path
) -> None:
    """Bob, muted in the group, leaves the experiment; Telegram takes him out (which ends
    his restriction), and the bot stops before it heard so. After the restart he is out
    already: he is still told, once, and muted again for when he comes back."""
    settings = telegram_settings(server, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        anna, bob, ria = await linked_room(server, app)
        await _report(server, anna, bob, "Wat een sukkels")
        await _mute_for_a_week(server, ria, bob)
        server.hold("unbanChatMember", carried_out=True)
        bob.press_data("exp.leave:1")
        await server.wait_for(lambda: len(server.held) == 1, 20, description="unban held")
    server.release()
    assert server.member(GROUP, bob.id)["status"] == "left"  # out, and no longer muted
    async with running_bot(settings) as app:
        told = await wait_for_text(server, bob.chat_id, "uit de groep gehaald")
        assert "Speeltuin Zeewijk" in told
        await server.wait_for(
            lambda: server.member(GROUP, bob.id)["status"] == "restricted",
            20,
            description="muted again",
        )
        assert server.member(GROUP, bob.id)["is_member"] is False
        assert not server.may_write(GROUP, bob.id)

        async def only_the_mutes_end_left() -> bool:
            ops = await app.db.fetchall("SELECT op FROM room_tasks")
            return [r[0] for r in ops] == ["unmute"]

        await server.wait_for(only_the_mutes_end_left, 20, description="the removal done")
        assert sum("uit de groep gehaald" in t for t in texts(server, bob.chat_id)) == 1
