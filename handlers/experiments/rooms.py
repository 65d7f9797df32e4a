"""A room for each experiment: a Telegram group or Matrix room where its participants talk.

Staff add the bot to the group or room (as admin) and link it there; participants get an
invite in their private chat; the bot welcomes each newcomer once, with the profile's house
rules; a resident reports a message by replying ``/melden`` to it, and the connector decides
in ``/meldingen`` (:mod:`handlers.community.room_moderation`).

    staff in the room: /koppel ──► which experiment? ──/koppel 3──► linked, invites queued
                       /koppel moestuin ──► those with "moestuin" in the name
                       /ontkoppel ──► no longer the experiment's (running or ended);
        refused while reports from it are open or the bot still has work there
    resident: Doe mee (private) ──► invite queued ──► link or invite in the private chat
    resident: Stop met meedoen, banned from the bot, /vergeetmij ──► taken out of the room
        (not banned from it), told in private (:func:`take_out`); the ban lifted or replaced
        by a mute ──► invited again (:func:`ban_ended`)
    newcomer joins ──► welcome + house rules (once per person and room)
    resident in the room: reply /melden ──► report stored, reporter thanked privately

A group is never a person's chat: what the bot says there names nobody and answers nothing
personal. What the bot must do on the platform (an invite link, an invite) is stored as a
room task and carried out by the runtime after the commit.
"""

from __future__ import annotations

from datetime import datetime

from handlers import paging
from handlers.answers import as_ascii_digits, parse_id
from handlers.contract import Reply, Response, Role, respond
from handlers.feature import Context, Fallback, Feature
from storage import Repositories
from storage.community.moderation import Sanction, SanctionKind
from storage.experiments.experiments import Experiment
from storage.experiments.rooms import Room, RoomOp

feature = Feature("rooms")

#: The longest text of a reported message that is kept (the connector reads an excerpt).
MAX_REPORTED = 2000
#: The longest words ``/koppel`` searches the experiments' names for.
MAX_SEARCH = 60


async def _experiment_by_arg(ctx: Context, arg: str) -> Experiment | None:
    """A running experiment by its number or its slug."""
    arg = arg.strip().lstrip("#")
    number = parse_id(as_ascii_digits(arg))
    if number is not None:
        found = await ctx.repos.experiments.get(number)
        return found if found is not None and found.status == "running" else None
    return await ctx.repos.experiments.running_by_slug(arg) if arg else None


async def _ended_back(ctx: Context, room: Room) -> Experiment | None:
    """An ended experiment, by its number, in the group it had as its room before the bot
    was removed from it: linked back there, the work waiting in it is done and the group
    can be unlinked (``/ontkoppel`` says to type this). An ended one takes no other group."""
    number = parse_id(as_ascii_digits(ctx.value.strip().lstrip("#")))
    if number != room.experiment_id:
        return None
    return await ctx.repos.experiments.get(number)


async def _which(ctx: Context, words: str) -> Reply:
    """Which experiment the group is for: the running ones whose title has ``words`` (all of
    them without), a page's worth, with how to find one that is not shown."""
    repo = ctx.repos.experiments
    matching = words.strip()[:MAX_SEARCH] or None
    total = await repo.count_running(matching=matching)
    if matching is not None and total == 0:
        parts = [Reply(key="rooms.link_not_found", params={"words": matching})]
        matching, total = None, await repo.count_running()
    else:
        parts = []
    shown = await repo.running(limit=paging.PAGE_SIZE, matching=matching)
    parts += [
        Reply(key="rooms.link_line", params={"id": e.id, "title": paging.short(e.title(ctx.lang))})
        for e in shown
    ]
    if total > len(shown):
        parts.append(Reply(key="rooms.link_more"))
    # With none running there is nothing to choose, nor a number to type.
    return Reply(key="rooms.link_which" if shown else "rooms.link_none", parts=parts)


@feature.command(
    "koppel",
    translations={"en": "link"},
    role=Role.CIVIL_SERVANT,
    consent=False,
    in_groups=True,
    words=True,
)
async def link(ctx: Context) -> Response:
    """``/koppel <experiment>`` in a group or room: it becomes that experiment's room.

    Without a number (or with words from its name), the bot lists the running experiments
    (those with the words in their name), a page's worth: a group has no buttons to turn it.
    An ended experiment is linked back only to the group the bot was removed from
    (:func:`_ended_back`). Moved away from that group, a reporter's own ``/melden`` still
    to be taken out of it stays there: they hear so (:func:`tell_left_behind`).
    """
    if not ctx.event.is_group:
        return respond(Reply(key="rooms.link_in_group"))
    platform, chat_id = ctx.event.platform, ctx.event.chat_id
    existing = await ctx.repos.rooms.of_chat(platform, chat_id)
    experiment = await _experiment_by_arg(ctx, ctx.value)
    if experiment is None and existing is not None and existing.gone:
        experiment = await _ended_back(ctx, existing)
    if experiment is None:
        return respond(await _which(ctx, ctx.value))
    if existing is not None and not (existing.gone and existing.experiment_id == experiment.id):
        key = (
            "rooms.already_linked"
            if existing.experiment_id == experiment.id
            else "rooms.linked_elsewhere"
        )
        return respond(Reply(key=key, params={"title": experiment.title(ctx.lang)}))
    # The bot was removed from the experiment's group: linked here, the room moves here.
    gone = [r for r in await ctx.repos.rooms.of_experiment(experiment.id) if r.gone]
    gone_rooms = {r.id for r in gone}
    # A reporter's /melden still to be taken out of a group left behind stays there.
    left_behind = [
        waiting
        for r in gone
        if r.platform == platform and r.chat_id != chat_id
        for waiting in await ctx.repos.rooms.own_reports_waiting(r.id)
    ]
    room = await ctx.repos.rooms.link(experiment.id, platform, chat_id, ctx.user.id, ctx.now)
    if room is None:
        return respond(
            Reply(key="rooms.experiment_has_room", params={"title": experiment.title(ctx.lang)})
        )
    if room.id in gone_rooms:
        await tell_left_behind(ctx.repos, ctx.catalog.default, room, left_behind, ctx.now)
    invited = await invite_participants(ctx.repos, room, ctx.now)
    await ctx.repos.audit.record(
        "room.link",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"experiment:{experiment.id}",
        detail={
            "platform": platform,
            "room": room.id,
            "invited": invited,
            "moved": room.id in gone_rooms,
        },
    )
    return respond(
        Reply(
            key="rooms.linked",
            params={
                "title": experiment.title(ctx.lang),
                "rules": ctx.profile.rooms.rules(ctx.lang),
            },
        )
    )


async def tell_left_behind(
    repos: Repositories,
    default_lang: str,
    room: Room,
    waiting: list[tuple[int, int | None]],
    now: datetime,
) -> None:
    """The room moved away from a group (the bot was removed from it, or it was upgraded):
    a reporter's own ``/melden`` still to be taken out of that group (``waiting``, read
    before the move: :meth:`storage.experiments.rooms.Rooms.own_reports_waiting`) stays
    there, showing who reported. They hear it in private, to take it away themselves, as
    when the bot may not delete it: once for a report, and not when a ban from the room
    holds for them."""
    told: set[int] = set()
    for user_id, report_id in waiting:
        if user_id in told and report_id is None:
            continue  # tasks from before reports were noted on them: once a person here
        if await tell_own_report_left(repos, default_lang, room, user_id, report_id, now):
            told.add(user_id)


async def tell_own_report_left(
    repos: Repositories,
    default_lang: str,
    room: Room,
    user_id: int | None,
    report_id: int | None,
    now: datetime,
) -> bool:
    """A reporter's own ``/melden`` stays in the room's group (the bot may not delete it,
    or the room moved away from that group): they hear it in private, to take it away
    themselves. Not after they erased their data, nor while a ban from the room holds for
    them (they are out, and cannot take it away); once for a report however often they
    made it (a task from before reports were noted on it: each time). Returns whether
    they were told."""
    if user_id is None:
        return False
    user = await repos.users.get(user_id)
    if user is None or await repos.rooms.banned(room.id, user.platform_user_id, now):
        return False
    if report_id is not None and not await repos.rooms.tell_left_once(report_id, user_id, now):
        return False
    experiment = await repos.experiments.get(room.experiment_id)
    for lang in await repos.recipients.by_language([user_id], default_lang):
        title = experiment.title(lang) if experiment else ""
        reply = Reply(key="rooms.own_report_left", params={"title": title})
        await repos.outbox.enqueue(user_id, [reply.model_dump(mode="json")], kind="room", now=now)
    return True


@feature.command(
    "ontkoppel",
    translations={"en": "unlink"},
    role=Role.CIVIL_SERVANT,
    consent=False,
    in_groups=True,
)
async def unlink(ctx: Context) -> Response:
    """``/ontkoppel`` in an experiment's group or room: it no longer belongs to the
    experiment (running or ended). The group hears it, naming nobody. Whoever may link a
    group may unlink it: staff who linked the wrong group undo it themselves.

    Refused while reports from it wait in ``/meldingen`` (their reporters wait for the
    outcome) or the bot still has work there other than invites (a message to take away,
    someone to take out, a mute, a ban or their ends): dropped, they would leave a
    reporter's ``/melden`` in the group, or someone muted for good. Invites still to be
    made there are dropped: there is no group to invite to any more. A civil servant, who
    has neither ``/meldingen`` nor ``/beperkingen``, hears that a connector does that first,
    and leaves a group where a mute or ban holds to a connector: unlinking forgets them."""
    if not ctx.event.is_group:
        return respond(Reply(key="rooms.unlink_in_group"))
    room = await ctx.repos.rooms.of_chat(ctx.event.platform, ctx.event.chat_id)
    if room is None:
        return respond(Reply(key="rooms.unlink_not_linked"))
    experiment = await ctx.repos.experiments.get(room.experiment_id)
    title = experiment.title(ctx.lang) if experiment else ""
    waits_for = await ctx.repos.rooms.unlink_waits_for(room.id)
    moderates = ctx.user.role.allows(Role.CONNECTOR)
    if waits_for == "reports":
        return respond(
            Reply(key="rooms.unlink_reports" if moderates else "rooms.unlink_reports_staff")
        )
    if waits_for == "tasks":
        # In a room the bot was removed from, the work waits for /koppel there.
        if room.gone:
            key = "rooms.unlink_gone"
        else:
            key = "rooms.unlink_busy" if moderates else "rooms.unlink_busy_staff"
        return respond(Reply(key=key, params={"id": room.experiment_id}))
    if not moderates and await ctx.repos.rooms.restricted(room.id, ctx.now):
        # Unlinked, the group's mutes and bans are forgotten (the next group linked to the
        # experiment would invite someone banned): a connector's decision, made knowingly.
        return respond(Reply(key="rooms.unlink_bans_staff"))
    dropped = await ctx.repos.rooms.unlink(room.id)
    if dropped is None:
        return respond(Reply(key="rooms.unlink_not_linked"))
    await ctx.repos.audit.record(
        "room.unlink",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"experiment:{room.experiment_id}",
        detail={"platform": room.platform, "room": room.id, "invites_dropped": dropped},
    )
    return respond(Reply(key="rooms.unlinked", params={"title": title}))


async def invite(ctx: Context, room: Room, user_id: int) -> int:
    """Queue an invite to ``room`` for a participant on its platform; returns 1 if queued."""
    return await queue_invite(ctx.repos, room, user_id, ctx.now)


async def queue_invite(repos: Repositories, room: Room, user_id: int, now: datetime) -> int:
    """:func:`invite`, for the runtime too (a room that moved to a new one on its platform)."""
    user = await repos.users.get(user_id)
    if user is None or user.platform != room.platform or not user.consented or room.gone:
        return 0  # a room the bot was removed from: invited once it is linked again
    if await repos.rooms.banned(room.id, user.platform_user_id, now):
        return 0  # banned from that room (also from before an erasure): no way in
    sanction = await repos.sanctions.active(user.id, now)
    if sanction is not None and sanction.kind is SanctionKind.BAN:
        return 0  # banned from the bot: no way into its rooms either
    # They may be there again: taking them out (they left, or were erased before) is off.
    await repos.rooms.drop_removal(room.id, user.platform_user_id)
    if await repos.rooms.invite_waiting(room.id, user.id):
        return 1  # one is on its way already (joining, leaving and joining again)
    await repos.rooms.queue(room, RoomOp.INVITE, user.platform_user_id, now, user_id=user.id)
    return 1


async def invite_participants(repos: Repositories, room: Room, now: datetime) -> int:
    """Queue invites to a newly linked room for everyone taking part; returns how many."""
    invited = 0
    for user_id in await repos.experiments.participants(room.experiment_id):
        invited += await queue_invite(repos, room, user_id, now)
    return invited


async def let_back(repos: Repositories, user_id: int, now: datetime) -> int:
    """After a ban from the bot ended: an invite again to the rooms of the experiments
    the resident still takes part in (the ban took them out, and taking part, they cannot
    join again to be invited). Returns how many were queued."""
    user = await repos.users.get(user_id)
    if user is None or user.role is not Role.RESIDENT:
        return 0  # staff were never taken out
    queued = 0
    for experiment in await repos.experiments.taking_part(user_id):
        for room in await repos.rooms.of_experiment(experiment):
            queued += await queue_invite(repos, room, user_id, now)
    return queued


async def ban_ended(
    repos: Repositories, user_id: int, ended: list[Sanction], now: datetime
) -> int:
    """Whatever ended a resident's sanctions (lifted, or replaced by a mute): if a ban from
    the bot was among them, they are let back into the rooms it took them out of
    (:func:`let_back`). A mute from the bot limits what they post through the bot, not
    the rooms, so a mute in its place keeps nobody out. Returns how many invites were
    queued. Bans have no end of their own, so every way a ban ends passes here."""
    if not any(sanction.kind is SanctionKind.BAN for sanction in ended):
        return 0
    return await let_back(repos, user_id, now)


async def take_out(
    repos: Repositories,
    user_id: int,
    now: datetime,
    *,
    experiment_id: int | None = None,
    erased: bool = False,
) -> int:
    """Queue taking a resident out of experiments' rooms on their platform, in the
    transaction of what ends their place there: the rooms of ``experiment_id`` (they left
    it), or of every experiment they take part in (banned from the bot, erased). Returns
    how many removals were queued.

    Staff stay: they are in the rooms for their work. A room whose ban holds for them is
    left (they are out). In a room the bot was removed from the task waits: linked there
    again, the bot takes them out then (linked in another group, it is dropped: they were
    never let in there). After an erasure the task holds their account alone (``erased``),
    so that it is queued before the erasure forgets who they are."""
    user = await repos.users.get(user_id)
    if user is None or user.role is not Role.RESIDENT:
        return 0
    experiments = (
        [experiment_id]
        if experiment_id is not None
        else await repos.experiments.taking_part(user_id)
    )
    queued = 0
    for experiment in experiments:
        for room in await repos.rooms.of_experiment(experiment):
            if room.platform != user.platform:
                continue
            if await repos.rooms.banned(room.id, user.platform_user_id, now):
                continue
            queued += await repos.rooms.take_out(
                room, user.platform_user_id, now, user_id=None if erased else user.id
            )
    return queued


async def invite_to_rooms(ctx: Context, experiment_id: int) -> bool:
    """After joining an experiment: queue invites to its rooms; whether any was queued."""
    queued = 0
    for room in await ctx.repos.rooms.of_experiment(experiment_id):
        queued += await invite(ctx, room, ctx.user.id)
    return queued > 0


@feature.fallback(Fallback.JOINED_ROOM)
async def welcome(ctx: Context) -> Response:
    """Someone joined a group: in an experiment's room, a short welcome with the house
    rules, once per person (nobody is named)."""
    room = await ctx.repos.rooms.of_chat(ctx.event.platform, ctx.event.chat_id)
    if room is None:
        return respond()
    # Once per person the bot knows; someone who never talked to it is welcomed each time
    # (nothing is stored about them).
    known = ctx.user.id != 0
    if known and not await ctx.repos.rooms.welcome(room.id, ctx.user.id, ctx.now):
        return respond()
    experiment = await ctx.repos.experiments.get(room.experiment_id)
    title = experiment.title(ctx.lang) if experiment else ""
    return respond(
        Reply(
            key="rooms.welcome",
            params={"title": title, "rules": ctx.profile.rooms.rules(ctx.lang)},
        )
    )


@feature.command(
    "regels", translations={"en": "rules"}, role=Role.RESIDENT, consent=False, in_groups=True
)
async def rules(ctx: Context) -> Response:
    """The house rules of experiments' rooms (in the room or in private)."""
    rules_ = ctx.profile.rooms.rules
    return respond(
        Reply(
            key="rooms.rules",
            params={"rules": rules_(ctx.lang)},
            original=not rules_.has(ctx.lang),
        )
    )


@feature.command(
    "melden", translations={"en": "flag"}, role=Role.RESIDENT, consent=False, in_groups=True
)
async def report(ctx: Context) -> Response:
    """A reply ``/melden`` in an experiment's room reports the message replied to.

    The reporter is thanked in private; the room hears nothing (nobody is exposed there),
    and the report itself (the ``/melden`` message, or the reaction on Matrix) is taken
    away from the room again, so the one reported does not see who reported them.
    """
    event = ctx.event
    if not event.is_group:
        return respond(Reply(key="rooms.report_in_room"))
    room = await ctx.repos.rooms.of_chat(event.platform, event.chat_id)
    if room is None:
        return respond(Reply(key="rooms.not_a_room"))
    quoted = event.reply_to
    if quoted is None:
        return respond(Reply(key="rooms.report_how"))
    if quoted.from_bot or quoted.sender_id is None:
        return respond(Reply(key="rooms.report_bot"))
    if quoted.sender_id == event.sender.platform_user_id:
        return respond(Reply(key="rooms.report_own"))
    if ctx.user.id == 0 or not ctx.user.consented:
        # Thanks and the outcome come in private: someone the bot cannot reach there
        # starts a private chat first.
        link = ctx.platform.start_link
        if link:
            return respond(Reply(key="rooms.report_start_first_link", params={"link": link}))
        return respond(Reply(key="rooms.report_start_first"))
    author = await ctx.repos.users.find(event.platform, quoted.sender_id)
    body = (quoted.text or "").strip()[:MAX_REPORTED]
    # Written one way and edited since: what was edited away is reported too.
    original = (quoted.original or "").strip()[:MAX_REPORTED] or None
    report_id, new = await ctx.repos.rooms.report(
        room.id,
        message_id=quoted.message_id,
        author_platform_id=quoted.sender_id,
        author_user_id=author.id if author else None,
        body=body,
        original_body=original if original != body else None,
        link=quoted.link,
        reporter_user_id=ctx.user.id,
        now=ctx.now,
    )
    if event.message_id is not None:
        # The reporter's own message (``user_id``: theirs; erased before it went, it still
        # goes, pointing at nobody); the report is made anyhow. Left in the room (the bot
        # lacks the rights), the reporter hears it in private, once for this report
        # however often they reported it (:class:`bot.rooms.RoomWorker`).
        await ctx.repos.rooms.queue(
            room, RoomOp.HIDE, event.message_id, ctx.now, user_id=ctx.user.id, report_id=report_id
        )
    if not new:
        return respond()  # reported by them before: thanked then
    await ctx.repos.audit.record(
        "room.report",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"room_report:{report_id}",
        subject_user_id=author.id if author else None,
        detail={"room": room.id},
    )
    # Thanked in private (the reporter acted, so notify() would skip them: queue directly).
    await ctx.repos.outbox.enqueue(
        ctx.user.id,
        [
            Reply(
                key="rooms.reported", params={"connector": ctx.profile.connector(ctx.lang)}
            ).model_dump(mode="json")
        ],
        kind="moderation",
        now=ctx.now,
    )
    return respond()
