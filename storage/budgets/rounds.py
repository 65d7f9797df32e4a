"""Budget rounds, their projects and the residents' ballots.

A round is stored with its projects in one transaction when staff open it (``scheduled``
until its opening moment, then ``open``), and ``closed`` by the tally. A scheduled round
whose author no longer runs rounds (the connector role was taken away) is ``cancelled``
instead of opened: nobody votes in it. An open round runs on, whoever set it up: residents
are voting in it. A voter's ballot is written at every tap: ``budget_choices`` holds what
they chose so far, ``budget_votes`` what they last confirmed; only confirmed votes count.
Nothing here returns who chose what to anyone but that voter: staff read counts only.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, tzinfo
from enum import StrEnum

import aiosqlite
from pydantic import BaseModel, ConfigDict, Field, model_validator

from storage import graphemes
from storage.budgets.tally import Candidate, TieRule, choose_winners
from storage.clock import days_later, iso, parse
from storage.community.moderation import NOT_BANNED
from storage.db import Database
from storage.users import Role

#: The outbox kind of the invitation to vote when a round opens.
INVITATION_KIND = "budget_invitation"
#: The outbox kind of the reminder to finish an unconfirmed ballot.
REMINDER_KIND = "budget_reminder"
#: Unfinished ballots are reminded this many days before the round closes, at its closing
#: clock time (:func:`storage.clock.days_later`).
REMIND_DAYS_BEFORE = 2
#: Who may set rounds up, and so whose scheduled rounds may open.
RUNNER_ROLE = Role.CONNECTOR
#: The roles that may, as an SQL list.
RUNNER_ROLES = Role.sql_allowing(RUNNER_ROLE)
#: A round's author may (still) run rounds, or is unknown (erased, or a round made before
#: rounds named their author): only a known author without the role stops a round.
_AUTHORISED = (
    "(budget_rounds.author_user_id IS NULL OR EXISTS (SELECT 1 FROM users a"
    f" WHERE a.id = budget_rounds.author_user_id AND a.role IN {RUNNER_ROLES}))"
)


class RoundStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    #: Scheduled, and never opened: its author lost the role first.
    CANCELLED = "cancelled"


class PostcodeRange(BaseModel):
    """Postcodes from ``first`` to ``last`` (their four digits), in a neighbourhood."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: int = Field(ge=1000, le=9999)
    last: int = Field(ge=1000, le=9999)
    neighbourhood: str | None = None

    @model_validator(mode="after")
    def _in_order(self) -> PostcodeRange:
        if self.last < self.first:
            raise ValueError("a postcode range ends at or after its first postcode")
        return self

    def holds(self, digits: int) -> bool:
        return self.first <= digits <= self.last

    def shown(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}–{self.last}"


def postcode_area(ranges: list[PostcodeRange], digits: int) -> PostcodeRange | None:
    """The range that holds a postcode's four digits, if any."""
    return next((r for r in ranges if r.holds(digits)), None)


class NewProject(BaseModel):
    """A project as staff put it on the ballot."""

    title: str
    description: str
    cost_cents: int
    neighbourhood: str | None = None
    photo_id: int | None = None
    idea_id: int | None = None
    proposal_id: int | None = None


class Project(NewProject):
    id: int
    round_id: int
    #: Set at closing.
    votes: int | None
    winner: bool
    experiment_id: int | None
    #: Its idea's or proposal's submission, else the round's creation.
    submitted_at: datetime | None = None


class Round(BaseModel):
    id: int
    name: str
    total_cents: int
    hood_budgets: dict[str, int]
    opens_at: datetime
    closes_at: datetime
    hood_only: bool
    #: Only residents with a postcode in these ranges may vote (None: no such limit).
    postcodes: list[PostcodeRange] | None = None
    tie_rule: TieRule = TieRule.COST
    #: The lot's seed, drawn at closing (``lot`` rounds only).
    tie_seed: str | None = None
    status: RoundStatus
    reminded_at: datetime | None
    closed_at: datetime | None
    voters: int | None
    spent_cents: int | None
    #: The connector who set it up (None once erased, or for rounds from before).
    author_user_id: int | None = None
    cancelled_at: datetime | None = None

    def reminder_due(self, zone: tzinfo) -> datetime:
        """When unfinished ballots are reminded: :data:`REMIND_DAYS_BEFORE` days before
        closing, at the closing clock time in ``zone`` (the municipality's time zone)."""
        return days_later(self.closes_at, -REMIND_DAYS_BEFORE, zone)

    def next_moment(self, zone: tzinfo) -> datetime | None:
        """When the scheduler should look at this round again (None once closed)."""
        if self.status is RoundStatus.SCHEDULED:
            return self.opens_at
        if self.status is RoundStatus.OPEN:
            remind = self.reminder_due(zone)
            if self.reminded_at is None and remind > self.opens_at:
                return remind
            return self.closes_at
        return None


class Ballot(BaseModel):
    """One voter's ballot in one round."""

    chosen: set[int]
    confirmed: set[int]
    confirmed_at: datetime | None
    #: The four digits of the postcode given for a postcode round.
    postcode: str | None = None

    @property
    def changed_since_confirmed(self) -> bool:
        return self.confirmed_at is not None and self.chosen != self.confirmed


def _round(row: aiosqlite.Row) -> Round:
    return Round(
        id=row["id"],
        name=row["name"],
        total_cents=row["total_cents"],
        hood_budgets=json.loads(row["hood_budgets"]),
        opens_at=parse(row["opens_at"]),
        closes_at=parse(row["closes_at"]),
        hood_only=bool(row["hood_only"]),
        postcodes=(
            [PostcodeRange.model_validate(r) for r in json.loads(row["postcodes"])]
            if row["postcodes"] is not None
            else None
        ),
        tie_rule=TieRule(row["tie_rule"]),
        tie_seed=row["tie_seed"],
        status=RoundStatus(row["status"]),
        reminded_at=parse(row["reminded_at"]),
        closed_at=parse(row["closed_at"]),
        voters=row["voters"],
        spent_cents=row["spent_cents"],
        author_user_id=row["author_user_id"],
        cancelled_at=parse(row["cancelled_at"]),
    )


#: A project's title as everyone reads it. A project taken from an idea carries the idea's
#: title (its author's words) only while the idea is in view: once it is hidden or removed
#: (reported, say, for the personal data in it) the ballot, the result and the open data
#: read staff's description instead, as after the author's erasure, and the idea's title
#: again if the connector shows the idea once more. The description comes whole: whoever
#: reads this column passes it through :func:`shown_title` (a cut in SQL would count code
#: points and could leave half an emoji before the "…").
SHOWN_TITLE = (
    "CASE WHEN EXISTS (SELECT 1 FROM ideas i WHERE i.id = p.idea_id"
    " AND i.removed_at IS NOT NULL)"
    " THEN p.description ELSE p.title END"
)
#: A project came from an idea that is in view (not hidden, removed or erased).
_IDEA_IN_VIEW = (
    "(p.idea_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ideas i WHERE i.id = p.idea_id"
    " AND i.removed_at IS NOT NULL))"
)
#: The idea or proposal a project came from and its date, as the open data publishes them.
#: An idea is named only while it is in view: one hidden, removed, or erased with its
#: author is not named, nor found by its date (an earlier export lists ideas with theirs):
#: its project reads as one staff typed, made when the round was (so for it the
#: ``earliest`` tie rule cannot be checked from the open data). So does a project whose
#: idea or proposal is gone altogether (deleted with its author: the link emptied).
_PUBLIC_SOURCE = (
    f"CASE WHEN {_IDEA_IN_VIEW} THEN p.idea_id END AS idea, p.proposal_id AS proposal,"
    f" CASE WHEN {_IDEA_IN_VIEW} OR (p.idea_id IS NULL AND p.proposal_id IS NOT NULL)"
    " THEN p.submitted_at ELSE r.created_at END AS submitted_at"
)
#: The longest title a project shows (staff's titles are at most this long).
TITLE_LENGTH = 80


def shown_title(text: str) -> str:
    """The description standing in for a project's title as it is shown: cut between whole
    characters, with "…", where it is longer than a title."""
    if len(text) <= TITLE_LENGTH:
        return text
    return graphemes.cut(text, TITLE_LENGTH - 1) + "…"


def _title(row: aiosqlite.Row) -> str:
    """The title of a project's row (read with :data:`SHOWN_TITLE`): its description,
    where it stands in for the title, cut as a title."""
    title = str(row["title"])
    return shown_title(title) if title == row["description"] else title


_PROJECT = (
    f"SELECT p.id, p.round_id, {SHOWN_TITLE} AS title, p.description, p.cost_cents,"
    " p.neighbourhood, p.photo_id, p.idea_id, p.proposal_id, p.votes, p.winner,"
    " p.experiment_id, p.submitted_at FROM budget_projects p"
)


def _project(row: aiosqlite.Row) -> Project:
    return Project(
        id=row["id"],
        round_id=row["round_id"],
        title=_title(row),
        description=row["description"],
        cost_cents=row["cost_cents"],
        neighbourhood=row["neighbourhood"],
        photo_id=row["photo_id"],
        idea_id=row["idea_id"],
        proposal_id=row["proposal_id"],
        votes=row["votes"],
        winner=bool(row["winner"]),
        experiment_id=row["experiment_id"],
        submitted_at=parse(row["submitted_at"]),
    )


class BudgetRounds:
    """The budget_rounds, budget_projects, budget_ballots, _choices and _votes tables."""

    def __init__(self, db: Database):
        self.db = db

    # Rounds -----------------------------------------------------------------------------

    async def create(
        self,
        *,
        name: str,
        total_cents: int,
        hood_budgets: dict[str, int],
        opens_at: datetime,
        closes_at: datetime,
        hood_only: bool,
        projects: list[NewProject],
        now: datetime,
        postcodes: list[PostcodeRange] | None = None,
        tie_rule: TieRule = TieRule.COST,
        author_user_id: int | None = None,
    ) -> int:
        """Store a round with its projects, open at once when its opening moment is past.

        Raises:
            ValueError: no project, a cost that is not positive, or a period that ends
                before it begins (the dialog refuses these before; this is the last guard).
        """
        if not projects or any(p.cost_cents <= 0 for p in projects) or total_cents <= 0:
            raise ValueError("a round needs projects with positive costs and a budget")
        if closes_at <= opens_at:
            raise ValueError("a round closes after it opens")
        if postcodes is not None and not postcodes:
            raise ValueError("a postcode round needs postcode ranges")
        status = RoundStatus.OPEN if opens_at <= now else RoundStatus.SCHEDULED
        async with self.db.transaction():
            round_id = await self.db.execute(
                "INSERT INTO budget_rounds (name, total_cents, hood_budgets, opens_at,"
                " closes_at, hood_only, postcodes, tie_rule, status, created_at,"
                " author_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    total_cents,
                    json.dumps(hood_budgets),
                    iso(opens_at),
                    iso(closes_at),
                    int(hood_only),
                    (
                        json.dumps([r.model_dump() for r in postcodes])
                        if postcodes is not None
                        else None
                    ),
                    tie_rule.value,
                    status.value,
                    iso(now),
                    author_user_id,
                ),
            )
            for project in projects:
                await self.db.execute(
                    "INSERT INTO budget_projects (round_id, title, description, cost_cents,"
                    " neighbourhood, photo_id, idea_id, proposal_id, submitted_at)"
                    # A picture, idea or proposal named in a set-up dialog may have been
                    # erased meanwhile (with its author): the project goes without the link.
                    " VALUES (?, ?, ?, ?, ?, (SELECT id FROM media WHERE id = ?),"
                    " (SELECT id FROM ideas WHERE id = ?),"
                    " (SELECT id FROM experiment_proposals WHERE id = ?),"
                    " COALESCE((SELECT created_at FROM ideas WHERE id = ?),"
                    " (SELECT created_at FROM experiment_proposals WHERE id = ?), ?))",
                    (
                        round_id,
                        project.title,
                        project.description,
                        project.cost_cents,
                        project.neighbourhood,
                        project.photo_id,
                        project.idea_id,
                        project.proposal_id,
                        project.idea_id,
                        project.proposal_id,
                        iso(now),
                    ),
                )
        return round_id

    async def get(self, round_id: int) -> Round | None:
        row = await self.db.fetchone("SELECT * FROM budget_rounds WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def all(self, limit: int = 20) -> list[Round]:
        """The latest rounds, newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM budget_rounds ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_round(row) for row in rows]

    async def open_rounds(self, now: datetime) -> list[Round]:
        """Rounds one may vote in right now, closing soonest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM budget_rounds WHERE status = 'open' AND closes_at > ?"
            " ORDER BY closes_at, id",
            (iso(now),),
        )
        return [_round(row) for row in rows]

    async def open_due(self, round_id: int, now: datetime) -> bool:
        """Open a scheduled round whose moment has come and whose author may still run
        rounds; False otherwise."""
        changed = await self.db.execute_rowcount(
            "UPDATE budget_rounds SET status = 'open'"
            f" WHERE id = ? AND status = 'scheduled' AND opens_at <= ? AND {_AUTHORISED}",
            (round_id, iso(now)),
        )
        return changed == 1

    async def refuse(self, round_id: int, now: datetime) -> str | None:
        """Cancel a scheduled round that is due to open but whose author may no longer run
        rounds (their role changed after they scheduled it); returns that author's role
        now, or None when the round was not cancelled."""
        row = await self.db.fetchone(
            "UPDATE budget_rounds SET status = 'cancelled', cancelled_at = ?"
            f" WHERE id = ? AND status = 'scheduled' AND opens_at <= ? AND NOT {_AUTHORISED}"
            " RETURNING author_user_id",
            (iso(now), round_id, iso(now)),
        )
        if row is None:
            return None
        role = await self.db.fetchval(
            "SELECT role FROM users WHERE id = ?", (row["author_user_id"],)
        )
        return str(role)

    async def cancel_scheduled_by(self, author_user_id: int, now: datetime) -> list[Round]:
        """Cancel every round an author scheduled that has not opened yet (their role was
        taken away); returns the rounds cancelled. Open and closed rounds stay as they are."""
        rows = await self.db.fetchall(
            "UPDATE budget_rounds SET status = 'cancelled', cancelled_at = ?"
            " WHERE author_user_id = ? AND status = 'scheduled' RETURNING *",
            (iso(now), author_user_id),
        )
        return sorted((_round(row) for row in rows), key=lambda r: r.id)

    async def pending(self, zone: tzinfo) -> list[tuple[int, datetime]]:
        """(id, next moment) of every round not closed, for re-arming the scheduler."""
        rows = await self.db.fetchall(
            "SELECT * FROM budget_rounds WHERE status IN ('scheduled', 'open') ORDER BY id"
        )
        result = []
        for row in rows:
            found = _round(row)
            at = found.next_moment(zone)
            if at is not None:
                result.append((found.id, at))
        return result

    # Invitations ------------------------------------------------------------------------

    async def invitees(self, round_id: int) -> list[int]:
        """Everyone a round invites when it opens: people who took part in full (consent,
        onboarding), reachable in their private chat, not banned, who did not turn such
        invitations off; for a round of residents with a neighbourhood, only those who
        chose one. A postcode round asks the postcode when someone comes to vote (nobody's
        postcode is known before), so it invites everyone else who may."""
        rows = await self.db.fetchall(
            "SELECT u.id FROM users u JOIN budget_rounds r ON r.id = ?"
            " WHERE u.chat_id IS NOT NULL AND u.consent_at IS NOT NULL"
            " AND u.onboarded_at IS NOT NULL AND u.unreachable_at IS NULL"
            f" AND {NOT_BANNED}"
            " AND (r.hood_only = 0 OR u.neighbourhood IS NOT NULL)"
            " AND NOT EXISTS (SELECT 1 FROM budget_preferences p"
            " WHERE p.user_id = u.id AND p.invitations = 0)"
            " ORDER BY u.id",
            (round_id,),
            long=True,
        )
        return [int(row[0]) for row in rows]

    async def invitations_on(self, user_id: int) -> bool:
        """Whether this person is invited when a round opens (the default)."""
        found = await self.db.fetchval(
            "SELECT invitations FROM budget_preferences WHERE user_id = ?", (user_id,)
        )
        return found is None or bool(found)

    async def set_invitations(self, user_id: int, on: bool, now: datetime) -> bool:
        """Turn invitations to new rounds on or off; False when it already was so. Off, an
        invitation still on its way to them stops too."""
        if await self.invitations_on(user_id) == on:
            return False
        await self.db.execute(
            "INSERT INTO budget_preferences (user_id, invitations, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE"
            " SET invitations = excluded.invitations, updated_at = excluded.updated_at",
            (user_id, int(on), iso(now)),
        )
        if not on:
            await self.db.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = 'invitations off'"
                " WHERE user_id = ? AND status = 'pending' AND kind = ?",
                (user_id, INVITATION_KIND),
            )
        return True

    # Projects ---------------------------------------------------------------------------

    async def projects(self, round_id: int) -> list[Project]:
        """The projects on a round's ballot, in the order staff put them there."""
        rows = await self.db.fetchall(
            f"{_PROJECT} WHERE p.round_id = ? ORDER BY p.id", (round_id,)
        )
        return [_project(row) for row in rows]

    async def project(self, project_id: int) -> Project | None:
        row = await self.db.fetchone(f"{_PROJECT} WHERE p.id = ?", (project_id,))
        return _project(row) if row else None

    async def link_experiment(self, project_id: int, experiment_id: int) -> bool:
        """Remember the experiment a winning project became; False if it already has one."""
        changed = await self.db.execute_rowcount(
            "UPDATE budget_projects SET experiment_id = ?"
            " WHERE id = ? AND winner = 1 AND experiment_id IS NULL",
            (experiment_id, project_id),
        )
        return changed == 1

    # Ballots ----------------------------------------------------------------------------

    async def ballot(self, round_id: int, user_id: int) -> Ballot:
        """This voter's ballot (empty when they have not started one)."""
        row = await self.db.fetchone(
            "SELECT confirmed_at, postcode FROM budget_ballots WHERE round_id = ? AND user_id = ?",
            (round_id, user_id),
        )
        chosen = await self.db.fetchall(
            "SELECT project_id FROM budget_choices WHERE round_id = ? AND user_id = ?",
            (round_id, user_id),
        )
        confirmed = await self.db.fetchall(
            "SELECT project_id FROM budget_votes WHERE round_id = ? AND user_id = ?",
            (round_id, user_id),
        )
        return Ballot(
            chosen={int(r[0]) for r in chosen},
            confirmed={int(r[0]) for r in confirmed},
            confirmed_at=parse(row["confirmed_at"]) if row else None,
            postcode=row["postcode"] if row else None,
        )

    async def give_postcode(
        self, round_id: int, user_id: int, postcode: str, now: datetime
    ) -> bool:
        """Keep the postcode a voter gave for a postcode round (starting their ballot);
        False when they had given one already (the first stays: one ballot per account)."""
        changed = await self.db.execute_rowcount(
            "INSERT INTO budget_ballots (round_id, user_id, started_at, updated_at, postcode)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET postcode = excluded.postcode"
            " WHERE budget_ballots.postcode IS NULL",
            (round_id, user_id, iso(now), iso(now), postcode),
        )
        return changed == 1

    async def _start(self, round_id: int, user_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO budget_ballots (round_id, user_id, started_at, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET updated_at = excluded.updated_at",
            (round_id, user_id, iso(now), iso(now)),
        )

    async def choose(self, round_id: int, user_id: int, project_id: int, now: datetime) -> bool:
        """Add a project to the ballot; False when it was on it already."""
        await self._start(round_id, user_id, now)
        changed = await self.db.execute_rowcount(
            "INSERT INTO budget_choices (round_id, user_id, project_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (round_id, user_id, project_id),
        )
        return changed == 1

    async def unchoose(self, round_id: int, user_id: int, project_id: int, now: datetime) -> bool:
        """Take a project off the ballot; False when it was not on it."""
        changed = await self.db.execute_rowcount(
            "DELETE FROM budget_choices WHERE round_id = ? AND user_id = ? AND project_id = ?",
            (round_id, user_id, project_id),
        )
        if changed:
            await self._start(round_id, user_id, now)
        return changed == 1

    async def confirm(self, round_id: int, user_id: int, now: datetime) -> int:
        """Count what the voter chose (replacing what they confirmed before); returns how
        many projects their vote holds."""
        await self._start(round_id, user_id, now)
        await self.db.execute(
            "DELETE FROM budget_votes WHERE round_id = ? AND user_id = ?", (round_id, user_id)
        )
        count = await self.db.execute_rowcount(
            "INSERT INTO budget_votes (round_id, user_id, project_id)"
            " SELECT round_id, user_id, project_id FROM budget_choices"
            " WHERE round_id = ? AND user_id = ?",
            (round_id, user_id),
        )
        await self.db.execute(
            "UPDATE budget_ballots SET confirmed_at = ? WHERE round_id = ? AND user_id = ?",
            (iso(now), round_id, user_id),
        )
        return count

    async def withdraw(self, round_id: int, user_id: int, now: datetime) -> bool:
        """Take back a voter's confirmed vote (their ballot stays, unconfirmed); False when
        nothing of theirs was counted."""
        await self.db.execute(
            "DELETE FROM budget_votes WHERE round_id = ? AND user_id = ?", (round_id, user_id)
        )
        changed = await self.db.execute_rowcount(
            "UPDATE budget_ballots SET confirmed_at = NULL, updated_at = ?"
            " WHERE round_id = ? AND user_id = ? AND confirmed_at IS NOT NULL",
            (iso(now), round_id, user_id),
        )
        return changed == 1

    async def unfinished(self, round_id: int) -> list[tuple[int, int]]:
        """(user id, projects chosen) of ballots with a choice but never confirmed and not
        reminded yet, of voters no ban keeps from finishing them."""
        rows = await self.db.fetchall(
            "SELECT b.user_id, COUNT(c.project_id) AS chosen FROM budget_ballots b"
            " JOIN budget_choices c ON c.round_id = b.round_id AND c.user_id = b.user_id"
            " JOIN users u ON u.id = b.user_id"
            " WHERE b.round_id = ? AND b.confirmed_at IS NULL AND b.reminded_at IS NULL"
            f" AND {NOT_BANNED}"
            " GROUP BY b.user_id ORDER BY b.user_id",
            (round_id,),
            long=True,
        )
        return [(int(r["user_id"]), int(r["chosen"])) for r in rows]

    async def mark_reminded(self, round_id: int, user_ids: list[int], now: datetime) -> None:
        await self.db.executemany(
            "UPDATE budget_ballots SET reminded_at = ? WHERE round_id = ? AND user_id = ?",
            [(iso(now), round_id, uid) for uid in user_ids],
        )

    async def finish_reminding(self, round_id: int, now: datetime) -> bool:
        """Mark the round's reminder as sent; False when it already was (or is closed)."""
        changed = await self.db.execute_rowcount(
            "UPDATE budget_rounds SET reminded_at = ?"
            " WHERE id = ? AND status = 'open' AND reminded_at IS NULL",
            (iso(now), round_id),
        )
        return changed == 1

    async def voters(self, round_id: int) -> list[int]:
        """Everyone who confirmed a ballot in this round."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM budget_ballots WHERE round_id = ? AND confirmed_at IS NOT NULL"
            " ORDER BY user_id",
            (round_id,),
            long=True,
        )
        return [int(r[0]) for r in rows]

    # Counting ---------------------------------------------------------------------------

    async def live_counts(self, round_id: int) -> tuple[dict[int, int], int, int]:
        """Votes per project so far, confirmed ballots, and ballots begun but not confirmed:
        counts only, never who.

        Each counts what the result would count. A confirmed vote counts, its voter banned
        since or not (:meth:`close` counts it: the ban came after the vote was cast), so the
        votes and the confirmed ballots include theirs. A ballot begun is one with a project
        chosen (a postcode given, or every choice taken off again, is none) whose voter may
        still confirm it: not a banned voter's, who cannot finish it while the ban holds
        (the same ballots :meth:`unfinished` reminds, reminded or not)."""
        rows = await self.db.fetchall(
            "SELECT project_id, COUNT(*) FROM budget_votes WHERE round_id = ? GROUP BY project_id",
            (round_id,),
            long=True,
        )
        confirmed = await self.db.fetchval(
            "SELECT COUNT(*) FROM budget_ballots WHERE round_id = ? AND confirmed_at IS NOT NULL",
            (round_id,),
        )
        started = await self.db.fetchval(
            "SELECT COUNT(*) FROM budget_ballots b JOIN users u ON u.id = b.user_id"
            " WHERE b.round_id = ? AND b.confirmed_at IS NULL"
            " AND EXISTS (SELECT 1 FROM budget_choices c"
            f" WHERE c.round_id = b.round_id AND c.user_id = b.user_id) AND {NOT_BANNED}",
            (round_id,),
        )
        return {int(r[0]): int(r[1]) for r in rows}, int(confirmed), int(started)

    async def close(self, round_id: int, now: datetime) -> list[int] | None:
        """Tally a round that is due to close and record its winners (in the caller's
        transaction); returns the winning project ids, or None when nothing was closed."""
        changed = await self.db.execute_rowcount(
            "UPDATE budget_rounds SET status = 'closed', closed_at = ?"
            " WHERE id = ? AND status = 'open' AND closes_at <= ?",
            (iso(now), round_id, iso(now)),
        )
        if changed != 1:
            return None
        found = await self.get(round_id)
        assert found is not None
        counts, confirmed, _ = await self.live_counts(round_id)
        projects = await self.projects(round_id)
        local = (
            await self._hood_votes(found, projects, counts)
            if found.tie_rule is TieRule.HOOD
            else {}
        )
        candidates = [
            Candidate(
                p.id,
                p.cost_cents,
                p.neighbourhood,
                counts.get(p.id, 0),
                hood_votes=local.get(p.id, 0),
                submitted_at=iso(p.submitted_at) if p.submitted_at else "",
            )
            for p in projects
        ]
        seed = secrets.token_hex(8) if found.tie_rule is TieRule.LOT else ""
        if seed:
            await self.db.execute(
                "UPDATE budget_rounds SET tie_seed = ? WHERE id = ?", (seed, round_id)
            )
        winners = choose_winners(
            candidates, found.total_cents, found.hood_budgets, found.tie_rule, seed
        )
        spent = sum(p.cost_cents for p in projects if p.id in set(winners))
        await self.db.executemany(
            "UPDATE budget_projects SET votes = ?, winner = ? WHERE id = ?",
            [(counts.get(p.id, 0), int(p.id in set(winners)), p.id) for p in projects],
        )
        await self.db.execute(
            "UPDATE budget_rounds SET voters = ?, spent_cents = ? WHERE id = ?",
            (confirmed, spent, round_id),
        )
        if found.postcodes is not None:
            # The postcodes served to let people vote (and the tie rule): not kept longer.
            await self.db.execute(
                "UPDATE budget_ballots SET postcode = NULL"
                " WHERE round_id = ? AND postcode IS NOT NULL",
                (round_id,),
            )
        return winners

    async def _hood_votes(
        self, found: Round, projects: list[Project], counts: dict[int, int]
    ) -> dict[int, int]:
        """Per tied project (one whose votes another has too: only there does the rule
        matter), the confirmed votes of residents of its own neighbourhood: the one they
        declared, else the one their postcode lies in. Every vote for a project of the whole
        municipality is from its own area."""
        seen: dict[int, int] = {}
        for p in projects:
            seen[counts.get(p.id, 0)] = seen.get(counts.get(p.id, 0), 0) + 1
        tied = [p for p in projects if seen[counts.get(p.id, 0)] > 1]
        local = {p.id: counts.get(p.id, 0) for p in tied if p.neighbourhood is None}
        for p in tied:
            if p.neighbourhood is None:
                continue
            declared = await self.db.fetchval(
                "SELECT COUNT(*) FROM budget_votes v JOIN users u ON u.id = v.user_id"
                " WHERE v.project_id = ? AND u.neighbourhood = ?",
                (p.id, p.neighbourhood),
            )
            local[p.id] = int(declared)
            if not found.postcodes:
                continue
            # Voters who declared no neighbourhood: where their postcode lies.
            rows = await self.db.fetchall(
                "SELECT b.postcode, COUNT(*) FROM budget_votes v"
                " JOIN budget_ballots b ON b.round_id = v.round_id AND b.user_id = v.user_id"
                " JOIN users u ON u.id = v.user_id"
                " WHERE v.project_id = ? AND u.neighbourhood IS NULL"
                " AND b.postcode IS NOT NULL GROUP BY b.postcode",
                (p.id,),
            )
            for postcode, n in rows:
                area = postcode_area(found.postcodes, int(postcode))
                if area is not None and area.neighbourhood == p.neighbourhood:
                    local[p.id] += int(n)
        return local

    # Open data --------------------------------------------------------------------------

    async def public_rounds(self) -> list[dict[str, object]]:
        """Every round with its budget, period and (once closed) totals: no people."""
        rows = await self.db.fetchall(
            "SELECT id, name, total_cents, hood_budgets, opens_at, closes_at, status,"
            " postcodes, tie_rule, tie_seed, voters, spent_cents FROM budget_rounds"
            " ORDER BY id",
            long=True,
        )
        return [dict(row) for row in rows]

    async def public_projects(self) -> list[dict[str, object]]:
        """Every project on a ballot; votes and winner only once its round is closed; the
        idea it came from and that idea's date only while the idea is in view."""
        rows = await self.db.fetchall(
            f"SELECT p.id, p.round_id AS round, {SHOWN_TITLE} AS title, p.description,"
            f" p.cost_cents, p.neighbourhood, {_PUBLIC_SOURCE},"
            " CASE WHEN r.status = 'closed' THEN p.votes END AS votes,"
            " CASE WHEN r.status = 'closed' THEN p.winner END AS winner,"
            " p.experiment_id AS experiment"
            " FROM budget_projects p JOIN budget_rounds r ON r.id = p.round_id"
            " ORDER BY p.id",
            long=True,
        )
        return [{**dict(row), "title": _title(row)} for row in rows]
