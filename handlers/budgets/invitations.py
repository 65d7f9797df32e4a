"""The invitation to vote that every resident who may vote gets when a budget round opens.

    round opens ("Nu", or the scheduler at its moment; one transaction with the opening)
        ──► who may vote (:meth:`storage.budgets.rounds.BudgetRounds.invitees`)
        ──► one invitation each, in their language, in the outbox batch ``budget:<id>:invite``
              ├─ its author sees it go out (progress, then a report), as for a broadcast
              ├─ 🗳️ Stemmen ──► ``bv.round:<id>``: the round's ballot (closed by then: says so)
              └─ 🔕 Geen uitnodigingen ──► ``bv.inv:off`` (on again from /stemmen)
        ──► not sent after the round closes: they expire then, and the closing (or a
            cancellation) withdraws what still waits

Who is asked follows the rule of a poll for everyone, not the "Wist je dat" subscription:
voting is taking part, not news one subscribes to, and most residents never subscribe.
What one can switch off is these invitations themselves, as a poll's reminders.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import when
from handlers.catalog import Catalog
from handlers.contract import Button, Reply
from handlers.money import format_euro
from storage import Repositories
from storage.budgets.rounds import INVITATION_KIND, RUNNER_ROLE, Round, RoundStatus

log = logging.getLogger(__name__)

KIND = INVITATION_KIND


def batch(round_id: int) -> str:
    """The outbox batch of a round's invitations."""
    return f"budget:{round_id}:invite"


def invitation(found: Round, lang: str, zone: ZoneInfo) -> Reply:
    """The invitation to vote in an open round, as a reader of ``lang`` gets it."""
    params: dict[str, object] = {
        "name": found.name,
        "total": format_euro(found.total_cents, lang),
        "closes": when.moment(found.closes_at.astimezone(zone), lang),
    }
    key = "budgets.invitation"
    if found.postcodes is not None:
        key = "budgets.invitation_postcode"
        params["ranges"] = ", ".join(r.shown() for r in found.postcodes)
    return Reply(
        key=key,
        params=params,
        original=True,  # the round's name, as staff wrote it
        buttons=[
            [Button(label="budgets.btn_go_vote", payload=f"bv.round:{found.id}")],
            [Button(label="budgets.btn_invitations_off", payload="bv.inv:off")],
        ],
    )


def opened(found: Round, invited: int, lang: str, zone: ZoneInfo) -> Reply:
    """What the connector hears when their round opens: how many are being invited."""
    return Reply(
        key="budgets.opened" if invited else "budgets.opened_nobody",
        params={
            "name": found.name,
            "closes": when.moment(found.closes_at.astimezone(zone), lang),
            "count": invited,
        },
        buttons=[[Button(label="budgets.btn_rounds", payload="bs")]],
    )


async def invite(
    repos: Repositories,
    catalog: Catalog,
    zone: ZoneInfo,
    found: Round,
    now: datetime,
) -> int:
    """Queue the invitation of a round that just opened for everyone who may vote in it;
    returns how many were queued. Its author (while they may still see it) follows the
    batch as for a broadcast.

    Call it inside the transaction that opened the round: the opening and the invitations
    are stored together, so a restart neither loses them nor sends them twice.
    """
    if found.status is not RoundStatus.OPEN or found.closes_at <= now:
        # Its whole time passed while the bot was down: nobody is asked to vote in a round
        # that closes at once.
        return 0
    people = await repos.budgets.invitees(found.id)
    if not people:
        return 0
    staff = await repos.users.in_charge(found.author_user_id, RUNNER_ROLE)
    author = found.author_user_id if found.author_user_id in staff else None
    groups = await repos.recipients.by_language(people, catalog.default)
    queued = 0
    for lang, ids in groups.items():
        reply = invitation(found, catalog.language(lang), zone)
        queued += await repos.outbox.fan_out(
            ids,
            [reply.model_dump(mode="json")],
            kind=KIND,
            batch=batch(found.id),
            now=now,
            author_user_id=author,
            expires_at=found.closes_at,
        )
    log.info("budget round invitations id=%d invited=%d", found.id, queued)
    return queued


async def withdraw(repos: Repositories, round_id: int) -> int:
    """Cancel the invitations of a round that still wait (it closed, or will not go
    ahead); returns how many. Its author's report counts them as cancelled."""
    return await repos.outbox.withdraw([batch(round_id)])
