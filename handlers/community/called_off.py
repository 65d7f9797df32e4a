"""Calling off the requests to put someone in touch with another resident, when they can no
longer go ahead: the person was banned (:func:`handlers.community.connections.call_off_for_ban`)
or is being erased (:func:`handlers.privacy.your_data.erase_person`). Apart from the dialog
so that the erasure can use it without the dialog's imports.

    open request of the person ──► called off (contact lines forgotten)
        ──► the other: "does not go ahead" (not why)
        ──► the connector who asked: as for a no (the connectors now, when whoever asked
            is no longer one: :func:`staff_to_tell`)
"""

from __future__ import annotations

from datetime import datetime

from handlers.contract import Reply, Role, Timer
from handlers.phrases import number
from storage import Repositories
from storage.community.connections import Connection


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
    Contact lines of others kept for them until they come back (the bot could not reach
    them) are dropped too. Returns the timers to disarm."""
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
        told = [(connection.other(user_id), other)]
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
