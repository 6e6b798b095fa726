"""solver/pending.py: the thresholds a solve left "pending" are those it states with the
size cap high, on random small rounds (LP ones, and ones with lots or setup costs)."""

from decimal import Decimal

import numpy as np
import pytest

from bench.explain_check import small_round
from solver.generate import generate_problem
from solver.model import build_model
from solver.pending import pending_thresholds_of
from solver.pricing import ask_sets_price, floor_price
from solver.problem import parse_problem
from solver.resolve import pending_thresholds
from solver.solve import SolveOptions, solve

CAPS = ("SUPPLYBID_EXPLAIN_UP_TO", "SUPPLYBID_EXPLAIN_MILP_UP_TO")


@pytest.mark.parametrize("first", [0, 15])
def test_pending_thresholds_are_those_the_solve_states_with_the_cap_high(
    first: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared = 0
    for seed in range(first, first + 15):
        problem = parse_problem(small_round(seed))
        for name in CAPS:
            monkeypatch.setenv(name, "0")
        capped = solve(problem)
        if capped.status not in ("optimal", "feasible"):
            continue
        pending = [a.bid for a in capped.allocations if a.cost_to_win_more == "pending"]
        found: dict[str, Decimal | None] = {}
        pending_thresholds_of(
            problem,
            SolveOptions.as_recorded(capped.solver),
            {a.bid: a.units for a in capped.allocations},
            reversed(pending),  # any order, any subset: each is found on its own
            found.__setitem__,
        )
        for name in CAPS:
            monkeypatch.setenv(name, "1000")
        stated = {a.bid: a.cost_to_win_more for a in solve(problem).allocations}
        assert found == {bid: stated[bid] for bid in pending}, f"seed {seed}"
        compared += len(pending)
    assert compared > 0


def test_a_bid_not_in_the_problem_is_refused() -> None:
    problem = parse_problem(small_round(1))
    with pytest.raises(ValueError, match="not in the problem"):
        pending_thresholds_of(problem, SolveOptions(), {}, ["nope"], lambda _b, _v: None)


@pytest.mark.parametrize("seed", range(5))
def test_pending_or_null_above_the_cap_is_the_per_bid_rule(seed: int) -> None:
    """resolve.pending_thresholds (floors once per distinct cost) against SPEC 3's rule
    written per bid: null at full capacity or where the ask sets the price."""
    data = generate_problem(factories=30, items=20, bids_per_factory=10, scenarios=3, seed=seed)
    m = Decimal(str(data["round"]["margin_floor"]))
    for k, bid in enumerate(data["bids"]):  # asks at, a cent under and below the cost floor
        floor = floor_price(Decimal(bid["unit_cost"]), m)
        asks = {0: bid["unit_cost"], 1: str(floor), 2: str(floor - Decimal("0.01"))}
        if k % 4 in asks:
            bid["ask_price"] = asks[k % 4]
    problem = parse_problem(data)
    model = build_model(problem, "segments")
    rng = np.random.default_rng(seed)
    capacity = np.array([bid.capacity for bid in problem.bids])
    units = np.where(rng.random(len(capacity)) < 0.3, capacity, capacity // 2).astype(np.int64)
    by_rule = [
        None if int(units[k]) >= bid.capacity or ask_sets_price(bid, m) else "pending"
        for k, bid in enumerate(problem.bids)
    ]
    assert pending_thresholds(model, units) == by_rule
    open_asks = [ask_sets_price(b, m) for k, b in enumerate(problem.bids) if units[k] < capacity[k]]
    assert set(open_asks) == {True, False}  # both sides of the ask rule are tried


def test_what_a_capped_solve_states_null_is_null_with_the_cap_high(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above the cap a bid is null, not "pending", only where SPEC 3 says null without a
    re-solve (its full capacity, an ask that sets its price)."""
    nulls = 0
    for seed in range(30):
        problem = parse_problem(small_round(seed))
        for name in CAPS:
            monkeypatch.setenv(name, "0")
        capped = solve(problem)
        if capped.status not in ("optimal", "feasible"):
            continue
        for name in CAPS:
            monkeypatch.setenv(name, "1000")
        stated = {a.bid: a.cost_to_win_more for a in solve(problem).allocations}
        for row in capped.allocations:
            assert row.cost_to_win_more in ("pending", None), f"seed {seed}"
            if row.cost_to_win_more is None:
                nulls += 1
                assert stated[row.bid] is None, f"seed {seed}, {row.bid}"
    assert nulls > 0  # the rounds have full-capacity bids and asks that set the price
