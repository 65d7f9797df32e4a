"""The ideas repository: numbers, browsing, similar ideas, statuses, supports and follows."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

import pytest

from bot.app import App
from storage.clock import utcnow
from storage.ideas.ideas import Idea, IdeaError, IdeaSort, IdeaStatus

NOW = utcnow()


async def _person(app: App, name: str) -> int:
    async with app.db.transaction():
        user = await app.repos.users.seen("test", name, NOW)
    return user.id


async def _idea(
    app: App,
    title: str = "Meer bankjes in het park",
    description: str = "Ouderen willen onderweg even kunnen uitrusten bij de vijver.",
    *,
    author: int | None = None,
    category: str = "ruimtelijke-inrichting",
    neighbourhood: str | None = "ijmuiden",
    minutes: int = 0,
) -> Idea:
    async with app.db.transaction():
        return await app.repos.ideas.create(
            category=category,
            title=title,
            description=description,
            neighbourhood=neighbourhood,
            photo_id=None,
            author_user_id=author,
            now=NOW + timedelta(minutes=minutes),
        )


async def test_a_new_idea_gets_the_next_number_a_submitted_history_and_its_author_follows(
    app: App,
) -> None:
    anna = await _person(app, "anna")
    first = await _idea(app, author=anna)
    second = await _idea(app, "Een tweede idee", author=anna)
    assert second.id == first.id + 1
    assert first.status == IdeaStatus.SUBMITTED and first.supporters == 0
    history = await app.repos.ideas.history(first.id)
    assert [(h.status, h.by_user_id) for h in history] == [(IdeaStatus.SUBMITTED, anna)]
    assert await app.repos.ideas.followers(first.id) == [anna]


async def test_numbers_are_never_given_out_twice_even_after_an_idea_is_erased(app: App) -> None:
    gone = await _idea(app)
    async with app.db.transaction():
        await app.db.execute("DELETE FROM ideas WHERE id = ?", (gone.id,))
    assert (await _idea(app)).id == gone.id + 1


async def test_similar_ideas_are_ranked_by_how_much_they_share_and_fold_diacritics(
    app: App,
) -> None:
    bench = await _idea(app, "Meer bankjes in het park", "Bij de vijver in het Velserbeek park.")
    await _idea(app, "Fietspad naar het strand", "Een veilig fietspad langs de duinen.")
    cafe = await _idea(app, "Een café op het strand", "Koffie drinken met uitzicht op zee.")
    found = await app.repos.ideas.similar("Een bankje in het park bij de vijver")
    assert found[0].id == bench.id
    assert cafe.id not in [idea.id for idea in found]
    assert [i.id for i in await app.repos.ideas.similar("cafe aan zee")] == [cafe.id]


async def test_similar_ideas_leave_out_removed_and_merged_ones_and_stop_at_three(
    app: App,
) -> None:
    ideas = [
        await _idea(app, f"Speeltuin nummer {n}", "Een speeltuin voor kinderen.") for n in range(6)
    ]
    async with app.db.transaction():
        await app.repos.ideas.remove(ideas[5].id, NOW)
        await app.repos.ideas.set_status(
            ideas[4].id, IdeaStatus.MERGED, merged_into=ideas[0].id, now=NOW
        )
    found = await app.repos.ideas.similar("speeltuinen voor kinderen")
    assert len(found) == 3
    assert not {ideas[4].id, ideas[5].id} & {idea.id for idea in found}


async def test_a_word_many_ideas_share_does_not_make_them_look_alike(app: App) -> None:
    from storage.ideas.ideas import COMMON_FLOOR

    for n in range(COMMON_FLOOR + 10):
        await _idea(app, f"Fietsenstalling {n} bij de markt", f"Plek nummer {n} voor fietsen.")
    crossing = await _idea(app, "Een zebrapad bij de school", "Veilig oversteken met de fiets.")
    found = await app.repos.ideas.similar("Zebrapad voor fietsen bij de school")
    # "fiets" is in every idea: only the idea that shares the telling words is offered.
    assert [idea.id for idea in found] == [crossing.id]
    # When every word is that common, the rarest still find something.
    assert len(await app.repos.ideas.similar("fietsen markt")) == 3


async def test_a_word_found_common_is_remembered_for_a_while_without_counting_it_again(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.ideas.ideas as ideas_module
    from storage.db import Params
    from storage.ideas.ideas import COMMON_FLOOR

    for n in range(COMMON_FLOOR + 10):
        await _idea(app, f"Fietsenstalling {n} bij de markt", f"Plek nummer {n} voor fietsen.")
    crossing = await _idea(app, "Een zebrapad bij de school", "Veilig oversteken met de fiets.")
    counted: list[str] = []
    original = app.db.fetchall

    async def fetchall(sql: str, params: Params = (), *, long: bool = False) -> list[sqlite3.Row]:
        if "ideas_fts_terms" in sql:
            counted.append(str(params))
        return await original(sql, params, long=long)

    monkeypatch.setattr(app.db, "fetchall", fetchall)
    search = "Zebrapad voor fietsen bij de school"
    assert [idea.id for idea in await app.repos.ideas.similar(search)] == [crossing.id]
    assert "fiets" in counted[0]
    # The second search counts only the words not known to be common, with the same result.
    assert [idea.id for idea in await app.repos.ideas.similar(search)] == [crossing.id]
    assert "fiets" not in counted[1] and "zebrapad" in counted[1]
    # Once the memory is old, every word is counted again.
    monkeypatch.setattr(ideas_module, "COMMON_MEMORY", -1.0)
    await app.repos.ideas.similar(search)
    assert "fiets" in counted[2]


async def test_a_word_no_idea_has_is_not_searched_for(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.db import Params

    bench = await _idea(app, "Meer bankjes in het park", "Bij de vijver in het Velserbeek park.")
    await _idea(app, "Fietspad naar het strand", "Een veilig fietspad langs de duinen.")
    searched: list[str] = []
    original = app.db.fetchall

    async def fetchall(sql: str, params: Params = (), *, long: bool = False) -> list[sqlite3.Row]:
        if "MATCH" in sql:
            searched.append(str(params[0]))  # type: ignore[index]
        return await original(sql, params, long=long)

    monkeypatch.setattr(app.db, "fetchall", fetchall)
    # "schommelzee" and "kwakkelbrug" are in no idea: they would find nothing.
    found = await app.repos.ideas.similar("Bankjes bij de vijver, schommelzee en kwakkelbrug")
    assert [idea.id for idea in found] == [bench.id]
    assert "vijver" in searched[0]
    assert "schommelzee" not in searched[0] and "kwakkelbrug" not in searched[0]
    # Only words no idea has: nothing is searched, nothing found.
    assert await app.repos.ideas.similar("schommelzee kwakkelbrug") == []
    assert len(searched) == 1
    # Once an idea has the word, it is searched for and found.
    swing = await _idea(app, "Een schommelzee", "Veel schommels bij elkaar.")
    found = await app.repos.ideas.similar("schommelzee kwakkelbrug")
    assert [idea.id for idea in found] == [swing.id]
    assert "schommelzee" in searched[1] and "kwakkelbrug" not in searched[1]


@pytest.mark.parametrize(
    "hostile",
    ['"AND OR NEAR(', "*", "-", "NOT park", 'title:"x', "^a", "(((", '""""', "a* OR b*", "\x00"],
)
async def test_text_that_looks_like_query_syntax_is_searched_as_plain_words(
    app: App, hostile: str
) -> None:
    await _idea(app, "Near the park and more", "Not a query at all, just words like NEAR.")
    await _idea(app, "Bankjes bij de vijver", "Om even te rusten onderweg.")
    # Every word is one quoted string: no operator, column filter or wildcard of its own.
    found = await app.repos.ideas.similar(hostile, limit=10)  # must not raise
    assert [i.title for i in found] in ([], ["Near the park and more"])
    assert [i.title for i in await app.repos.ideas.similar('"NEAR( park')] == [
        "Near the park and more"
    ]


async def test_stopwords_and_short_words_alone_find_nothing(app: App) -> None:
    await _idea(app, "Een speeltuin in Zeewijk", "Het is de plek waar de kinderen van 42 en of.")
    similar = app.repos.ideas.similar
    assert await similar("de en het is of") == []
    assert await similar("") == []
    assert await similar("🙂 !!! 42") == []
    # The plural ending is folded off: "Speeltuinen" finds the speeltuin.
    assert [i.title for i in await similar("Speeltuinen")] == ["Een speeltuin in Zeewijk"]


async def test_the_fts_index_follows_edits_and_deletes(app: App) -> None:
    idea = await _idea(app, "Oude titel over vuilnisbakken", "Meer vuilnisbakken op de dijk.")
    async with app.db.transaction():
        await app.db.execute(
            "UPDATE ideas SET title = 'Nieuwe titel over lantaarns',"
            " description = 'Meer licht op de dijk.' WHERE id = ?",
            (idea.id,),
        )
    assert await app.repos.ideas.similar("vuilnisbakken") == []
    assert [i.id for i in await app.repos.ideas.similar("lantaarns")] == [idea.id]
    async with app.db.transaction():
        await app.db.execute("DELETE FROM ideas WHERE id = ?", (idea.id,))
    assert await app.repos.ideas.similar("lantaarns") == []


async def test_browse_pages_newest_or_most_supported_and_filters(app: App) -> None:
    people = [await _person(app, f"p{n}") for n in range(4)]
    a = await _idea(app, "Idee A", category="wonen", neighbourhood="driehuis")
    b = await _idea(app, "Idee B", category="wonen", neighbourhood="ijmuiden")
    c = await _idea(app, "Idee C", category="duurzaamheid", neighbourhood="driehuis")
    removed = await _idea(app, "Idee weg", category="wonen", neighbourhood="driehuis")
    async with app.db.transaction():
        for person in people[:3]:
            await app.repos.ideas.support(a.id, person, NOW)
        await app.repos.ideas.support(c.id, people[3], NOW)
        await app.repos.ideas.remove(removed.id, NOW)
    ideas = app.repos.ideas

    newest = await ideas.browse()
    assert [i.id for i in newest.ideas] == [c.id, b.id, a.id] and newest.total == 3
    top = await ideas.browse(IdeaSort.MOST_SUPPORTED)
    assert [i.id for i in top.ideas] == [a.id, c.id, b.id]
    paged = await ideas.browse(limit=2, offset=2)
    assert [i.id for i in paged.ideas] == [a.id] and paged.total == 3
    housing = await ideas.browse(category="wonen")
    assert [i.id for i in housing.ideas] == [b.id, a.id] and housing.total == 2
    driehuis = await ideas.browse(IdeaSort.MOST_SUPPORTED, neighbourhood="driehuis")
    assert [i.id for i in driehuis.ideas] == [a.id, c.id]


async def test_browse_queries_use_an_index(app: App) -> None:
    for sql in (
        "SELECT id FROM ideas i WHERE i.removed_at IS NULL"
        " ORDER BY i.supporters DESC, i.id DESC LIMIT 5",
        "SELECT id FROM ideas i WHERE i.removed_at IS NULL AND i.category = 'x'"
        " ORDER BY i.supporters DESC, i.id DESC LIMIT 5",
        "SELECT id FROM ideas i WHERE i.removed_at IS NULL AND i.neighbourhood = 'x'"
        " ORDER BY i.id DESC LIMIT 5",
        "SELECT id FROM ideas i WHERE i.author_user_id = 1 ORDER BY i.id DESC LIMIT 5",
    ):
        plan = " ".join(str(row[3]) for row in await app.db.fetchall(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING" in plan and "TEMP B-TREE" not in plan, (sql, plan)


async def test_status_changes_are_recorded_with_their_details_in_order(app: App) -> None:
    connector = await _person(app, "ria")
    idea = await _idea(app)
    other = await _idea(app, "Een ander idee")
    ideas = app.repos.ideas
    async with app.db.transaction():
        await ideas.set_status(
            idea.id,
            IdeaStatus.IN_REVIEW,
            reason="We kijken ernaar.",
            by_user_id=connector,
            now=NOW + timedelta(days=1),
        )
        await ideas.set_status(
            idea.id,
            IdeaStatus.ADOPTED,
            theme="klimaat",
            reason="Past bij klimaat.",
            by_user_id=connector,
            now=NOW + timedelta(days=2),
        )
        await ideas.set_status(
            other.id, IdeaStatus.FORWARDED, department="openbare-ruimte", now=NOW
        )
    history = await ideas.history(idea.id)
    assert [(h.status, h.reason, h.theme) for h in history] == [
        (IdeaStatus.SUBMITTED, None, None),
        (IdeaStatus.IN_REVIEW, "We kijken ernaar.", None),
        (IdeaStatus.ADOPTED, "Past bij klimaat.", "klimaat"),
    ]
    stored = await ideas.get(idea.id)
    assert stored is not None and stored.status == IdeaStatus.ADOPTED
    latest = await ideas.latest_changes([idea.id, other.id])
    assert latest[idea.id].status == IdeaStatus.ADOPTED
    assert latest[other.id].department == "openbare-ruimte"


@pytest.mark.parametrize(
    ("status", "details"),
    [
        (IdeaStatus.ADOPTED, {}),
        (IdeaStatus.FORWARDED, {"theme": "klimaat"}),
        (IdeaStatus.MERGED, {}),
        (IdeaStatus.IN_REVIEW, {"department": "openbare-ruimte"}),
        (IdeaStatus.MERGED, {"merged_into": 999}),
    ],
)
async def test_a_status_without_its_details_changes_nothing(
    app: App, status: IdeaStatus, details: dict[str, object]
) -> None:
    idea = await _idea(app)
    with pytest.raises(IdeaError):
        async with app.db.transaction():
            await app.repos.ideas.set_status(idea.id, status, now=NOW, **details)  # type: ignore[arg-type]
    assert [h.status for h in await app.repos.ideas.history(idea.id)] == [IdeaStatus.SUBMITTED]
    stored = await app.repos.ideas.get(idea.id)
    assert stored is not None and stored.status == IdeaStatus.SUBMITTED


async def test_a_status_for_an_unknown_idea_is_refused(app: App) -> None:
    with pytest.raises(IdeaError):
        async with app.db.transaction():
            await app.repos.ideas.set_status(404, IdeaStatus.IN_REVIEW, now=NOW)
    assert await app.db.fetchval("SELECT COUNT(*) FROM idea_status_history") == 0


async def test_history_is_atomic_with_the_status(app: App) -> None:
    idea = await _idea(app)
    with pytest.raises(sqlite3.IntegrityError):
        async with app.db.transaction():
            await app.repos.ideas.set_status(
                idea.id, IdeaStatus.IN_REVIEW, by_user_id=12345, now=NOW
            )
    stored = await app.repos.ideas.get(idea.id)
    assert stored is not None and stored.status == IdeaStatus.SUBMITTED
    assert len(await app.repos.ideas.history(idea.id)) == 1


async def test_supporting_is_once_per_person_follows_too_and_can_be_undone(app: App) -> None:
    author, bob = await _person(app, "anna"), await _person(app, "bob")
    idea = await _idea(app, author=author)
    ideas = app.repos.ideas
    async with app.db.transaction():
        assert await ideas.support(idea.id, bob, NOW) is True
        # Again a minute later (a second tap, another device): still one support.
        assert await ideas.support(idea.id, bob, NOW + timedelta(minutes=1)) is False
    stored = await ideas.get(idea.id)
    assert stored is not None and stored.supporters == 1
    assert await ideas.supporter_count(idea.id) == 1
    seen_by_bob = await ideas.card(idea.id, bob)
    assert seen_by_bob is not None and seen_by_bob.supported
    assert await ideas.followers(idea.id) == [author, bob]
    async with app.db.transaction():
        assert await ideas.withdraw_support(idea.id, bob) is True
        assert await ideas.withdraw_support(idea.id, bob) is False
    stored = await ideas.get(idea.id)
    assert stored is not None and stored.supporters == 0
    assert await ideas.followers(idea.id) == [author, bob]


async def test_follower_lists_follow_follows_unfollows_and_erasures(app: App) -> None:
    people = [await _person(app, name) for name in ("anna", "bob", "cem", "dirk")]
    idea = await _idea(app, author=people[0])
    ideas = app.repos.ideas
    async with app.db.transaction():
        assert await ideas.follow(idea.id, people[1], NOW + timedelta(seconds=1))
        assert not await ideas.follow(idea.id, people[1], NOW + timedelta(seconds=2))
        await ideas.follow(idea.id, people[2], NOW + timedelta(seconds=3))
        await ideas.support(idea.id, people[3], NOW + timedelta(seconds=4))
        assert await ideas.unfollow(idea.id, people[0])
        assert not await ideas.unfollow(idea.id, people[0])
    assert await ideas.followers(idea.id) == people[1:]
    async with app.db.transaction():
        await app.db.execute("DELETE FROM users WHERE id = ?", (people[2],))
    assert await ideas.followers(idea.id) == [people[1], people[3]]
    assert await ideas.followers(idea.id + 1) == []


async def test_erasing_an_author_keeps_the_idea_without_the_link(app: App) -> None:
    anna = await _person(app, "anna")
    idea = await _idea(app, author=anna)
    async with app.db.transaction():
        await app.db.execute("DELETE FROM users WHERE id = ?", (anna,))
    stored = await app.repos.ideas.get(idea.id)
    assert stored is not None and stored.author_user_id is None
    assert (await app.repos.ideas.history(idea.id))[0].by_user_id is None


async def test_the_supporter_count_always_equals_the_support_rows(app: App) -> None:
    """Random supports, withdrawals, erasures and merges: the counter never drifts."""
    rng = random.Random(20250301)
    people = [await _person(app, f"p{n}") for n in range(12)]
    ideas = [await _idea(app, f"Idee {n}") for n in range(5)]
    repo = app.repos.ideas
    for step in range(300):
        action = rng.random()
        idea = rng.choice(ideas).id
        async with app.db.transaction():
            if action < 0.5:
                await repo.support(idea, rng.choice(people), NOW + timedelta(seconds=step))
            elif action < 0.85:
                await repo.withdraw_support(idea, rng.choice(people))
            elif action < 0.9 and len(people) > 3:
                gone = people.pop(rng.randrange(len(people)))
                await app.db.execute("DELETE FROM users WHERE id = ?", (gone,))
            else:
                # A merge moving supports over (those not already there).
                target = rng.choice(ideas).id
                await app.db.execute(
                    "UPDATE OR IGNORE idea_supports SET idea_id = ? WHERE idea_id = ?",
                    (target, idea),
                )
        for each in ideas:
            stored = await repo.get(each.id)
            assert stored is not None
            assert stored.supporters == await repo.supporter_count(each.id), step


async def test_a_card_shows_the_idea_its_whole_history_and_what_this_viewer_did(
    app: App,
) -> None:
    anna, bob = await _person(app, "anna"), await _person(app, "bob")
    idea = await _idea(app, author=anna)
    async with app.db.transaction():
        await app.repos.ideas.set_status(
            idea.id, IdeaStatus.IN_REVIEW, now=NOW + timedelta(hours=1), reason="We kijken"
        )
        await app.repos.ideas.set_status(
            idea.id,
            IdeaStatus.FORWARDED,
            now=NOW + timedelta(hours=2),
            department="openbare-ruimte",
            reason="Naar de afdeling",
        )
        await app.repos.ideas.support(idea.id, bob, NOW)
    seen_by_bob = await app.repos.ideas.card(idea.id, bob)
    assert seen_by_bob is not None
    assert seen_by_bob.idea == await app.repos.ideas.get(idea.id)
    assert seen_by_bob.history == await app.repos.ideas.history(idea.id)
    assert [h.status for h in seen_by_bob.history] == [
        IdeaStatus.SUBMITTED,
        IdeaStatus.IN_REVIEW,
        IdeaStatus.FORWARDED,
    ]
    assert (seen_by_bob.supported, seen_by_bob.following) == (True, True)
    seen_by_anna = await app.repos.ideas.card(idea.id, anna)
    assert seen_by_anna is not None
    assert (seen_by_anna.supported, seen_by_anna.following) == (False, True)
    async with app.db.transaction():
        await app.repos.ideas.unfollow(idea.id, anna)
    after = await app.repos.ideas.card(idea.id, anna)
    assert after is not None and not after.following
    assert await app.repos.ideas.card(idea.id + 1, anna) is None


async def test_several_ideas_come_back_in_the_order_asked_without_missing_ones(
    app: App,
) -> None:
    first, second, third = [await _idea(app, f"Idee nummer {n}") for n in range(3)]
    found = await app.repos.ideas.get_many([third.id, first.id, third.id + 10, second.id])
    assert [idea.id for idea in found] == [third.id, first.id, second.id]
    assert found[1] == first, "create returns the idea as stored"
    assert await app.repos.ideas.get_many([]) == []
