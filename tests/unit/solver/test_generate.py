"""The problem generator: valid, realistic in shape, and the same for the same seed."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from solver.generate import generate_problem
from solver.problem import parse_problem


def small(seed: int = 7, *, milp: bool = False) -> dict[str, object]:
    return generate_problem(
        factories=30, items=20, bids_per_factory=6, scenarios=7, seed=seed, milp=milp
    )


@pytest.mark.parametrize("milp", [False, True])
def test_a_generated_problem_passes_validation(milp: bool) -> None:
    problem = parse_problem(json.dumps(small(milp=milp)))
    assert len(problem.factories) == 30
    assert len(problem.items) == 20
    assert len(problem.bids) == 30 * 6
    assert problem.has_binaries is milp


def test_the_same_seed_gives_the_same_problem_and_another_seed_another() -> None:
    assert json.dumps(small(seed=3)) == json.dumps(small(seed=3))
    assert json.dumps(small(seed=3)) != json.dumps(small(seed=4))


def test_each_factory_bids_on_distinct_items() -> None:
    for items, per_factory in ((20, 6), (200, 10), (10, 10)):
        data = generate_problem(
            factories=40, items=items, bids_per_factory=per_factory, scenarios=2, seed=1
        )
        problem = parse_problem(data)  # also refuses a second bid on a (factory, item)
        per = Counter(b.factory for b in problem.bids)
        assert set(per.values()) == {per_factory}


def test_probabilities_sum_exactly_to_one() -> None:
    problem = parse_problem(json.dumps(small()))
    for item in problem.items:
        assert sum((s.probability for s in item.demand), Decimal(0)) == 1
        assert len(item.demand) == 7


def test_factories_compete_for_their_capacity_share() -> None:
    problem = parse_problem(small())
    asked: dict[str, int] = defaultdict(int)
    for bid in problem.bids:
        asked[bid.factory] += bid.capacity
    over = [
        f for f in problem.factories if asked[f.id] > problem.factory_share(f) * f.monthly_capacity
    ]
    assert len(over) >= len(problem.factories) * 0.8


def test_costs_follow_retail_prices_and_some_bids_ask() -> None:
    problem = parse_problem(small())
    retail = {i.id: i.retail_price for i in problem.items}
    ratios = [b.unit_cost / retail[b.item] for b in problem.bids]
    assert all(Decimal("0.2") < r < Decimal("0.9") for r in ratios)
    assert any(b.ask_price is not None for b in problem.bids)
    assert any(b.ask_price is None for b in problem.bids)


def test_a_milp_problem_has_lots_setups_and_new_factories() -> None:
    problem = parse_problem(
        generate_problem(
            factories=200, items=50, bids_per_factory=5, scenarios=3, seed=2, milp=True
        )
    )
    assert any(b.min_lot > 0 for b in problem.bids)
    assert any(b.setup_cost > 0 for b in problem.bids)
    new = [f for f in problem.factories if f.is_new]
    assert new
    assert all(f.guaranteed_units > 0 for f in new)


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="bids_per_factory"):
        generate_problem(factories=2, items=3, bids_per_factory=4, scenarios=2, seed=0)
    with pytest.raises(ValueError, match="at least 1"):
        generate_problem(factories=0, items=3, bids_per_factory=1, scenarios=2, seed=0)
