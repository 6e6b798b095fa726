"""solver/pending.py: the thresholds a solve left "pending" are those it states with the
size cap high, on random small rounds (LP ones, and ones with lots or setup costs)."""

from decimal import Decimal

import pytest

from bench.explain_check import small_round
from solver.pending import pending_thresholds_of
from solver.problem import parse_problem
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
