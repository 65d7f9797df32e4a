"""Choosing winners: by votes while they fit, neighbourhoods first, the stated tie rule."""

from __future__ import annotations

from storage.budgets.tally import Candidate, choose_winners


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
