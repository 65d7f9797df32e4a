"""Community storage: what happens to content and memberships when a person is erased."""

from __future__ import annotations

from bot.app import App
from storage.clock import utcnow
from storage.community.questions import Side
from storage.experiments.experiments import NewExperiment
from storage.experiments.proposals import ProposalStatus
from storage.localized import Localized
from storage.news.broadcasts import Audience, AudienceKind


async def test_erasing_a_person_keeps_content_without_them_and_drops_memberships(
    app: App,
) -> None:
    repos, now = app.repos, utcnow()
    [playground, *_] = await repos.experiments.running()
    async with app.db.transaction():
        anna = await repos.users.seen("test", "anna", now)
        await repos.users.give_consent(anna.id, "anna", "Anna", now)
        await repos.experiments.join(playground.id, anna.id, now)
        await repos.subscriptions.subscribe(anna.id, now)
        await repos.subscriptions.set_theme(anna.id, "klimaat", False)
        proposal = await repos.proposals.submit(
            anna.id,
            what="Moestuin",
            place="IJmuiden",
            partners="Buren",
            budget_cents=10_000,
            full_financing=True,
            now=now,
        )
        question = await repos.questions.ask(anna.id, "Een vraag", now)
        draft = await repos.broadcasts.save_draft(
            anna.id,
            text="t",
            photo_id=None,
            audience=Audience(kind=AudienceKind.ALL),
            payload=[{"key": "raw", "params": {"text": "t"}}],
            now=now,
        )
        await app.db.execute("DELETE FROM users WHERE id = ?", (anna.id,))

    assert await repos.experiments.participants(playground.id) == []
    assert await repos.subscriptions.get(anna.id) is None
    kept = await repos.proposals.get(proposal)
    assert kept is not None and kept.author_user_id is None
    assert await repos.proposals.followers(proposal) == []
    thread = await repos.questions.get(question)
    assert thread is not None and thread.user_id is None
    assert thread.messages[0].author_user_id is None and thread.messages[0].side is Side.RESIDENT
    broadcast = await repos.broadcasts.get(draft)
    assert broadcast is not None and broadcast.author_user_id is None


async def test_a_status_change_for_an_unknown_proposal_changes_nothing(app: App) -> None:
    async with app.db.transaction():
        changed = await app.repos.proposals.set_status(
            404, ProposalStatus.REJECTED, reason="x", by_user_id=None, now=utcnow()
        )
    assert changed is False
    assert await app.db.fetchval("SELECT COUNT(*) FROM experiment_proposal_history") == 0


async def test_a_new_experiment_can_be_started_and_a_proposal_unfollowed(app: App) -> None:
    repos, now = app.repos, utcnow()
    text = Localized(nl="Buurtbieb", en="Street library")
    async with app.db.transaction():
        new_id = await repos.experiments.create(
            NewExperiment(title=text, summary=text, place=text, organiser=text), now
        )
        anna = await repos.users.seen("test", "anna", now)
        proposal = await repos.proposals.submit(
            anna.id,
            what="Buurtbieb",
            place="Driehuis",
            partners="Buren",
            budget_cents=0,
            full_financing=True,
            now=now,
        )
        assert await repos.proposals.unfollow(proposal, anna.id) is True
        assert await repos.proposals.unfollow(proposal, anna.id) is False
    running = await repos.experiments.running()
    assert running[-1].id == new_id and running[-1].title("en") == "Street library"
    assert running[-1].slug is None and running[-1].participants == 0
    assert await repos.proposals.followed_by(anna.id) == []
