"""Storage of the connector's work: the status process, merges, sanctions, reports, indices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import storage.db as dbmod
from bot.app import App
from storage import Database
from storage.community.moderation import ReportReason, SanctionKind
from storage.community.reports import Flag, ReportRef
from storage.experiments.proposals import ProposalStatus
from storage.ideas.ideas import IdeaError, IdeaStatus
from storage.ideas.statuses import IDEA_DECISIONS, TransitionError, check, next_statuses
from tests.handlers.ideas.helpers import seed_idea

NOW = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)


async def _user(app: App, name: str) -> int:
    async with app.db.transaction():
        user = await app.repos.users.seen("test", name, NOW)
        await app.repos.users.give_consent(user.id, name, name, NOW)
    return user.id


def test_a_new_idea_may_go_anywhere_and_a_decision_only_back_by_reopening() -> None:
    for status in IdeaStatus:
        if status != IdeaStatus.SUBMITTED:
            check(IdeaStatus.SUBMITTED, status)
    for decision in IDEA_DECISIONS:
        check(IdeaStatus.IN_REVIEW, decision)
        assert next_statuses(decision) == frozenset()
        with pytest.raises(TransitionError) as refused:
            check(decision, IdeaStatus.IN_REVIEW)
        assert refused.value.final
        check(decision, IdeaStatus.IN_REVIEW, reopen=True)
        with pytest.raises(TransitionError):
            check(decision, IdeaStatus.ADOPTED, reopen=True)
    with pytest.raises(TransitionError) as refused:
        check(IdeaStatus.IN_REVIEW, IdeaStatus.SUBMITTED)
    assert not refused.value.final
    assert (refused.value.current, refused.value.wanted) == (
        IdeaStatus.IN_REVIEW,
        IdeaStatus.SUBMITTED,
    )
    assert str(refused.value) == "in_behandeling cannot become ingediend"
    with pytest.raises(TransitionError):
        check(IdeaStatus.IN_REVIEW, IdeaStatus.IN_REVIEW)
    with pytest.raises(TransitionError):
        check(IdeaStatus.SUBMITTED, IdeaStatus.IN_REVIEW, reopen=True)
    check(ProposalStatus.SUBMITTED, ProposalStatus.FUNDED)
    check(ProposalStatus.IN_REVIEW, ProposalStatus.COFUNDED)
    with pytest.raises(TransitionError):
        check(ProposalStatus.REJECTED, ProposalStatus.FUNDED)


async def test_triage_refuses_what_the_process_does_not_allow_and_changes_nothing(
    app: App,
) -> None:
    idea = await seed_idea(app, "Een idee")
    triage = app.repos.triage
    async with app.db.transaction():
        await triage.set_idea_status(idea.id, IdeaStatus.NOT_FEASIBLE, now=NOW, by_user_id=None)
    with pytest.raises(TransitionError):
        async with app.db.transaction():
            await triage.set_idea_status(
                idea.id, IdeaStatus.ADOPTED, theme="klimaat", now=NOW, by_user_id=None
            )
    assert [h.status for h in await app.repos.ideas.history(idea.id)] == [
        IdeaStatus.SUBMITTED,
        IdeaStatus.NOT_FEASIBLE,
    ]


async def test_the_queue_runs_over_ideas_and_proposals_oldest_first(app: App) -> None:
    author = await _user(app, "anna")
    ideas, proposals = app.repos.ideas, app.repos.proposals

    async def idea(title: str, at: datetime) -> int:
        created = await ideas.create(
            category="wonen",
            title=title,
            description="Een uitleg.",
            neighbourhood=None,
            photo_id=None,
            author_user_id=author,
            now=at,
        )
        return created.id

    async def proposal(at: datetime) -> int:
        return await proposals.submit(
            author,
            what="Iets",
            place="Hier",
            partners="Wij",
            budget_cents=0,
            full_financing=True,
            now=at,
        )

    async with app.db.transaction():
        first = await idea("Eerste", NOW)
        same_moment = await proposal(NOW)
        later = await idea("Later", NOW + timedelta(hours=2))
        between = await proposal(NOW + timedelta(hours=1))
        decided = await idea("Al besloten", NOW + timedelta(minutes=30))
        await app.repos.triage.set_idea_status(
            decided, IdeaStatus.NOT_FEASIBLE, now=NOW, by_user_id=None, reason="Nee."
        )
    order = []
    item = await app.repos.triage.next_item()
    while item is not None:
        order.append((item.kind.value, item.id))
        item = await app.repos.triage.next_item(item)
    assert order == [
        ("idea", first),
        ("proposal", same_moment),
        ("proposal", between),
        ("idea", later),
    ]
    assert await app.repos.triage.waiting() == 4


async def test_a_funded_proposal_needs_its_amount(app: App) -> None:
    author = await _user(app, "anna")
    async with app.db.transaction():
        proposal_id = await app.repos.proposals.submit(
            author,
            what="Een moestuin",
            place="IJmuiden",
            partners="School",
            budget_cents=100,
            full_financing=True,
            now=NOW,
        )
    with pytest.raises(ValueError, match="amount"):
        await app.repos.triage.set_proposal_status(
            proposal_id, ProposalStatus.FUNDED, now=NOW, by_user_id=None
        )
    with pytest.raises(ValueError, match="amount"):
        await app.repos.triage.set_proposal_status(
            proposal_id, ProposalStatus.REJECTED, now=NOW, by_user_id=None, amount_cents=5
        )
    async with app.db.transaction():
        changed = await app.repos.triage.set_proposal_status(
            proposal_id, ProposalStatus.FUNDED, now=NOW, by_user_id=None, amount_cents=100
        )
    assert changed.status is ProposalStatus.FUNDED and changed.amount_decided_cents == 100


async def test_a_merge_counts_every_supporter_once_on_the_target(app: App) -> None:
    people = [await _user(app, f"p{n}") for n in range(6)]
    first = await seed_idea(app, "Eerste", author=people[0])
    second = await seed_idea(app, "Tweede", author=people[1])
    ideas = app.repos.ideas
    async with app.db.transaction():
        # p3 and p4 supported the first idea on one day and the second a day later.
        for person in people[3:5]:
            await ideas.support(first.id, person, NOW)
        for person in people[2:]:
            await ideas.support(second.id, person, NOW + timedelta(days=1))
        await ideas.support(second.id, people[0], NOW)  # the target's own author
        for person in people[2:4]:
            await ideas.follow(first.id, person, NOW)
        merge = await app.repos.triage.merge(
            second.id, first.id, now=NOW + timedelta(days=2), by_user_id=None
        )
    assert merge.supports_moved == 2  # p2 and p5; p3, p4 already supported the first
    # The second's followers are its author p1 and its supporters p0, p2..p5; of them p0 (the
    # first's author), p3, p4 (its supporters) and p2 (who follows it) follow the first already.
    assert merge.follows_moved == 2  # p1 and p5
    target = await ideas.get(first.id)
    merged = await ideas.get(second.id)
    assert target is not None and merged is not None
    assert target.supporters == 5  # p1 (its author's voice) + p2..p5
    assert await ideas.supporter_count(first.id) == 5
    assert merged.supporters == 0 and await ideas.supporter_count(second.id) == 0
    rows = await app.db.fetchall(
        "SELECT user_id FROM idea_supports WHERE idea_id = ? ORDER BY user_id", (first.id,)
    )
    assert [row["user_id"] for row in rows] == people[1:]
    assert sorted(await ideas.followers(first.id)) == people
    seen_by_author = await ideas.card(first.id, people[0])
    assert seen_by_author is not None and not seen_by_author.supported
    with pytest.raises(Exception, match="merged"):
        async with app.db.transaction():
            third = await seed_idea(app, "Derde")
            await app.repos.triage.merge(third.id, second.id, now=NOW, by_user_id=None)


async def test_a_merge_keeps_its_reason_and_author_and_refuses_removed_ideas(app: App) -> None:
    anna, ria = await _user(app, "anna"), await _user(app, "ria")
    first = await seed_idea(app, "Eerste", author=anna)
    second = await seed_idea(app, "Tweede", author=anna)
    gone = await seed_idea(app, "Weggehaald")
    ideas, triage = app.repos.ideas, app.repos.triage
    async with app.db.transaction():
        await ideas.remove(gone.id, NOW)
    for source, into, missing in (
        (gone.id, first.id, gone.id),
        (first.id, gone.id, gone.id),
        (999, first.id, 999),
        (first.id, 999, 999),
    ):
        with pytest.raises(IdeaError, match=f"idea #{missing} does not exist"):
            async with app.db.transaction():
                await triage.merge(source, into, now=NOW, by_user_id=ria)
    async with app.db.transaction():
        await triage.merge(second.id, first.id, now=NOW, by_user_id=ria, reason="Hetzelfde")
    last = (await ideas.history(second.id))[-1]
    assert (last.status, last.merged_into, last.reason, last.by_user_id) == (
        IdeaStatus.MERGED,
        first.id,
        "Hetzelfde",
        ria,
    )
    # Anna wrote both ideas: her voice does not turn into support of her own idea.
    assert await ideas.supporter_count(first.id) == 0


@pytest.mark.parametrize("kind", list(Flag))
async def test_reports_are_one_per_person_and_resolving_closes_them(app: App, kind: Flag) -> None:
    author, reporter = await _user(app, "anna"), await _user(app, "bob")
    idea = await seed_idea(app, "Een idee", author=author)
    reports = app.repos.reports
    async with app.db.transaction():
        comment = await app.repos.comments.add(idea.id, author, "Hallo", NOW)
        item = comment.id if kind is Flag.COMMENT else idea.id
        assert await reports.add(kind, item, reporter, ReportReason.SPAM, NOW)
        assert not await reports.add(kind, item, reporter, ReportReason.OTHER, NOW, note="x")
        assert await reports.open_count(kind, item) == 1
        assert await reports.next_reported() == ReportRef(kind=kind, id=item)
        flagged = await reports.flagged(kind, item)
        assert flagged is not None and flagged.author_user_id == author
        assert [r.reporter_user_id for r in flagged.reports] == [reporter]
        assert await reports.resolve(kind, item, NOW) == 1
    assert await reports.open_count(kind, item) == 0
    assert await reports.next_reported() is None
    # Resolved, the same person still cannot report it twice.
    async with app.db.transaction():
        assert not await reports.add(kind, item, reporter, ReportReason.SPAM, NOW)


async def test_a_new_mute_replaces_the_current_one_and_ended_mutes_are_handled_once(
    app: App,
) -> None:
    person = await _user(app, "anna")
    sanctions = app.repos.sanctions
    async with app.db.transaction():
        first, _ = await sanctions.add(
            person,
            SanctionKind.MUTE,
            reason="a",
            by_user_id=None,
            now=NOW,
            ends_at=NOW + timedelta(days=7),
        )
        second, replaced = await sanctions.add(
            person,
            SanctionKind.MUTE,
            reason="b",
            by_user_id=None,
            now=NOW,
            ends_at=NOW + timedelta(days=1),
        )
        await sanctions.add(person, SanctionKind.WARNING, reason="c", by_user_id=None, now=NOW)
    assert [s.id for s in replaced] == [first.id]
    active = await sanctions.active(person, NOW)
    assert active is not None and active.id == second.id
    assert await sanctions.active(person, NOW + timedelta(days=1)) is None
    assert await sanctions.pending() == [(second.id, NOW + timedelta(days=1))]
    async with app.db.transaction():
        assert await sanctions.expire_due(NOW) == []
        assert [s.id for s in await sanctions.expire_due(NOW + timedelta(days=1))] == [second.id]
        assert await sanctions.expire_due(NOW + timedelta(days=2)) == []
    with pytest.raises(ValueError):
        await sanctions.add(
            person, SanctionKind.BAN, reason="x", by_user_id=None, now=NOW, ends_at=NOW
        )


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            "SELECT * FROM sanctions WHERE user_id = 1 AND kind != 'warning'"
            " AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > '2025')",
            "sanctions_user",
        ),
        (
            "SELECT * FROM sanctions WHERE kind != 'warning' AND lifted_at IS NULL"
            " AND (ends_at IS NULL OR ends_at > '2025') ORDER BY id DESC LIMIT 50",
            "sanctions_active",
        ),
        (
            "SELECT id FROM ideas WHERE status IN ('ingediend', 'in_behandeling')"
            " AND removed_at IS NULL ORDER BY created_at, id LIMIT 1",
            "ideas_triage",
        ),
        (
            "SELECT id FROM ideas WHERE status IN ('ingediend', 'in_behandeling')"
            " AND removed_at IS NULL AND status = 'ingediend' ORDER BY created_at, id LIMIT 1",
            "ideas_triage",
        ),
        (
            "SELECT COUNT(*) FROM comment_reports WHERE comment_id = 1 AND resolved_at IS NULL",
            "comment_reports_open",
        ),
        (
            "SELECT id, ends_at FROM sanctions WHERE kind = 'mute' AND lifted_at IS NULL"
            " AND expired_at IS NULL ORDER BY ends_at",
            "sanctions_mute_ends",
        ),
    ],
)
async def test_the_queries_run_on_every_event_or_list_use_an_index(
    app: App, sql: str, index: str
) -> None:
    plan = " ".join(row["detail"] for row in await app.db.fetchall(f"EXPLAIN QUERY PLAN {sql}"))
    assert index in plan, plan


async def test_proposals_keep_their_history_and_followers_through_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = dbmod.migrations()
    mine = next(n for n, name, _ in shipped if name == "0006_connector.sql")
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped[: mine - 1])
    path = tmp_path / "old.db"
    db = await Database.open(path)
    stamp = "2025-01-01T00:00:00.000000Z"
    await db.execute(
        "INSERT INTO users (platform, platform_user_id, created_at, last_seen_at)"
        " VALUES ('test', 'anna', ?, ?)",
        (stamp, stamp),
    )
    await db.execute(
        "INSERT INTO experiment_proposals (author_user_id, what, place, partners, budget_cents,"
        " full_financing, status, created_at, updated_at)"
        " VALUES (1, 'Moestuin', 'IJmuiden', 'School', 100, 1, 'goedgekeurd', ?, ?)",
        (stamp, stamp),
    )
    await db.execute(
        "INSERT INTO experiment_proposal_history (proposal_id, status, at)"
        " VALUES (1, 'goedgekeurd', ?)",
        (stamp,),
    )
    await db.execute(
        "INSERT INTO experiment_proposal_followers (proposal_id, user_id, since) VALUES (1, 1, ?)",
        (stamp,),
    )
    await db.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: shipped)
    db = await Database.open(path)
    try:
        assert await db.fetchval("SELECT status FROM experiment_proposals") == "goedgekeurd"
        assert await db.fetchval("SELECT COUNT(*) FROM experiment_proposal_history") == 1
        assert await db.fetchval("SELECT COUNT(*) FROM experiment_proposal_followers") == 1
        assert await db.fetchall("PRAGMA foreign_key_check") == []
        await db.execute("UPDATE experiment_proposals SET status = 'cofinanciering'")
        await db.execute("DELETE FROM experiment_proposals")
        # The children still belong to their parent: they went with it.
        assert await db.fetchval("SELECT COUNT(*) FROM experiment_proposal_followers") == 0
    finally:
        await db.close()
