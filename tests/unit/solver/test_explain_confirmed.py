"""Explanations as facts a re-solve confirms (SPEC 3), on small random rounds at gap 0.

The checks are bench/explain_check.py's, written from SPEC 3 alone: the objective against
an exhaustive enumeration, every stated threshold re-solved (at it more units, a cent
above it not), every reason re-solved (relaxing the named rule gives more units, relaxing
a rule of higher precedence does not), every ceiling (at it no quantity pays and the bid
alone wins nothing; a cent below it some quantity pays).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from bench.explain_check import check_round, small_round
from solver.problem import parse_problem
from solver.result import BidAllocation
from solver.solve import solve
from solver.verify import verify
from tests.unit.solver.builders import bid, factory, item, make_problem, problem_data

FAULTS = ("wrong_optima", "thresholds_off", "reasons_off", "ceilings_off")


@pytest.mark.parametrize("first", range(0, 40, 8))
def test_every_stated_figure_of_random_small_rounds_is_confirmed(first: int) -> None:
    for seed in range(first, first + 8):
        found = check_round(small_round(seed))
        assert {k: found[k] for k in FAULTS} == dict.fromkeys(FAULTS, 0), seed


def rows(data: dict[str, object]) -> dict[str, BidAllocation]:
    result = solve(parse_problem(data))
    assert result.status == "optimal"
    return {a.bid: a for a in result.allocations}


def test_guarantee_bound_when_a_new_factorys_guarantee_takes_the_units() -> None:
    # Demand 10 for sure (s = 0): B1 (price 10) would take all 10, but new factory F2 is
    # guaranteed 6 units, so B2 (price 20) gets 6 and B1 4. Without the guarantee B1 gets 10.
    items = [item(salvage="0", demand=[(10, "1")])]
    factories = [factory("F1"), factory("F2", is_new=True, guaranteed_units=6)]
    data = problem_data(
        [bid("B1", "F1", cost="9", capacity=10), bid("B2", "F2", cost="18", capacity=10)],
        factories=factories,
        items=items,
        mip_gap="0",
    )
    got = rows(data)
    assert (got["B1"].units, got["B1"].reason) == (4, "guarantee_bound")
    plain = copy.deepcopy(data)
    plain["factories"][1]["is_new"] = False
    assert rows(plain)["B1"].units == 10
    # a guarantee could force units on B2: no ceiling for it
    assert got["B2"].cost_ceiling is None


def test_cost_ceiling_is_the_least_cent_at_which_no_quantity_pays() -> None:
    # s = 4, r - h - s = 24, demand 60 or 100 (1/2 each): V_k = 28 up to 60, 16 to 100, 4.
    # The first unit brings 28, so a price of 28.00 pays for nothing: the smallest cost
    # with ceil(c / 0.9) >= 28.00 is c > 27.99 * 0.9 = 25.191, i.e. 25.20.
    got = rows(problem_data([bid("B1", "F1", cost="9", capacity=100)]))
    assert got["B1"].cost_ceiling == Decimal("25.20")


def test_cost_ceiling_counts_the_setup_fee_and_the_lot() -> None:
    # Lot 80: 80 units bring 60 * 28 + 20 * 16 = 2000; a fee of 100 / 0.9 = 111.12 leaves
    # 1888.88 for 80 units, 23.611 a unit (more units bring less each): price 23.62 pays
    # nothing, cost > 23.61 * 0.9 = 21.249 -> 21.25.
    got = rows(
        problem_data([bid("B1", "F1", cost="9", capacity=100, min_lot=80, setup_cost="100")])
    )
    assert got["B1"].cost_ceiling == Decimal("21.25")


def test_cost_ceiling_zero_without_room_or_below_an_ask_and_null_with_a_fill() -> None:
    no_room = [factory("F1", committed_units=500), factory("F2")]
    got = rows(
        problem_data(
            [bid("B1", "F1", capacity=10), bid("B2", "F2", capacity=10, ask_price="28")],
            factories=no_room,
        )
    )
    assert (got["B1"].cost_ceiling, got["B2"].cost_ceiling) == (Decimal("0.00"), Decimal("0.00"))
    filled = rows(problem_data([bid("B1", "F1", capacity=100)], items=[item(min_fill=10)]))
    assert filled["B1"].cost_ceiling is None


def test_the_verifier_flags_a_ceiling_a_cent_too_high_too_low_or_missing() -> None:
    problem = make_problem([bid("B1", "F1", cost="9", capacity=100)])
    result = solve(problem)
    assert verify(problem, result) == []
    for wrong in (Decimal("25.21"), Decimal("25.19"), None):
        row = result.allocations[0].model_copy(update={"cost_ceiling": wrong})
        bad = result.model_copy(update={"allocations": (row,)})
        assert [f.rule for f in verify(problem, bad)] == ["cost_ceiling_mismatch"], wrong


def test_above_the_size_explained_with_the_solve_thresholds_are_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = problem_data([bid("B1", "F1", capacity=40), bid("B2", "F2", cost="18", capacity=80)])
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1")
    got = rows(data)
    # B1 has its full capacity: null without a re-solve; B2's threshold is pending
    assert (got["B1"].cost_to_win_more, got["B2"].cost_to_win_more) == (None, "pending")
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "2")
    assert "pending" not in {a.cost_to_win_more for a in rows(data).values()}
