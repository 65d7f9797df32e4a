"""An experiment's room through the router: linking, welcoming, reporting and deciding, and
what an attacker or a careless resident tries (forged buttons, revoked roles, other rooms,
huge or right-to-left text); /mijngegevens and /vergeetmij for what rooms store."""

from __future__ import annotations

import json

from bot.app import App
from handlers.contract import Quoted, Role
from storage.clock import utcnow
from storage.community.moderation import SanctionKind
from tests.people import for_user, person, row, with_role
from tests.privacy import traces
from tests.support import Chat

GROUP = "-1007001"


def in_group(chat: Chat) -> Chat:
    return Chat(chat.app, chat.user_id, name=chat.name, platform=chat.platform, chat_id=GROUP)


async def group_command(
    chat: Chat, command: str, args: str = "", reply_to: Quoted | None = None
) -> None:
    group = in_group(chat)
    seen = await group.handle(
        group.event(command=command, args=args, is_group=True, reply_to=reply_to)
    )
    chat.history.append(seen)


async def linked(app: App) -> tuple[Chat, Chat, Chat, Chat]:
    """Wim (civil servant) linked the group to experiment 1; Anna, Bob and Ria (connector)."""
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    anna, bob = await person(app, "anna"), await person(app, "bob")
    ria = await with_role(app, await person(app, "ria"), Role.CONNECTOR)
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]
    return wim, anna, bob, ria


def bobs(text: str, message_id: str = "55") -> Quoted:
    return Quoted(message_id=message_id, sender_id="bob", text=text, link=None)


async def test_a_resident_or_a_revoked_civil_servant_cannot_link_and_hears_only_the_group_word(
    app: App,
) -> None:
    anna = await person(app, "anna")
    await group_command(anna, "koppel", "1")
    assert anna.keys == ["general.in_group"]
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    await with_role(app, wim, Role.RESIDENT)
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["general.in_group"]
    assert await app.repos.rooms.all() == []


async def test_koppel_without_a_number_lists_the_experiments_and_a_second_experiment_is_refused(
    app: App,
) -> None:
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    await group_command(wim, "koppel")
    assert wim.keys == ["rooms.link_which"]
    await group_command(wim, "koppel", "speeltuin-zeewijk")
    assert wim.keys == ["rooms.linked"]
    await group_command(wim, "koppel", "2")
    assert wim.keys == ["rooms.linked_elsewhere"]
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.already_linked"]
    # In private /koppel says where to type it.
    await wim.send("/koppel 1")
    assert wim.keys == ["rooms.link_in_group"]


async def test_koppel_with_the_number_in_arabic_digits_links_that_experiment(app: App) -> None:
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    await group_command(wim, "koppel", "#٢")
    assert wim.keys == ["rooms.linked"]
    [room] = await app.repos.rooms.all()
    assert room.experiment_id == 2


async def test_joining_the_experiment_queues_one_invite_and_the_welcome_comes_once(
    app: App,
) -> None:
    _, anna, _, _ = await linked(app)
    await anna.press_payload("exp.join:1")
    assert "rooms.invite_coming" in [p.key for s in anna.last for p in s.reply.parts]
    tasks = await app.db.fetchall("SELECT op, target FROM room_tasks")
    assert [tuple(t) for t in tasks] == [("invite", "anna")]
    # Leaving and joining again does not pile up invites.
    await anna.press_payload("exp.leave:1")
    await anna.press_payload("exp.join:1")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 1
    group = in_group(anna)
    await group.handle(group.event(joined=True, is_group=True))
    assert group.keys == ["rooms.welcome"]
    assert "anna" not in group.text.casefold()
    await group.handle(group.event(joined=True, is_group=True))
    assert group.keys == []
    welcomes = await app.db.fetchval("SELECT COUNT(*) FROM room_welcomes")
    assert welcomes == 1
    # Someone the bot does not know is welcomed, and nothing is stored about them.
    zoe = in_group(Chat(app, "zoe", name="Zoe"))
    await zoe.handle(zoe.event(joined=True, is_group=True))
    assert zoe.keys == ["rooms.welcome"]
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_welcomes") == 1
    assert await app.repos.users.find("test", "zoe") is None


async def test_reports_need_a_reply_to_someone_else_in_a_linked_room(app: App) -> None:
    _, anna, _, _ = await linked(app)
    await group_command(anna, "melden")
    assert anna.keys == ["rooms.report_how"]
    await group_command(
        anna, "melden", reply_to=Quoted(message_id="1", sender_id="x", from_bot=True)
    )
    assert anna.keys == ["rooms.report_bot"]
    await group_command(anna, "melden", reply_to=Quoted(message_id="2", sender_id="anna"))
    assert anna.keys == ["rooms.report_own"]
    other = Chat(app, "anna", name="Anna", chat_id="-1009999")
    await other.handle(other.event(command="melden", is_group=True, reply_to=bobs("hoi")))
    assert other.keys == ["rooms.not_a_room"]
    stranger = in_group(Chat(app, "zoe"))
    await stranger.handle(stranger.event(command="melden", is_group=True, reply_to=bobs("hoi")))
    assert stranger.keys == ["rooms.report_start_first"]
    assert await app.repos.rooms.waiting() == 0
    # Nothing about the stranger is stored.
    assert await app.repos.users.find("test", "zoe") is None


async def test_a_huge_right_to_left_markup_message_is_shown_to_the_connector_escaped_and_short(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    text = "<b>مرحبا</b> &amp; " * 400
    await group_command(anna, "melden", reply_to=bobs(text))
    assert anna.keys == []  # nothing in the group: thanks come in private
    await ria.send("/meldingen")
    [card] = ria.last
    assert card.reply.key == "rooms.mod.card"
    html = app.catalog.render("nl", card.reply, markup=True)
    assert "&lt;b&gt;مرحبا&lt;/b&gt;" in html and "<b>مرحبا" not in html  # data, escaped
    assert "\u2068" in card.text and "\u2069" in card.text
    assert len(card.text) < 1500


async def test_forged_and_stale_buttons_and_a_resident_change_nothing(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    [report_id] = [r[0] for r in await app.db.fetchall("SELECT id FROM room_reports")]
    # A resident pressing a forged decision button hears it is out of date.
    await anna.press_payload(f"mod.do:r{report_id}:ban")
    assert anna.keys == ["general.stale_button"]
    # Forged ids and decisions.
    await ria.press_payload("mod.do:r99999:hide")
    assert ria.keys[0] == "rooms.mod.not_found"
    await ria.press_payload(f"mod.do:r{report_id}:remove")
    assert ria.keys == ["general.stale_button"]
    # The connector begins a ban, loses the role mid-dialog: nothing happens.
    await ria.press_payload(f"mod.do:r{report_id}:ban")
    await with_role(app, ria, Role.RESIDENT)
    await ria.send("Weg ermee.")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_tasks") == 0
    await with_role(app, ria, Role.CONNECTOR)
    # Decided once; the same button again is stale.
    await ria.press_payload(f"mod.do:r{report_id}:hide")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_hide"
    await ria.press_payload(f"mod.do:r{report_id}:ban")
    assert ria.keys[0] == "rooms.mod.already_decided"
    tasks = await app.db.fetchall("SELECT op FROM room_tasks")
    assert [t[0] for t in tasks] == ["hide"]


async def test_staff_messages_can_only_be_kept_or_hidden(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(
        anna, "melden", reply_to=Quoted(message_id="9", sender_id="wim", text="Vergadering")
    )
    await ria.send("/meldingen")
    payloads = [payload for _, payload in ria.buttons() if payload.startswith("mod.do:")]
    assert [p.rsplit(":", 1)[1] for p in payloads] == ["keep", "hide"]
    await ria.press_payload(payloads[0].replace("keep", "ban"))
    assert ria.keys == ["general.stale_button"]


async def test_what_rooms_hold_about_someone_is_in_their_data_and_goes_with_them(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:warn")
    await ria.send("Houd het netjes.")
    assert ria.keys[0] == "rooms.mod.done_warn"

    async def exported(chat: Chat) -> dict[str, list[dict[str, object]]]:
        user = await row(app, chat)
        found = await app.repos.personal.export(user.id, utcnow())
        assert found is not None
        return {
            name: section.rows
            for name, section in found.sections.items()
            if name.startswith("room")
        }

    bob_data = await exported(bob)
    assert bob_data["room_reports"][0]["body"] == "Sukkels"
    assert bob_data["room_sanctions"][0]["reason"] == "Houd het netjes."
    anna_data = await exported(anna)
    assert len(anna_data["room_reporters"]) == 1
    assert "Sukkels" not in json.dumps(anna_data)

    await anna.send("/vergeetmij")
    await anna.press("Ja, wis mijn gegevens")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reporters") == 0
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reports") == 1
    await bob.send("/vergeetmij")
    await bob.press("Ja, wis mijn gegevens")
    assert bob.keys == ["privacy.forget.done"]
    for table in ("room_reports", "room_sanctions", "room_welcomes"):
        left = await app.db.fetchval(f"SELECT COUNT(*) FROM {table}")
        assert left == 0, table


async def test_a_banned_resident_reporting_in_a_room_hears_only_the_group_word(app: App) -> None:
    _, anna, _, ria = await linked(app)
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, anna)).id,
            SanctionKind.BAN,
            reason="Spam",
            by_user_id=(await row(app, ria)).id,
            now=utcnow(),
        )
    await group_command(anna, "melden", reply_to=bobs("hoi"))
    assert anna.keys == ["general.in_group"]
    assert "Spam" not in anna.text
    assert await app.repos.rooms.waiting() == 0


async def test_a_ban_from_before_someone_used_the_bot_is_in_their_data_and_only_its_account_stays(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    spam = Quoted(message_id="57", sender_id="erik", text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=spam)
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Erik Xanthopoulos spamt.")
    assert ria.keys[0] == "rooms.mod.done_ban"

    erik = await person(app, "erik")  # starts using the bot afterwards
    found = await app.repos.personal.export((await row(app, erik)).id, utcnow())
    assert found is not None
    sanctions = found.sections["room_sanctions"].rows
    assert [(s["kind"], s["reason"]) for s in sanctions] == [("ban", "Erik Xanthopoulos spamt.")]
    other = await app.repos.personal.export((await row(app, anna)).id, utcnow())
    assert other is not None
    assert other.sections["room_sanctions"].rows == []

    await erik.send("/vergeetmij")
    await erik.press("Ja, wis mijn gegevens")
    assert erik.keys == ["privacy.forget.done"]
    # The ban holds on the platform: kept by the account alone (no person, report, reason).
    [kept] = await app.db.fetchall(
        "SELECT user_id, report_id, reason, target, pseudonym FROM room_sanctions"
    )
    assert (kept["user_id"], kept["report_id"], kept["reason"]) == (None, None, None)
    assert kept["target"] == "erik" and kept["pseudonym"].startswith("anon-")
    assert await app.db.fetchval("SELECT COUNT(*) FROM room_reports") == 0


async def test_a_name_that_is_a_common_word_does_not_empty_the_reasons_of_others(
    app: App,
) -> None:
    # Names under five letters are words as well ("Wil", "Ben", "De"): someone so named who
    # erases themselves would otherwise empty every reason that uses the word.
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:warn")
    await ria.send("Scheldt en wil niet stoppen.")
    wil = await person(app, "wil")
    await wil.send("/vergeetmij")
    await wil.press("Ja, wis mijn gegevens")
    assert wil.keys == ["privacy.forget.done"]
    await app.db.settled()
    assert await app.db.fetchval("SELECT reason FROM room_sanctions") == (
        "Scheldt en wil niet stoppen."
    )


async def test_the_thanks_for_a_report_names_the_connector_by_name(app: App) -> None:
    _, anna, _, _ = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))  # once more: thanked once
    [thanks] = await for_user(app, anna, "moderation")
    assert thanks.replies[0].key == "rooms.reported"
    assert "Burgerbeest kijkt ernaar" in thanks.text(app, "nl")
    assert "Burgerbeest will look at it" in thanks.text(app, "en")


async def test_the_reported_message_leaves_the_reporters_messages_when_its_author_is_erased(
    app: App,
) -> None:
    """The reporter is thanked without the message: it is its author's words, and after
    their erasure no row of anyone else's may still hold them."""
    _, anna, bob, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Bel 0612345678 voor sigaretten"))
    await ria.press_payload("mod.do:r1:warn")
    await ria.send("Geen reclame in de groep.")
    assert ria.keys[0] == "rooms.mod.done_warn"
    [acted] = [
        n for n in await for_user(app, anna, "moderation") if n.replies[0].key != "rooms.reported"
    ]
    assert acted.replies[0].key == "rooms.mod.reporter_acted"

    await bob.send("/vergeetmij")
    await bob.press("Ja, wis mijn gegevens")
    assert bob.keys == ["privacy.forget.done"]
    await app.db.settled()
    assert await traces(app.db, ["0612345678"]) == []


async def test_a_room_linked_later_invites_no_participant_banned_from_the_bot(app: App) -> None:
    wim = await with_role(app, await person(app, "wim"), Role.CIVIL_SERVANT)
    anna, bob = await person(app, "anna"), await person(app, "bob")
    for chat in (anna, bob):
        await chat.press_payload("exp.join:1")
    async with app.db.transaction():
        await app.repos.sanctions.add(
            (await row(app, bob)).id,
            SanctionKind.BAN,
            reason="Spam.",
            by_user_id=None,
            now=utcnow(),
        )
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]
    tasks = await app.db.fetchall("SELECT op, target FROM room_tasks")
    assert [tuple(t) for t in tasks] == [("invite", "anna")]


async def test_the_room_hears_the_default_language_whatever_a_newcomer_chose_for_themselves(
    app: App,
) -> None:
    """A person's language is theirs: a welcome or an answer in the group in the language
    they chose (or their app's) would tell everyone there. In private they keep it."""
    await linked(app)
    zeynep = Chat(app, "zeynep", name="Zeynep")
    await zeynep.onboard(language="Türkçe")
    group = in_group(zeynep)
    await group.handle(group.event(joined=True, is_group=True))
    assert group.keys == ["rooms.welcome"]
    assert "Welkom in de groep" in group.text and "hoş geldiniz" not in group.text
    await group.handle(group.event(command="regels", is_group=True))
    assert group.text.startswith("📋 Huisregels")
    await group.handle(group.event(command="menu", is_group=True))
    assert group.keys == ["general.in_group"]
    assert "privé" in group.text
    # A stranger whose app speaks English is welcomed the same way.
    ella = in_group(Chat(app, "ella", name="Ella"))
    ella.language_hint = "en"
    await ella.handle(ella.event(joined=True, is_group=True))
    assert "Welkom in de groep" in ella.text
    # In private Zeynep keeps her own language.
    await zeynep.send("/regels")
    assert not zeynep.text.startswith("📋 Huisregels")


async def test_a_message_kept_before_and_reported_by_someone_new_is_on_the_desk_again(
    app: App,
) -> None:
    """Someone new who reports a message the connector let stand is thanked with "the
    connector looks at it": so it is looked at again, and they hear the outcome."""
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:keep")
    await ria.send("Het mag scherp.")
    assert ria.keys[0] == "rooms.mod.done_keep"
    assert await app.repos.rooms.waiting() == 0

    carl = await person(app, "carl")
    await group_command(carl, "melden", reply_to=bobs("Sukkels, allemaal"))
    [thanks] = await for_user(app, carl, "moderation")
    assert thanks.replies[0].key == "rooms.reported"
    assert await app.repos.rooms.waiting() == 1
    await ria.send("/meldingen")
    assert ria.keys[0] == "rooms.mod.card"
    assert "Sukkels, allemaal" in ria.text  # as the room shows it now
    await ria.press_payload("mod.do:r1:hide")
    await ria.send("Nu gaat het te ver.")
    assert ria.keys[0] == "rooms.mod.done_hide"
    told = [n.replies[0].key for n in await for_user(app, carl, "moderation")]
    assert told == ["rooms.reported", "rooms.mod.reporter_acted"]
    # Anna, who reported it again as well, changes nothing a second time.
    await group_command(anna, "melden", reply_to=bobs("Sukkels, allemaal"))
    assert await app.repos.rooms.waiting() == 0


async def test_a_connector_unlinks_the_group_of_an_ended_experiment_and_it_hears_so_naming_nobody(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await anna.press_payload("exp.join:1")  # her invite waits
    await bob.press_payload("exp.join:1")
    await app.repos.rooms.done(
        await app.db.fetchval("SELECT id FROM room_tasks WHERE target = 'bob'")
    )
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.press_payload("mod.do:r1:keep")
    await ria.send("Mag blijven.")
    assert ria.keys[0] == "rooms.mod.done_keep"
    async with app.db.transaction():
        assert await app.repos.experiments.end(1)

    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlinked"]
    said = ria.text
    assert "{title}" not in said
    for name in ("anna", "bob", "ria", "wim", "Sukkels"):
        assert name not in said.casefold()
    assert await app.repos.rooms.all() == []
    for table in ("room_tasks", "room_reports", "room_reporters", "room_welcomes"):
        assert await app.db.fetchval(f"SELECT COUNT(*) FROM {table}") == 0, table
    [detail] = [
        json.loads(r[0])
        for r in await app.db.fetchall("SELECT detail FROM audit_log WHERE action = 'room.unlink'")
    ]
    assert detail["invites_dropped"] == 1
    # The group is nobody's room now: a report there is not taken, and unlinking again
    # says there is nothing to unlink.
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    assert anna.keys == ["rooms.not_a_room"]
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_not_linked"]


async def test_unlinking_a_running_experiments_group_lets_it_be_linked_again(app: App) -> None:
    wim, _, _, ria = await linked(app)
    await group_command(ria, "unlink")
    assert ria.keys == ["rooms.unlinked"]
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]


async def test_whoever_may_link_may_unlink_and_a_resident_or_revoked_staff_hears_the_group_word(
    app: App,
) -> None:
    wim, anna, _, ria = await linked(app)
    await group_command(anna, "ontkoppel")
    assert anna.keys == ["general.in_group"]
    # A civil servant revoked before the command, like a resident, hears the group word.
    await with_role(app, wim, Role.RESIDENT)
    await group_command(wim, "ontkoppel")
    assert wim.keys == ["general.in_group"]
    assert len(await app.repos.rooms.all()) == 1
    # So does a connector who is no longer one.
    await with_role(app, ria, Role.RESIDENT)
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["general.in_group"]
    assert len(await app.repos.rooms.all()) == 1
    # The civil servant who may link the group again may unlink it again.
    await with_role(app, wim, Role.CIVIL_SERVANT)
    await group_command(wim, "ontkoppel")
    assert wim.keys == ["rooms.unlinked"]
    assert await app.repos.rooms.all() == []
    [actor] = await app.db.fetchall(
        "SELECT actor_user_id FROM audit_log WHERE action = 'room.unlink'"
    )
    assert actor[0] == (await row(app, wim)).id
    await group_command(wim, "koppel", "1")
    assert wim.keys == ["rooms.linked"]
    karel = await with_role(app, await person(app, "karel"), Role.CONNECTOR)
    await karel.send("/ontkoppel")
    assert karel.keys == ["rooms.unlink_in_group"]
    # Whatever is typed after it, it is this group that is unlinked; nothing is echoed.
    await group_command(karel, "ontkoppel", "2 <b>\u202e🙂")
    assert karel.keys == ["rooms.unlinked"]
    assert "<b>" not in karel.text and "🙂" not in karel.text
    assert await app.repos.rooms.all() == []
    # A group that is not linked: a civil servant hears there is nothing to unlink.
    await group_command(wim, "unlink")
    assert wim.keys == ["rooms.unlink_not_linked"]


async def test_a_civil_servant_unlinking_a_group_with_work_left_hears_a_connector_does_it_first(
    app: App,
) -> None:
    """/meldingen and /beperkingen are the connector's: a civil servant is not sent there."""
    wim, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await group_command(wim, "ontkoppel")
    assert wim.keys == ["rooms.unlink_reports_staff"]
    assert "/meldingen" not in wim.text
    await ria.press_payload("mod.do:r1:hide")
    await ria.send("Schelden hoort hier niet.")
    await group_command(wim, "ontkoppel")
    assert wim.keys == ["rooms.unlink_busy_staff"]
    assert "/beperkingen" not in wim.text
    assert len(await app.repos.rooms.all()) == 1
    for name in ("anna", "bob", "ria", "wim", "Sukkels"):
        assert name not in wim.text.casefold()


async def test_a_group_with_open_reports_is_not_unlinked_until_they_are_decided(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_reports"]
    assert len(await app.repos.rooms.all()) == 1
    await ria.press_payload("mod.do:r1:hide")
    await ria.send("Schelden hoort hier niet.")
    # The message is still to be taken away: that comes first.
    await group_command(ria, "ontkoppel")
    assert ria.keys == ["rooms.unlink_busy"]
    assert len(await app.repos.rooms.all()) == 1
