"""/beperkingen lists the mutes and bans in experiments' rooms beside the bot-wide ones, and
the connector lifts them there: the platform's undoing is queued now, the person is told,
the audit log keeps it. Forged, stale and other people's buttons change nothing."""

from __future__ import annotations

from bot.app import App
from handlers import when
from handlers.contract import Quoted, Role
from storage.clock import parse, utcnow
from storage.community.moderation import SanctionKind
from tests.handlers.experiments.test_rooms import bobs, group_command, linked
from tests.people import audit_actions, for_user, person, row, with_role
from tests.support import Chat


async def _mute_bob(anna: Chat, ria: Chat, text: str = "Sukkels", message_id: str = "55") -> None:
    await group_command(anna, "melden", reply_to=bobs(text, message_id))
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_mute"


async def _ban_stranger(app: App, anna: Chat, ria: Chat) -> None:
    spam = Quoted(message_id="57", sender_id="erik", text="Koop nu!", link=None)
    await group_command(anna, "melden", reply_to=spam)
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Spam.")
    assert ria.keys[0] == "rooms.mod.done_ban"


def _lift_buttons(chat: Chat) -> list[tuple[str, str]]:
    return [(label, p) for label, p in chat.buttons() if p.startswith("mod.lift_room:")]


async def _tasks(app: App) -> list[tuple[str, str]]:
    rows = await app.db.fetchall("SELECT op, target FROM room_tasks ORDER BY id")
    return [(r[0], r[1]) for r in rows]


async def test_beperkingen_lists_room_mutes_and_bans_with_who_which_room_and_until(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await _mute_bob(anna, ria)
    await _ban_stranger(app, anna, ria)
    await ria.send("/beperkingen")
    [shown] = ria.last
    assert shown.key == "moderation.active_title"
    assert [p.key for p in shown.reply.parts] == [
        "rooms.mod.active_ban",
        "rooms.mod.active_mute",
    ]
    bob_id = (await row(app, bob)).id
    # As the card named them: a resident by number, a stranger as someone unknown.
    assert f"inwoner {bob_id} in de groep van Speeltuin" in ria.text
    assert "gedempt tot" in ria.text and "Schelden hoort hier niet." in ria.text
    assert "iemand die de bot niet kent in de groep van Speeltuin" in ria.text
    assert "Koop nu!" in ria.text and "eruit gehaald op" in ria.text
    labels = [label for label, _ in _lift_buttons(ria)]
    assert len(labels) == 2 and any(f"inwoner {bob_id}" in label for label in labels)
    # Nobody else is restricted: the bot-wide list is empty, the room ones are still shown.
    assert await app.repos.sanctions.all_active(utcnow()) == []


async def test_lifting_a_room_mute_runs_its_end_now_tells_the_person_and_logs_it(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await _mute_bob(anna, ria)
    [(_, later)] = await app.db.fetchall("SELECT op, due_at FROM room_tasks WHERE op = 'unmute'")
    assert parse(later) > utcnow()
    await ria.send("/beperkingen")
    [(_, payload)] = _lift_buttons(ria)
    await ria.press_payload(payload)
    assert ria.keys == ["rooms.mod.lifted_mute"]
    assert "Speeltuin" in ria.text
    # The mute not yet carried out is dropped; its end is due now, the later one gone.
    assert await _tasks(app) == [("hide", "55"), ("unmute", "bob")]
    due = await app.db.fetchval("SELECT due_at FROM room_tasks WHERE op = 'unmute'")
    assert parse(due) <= utcnow()
    assert await app.db.fetchval("SELECT lifted_at IS NOT NULL FROM room_sanctions") == 1
    told = await for_user(app, bob, "moderation")
    assert told[-1].replies[0].key == "rooms.mod.told_lifted_mute"
    assert "Burgerbeest heeft het dempen" in told[-1].text(app, "nl")
    assert (await audit_actions(app))[-1] == "room.lift"
    await ria.send("/beperkingen")
    assert ria.keys == ["moderation.none_active"]
    # The same button again is stale and changes nothing.
    await ria.press_payload(payload)
    assert ria.keys == ["general.stale_button"]
    assert await _tasks(app) == [("hide", "55"), ("unmute", "bob")]


async def test_lifting_a_room_ban_queues_the_unban_and_invites_a_participant_again(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await bob.press_payload("exp.join:1")
    async with app.db.transaction():
        await app.db.execute("DELETE FROM room_tasks")  # the invite was carried out
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Bedreigen kan niet.")
    assert await _tasks(app) == [("hide", "55"), ("ban", "bob")]
    await ria.send("/beperkingen")
    [(_, payload)] = _lift_buttons(ria)
    await ria.press_payload(payload)
    assert ria.keys == ["rooms.mod.lifted_ban"]
    # The ban not carried out yet is dropped; the unban comes before the new invite.
    assert await _tasks(app) == [("hide", "55"), ("unban", "bob"), ("invite", "bob")]
    told = await for_user(app, bob, "moderation")
    assert [r.key for r in told[-1].replies] == [
        "rooms.mod.told_lifted_ban",
        "rooms.invite_coming",
    ]
    detail = await app.db.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'room.lift' ORDER BY id DESC LIMIT 1"
    )
    assert '"kind": "ban"' in detail and '"author_told": true' in detail


async def test_a_stranger_is_let_back_without_being_told(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await _ban_stranger(app, anna, ria)
    await ria.send("/beperkingen")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    assert "iemand die de bot niet kent" in ria.text
    assert ("unban", "erik") in await _tasks(app)
    assert await audit_actions(app) == [
        "room.link",
        "room.report",
        "room.ban",
        "room.lift",
    ]


async def test_forged_stale_and_others_lift_buttons_change_nothing(app: App) -> None:
    _, anna, bob, ria = await linked(app)
    await _mute_bob(anna, ria)
    await group_command(anna, "melden", reply_to=bobs("Houd op", message_id="58"))
    await ria.send("/meldingen")
    await ria.press("Waarschuwen")
    await ria.send("Rustig aan.")
    assert ria.keys[0] == "rooms.mod.done_warn"
    ids = {kind: sid for sid, kind in await app.db.fetchall("SELECT id, kind FROM room_sanctions")}
    before = await _tasks(app)
    # A resident, even the muted person, pressing a forged lift button.
    for chat in (anna, bob):
        await chat.press_payload(f"mod.lift_room:{ids['mute']}")
        assert chat.keys == ["general.stale_button"]
    # The connector: no id, nonsense, an unknown id, a warning (nothing to lift).
    for value in ("", "abc", "-1", "99999", str(ids["warning"])):
        await ria.press_payload(f"mod.lift_room:{value}")
        assert ria.keys == ["general.stale_button"], value
    # A connector whose role was revoked.
    await with_role(app, ria, Role.RESIDENT)
    await ria.press_payload(f"mod.lift_room:{ids['mute']}")
    assert ria.keys == ["general.stale_button"]
    assert await _tasks(app) == before
    lifted = await app.db.fetchval("SELECT COUNT(*) FROM room_sanctions WHERE lifted_at")
    assert lifted == 0
    assert "room.lift" not in await audit_actions(app)
    # The bot-wide lift button with the room sanction's id lifts no room sanction either.
    await with_role(app, ria, Role.CONNECTOR)
    await ria.press_payload(f"mod.lift:{(await row(app, bob)).id}")
    assert ria.keys == ["moderation.nothing_to_lift"]
    assert await _tasks(app) == before


async def test_an_ended_room_mute_is_not_listed_and_cannot_be_lifted(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await _mute_bob(anna, ria)
    async with app.db.transaction():
        await app.db.execute("UPDATE room_sanctions SET ends_at = '2000-01-01T00:00:00.000000Z'")
    await ria.send("/beperkingen")
    assert ria.keys == ["moderation.none_active"]
    sid = await app.db.fetchval("SELECT id FROM room_sanctions")
    await ria.press_payload(f"mod.lift_room:{sid}")
    assert ria.keys == ["general.stale_button"]


async def test_lifting_reaches_a_person_who_started_using_the_bot_after_the_ban(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await _ban_stranger(app, anna, ria)
    erik = await person(app, "erik")
    await ria.send("/beperkingen")
    await erik.press_payload("exp.join:1")
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    # Unknown when banned, Erik is known by his account now: told, and invited again.
    told = await for_user(app, erik, "moderation")
    assert [r.key for r in told[-1].replies] == [
        "rooms.mod.told_lifted_ban",
        "rooms.invite_coming",
    ]
    assert [op for op, _ in await _tasks(app)][-2:] == ["unban", "invite"]


async def test_lifting_the_mute_of_someone_also_banned_does_not_undo_the_ban(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await _mute_bob(anna, ria)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen", message_id="58"))
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Bedreigen kan niet.")
    await ria.send("/beperkingen")
    mute = await app.db.fetchval("SELECT id FROM room_sanctions WHERE kind = 'mute'")
    await ria.press_payload(f"mod.lift_room:{mute}")
    assert ria.keys == ["rooms.mod.lifted_mute"]
    # No unmute: restoring a banned member's rights would let them back in on Telegram.
    assert [op for op, _ in await _tasks(app)] == ["hide", "hide", "ban"]
    await ria.send("/beperkingen")
    assert [p.key for p in ria.last[0].reply.parts] == ["rooms.mod.active_ban"]


async def test_two_room_mutes_of_one_person_are_lifted_together_with_one_unmute(
    app: App,
) -> None:
    _, anna, _, ria = await linked(app)
    await _mute_bob(anna, ria)
    await _mute_bob(anna, ria, text="Nog steeds sukkels", message_id="59")
    await ria.send("/beperkingen")
    assert len(_lift_buttons(ria)) == 2
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_mute"]
    # The platform holds one mute: both end, and it is undone once.
    assert await _tasks(app) == [("hide", "55"), ("hide", "59"), ("unmute", "bob")]
    lifted = await app.db.fetchval("SELECT COUNT(*) FROM room_sanctions WHERE lifted_at")
    assert lifted == 2
    await ria.send("/beperkingen")
    assert ria.keys == ["moderation.none_active"]


async def _erase(chat: Chat) -> None:
    await chat.send("/vergeetmij")
    await chat.press("Ja, wis mijn gegevens")
    assert chat.keys == ["privacy.forget.done"]


async def test_after_the_banned_person_erased_their_data_the_ban_is_listed_without_them_and_lifted(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.send("/meldingen")
    await ria.press("Blokkeren")
    await ria.send("Bob Bakker bedreigt mensen.")
    await _erase(bob)
    pseudonym = await app.db.fetchval("SELECT pseudonym FROM erasures")

    await ria.send("/beperkingen")
    [shown] = ria.last
    assert [p.key for p in shown.reply.parts] == ["rooms.mod.active_ban_erased"]
    assert f"een verwijderd account ({pseudonym}) in de groep van Speeltuin" in ria.text
    assert "eruit gehaald op" in ria.text
    for gone in ("halen", "Bakker", "bedreigt", "inwoner"):
        assert gone not in ria.text, gone
    [(label, payload)] = _lift_buttons(ria)
    assert pseudonym in label

    # Anna forging the button, and Ria once her role is revoked, change nothing.
    await anna.press_payload(payload)
    assert anna.keys == ["general.stale_button"]
    await with_role(app, ria, Role.RESIDENT)
    await ria.press_payload(payload)
    assert ria.keys == ["general.stale_button"]
    assert await _tasks(app) == [("hide", "55"), ("ban", "bob")]

    await with_role(app, ria, Role.CONNECTOR)
    await ria.press_payload(payload)
    assert ria.keys == ["rooms.mod.lifted_ban"]
    assert f"een verwijderd account ({pseudonym}) mag weer" in ria.text
    # The unban reaches the platform (the ban not carried out yet is dropped), and their
    # rights should a mute have ended under it (which no record of theirs can tell now);
    # the record no longer holds the account: the tasks do, until they are done.
    lifted = [("hide", "55"), ("unban", "bob"), ("unmute", "bob")]
    assert await _tasks(app) == lifted
    assert await app.db.fetchval("SELECT target FROM room_sanctions") is None
    # Lifted twice: the second press is stale and queues nothing.
    await ria.press_payload(payload)
    assert ria.keys == ["general.stale_button"]
    assert await _tasks(app) == lifted
    assert (await audit_actions(app))[-1] == "room.lift"


async def test_after_the_muted_person_erased_their_data_the_mute_is_listed_and_lifted(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    await _mute_bob(anna, ria)
    await _erase(bob)
    await ria.send("/beperkingen")
    assert [p.key for p in ria.last[0].reply.parts] == ["rooms.mod.active_mute_erased"]
    assert "gedempt tot" in ria.text and "Schelden" not in ria.text
    await ria.press("Opheffen")
    assert ria.keys == ["rooms.mod.lifted_mute"]
    assert await _tasks(app) == [("hide", "55"), ("unmute", "bob")]


async def test_lifting_a_ban_in_one_room_leaves_the_same_accounts_ban_in_another(app: App) -> None:
    wim, anna, _, ria = await linked(app)

    async def in_second_room(chat: Chat, command: str, args: str = "", **event: object) -> None:
        group = Chat(app, chat.user_id, name=chat.name, platform=chat.platform, chat_id="-200")
        chat.history.append(
            await group.handle(group.event(command=command, args=args, is_group=True, **event))
        )

    await in_second_room(wim, "koppel", "2")
    assert wim.keys == ["rooms.linked"]
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await in_second_room(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    for report in (1, 2):
        await ria.press_payload(f"mod.do:r{report}:ban")
        await ria.send("Bedreigen kan niet.")
        assert ria.keys[0] == "rooms.mod.done_ban"
    rows = await app.db.fetchall("SELECT id, room_id FROM room_sanctions ORDER BY id")
    [(first, first_room), (_, second_room)] = [(r["id"], r["room_id"]) for r in rows]
    assert first_room != second_room
    await ria.press_payload(f"mod.lift_room:{first}")
    assert ria.keys == ["rooms.mod.lifted_ban"]
    unbans = await app.db.fetchall("SELECT room_id FROM room_tasks WHERE op = 'unban'")
    assert [r["room_id"] for r in unbans] == [first_room]
    [left] = await app.repos.rooms.in_force(utcnow())
    assert left.room.id == second_room


async def test_someone_banned_from_the_room_who_joins_the_experiment_again_gets_no_invite(
    app: App,
) -> None:
    # Also after erasing their data: the ban is kept by the account, and so it holds.
    _, anna, bob, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Ik kom jullie halen"))
    await ria.press_payload("mod.do:r1:ban")
    await ria.send("Bedreigen kan niet.")
    await _erase(bob)
    bob = await person(app, "bob")
    await bob.press_payload("exp.join:1")
    assert "rooms.invite_coming" not in [p.key for s in bob.last for p in s.reply.parts]
    assert ("invite", "bob") not in await _tasks(app)


async def test_a_person_muted_in_a_room_reads_until_when_in_their_language_not_the_connectors(
    app: App,
) -> None:
    _, anna, bob, ria = await linked(app)
    async with app.db.transaction():
        await app.repos.users.set_language((await row(app, bob)).id, "en")
        await app.repos.users.set_language((await row(app, ria)).id, "ar")
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.send("/meldingen")
    await ria.press_payload(next(p for _, p in ria.buttons() if p.endswith(":mute")))
    await ria.send("7")
    await ria.send("Schelden hoort hier niet.")
    [ends] = [parse(r[0]) for r in await app.db.fetchall("SELECT ends_at FROM room_sanctions")]
    told = (await for_user(app, bob, "moderation"))[-1]
    text = told.text(app, "en")
    assert when.moment(ends.astimezone(app.settings.zone), "en") in text
    assert "\u2068" not in text  # nothing of the connector's Arabic


async def test_many_restrictions_are_listed_a_page_at_a_time_and_every_one_can_be_lifted(
    app: App,
) -> None:
    """Bans never end by themselves: after a year the list is long. Eight a page, the
    bot's own first, then the rooms'; the oldest ban can still be lifted."""
    _, anna, _, ria = await linked(app)
    await _mute_bob(anna, ria)
    await _ban_stranger(app, anna, ria)
    ria_id = (await row(app, ria)).id
    banned = []
    for n in range(10):
        resident = await person(app, f"r{n}")
        banned.append((await row(app, resident)).id)
        async with app.db.transaction():
            await app.repos.sanctions.add(
                banned[-1], SanctionKind.BAN, reason=f"Ban {n}", by_user_id=ria_id, now=utcnow()
            )
    await ria.send("/beperkingen")
    first = [p for _, p in ria.buttons() if p.startswith("mod.lift")]
    assert len(first) == 8 and all(p.startswith("mod.lift:") for p in first)
    assert "Pagina 1 van 2" in ria.text
    await ria.press("Volgende")
    second = [p for _, p in ria.buttons() if p.startswith("mod.lift")]
    assert [p.split(":")[0] for p in second] == ["mod.lift"] * 2 + ["mod.lift_room"] * 2
    assert len(set(first + second)) == 12
    # The oldest ban, on the last page, is lifted from there.
    oldest = next(p for p in second if p.startswith(f"mod.lift:{banned[0]}:"))
    await ria.press_payload(oldest)
    assert ria.keys == ["moderation.lifted"]
    assert await app.repos.sanctions.active(banned[0], utcnow()) is None
    # An old page past the end shows the last page; a number we never sent is stale.
    await ria.press_payload("mod.active:99")
    assert ria.keys == ["moderation.active_title"] and "Pagina 2 van 2" in ria.text
    await ria.press_payload("mod.active:-1")
    assert ria.keys == ["general.stale_button"]


async def test_a_mute_of_days_typed_in_arabic_digits_lasts_that_many_days(app: App) -> None:
    _, anna, _, ria = await linked(app)
    await group_command(anna, "melden", reply_to=bobs("Sukkels"))
    await ria.send("/meldingen")
    await ria.press("Dempen")
    await ria.send("٣")
    assert ria.keys == ["rooms.mod.ask_reason_mute"]
    await ria.send("Schelden hoort hier niet.")
    assert ria.keys[0] == "rooms.mod.done_mute"
    assert "3 dagen" in ria.text
