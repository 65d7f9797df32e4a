"""What happens to a round at its moments, run by the scheduler (``budget:<round id>``).

The round's row says what is still to do, so a run that comes late (after a restart) or
twice does each thing once: open a scheduled round and, in the same transaction, invite
everyone who may vote in it (:mod:`handlers.budgets.invitations`); two days before
closing, remind every voter who chose projects but never confirmed (once); at closing,
withdraw the invitations still waiting, tally, record the winners and queue the result for
every voter and every "Wist je dat" subscriber, and tell the staff member who set the
round up. A round nobody voted in says so plainly (no project, no money spent) instead of
a result of zeros; one too few voted in names its winners without votes
(:mod:`handlers.budgets.disclosure`). Each run ends by returning the round's next moment,
if any.

    scheduled ──opens_at──► open ──closes_at - 2 days──► reminder ──closes_at──► closed
        │            (invitations to vote)
        └── its author no longer a connector (``samenspel revoke`` cancels it at once; a
            role changed some other way is caught here, at its opening): cancelled, never
            opened, nobody asked; the connectors now hear it will not go ahead

A round already open runs on when its author loses the role: residents are voting in it,
and its notices go to the connectors of now (:meth:`storage.users.Users.in_charge`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.budgets import disclosure, invitations
from handlers.catalog import Catalog
from handlers.contract import Button, Reply, Timer
from handlers.money import format_euro
from handlers.profile import Profile
from storage import Repositories
from storage.budgets.rounds import REMINDER_KIND, Project, Round, RoundStatus
from storage.news.broadcasts import Audience, AudienceKind
from storage.users import Role

log = logging.getLogger(__name__)


async def advance(
    repos: Repositories,
    catalog: Catalog,
    profile: Profile,
    zone: ZoneInfo,
    round_id: int,
    now: datetime,
) -> Timer | None:
    """Do what is due for one round, in one transaction; returns its next timer."""
    async with repos.db.transaction():
        found = await repos.budgets.get(round_id)
        if found is None:
            return None
        if found.status is RoundStatus.SCHEDULED:
            role = await repos.budgets.refuse(round_id, now)
            if role is not None:
                # Its author may no longer run rounds (the role was taken away some way
                # other than ``samenspel revoke``, which cancels it at once): it never opens.
                log.warning(
                    "budget round %d cancelled: its author's role is now %s", round_id, role
                )
                cancelled = await repos.budgets.get(round_id)
                assert cancelled is not None
                await cancelled_rounds(repos, [cancelled], now, role=role)
            elif await repos.budgets.open_due(round_id, now):
                opened = await repos.budgets.get(round_id)
                assert opened is not None
                await _opened(repos, catalog, zone, opened, now)
        found = await repos.budgets.get(round_id)
        assert found is not None
        if (
            found.status is RoundStatus.OPEN
            and found.reminded_at is None
            and found.reminder_due(zone) <= now < found.closes_at
        ):
            await _remind(repos, catalog, zone, found, now)
        if found.status is RoundStatus.OPEN and found.closes_at <= now:
            await _close(repos, catalog, profile, found, now)
        found = await repos.budgets.get(round_id)
        assert found is not None
        at = found.next_moment(zone)
        return Timer(job=f"budget:{round_id}", at=at) if at is not None else None


async def _opened(
    repos: Repositories, catalog: Catalog, zone: ZoneInfo, opened: Round, now: datetime
) -> None:
    """A scheduled round just opened: invite who may vote and tell whoever runs it how
    many (the author while still a connector, else the connectors now)."""
    invited = await invitations.invite(repos, catalog, zone, opened, now)
    await repos.audit.record(
        "budget.open", now=now, subject=f"budget:{opened.id}", detail={"invited": invited}
    )
    if opened.closes_at <= now:
        # Its whole time passed while the bot was down: it closes in this same run, and
        # that is what the staff hear.
        return
    staff = await repos.users.in_charge(opened.author_user_id, Role.CONNECTOR)
    groups = await repos.recipients.by_language(staff, catalog.default)
    for lang, ids in groups.items():
        note = invitations.opened(opened, invited, catalog.language(lang), zone)
        await repos.outbox.fan_out(
            ids, [note.model_dump(mode="json")], kind="budget_opened", now=now
        )


async def cancelled_rounds(
    repos: Repositories, rounds: Sequence[Round], now: datetime, *, role: str
) -> None:
    """Record rounds that will not go ahead because their author lost the connector role
    (now ``role``), and tell the connectors now, who may set such a round up again; with no
    connector, the admins. Residents never saw a scheduled round, so nobody else hears.
    Call it inside the transaction that cancelled them."""
    if not rounds:
        return
    for cancelled in rounds:
        # Residents are invited only once a round opens; should any invitation wait, it
        # goes nowhere now.
        await invitations.withdraw(repos, cancelled.id)
        await repos.audit.record(
            "budget.cancel",
            now=now,
            subject=f"budget:{cancelled.id}",
            subject_user_id=cancelled.author_user_id,
            detail={"why": "author_role", "role": role},
        )
    staff = await repos.users.in_charge(None, Role.CONNECTOR)
    if not staff:
        return
    for cancelled in rounds:
        reply = Reply(
            key="budgets.cancelled_staff",
            params={"name": cancelled.name},
            buttons=[[Button(label="budgets.btn_rounds", payload="bs")]],
        )
        await repos.outbox.fan_out(
            staff, [reply.model_dump(mode="json")], kind="budget_cancelled", now=now
        )


async def _remind(
    repos: Repositories, catalog: Catalog, zone: ZoneInfo, found: Round, now: datetime
) -> None:
    if not await repos.budgets.finish_reminding(found.id, now):
        return
    unfinished = await repos.budgets.unfinished(found.id)
    if not unfinished:
        return
    closes = found.closes_at.astimezone(zone)
    chosen = dict(unfinished)
    groups = await repos.recipients.by_language(list(chosen), catalog.default)
    for lang, ids in groups.items():
        day = catalog.text(lang, f"budgets.day_{closes.weekday()}", {}, markup=False)
        for user_id in ids:
            reply = Reply(
                key="budgets.reminder_one" if chosen[user_id] == 1 else "budgets.reminder",
                params={
                    "count": chosen[user_id],
                    "name": found.name,
                    "closes": f"{day} {closes:%H:%M}",
                    "date": f"{closes:%d-%m}",
                },
                buttons=[[Button(label="budgets.btn_finish", payload=f"bv.round:{found.id}")]],
            )
            await repos.outbox.fan_out(
                [user_id],
                [reply.model_dump(mode="json")],
                kind=REMINDER_KIND,
                now=now,
                expires_at=found.closes_at,
            )
    await repos.budgets.mark_reminded(found.id, list(chosen), now)


async def _close(
    repos: Repositories, catalog: Catalog, profile: Profile, found: Round, now: datetime
) -> None:
    winners = await repos.budgets.close(found.id, now)
    if winners is None:
        return
    # Invitations still waiting (a slow or held chat) would ask to vote in a closed round.
    await invitations.withdraw(repos, found.id)
    closed = await repos.budgets.get(found.id)
    assert closed is not None
    projects = await repos.budgets.projects(found.id)
    voters = await repos.budgets.voters(found.id)
    subscribers = await repos.broadcasts.recipients(Audience(kind=AudienceKind.ALL))
    everyone = sorted(set(voters) | set(subscribers))
    await repos.audit.record(
        "budget.close",
        now=now,
        subject=f"budget:{found.id}",
        detail={"winners": winners, "voters": closed.voters, "spent_cents": closed.spent_cents},
    )
    await _tell_organiser(repos, closed, len(winners), now)
    groups = await repos.recipients.by_language(everyone, catalog.default)
    for lang, ids in groups.items():
        reply = _result(catalog, profile, closed, projects, winners, lang)
        await repos.outbox.fan_out(
            ids,
            [reply.model_dump(mode="json")],
            kind="budget_result",
            batch=f"budget:{found.id}:{lang}",
            now=now,
        )


def _result(
    catalog: Catalog,
    profile: Profile,
    closed: Round,
    projects: list[Project],
    winners: list[int],
    lang: str,
) -> Reply:
    """The result of a closed round as voters and subscribers read it in ``lang``: the
    round's name and its projects' titles as staff wrote them, with the note that says so
    (for a reader in another language) once under the whole result."""
    if not closed.voters:
        # Nobody voted, so no project won (a project without a vote never wins; and with a
        # vote one always does: every ballot holds a project, every project fits the total).
        # That is the news, not a tally of zeros.
        return Reply(
            key="budgets.result_no_votes",
            params={"name": closed.name, "total": format_euro(closed.total_cents, lang)},
            original=True,
        )
    shown = disclosure.votes_shown(profile, closed.voters)
    params = {
        "name": closed.name,
        "spent": format_euro(closed.spent_cents or 0, lang),
        "total": format_euro(closed.total_cents, lang),
        "winners": len(winners),
        "municipality": profile.name(lang),
        "tie": _tie(catalog, lang, closed, votes_shown=shown),
    }
    if not shown:
        # Too few voters to show the votes: the winners, then the others, as on the ballot
        # (an order by votes would give the counts away).
        on_ballot = sorted(projects, key=lambda p: (not p.winner, p.id))
        return Reply(
            key="budgets.result_few",
            params={**params, "min": disclosure.threshold(profile)},
            parts=[
                Reply(
                    key="budgets.result_winner_few" if p.winner else "budgets.result_line_few",
                    params={"title": p.title, "cost": format_euro(p.cost_cents, lang)},
                )
                for p in on_ballot
            ],
            original=True,
        )
    # Winners in the order the tally chose them, then the others by votes.
    chosen = {project_id: n for n, project_id in enumerate(winners)}
    ranked = sorted(projects, key=lambda p: (chosen.get(p.id, len(chosen)), -(p.votes or 0), p.id))
    lines = [
        Reply(
            key="budgets.result_winner" if p.winner else "budgets.result_line",
            params={
                "title": p.title,
                "cost": format_euro(p.cost_cents, lang),
                "votes": p.votes or 0,
            },
        )
        for p in ranked
    ]
    return Reply(
        key="budgets.result",
        params={**params, "voters": closed.voters or 0},
        parts=lines,
        original=True,
    )


async def _tell_organiser(repos: Repositories, closed: Round, winners: int, now: datetime) -> None:
    """Tell whoever set the round up that it closed, with the way to its result, while
    they still run rounds; otherwise the connectors now (see
    :meth:`storage.users.Users.in_charge`)."""
    staff = await repos.users.in_charge(closed.author_user_id, Role.CONNECTOR)
    if not staff:
        return
    reply = Reply(
        key="budgets.closed_staff" if closed.voters else "budgets.closed_staff_no_votes",
        params={"name": closed.name, "voters": closed.voters or 0, "winners": winners},
        buttons=[[Button(label="budgets.btn_result", payload=f"bs.show:{closed.id}")]],
    )
    await repos.outbox.fan_out(
        staff, [reply.model_dump(mode="json")], kind="budget_closed", now=now
    )


def _tie(catalog: Catalog, lang: str, closed: Round, *, votes_shown: bool) -> str:
    """The round's tie rule as the result states it, with the lot's seed where one was drawn
    (that anyone can redo it only where the votes are published)."""
    if closed.tie_seed:
        key = "budgets.tie_lot_drawn" if votes_shown else "budgets.tie_lot_drawn_few"
        return catalog.text(lang, key, {"seed": closed.tie_seed}, markup=False)
    return catalog.text(lang, f"budgets.tie_{closed.tie_rule.value}", {}, markup=False)
