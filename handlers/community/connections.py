"""Connecting two residents who could help each other, say two who sent in similar ideas.

Nobody's details go anywhere without their consent: both are asked first, each answers for
themselves with the contact line they choose to share (an e-mail address, a @handle), and
only when both said yes does each get the other's line. A no tells nobody anything about
the other; whoever had said yes hears only that it does not go ahead. Nobody's line ever
reaches someone banned: a banned resident is not asked, and a ban calls their open requests
off at once (the other hears only that it does not go ahead, not why). An erasure of one of
the two ends what the other still waits for, the erased person's line on its way included:
the other hears that it ended because the other is no longer on Samenspel, and nothing of
them (:mod:`handlers.community.called_off`).

A request is not kept open for ever: when not both answered within the profile's
``connections.answer_days``, the scheduler's ``connection:<id>`` job ends it and forgets the
contact line typed (:func:`expire_requests`). Whoever said yes is told; the one who did not
answer hears nothing new, and their old buttons say it expired.

    /verbind #12 #15, or 🤝 on a triage card ──► both asked (outbox, kind ``connect``;
                                                  a connector who sent in one of the two
                                                  ideas is asked in the answer to them)
        (the question met a block: the welcome back shows it again, con.show)
        ja ──► contact line typed ──► waiting for the other ──► both yes: lines exchanged
                                          (a line kept for someone away: the connector
                                          hears that it waits, and that both have the
                                          details once the welcome back handed it over)
        nee ──► nothing shared (the one who said yes is told it does not go ahead)
        no answer of both in time ──► expired: lines forgotten, the one who said yes and
                                      the connector who asked told (the connectors now,
                                      when whoever asked is no longer one)
        one of the two banned ──► called off: lines forgotten, the other told
        one of the two erased while the other waits (for an answer, or for the erased
        one's line) ──► ended: the other and the connector told, without the erased
                        person's data; a late answer hears it ended
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from handlers import when
from handlers.answers import parse_id, read_text
from handlers.community.called_off import call_off_all, job, staff_to_tell
from handlers.contract import Button, Dialog, Reply, Response, Role, Timer, respond
from handlers.feature import Context, Expects, Feature, menu_reply
from handlers.notices import notify
from handlers.phrases import number
from handlers.profile import Profile
from handlers.start.menu import stale_button
from storage import Repositories
from storage.community.connections import Connection, ConnectionStatus
from storage.community.moderation import SanctionKind
from storage.ideas.ideas import Idea

feature = Feature("connections")

DIALOG = "connect"
MAX_CONTACT = 200
_NUMBER = re.compile(r"\d{1,12}")


@feature.command(
    "verbind",
    translations={"en": "connect"},
    role=Role.CONNECTOR,
    describe="connect.cmd",
)
async def connect_command(ctx: Context) -> Response:
    """``/verbind #12 #15``: ask the submitters of two ideas whether they want contact."""
    numbers = _NUMBER.findall(ctx.value)
    if len(numbers) != 2:
        return respond(menu_reply(ctx, "connect.usage"))
    return await propose(ctx, int(numbers[0]), int(numbers[1]))


@feature.action("tri.connect", role=Role.CONNECTOR)
async def connect_button(ctx: Context) -> Response:
    """``tri.connect:12:15``: the same, from a triage card."""
    first, _, second = ctx.value.partition(":")
    first_id, second_id = parse_id(first), parse_id(second)
    if first_id is None or second_id is None:
        return await stale_button(ctx)
    return await propose(ctx, first_id, second_id)


async def propose(ctx: Context, first_id: int, second_id: int) -> Response:
    """Ask both submitters; tell the connector what happened (or why it cannot)."""
    ideas = [await ctx.repos.ideas.get(first_id), await ctx.repos.ideas.get(second_id)]
    refusal = await _refusal(ctx, first_id, second_id, ideas)
    if refusal is not None:
        return respond(menu_reply(ctx, refusal, first=first_id, second=second_id))
    first, second = ideas
    assert first is not None and second is not None
    assert first.author_user_id is not None and second.author_user_id is not None
    connection = await ctx.repos.connections.propose(
        (first.author_user_id, first.id),
        (second.author_user_id, second.id),
        by_user_id=ctx.user.id,
        now=ctx.now,
    )
    if connection is None:
        return respond(menu_reply(ctx, "connect.already_asked", first=first.id, second=second.id))
    own: list[Reply] = []
    for mine, other in ((first, second), (second, first)):
        own += await _ask(ctx, connection, mine, other)
    await ctx.repos.audit.record(
        "connection.propose",
        now=ctx.now,
        actor_user_id=ctx.user.id,
        subject=f"connection:{connection.id}",
        # The two ideas, not their authors: ids of people in the detail would outlive an
        # erasure (the ideas' links to them go with it).
        detail={"ideas": [first.id, second.id]},
    )
    expires = Timer(job=job(connection.id), at=_expires(ctx, connection))
    return respond(
        menu_reply(ctx, "connect.asked", first=first.id, second=second.id),
        *own,
        timers=[expires],
    )


async def _refusal(
    ctx: Context, first_id: int, second_id: int, ideas: list[Idea | None]
) -> str | None:
    """Why these two cannot be connected (a catalog key), or None."""
    if first_id == second_id:
        return "connect.same_idea"
    if any(idea is None or idea.removed for idea in ideas):
        return "connect.no_idea"
    authors = [idea.author_user_id for idea in ideas if idea is not None]
    if None in authors:
        return "connect.no_author"
    if authors[0] == authors[1]:
        return "connect.same_author"
    for author in authors:
        person = await ctx.repos.users.get(author) if author is not None else None
        if person is None or not person.consented or person.unreachable_at is not None:
            return "connect.unreachable"
    for author in authors:
        if author is not None and await _banned(ctx, author):
            return "connect.banned"
    return None


async def _banned(ctx: Context, user_id: int) -> bool:
    """Whether this person is banned now: nobody's contact line may reach them."""
    sanction = await ctx.repos.sanctions.active(user_id, ctx.now)
    return sanction is not None and sanction.kind is SanctionKind.BAN


async def _ask(ctx: Context, connection: Connection, mine: Idea, other: Idea) -> list[Reply]:
    """Ask the submitter of ``mine``: through the outbox, or, when that is the connector
    asking (a connector sends in ideas too), in the answer to them (returned), since a
    notification never goes to whoever acts."""

    def build(lang: str) -> list[Reply]:
        return [_question(ctx, connection, mine, other, lang)]

    if mine.author_user_id == ctx.user.id:
        return build(ctx.lang)
    await notify(ctx, [mine.author_user_id], kind="connect", build=build)
    return []


def _question(ctx: Context, connection: Connection, mine: Idea, other: Idea, lang: str) -> Reply:
    """The question to the submitter of ``mine``, with the buttons to answer it."""
    # The moment the request expires, so nobody answers into a closed door.
    deadline = ctx.local(_expires(ctx, connection))
    return Reply(
        key="connect.ask",
        params={
            "connector": ctx.profile.connector(lang),
            "until": when.moment(deadline, lang),
            "mine": number(mine.id),
            "mine_title": mine.title,
            "other": number(other.id),
            "other_title": other.title,
        },
        buttons=[
            [Button(label="connect.btn_yes", payload=f"con.yes:{connection.id}")],
            [Button(label="connect.btn_no", payload=f"con.no:{connection.id}")],
            [
                Button(
                    label="connect.btn_other_idea",
                    payload=f"idea.open:{other.id}",
                    params={"number": number(other.id)},
                )
            ],
        ],
    )


@feature.action("con.show", role=Role.RESIDENT)
async def show_question(ctx: Context) -> Response:
    """``con.show:<id>`` (the welcome back's button): the question again, for someone it
    could not reach, while they can still answer it."""
    connection = await _open(ctx)
    if isinstance(connection, Response):
        return connection
    me = ctx.user.id
    mine_id, other_id = connection.idea_of(me), connection.idea_of(connection.other(me))
    mine = await ctx.repos.ideas.get(mine_id) if mine_id is not None else None
    other = await ctx.repos.ideas.get(other_id) if other_id is not None else None
    if mine is None or other is None:
        return respond(menu_reply(ctx, "connect.not_found"))
    if mine.removed or other.removed:
        # Taken out of view since they were asked (hidden by moderation, withdrawn): its
        # title is not shown again to someone who never read it.
        return respond(menu_reply(ctx, "connect.closed"))
    return respond(_question(ctx, connection, mine, other, ctx.lang))


# The residents' answers -----------------------------------------------------------------


@feature.action("con.yes", role=Role.RESIDENT)
async def say_yes(ctx: Context) -> Response:
    """Yes: ask which contact line may be passed on."""
    connection = await _open(ctx)
    if isinstance(connection, Response):
        return connection
    gone = await _idea_gone(ctx, connection)
    if gone is not None:
        return gone
    called_off = await _call_off_if_banned(ctx, connection)
    if called_off is not None:
        return called_off
    dialog = Dialog(name=DIALOG, step="contact", data={"connection": connection.id})
    return _ask_contact(dialog)


@feature.action("con.no", role=Role.RESIDENT)
async def say_no(ctx: Context) -> Response:
    """No: nothing is shared."""
    connection = await _open(ctx)
    if isinstance(connection, Response):
        return connection
    return await _answer(ctx, connection, None)


def _ask_contact(dialog: Dialog, hint: Reply | None = None) -> Response:
    question = Reply(
        key="connect.ask_contact",
        params={"max": MAX_CONTACT},
        buttons=[[dialog.button("connect.btn_no_after_all", "no")]],
    )
    return respond(*([hint] if hint else []), question, dialog=dialog)


answering = feature.dialog(DIALOG, role=Role.RESIDENT, subject="connect.draft")


@answering.ask("contact")
async def ask_contact(ctx: Context, dialog: Dialog) -> Response:
    """The question again (a chat opened anew), while a line typed for it can still be
    passed on; a request that ended or expired meanwhile, or one of whose ideas went out of
    view, is said at once, and the question ends (nobody types a line for nothing)."""
    connection = await _answering(ctx, dialog)
    if isinstance(connection, Response):
        return connection
    gone = await _idea_gone(ctx, connection)
    if gone is not None:
        return gone.model_copy(update={"end_dialog": True})
    return _ask_contact(dialog)


@answering.step("contact", expects=Expects.TEXT)
async def contact_step(ctx: Context, dialog: Dialog) -> Response:
    """The contact line this person wants to share."""
    connection = await _answering(ctx, dialog)
    if isinstance(connection, Response):
        return connection
    if ctx.event.button is not None:
        if ctx.value == "no":
            return (await _answer(ctx, connection, None)).model_copy(update={"end_dialog": True})
        return _ask_contact(dialog, Reply(key="answers.use_buttons_or_type"))
    contact = read_text(ctx, MAX_CONTACT, min_length=3)
    if isinstance(contact, Reply):
        return _ask_contact(dialog, contact)
    gone = await _idea_gone(ctx, connection)
    if gone is not None:
        return gone.model_copy(update={"end_dialog": True})
    return (await _answer(ctx, connection, contact)).model_copy(update={"end_dialog": True})


async def _open(ctx: Context, connection_id: int | None = None) -> Connection | Response:
    """The request this person was asked, if they can still answer it."""
    wanted = connection_id if connection_id is not None else parse_id(ctx.value)
    connection = await ctx.repos.connections.get(wanted) if wanted else None
    if connection is None or not connection.involves(ctx.user.id):
        return respond(menu_reply(ctx, "connect.not_found"))
    if connection.status is ConnectionStatus.EXPIRED or _overdue(ctx, connection):
        # Also before its job ran (the bot was down at the moment): an answer now would
        # keep a contact line for a request that is over.
        return respond(menu_reply(ctx, "connect.expired"))
    if connection.status is ConnectionStatus.ENDED:
        # The other erased their data meanwhile (handlers/community/called_off.py).
        return respond(menu_reply(ctx, "connect.ended"))
    if connection.status is not ConnectionStatus.ASKED:
        return respond(menu_reply(ctx, "connect.closed"))
    if connection.answer_of(ctx.user.id) is not None:
        return respond(menu_reply(ctx, "connect.already_answered"))
    return connection


async def _answering(ctx: Context, dialog: Dialog) -> Connection | Response:
    """The request the open contact question answers, if it can still be answered; else
    why not, and the question ends."""
    connection = await _open(ctx, int(dialog.data["connection"]))
    if isinstance(connection, Response):
        return Response(replies=connection.replies, end_dialog=True)
    return connection


async def _idea_gone(ctx: Context, connection: Connection) -> Response | None:
    """Refuse a yes (and the contact line after it) when one of the two ideas was taken out
    of view since the question was asked (hidden by moderation, withdrawn): nobody's line
    is passed on over an idea that is no longer there. The request itself stays as it is
    (a no is still taken; unanswered, it expires)."""
    for idea_id in (connection.idea_a, connection.idea_b):
        idea = await ctx.repos.ideas.get(idea_id) if idea_id is not None else None
        if idea is None or idea.removed:
            return respond(menu_reply(ctx, "connect.idea_gone"))
    return None


def _expires(ctx: Context, connection: Connection) -> datetime:
    """When a request's time to answer is over: the days the profile gives, on the
    municipality's clock (the time both were told)."""
    return ctx.profile.connections.expires(connection.created_at, ctx.timezone)


def _overdue(ctx: Context, connection: Connection) -> bool:
    """Whether an open request's time to answer is over."""
    return connection.status is ConnectionStatus.ASKED and ctx.now >= _expires(ctx, connection)


async def _answer(ctx: Context, connection: Connection, contact: str | None) -> Response:
    """Record the answer; exchange the contact lines when both said yes."""
    me = ctx.user.id
    if contact is not None:
        called_off = await _call_off_if_banned(ctx, connection)
        if called_off is not None:
            return called_off
    updated = await ctx.repos.connections.answer(connection.id, me, contact=contact, now=ctx.now)
    other = updated.other(me)
    if updated.status is ConnectionStatus.ASKED:
        return respond(menu_reply(ctx, "connect.waiting"))
    # Their lines are queued, not handed over yet: delivery may still find the other
    # blocked the bot (the line then waits for their return), so "on their way".
    staff_key = "connect.made_sent_staff"
    staff_params: dict[str, object] = {}
    if updated.status is ConnectionStatus.CONNECTED:
        mine = number(updated.idea_of(me) or 0)
        theirs = number(updated.idea_of(other) or 0)
        kept = await _tell(
            ctx, [other], "connect.made", contact=contact or "", number=mine, kept=True
        )
        if kept:
            # The other has not got the line yet: the connector hears that it waits, and
            # that they have each other's details once it was handed over (line_handed).
            await ctx.repos.connections.keep_line_for(updated.id, other)
            staff_key, staff_params = "connect.made_waiting_staff", {"waiting": theirs}
        reply = menu_reply(
            ctx, "connect.made", contact=updated.contact_of(other) or "", number=theirs
        )
    else:
        staff_key = "connect.declined_staff"
        if updated.answer_of(other) == "yes":
            await _tell(ctx, [other], "connect.not_made")
        reply = menu_reply(ctx, "connect.declined")
    await ctx.repos.connections.forget_contacts(updated.id)
    await _tell_staff(ctx, updated, staff_key, **staff_params)
    return respond(reply, timers=[Timer(job=job(updated.id), at=None)])


async def _call_off_if_banned(ctx: Context, connection: Connection) -> Response | None:
    """End the request if the other was banned since they were asked: nothing of this
    person may reach them, and they cannot answer any more. Why is the other's own
    business, so the one who said yes hears only that it does not go ahead."""
    if not await _banned(ctx, connection.other(ctx.user.id)):
        return None
    await ctx.repos.connections.call_off(connection.id, ctx.now)
    await _tell_staff(ctx, connection, "connect.declined_staff")
    return respond(
        menu_reply(ctx, "connect.not_made"), timers=[Timer(job=job(connection.id), at=None)]
    )


async def call_off_for_ban(ctx: Context, user_id: int) -> list[Timer]:
    """Call off at once every open request of someone just banned, in the caller's
    transaction: both contact lines forgotten, the other told only that the contact does
    not go ahead (a ban is the banned person's own business), the connector who asked told
    as for a no. Returns the timers to disarm."""
    return await call_off_all(ctx.repos, user_id, ctx.now, actor_user_id=ctx.user.id)


# The end of a request nobody finished -------------------------------------------------


async def expire_requests(
    repos: Repositories, profile: Profile, zone: tzinfo, now: datetime
) -> int:
    """End every open request not answered by both in time; returns how many.

    The runner of the scheduler's ``connection`` jobs (with :meth:`Connections.pending`
    listing them after a restart, so what came due while the bot was down ends at start-up).
    One transaction: the status, the forgotten contact lines and the messages are written
    together, and a request ends once, however often this runs.
    """
    async with repos.db.transaction():
        ended = await repos.connections.expire_due(profile.connections.answer_days, zone, now)
        for connection in ended:
            for user_id in connection.said_yes():
                theirs = connection.idea_of(connection.other(user_id))
                told = Reply(key="connect.expired_told", params={"number": number(theirs or 0)})
                await repos.outbox.enqueue(
                    user_id, [told.model_dump(mode="json")], kind="connect", now=now
                )
            staff = Reply(
                key="connect.expired_staff",
                params={
                    "first": number(connection.idea_a or 0),
                    "second": number(connection.idea_b or 0),
                },
            )
            for to in await staff_to_tell(repos, connection):
                await repos.outbox.enqueue(
                    to, [staff.model_dump(mode="json")], kind="connect", now=now
                )
            await repos.audit.record(
                "connection.expire",
                now=now,
                subject=f"connection:{connection.id}",
                detail={"ideas": [connection.idea_a, connection.idea_b]},
            )
    return len(ended)


async def line_handed(ctx: Context, row_id: int) -> None:
    """The welcome back handed over the outbox row ``row_id``: if it is the other's line,
    kept for this person when both said yes, the two now have each other's details, and
    the connector who asked hears so (see :func:`_answer`)."""
    connection = await ctx.repos.connections.line_handed(row_id)
    if connection is not None:
        await _tell_staff(ctx, connection, "connect.made_staff")


async def _tell_staff(ctx: Context, connection: Connection, key: str, **params: object) -> None:
    """Tell the connector who asked how it ended (the connectors now, when whoever asked
    is no longer one)."""
    ideas = {"first": number(connection.idea_a or 0), "second": number(connection.idea_b or 0)}

    def build(lang: str) -> list[Reply]:
        filled = {**ideas, **params, "connector": ctx.profile.connector(lang)}
        return [Reply(key=key, params=filled)]

    await notify(ctx, await staff_to_tell(ctx.repos, connection), kind="connect", build=build)


async def _tell(
    ctx: Context, user_ids: list[int], key: str, *, kept: bool = False, **params: object
) -> int:
    """Queue the message for each of ``user_ids``; with ``kept``, for someone the bot
    cannot reach now it is kept and shown when they come back (the other's contact line:
    nobody else can give it to them), as it is when their block is found only when it is
    sent (handlers/start/returning.py). Returns how many were kept."""

    def build(lang: str) -> list[Reply]:
        return [Reply(key=key, params={**params, "connector": ctx.profile.connector(lang)})]

    await notify(ctx, user_ids, kind="connect", build=build)
    held = 0
    if kept:
        for user_id in user_ids:
            payload = [reply.model_dump(mode="json") for reply in build(ctx.catalog.default)]
            held += await ctx.repos.outbox.keep_for_return(
                user_id, payload, kind="connect", now=ctx.now
            )
    return held
