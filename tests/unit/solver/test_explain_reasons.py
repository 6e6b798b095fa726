"""Reasons by SPEC 3 precedence, and cost_to_win_more thresholds checked by re-solving.

Arithmetic as in test_solve_small: r = 30, h = 2, s = 4, demand 60 or 100 (1/2 each),
so a unit is worth 28 up to 60, 16 from 60 to 100, and 4 beyond; m = 10%.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from solver.explain import mark_excluded, threshold_cost
from solver.result import BidAllocation
from solver.solve import solve
from tests.unit.solver.builders import bid, factory, item, make_problem


def rows(bids: list[dict[str, Any]], **kwargs: Any) -> dict[str, BidAllocation]:
    result = solve(make_problem(bids, **kwargs))
    assert result.status == "optimal"
    return {a.bid: a for a in result.allocations}


def test_won_full_won_partial_and_lost_on_price() -> None:
    # B1 (price 10) takes its 40; B2 (20) tops up to 60; B3 (30) is above every unit's value.
    got = rows(
        [
            bid("B1", "F1", cost="9", capacity=40),
            bid("B2", "F2", cost="18", capacity=80),
            bid("B3", "F3", cost="27", capacity=80),
        ]
    )
    assert [got[b].reason for b in ("B1", "B2", "B3")] == [
        "won_full",
        "won_partial",
        "lost_on_price",
    ]
    assert got["B1"].cost_to_win_more is None  # full capacity: nothing more to win


def test_capacity_bound_when_the_factory_share_cap_binds() -> None:
    # F1 may give 30 units (half of 60); B1 would take 40 at price 10.
    got = rows(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="18", capacity=80)],
        factories=[factory("F1", 60), factory("F2")],
    )
    assert (got["B1"].units, got["B1"].reason) == (30, "capacity_bound")
    assert got["B1"].cost_to_win_more is None  # its share cap binds, not its price


def test_item_share_bound_when_beta_binds() -> None:
    # beta = 0.5: x1 <= X / 2 and x2 <= X / 2, so X = 100 costs 15 a unit on average
    # (below 16): x1 = x2 = 50. B1 would take more at price 10 but its share is capped.
    got = rows(
        [bid("B1", "F1", cost="9", capacity=100), bid("B2", "F2", cost="18", capacity=100)],
        items=[item(max_factory_share="0.5")],
    )
    assert (got["B1"].units, got["B1"].reason) == (50, "item_share_bound")


def test_budget_bound_when_the_budget_runs_out() -> None:
    # Budget 300 buys 30 units at price 10, though 100 would be worth it.
    got = rows([bid("B1", "F1", cost="9", capacity=100)], budget="300")
    assert (got["B1"].units, got["B1"].reason) == (30, "budget_bound")


def test_below_min_lot_when_a_lot_too_large_loses_a_bid_that_would_win_units() -> None:
    # s = 0 and demand 60 for sure: a unit is worth 28 up to 60, nothing beyond.
    # B1 (price 10) must take 200 or nothing: 28 * 60 - 2000 < 0. B2 (price 20) takes 60.
    got = rows(
        [
            bid("B1", "F1", cost="9", capacity=200, min_lot=200),
            bid("B2", "F2", cost="18", capacity=100),
        ],
        items=[item(salvage="0", demand=[(60, "1")])],
    )
    assert (got["B1"].units, got["B1"].reason) == (0, "below_min_lot")
    # with its lot B1 wins only where 200 units beat B2's profit of 480: 1680 - 200 p > 480,
    # p < 6.00, so price 5.99 and cost 5.99 * 0.9 = 5.391 -> 5.39 (SPEC 3: the highest cent)
    assert got["B1"].cost_to_win_more == Decimal("5.39")
    assert (got["B2"].units, got["B2"].reason) == (60, "won_partial")


def test_a_lost_bid_with_a_lot_it_could_not_fill_anyway_is_lost_on_price() -> None:
    got = rows(
        [
            bid("B1", "F1", cost="27", capacity=200, min_lot=200),
            bid("B2", "F2", cost="18", capacity=100),
        ],
        items=[item(salvage="0", demand=[(60, "1")])],
    )
    assert got["B1"].reason == "lost_on_price"


def test_excluded_tops_precedence_and_clears_cost_to_win_more() -> None:
    result = solve(make_problem([bid("B1", "F1", cost="18", capacity=80)]))
    marked = mark_excluded(result, ["B1"])
    assert marked.allocations[0].reason == "excluded"
    assert marked.allocations[0].cost_to_win_more is None


def test_ask_that_sets_the_price_has_no_cost_to_win_more() -> None:
    got = rows([bid("B1", "F1", cost="9", capacity=100, ask_price="20")])
    assert got["B1"].supply_price == Decimal("20.00")
    assert got["B1"].units < 100
    assert got["B1"].cost_to_win_more is None


THRESHOLD_CASES = [
    # (bid under test, expected threshold, by hand)
    # B2 (partial, price 20) gets more only below the value 16 of units 61..100:
    # highest price 15.99 -> cost 15.99 * 0.9 = 14.391 -> 14.39 (the highest cent that wins).
    ("B2", Decimal("14.39")),
    # B3 (lost, price 30) gets units only by beating B2's price 20: highest price 19.99,
    # cost 19.99 * 0.9 = 17.991 -> 17.99.
    ("B3", Decimal("17.99")),
]


def threshold_round(costs: dict[str, str]) -> list[dict[str, Any]]:
    return [
        bid("B1", "F1", cost=costs.get("B1", "9"), capacity=40),
        bid("B2", "F2", cost=costs.get("B2", "18"), capacity=80),
        bid("B3", "F3", cost=costs.get("B3", "27"), capacity=80),
    ]


@pytest.mark.parametrize(("bid_id", "expected"), THRESHOLD_CASES)
def test_cost_to_win_more_is_the_threshold_found_by_re_solving(
    bid_id: str, expected: Decimal
) -> None:
    base = rows(threshold_round({}))
    threshold = base[bid_id].cost_to_win_more
    assert isinstance(threshold, Decimal)
    assert threshold == expected
    before = base[bid_id].units
    at = rows(threshold_round({bid_id: str(threshold)}))
    above = rows(threshold_round({bid_id: str(threshold + Decimal("0.01"))}))
    assert at[bid_id].units > before
    assert above[bid_id].units == before


def test_threshold_cost_translates_a_price_range_into_a_unit_cost() -> None:
    m = Decimal("0.10")
    # coefficient -p may rise to -16: prices strictly below 16 win; 15.99 * 0.9 = 14.391
    assert threshold_cost(-16.0, m, None) == Decimal("14.40")
    # off-cent threshold 16.005: prices up to 16.00 win; 16.00 * 0.9 = 14.40 -> below 14.41
    assert threshold_cost(-16.005, m, None) == Decimal("14.41")
    assert threshold_cost(float("inf"), m, None) is None
    assert threshold_cost(0.0, m, None) is None  # only a negative price would win
    assert threshold_cost(-16.0, m, Decimal("17")) is None  # the ask keeps the price >= 17


def tied_round(b2_cost: str) -> list[dict[str, Any]]:
    return [
        bid("B1", "F1", cost="9", capacity=50),
        bid("B2", "F2", cost=b2_cost, capacity=50),
    ]


def test_a_bid_that_lost_a_tie_wins_more_one_cent_below_its_price() -> None:
    # Both at price 10, demand 60 for sure (s = 0): the tie rule gives B1 50 and B2 10.
    # One cent less (9.99, from a cost up to 9.99 * 0.9 = 8.991) beats B1: threshold 8.99.
    items = [item(salvage="0", demand=[(60, "1")])]
    base = rows(tied_round("9"), items=items)
    assert (base["B1"].units, base["B2"].units) == (50, 10)
    assert base["B2"].cost_to_win_more == Decimal("8.99")
    assert rows(tied_round("8.99"), items=items)["B2"].units == 50
    assert rows(tied_round("9.00"), items=items)["B2"].units == 10


def test_a_bid_that_would_win_the_tie_wins_more_at_its_rivals_price() -> None:
    # Demand 60 for sure (s = 0). B2 (price 10) takes the 60 units; B1 (price 12) none.
    # At price 10.00 B1 ties with B2 and, of lower id, takes the units (tie rule): any
    # cost with a price of at most 10.00 wins, i.e. cost <= 9.00: threshold 9.00.
    items = [item(salvage="0", demand=[(60, "1")])]

    def round_with(b1_cost: str) -> list[dict[str, Any]]:
        return [
            bid("B1", "F1", cost=b1_cost, capacity=100),
            bid("B2", "F2", cost="9", capacity=100),
        ]

    base = rows(round_with("10.80"), items=items)
    assert (base["B1"].units, base["B2"].units) == (0, 60)
    assert base["B1"].cost_to_win_more == Decimal("9.00")
    assert rows(round_with("9.00"), items=items)["B1"].units == 60
    assert rows(round_with("9.01"), items=items)["B1"].units == 0


def beta_round(b1_cost: str) -> list[dict[str, Any]]:
    return [
        bid("B1", "F1", cost=b1_cost, capacity=195),
        bid("B2", "F2", cost="29.04", capacity=148),  # price 32.27
        bid("B3", "F3", cost="16.03", capacity=49),  # price 17.82
    ]


def test_threshold_behind_a_rival_at_its_item_share_on_a_demand_point() -> None:
    # Demand 200 for sure, each bid at most 60% of the item (120 units). B3 takes its 49,
    # B2 (32.27) its 120, B1 (38.90) the last 31: the item sits exactly on its demand and
    # B2 on its share, a degenerate optimum where HiGHS's cost ranging for B1 stopped at
    # B3's price (17.82). B1 takes B2's 120 units as soon as it is cheaper than B2, and at
    # B2's price by the tie rule (lower id): cost 32.27 * 0.9 = 29.043 -> 29.04 wins:
    # threshold 29.04.
    items = [
        item(
            retail="52.95",
            handling="2.27",
            salvage="12.95",
            demand=[(200, "1")],
            max_factory_share="0.6",
        )
    ]
    base = rows(beta_round("35.01"), items=items)
    assert (base["B1"].units, base["B2"].units, base["B3"].units) == (31, 120, 49)
    assert base["B1"].cost_to_win_more == Decimal("29.04")
    assert rows(beta_round("29.04"), items=items)["B1"].units == 120
    assert rows(beta_round("29.05"), items=items)["B1"].units == 31


def _relaxed(data: dict[str, Any], bid_id: str, *, share: bool) -> int:
    """The bid's units with its item share lifted (share) or its factory's capacity 1.5x."""
    import copy

    from solver.problem import parse_problem

    data = copy.deepcopy(data)
    target = next(b for b in data["bids"] if b["id"] == bid_id)
    for row in data["items" if share else "factories"]:
        if share and row["id"] == target["item"]:
            row["max_factory_share"] = "1"
        if not share and row["id"] == target["factory"]:
            row["monthly_capacity"] = row["monthly_capacity"] * 3 // 2
    return next(a.units for a in solve(parse_problem(data)).allocations if a.bid == bid_id)


def test_a_bid_on_its_item_share_at_a_demand_point_is_item_share_bound() -> None:
    # Random round 16: B002 holds 129 of an item sold exactly to its demand of 216, at a
    # 0.6 share (129.6). One more unit fits only if one more is sold, which is worth less
    # than its price: the share is what stops it (it was reported won_partial).
    from solver.problem import parse_problem
    from tests.unit.solver.builders import random_problem_data

    data = random_problem_data(16, bids=12)
    got = {a.bid: a for a in solve(parse_problem(data)).allocations}
    assert got["B002"].reason == "item_share_bound"
    assert _relaxed(data, "B002", share=True) > got["B002"].units


def test_a_bid_its_factory_cap_does_not_stop_is_not_capacity_bound() -> None:
    # Random round 33: B001's factory is at its cap, and B001's item sits exactly on a
    # scenario's demand, where the dual of the item says the last unit's value. No rival
    # costs more and one more unit sold is worth less than its price: it is its price,
    # not the cap, that stops it (it was reported capacity_bound).
    from solver.problem import parse_problem
    from tests.unit.solver.builders import random_problem_data

    data = random_problem_data(33, bids=12)
    got = {a.bid: a for a in solve(parse_problem(data)).allocations}
    assert got["B001"].reason == "won_partial"
    assert _relaxed(data, "B001", share=False) == got["B001"].units


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_the_numpy_check_that_a_unit_more_pays_is_the_bid_by_bid_one(seed: int) -> None:
    """_Routes.pays_within_share compares whole cents item by item in numpy; it must say
    what pays() says for each bid, with item shares (bid by bid) and without (numpy)."""
    import numpy as np

    from solver.explain import _Routes
    from solver.model import build_model
    from solver.problem import parse_problem
    from tests.unit.solver.builders import random_problem_data

    data = random_problem_data(seed, bids=16)
    if seed % 2:
        for row in data["items"]:
            row["max_factory_share"] = None
    problem = parse_problem(data)
    result = solve(problem)
    units = np.array([a.units for a in result.allocations], dtype=np.int64)
    routes = _Routes(build_model(problem), units, mip=False)
    every = np.ones(len(problem.bids), dtype=np.bool_)
    expected = [routes.pays(k, within_share=True) for k in range(len(problem.bids))]
    assert routes.pays_within_share(every).tolist() == expected


def share_round(a_cost: str) -> list[dict[str, Any]]:
    return [
        bid("A", "FA", cost=a_cost, capacity=200),  # at 13.50: price 15.00
        bid("B", "FB", cost="18.00", capacity=200),  # price 20.00
    ]


SHARE_ITEM = [item("I1", demand=[(138, "0.5"), (300, "0.5")], max_factory_share="0.6")]


def test_a_bid_rounded_up_onto_its_share_is_not_promised_a_unit_it_cannot_sell() -> None:
    # (review) Units 139 to 300 are worth 16 (r 30, h 2, s 4, half the time sold). A is at
    # 0.6 of the item in the LP (83.4 of 139), rounded up to 83: in whole units one more
    # would fit if one more were sold, but the LP has no such room. Its threshold was
    # 14.40, above its own cost of 13.50, where it wins nothing more. Re-solving finds A
    # wins more only below 12.00 (with B's units, the item grows to 300): a threshold is
    # never above that; from the sure moves alone there is none (a move along two bids).
    # (whole units proven, SPEC 3) The best whole-unit allocation gives A 84 of 140, not
    # the rounding's 83 of 139: the 140th unit brings 16 and costs A's 15.
    base = rows(share_round("13.50"), items=SHARE_ITEM)
    assert (base["A"].units, base["A"].reason) == (84, "item_share_bound")
    # SPEC 3: the highest cent that wins more; 11.99 wins (checked below), 12.00 not
    assert base["A"].cost_to_win_more == Decimal("11.99")
    assert rows(share_round("11.99"), items=SHARE_ITEM)["A"].units > 84
    assert rows(share_round("12.00"), items=SHARE_ITEM)["A"].units == 84


def test_the_share_not_the_cap_is_what_stops_a_bid_on_both() -> None:
    # (review) The same round with A's factory capped at 83 units (0.5 of 166): A is at
    # its cap and on its share; with room for 200 it still gets 83, so the share is the
    # reason (it was reported capacity_bound).
    # (whole units proven, SPEC 3) With room, A gets 84 of 140 (the rounding gave 83), so
    # at a cap of 83 both bind in whole units: reasons by removing one rule name the cap.
    factories = [factory("FA", capacity=166), factory("FB")]
    got = rows(share_round("13.50"), items=SHARE_ITEM, factories=factories)
    assert got["A"].units == 83
    assert got["A"].reason in ("capacity_bound", "item_share_bound")
    roomy = [factory("FA", capacity=400), factory("FB")]
    assert rows(share_round("13.50"), items=SHARE_ITEM, factories=roomy)["A"].units == 84


def test_the_sole_winner_of_an_item_sold_to_its_demand_has_nothing_more_to_win() -> None:
    # Four bids at price 10 for 60 units sure to sell (s = 0): B1 takes all 60 (tie rule);
    # a 61st unit is worth nothing, so no cost wins B1 more (cost ranging said 9.00).
    # B2..B4 win B1's units one cent below its price 10: 9.99 * 0.9 = 8.991 -> 8.99.
    items = [item(salvage="0", demand=[(60, "1")])]
    got = rows([bid(f"B{k}", f"F{k}", cost="9", capacity=100) for k in range(1, 5)], items=items)
    assert (got["B1"].units, got["B1"].cost_to_win_more) == (60, None)
    assert [got[f"B{k}"].cost_to_win_more for k in (2, 3, 4)] == [Decimal("8.99")] * 3


@pytest.mark.parametrize("seed", range(0, 40, 2))
def test_at_a_stated_threshold_the_bid_wins_more_and_a_cent_above_it_does_not(seed: int) -> None:
    """SPEC 3: cost_to_win_more is the highest cent at which the bid gets more units.

    Random LP rounds (tests/unit/solver/builders.py) at gap 0, every stated threshold
    checked by re-solving with only that bid's cost changed: at it, more units; one cent
    above it, not.
    """
    import copy

    from solver.problem import parse_problem
    from tests.unit.solver.builders import random_problem_data

    data = random_problem_data(seed, bids=12)
    data["round"]["mip_gap"] = "0"
    result = solve(parse_problem(data))

    def units_at(bid_id: str, cost: Decimal) -> int:
        changed = copy.deepcopy(data)
        for b in changed["bids"]:
            if b["id"] == bid_id:
                b["unit_cost"] = str(cost)
        again = solve(parse_problem(changed))
        return next(a.units for a in again.allocations if a.bid == bid_id)

    for row in result.allocations:
        if not isinstance(row.cost_to_win_more, Decimal):
            continue
        assert units_at(row.bid, row.cost_to_win_more) > row.units, row
        assert units_at(row.bid, row.cost_to_win_more + Decimal("0.01")) <= row.units, row
