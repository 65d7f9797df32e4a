"""Calling off the requests to put someone in touch with another resident, when they can no
longer go ahead: the person was banned (:func:`handlers.community.connections.call_off_for_ban`)
or is being erased (:func:`handlers.privacy.your_data.erase_person`). Apart from the dialog
so that the erasure can use it without the dialog's imports.

    ban: open request of the person ──► called off (contact lines forgotten)
        ──► the other: "does not go ahead" (not why; a question that has not reached
            one of the two yet is taken back, and nothing follows it)
        ──► the connector who asked: as for a no (the connectors now, when whoever asked
            is no longer one: :func:`staff_to_tell`)

    ban or erasure: both said yes and the other's line is on its way to the person, or
    waits for their return ──► lost (:func:`kept_lines_lost`): the other hears it will
        not be handed over (not why, naming only their own idea), the connector who asked
        that it was not

    erasure: open request, or both said yes and the person's line has not reached the
    other yet ──► ended (:func:`end_for_erasure`): the erased person's side is emptied
        ──► the other: "ended, the other is no longer on Samenspel", naming only their own
            idea (not if the question never reached them: it is withdrawn; not if they are
            banned; kept for the welcome back if they said yes and cannot be reached)
        ──► the connector who asked: the same, naming only the idea of the one left
        ──► a late answer of the other: "this request has ended", nothing changes
"""

from __future__ import annotations

from datetime import datetime

from handlers.contract import Reply, Role, Timer
from handlers.phrases import number
from storage import Repositories
from storage.community.connections import Connection
from storage.community.moderation import SanctionKind


def job(connection_id: int) -> str:
    """The scheduler job that ends a request not answered in time."""
    return f"connection:{connection_id}"


async def staff_to_tell(repos: Repositories, connection: Connection) -> list[int]:
    """Who hears how a request ended: the connector who asked, while they still are one;
    otherwise the connectors now (see :meth:`storage.users.Users.in_charge`)."""
    return await repos.users.in_charge(connection.by_user_id, Role.CONNECTOR)


async def call_off_all(
    repos: Repositories, user_id: int, now: datetime, *, actor_user_id: int | None
) -> list[Timer]:
    """Call off every open request ``user_id`` is one of the two of, in the caller's
    transaction: after a ban of them, or before their erasure (which takes the request
    with it). The other hears only that the contact does not go ahead, not why; the
    connector who asked (:func:`staff_to_tell`) hears it as for a no; ``actor_user_id``
    (who did it) is not told.
    Contact lines of others on their way to them, or kept for them until they come back
    (the bot could not reach them), are dropped too. Returns the timers to disarm."""
    # Lines on their way to them, or kept for their return, will never be handed over:
    # the connector who heard that they would be is told.
    await kept_lines_lost(repos, user_id, now)
    await repos.outbox.drop_kept(user_id, "connect")
    timers = []
    for connection in await repos.connections.open_of(user_id):
        if not await repos.connections.call_off(connection.id, now):
            continue
        other = Reply(
            key="connect.called_off",
            params={"number": number(connection.idea_of(user_id) or 0)},
        )
        staff = Reply(
            key="connect.declined_staff",
            params={
                "first": number(connection.idea_a or 0),
                "second": number(connection.idea_b or 0),
            },
        )
        # Questions that never reached them are taken back: the banned person cannot
        # answer theirs, and the other would read of a request that is over already (and
        # then that it is), unless they answered it.
        question = f"con.yes:{connection.id}"
        await repos.outbox.withdraw_pending(user_id, "connect", question)
        withdrawn = await repos.outbox.withdraw_pending(
            connection.other(user_id), "connect", question
        )
        repos.outbox.stop_sending(connection.other(user_id))
        unasked = withdrawn and connection.answer_of(connection.other(user_id)) is None
        told = [] if unasked else [(connection.other(user_id), other)]
        told += [(to, staff) for to in await staff_to_tell(repos, connection)]
        for to, reply in told:
            if to is not None and to not in (user_id, actor_user_id):
                await repos.outbox.enqueue(
                    to, [reply.model_dump(mode="json")], kind="connect", now=now
                )
        await repos.audit.record(
            "connection.call_off",
            now=now,
            actor_user_id=actor_user_id,
            subject=f"connection:{connection.id}",
            detail={"ideas": [connection.idea_a, connection.idea_b]},
        )
        timers.append(Timer(job=job(connection.id), at=None))
    return timers


async def kept_lines_lost(repos: Repositories, user_id: int, now: datetime) -> None:
    """The other's contact line on its way to ``user_id``, or kept for their return, will
    never reach them (they are banned, or being erased): the one whose line it is hears
    that it will not be handed over (not why, as for a request called off), unless they
    are banned themselves; the connector who heard that it was on its way, or waits for
    them and that they would hear when it was handed over, hears that it was not; the
    lines are forgotten.
    Naming only the idea of the one whose line it is (who has the other's already), as
    for a request that ended (:func:`end_for_erasure`)."""
    for connection in await repos.connections.stop_lines_to(user_id):
        await _line_lost(repos, connection, user_id, now)
    for connection in await repos.connections.kept_for(user_id):
        await _line_lost(repos, connection, user_id, now)
    await repos.connections.no_line_kept_for(user_id)


async def _line_lost(
    repos: Repositories, connection: Connection, user_id: int, now: datetime
) -> None:
    """The other's contact line will not reach ``user_id``: the other (unless banned) and
    the connector who asked are told, naming only the other's idea (see
    :func:`kept_lines_lost`)."""
    other = connection.other(user_id)
    own = number(connection.idea_of(other) or 0)
    if not await _banned(repos, other, now):
        told = [Reply(key="connect.kept_lost", params={"number": own}).model_dump(mode="json")]
        if not await repos.outbox.enqueue(other, told, kind="connect", now=now):
            # Away themselves: their welcome back says it (see storage.returns).
            await repos.outbox.keep_for_return(other, told, kind="connect", now=now)
    staff = Reply(key="connect.kept_lost_staff", params={"number": own}).model_dump(mode="json")
    for to in await staff_to_tell(repos, connection):
        if to not in (user_id, other):
            await repos.outbox.enqueue(to, [staff], kind="connect", now=now)


async def end_for_erasure(repos: Repositories, user_id: int, now: datetime) -> list[Timer]:
    """End, before ``user_id``'s erasure and in its transaction, every request the other
    still waits for: one still open, and one both said yes to whose message with this
    person's contact line has not reached the other yet (the erasure deletes it). Nothing
    of the erased person is told: the other and the connector hear only that the request
    ended because the other is no longer on Samenspel, with the idea of the one left.
    A line of the other's kept for this person's return is lost with them: the connector
    waiting to hear it was handed over hears that it was not (:func:`kept_lines_lost`).
    Returns the timers to disarm."""
    await kept_lines_lost(repos, user_id, now)
    ended: list[tuple[Connection, str | None]] = []
    for connection in await repos.connections.open_of(user_id):
        other = connection.other(user_id)
        # A question that never reached the other is taken back, and nothing follows it:
        # they would read of a request they never saw (with the erased person's idea).
        withdrawn = await repos.outbox.withdraw_pending(
            other, "connect", f"con.yes:{connection.id}"
        )
        if not await repos.connections.end(connection.id, now):
            continue
        if connection.answer_of(other) == "yes":
            ended.append((connection, "connect.ended_told"))
        else:
            ended.append((connection, None if withdrawn else "connect.ended_asked"))
    for connection, _status in await repos.connections.waiting_on(user_id):
        if await repos.connections.end(connection.id, now):
            ended.append((connection, "connect.ended_told"))
    timers = []
    for connection, key in ended:
        other = connection.other(user_id)
        # The erasure deletes this person's line on its way to the other, and the question
        # about their idea was taken back: a copy delivery took already is looked at
        # again, not sent as taken.
        repos.outbox.stop_sending(other)
        own = number(connection.idea_of(other) or 0)
        if key is not None and not await _banned(repos, other, now):
            told = [Reply(key=key, params={"number": own}).model_dump(mode="json")]
            queued = await repos.outbox.enqueue(other, told, kind="connect", now=now)
            if not queued and key == "connect.ended_told":
                # They said yes and wait for an answer: the welcome back tells them, in
                # place of the line they would have had.
                await repos.outbox.keep_for_return(other, told, kind="connect", now=now)
        # Whoever asked is told, unless they are the one being erased (then the connectors
        # now) or the one left (told above already).
        asker = None if connection.by_user_id == user_id else connection.by_user_id
        staff = Reply(key="connect.ended_staff", params={"number": own}).model_dump(mode="json")
        for to in await repos.users.in_charge(asker, Role.CONNECTOR):
            if to not in (user_id, other):
                await repos.outbox.enqueue(to, [staff], kind="connect", now=now)
        await repos.audit.record(
            "connection.end",
            now=now,
            subject=f"connection:{connection.id}",
            detail={"ideas": [connection.idea_of(other)]},
        )
        timers.append(Timer(job=job(connection.id), at=None))
    return timers


async def _banned(repos: Repositories, user_id: int, now: datetime) -> bool:
    """Whether this person is banned now: nothing more of the request goes to them."""
    sanction = await repos.sanctions.active(user_id, now)
    return sanction is not None and sanction.kind is SanctionKind.BAN
