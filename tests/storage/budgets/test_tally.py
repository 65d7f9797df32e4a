"""Choosing winners: by votes while they fit, neighbourhoods first, the stated tie rule."""

from __future__ import annotations

import hashlib

import pytest

from storage.budgets.tally import Candidate, TieRule, choose_winners, lot


def c(id_: int, cost: int, votes: int, hood: str | None = None) -> Candidate:
    return Candidate(id=id_, cost_cents=cost, neighbourhood=hood, votes=votes)


def test_winners_go_in_order_of_votes_while_they_fit() -> None:
    projects = [c(1, 600, 10), c(2, 500, 9), c(3, 300, 8), c(4, 100, 7)]
    # 600 fits, 500 no longer does, 300 does, 100 does.
    assert choose_winners(projects, 1000, {}) == [1, 3, 4]


def test_a_tie_goes_to_the_cheaper_project_then_the_earlier_one() -> None:
    assert choose_winners([c(1, 600, 5), c(2, 500, 5)], 600, {}) == [2]
    assert choose_winners([c(7, 500, 5), c(3, 500, 5)], 500, {}) == [3]


def test_a_project_without_votes_never_wins() -> None:
    assert choose_winners([c(1, 100, 0), c(2, 100, 1)], 1000, {}) == [2]


def test_a_neighbourhood_budget_goes_to_its_own_projects_first() -> None:
    projects = [
        c(1, 800, 20),  # municipality-wide, most votes
        c(2, 300, 3, "ijmuiden"),
        c(3, 300, 2, "driehuis"),
    ]
    # Without neighbourhood budgets the big project takes 800 of 1000.
    assert choose_winners(projects, 1000, {}) == [1]
    # With 300 kept for IJmuiden, its project wins first; 700 left is too little for 800.
    assert choose_winners(projects, 1000, {"ijmuiden": 300}) == [2, 3]


def test_projects_a_neighbourhood_budget_leaves_over_compete_for_the_rest() -> None:
    projects = [c(1, 300, 9, "ijmuiden"), c(2, 300, 8, "ijmuiden"), c(3, 200, 1)]
    assert choose_winners(projects, 1000, {"ijmuiden": 300}) == [1, 2, 3]


def test_each_tie_rule_orders_equal_votes_its_own_way() -> None:
    cheap_late = Candidate(1, 500, "driehuis", 2, hood_votes=1, submitted_at="2026-12-02")
    dear_early = Candidate(2, 600, "ijmuiden", 2, hood_votes=2, submitted_at="2026-11-01")
    both = [cheap_late, dear_early]
    assert choose_winners(both, 1000, {}, TieRule.COST) == [1]
    assert choose_winners(both, 1000, {}, TieRule.HOOD) == [2]
    assert choose_winners(both, 1000, {}, TieRule.EARLIEST) == [2]
    # More votes still go first, whatever the rule.
    ahead = Candidate(3, 900, None, 3)
    for rule in TieRule:
        assert choose_winners([*both, ahead], 1000, {}, rule, "seed")[0] == 3


def test_a_lot_is_the_same_for_the_same_seed_and_anyone_can_redo_it() -> None:
    tied = [Candidate(n, 500, None, 1) for n in range(1, 9)]
    for seed in ("0f3a9c1b2d4e5f60", "aa", "zz"):
        first = min(tied, key=lambda c: hashlib.sha256(f"{seed}:{c.id}".encode()).hexdigest())
        assert choose_winners(tied, 500, {}, TieRule.LOT, seed) == [first.id]
        assert lot(seed, first.id) == hashlib.sha256(f"{seed}:{first.id}".encode()).hexdigest()
    winners = {choose_winners(tied, 500, {}, TieRule.LOT, str(s))[0] for s in range(40)}
    assert len(winners) > 1  # the seed decides, not the ballot order


def test_a_lot_without_its_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        choose_winners([c(1, 100, 1)], 1000, {}, TieRule.LOT)
