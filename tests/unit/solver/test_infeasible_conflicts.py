"""Infeasible rounds name the rules, items and factories in conflict (relaxation re-solve)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from solver.solve import SolveOptions, solve
from solver.verify import verify
from tests.unit.solver.builders import bid, factory, item, make_problem


def test_min_fill_beyond_what_the_bids_can_supply() -> None:
    # The item needs 500 units; B1 and B2 offer 100 + 50: short by 350.
    problem = make_problem(
        [bid("B1", "F1", capacity=100), bid("B2", "F2", capacity=50)],
        items=[item(min_fill=500)],
    )
    result = solve(problem)
    assert result.status == "infeasible"
    assert "min_fill" in (result.message or "")
    violated = result.conflicts[0]
    assert (violated.rule, violated.items, violated.shortfall) == (
        "min_fill",
        ("I1",),
        Decimal(350),
    )
    assert violated.factories == ("F1", "F2")
    binding = {c.rule: c for c in result.conflicts[1:]}
    assert binding["bid_capacity"].bids == ("B1", "B2")
    assert all(a.units == 0 for a in result.allocations)
    assert [f.rule for f in verify(problem, result)] == ["no_allocation"]


def test_min_fill_beyond_the_capacity_shares() -> None:
    # 100 units needed; each factory may give half of its month of 60: 30 + 30, short by 40.
    problem = make_problem(
        [bid("B1", "F1", capacity=100), bid("B2", "F2", capacity=100)],
        factories=[factory("F1", 60), factory("F2", 60)],
        items=[item(min_fill=100)],
    )
    result = solve(problem)
    assert result.status == "infeasible"
    rules = {c.rule for c in result.conflicts}
    assert rules == {"min_fill", "capacity_share"}
    shortfall = sum(c.shortfall or 0 for c in result.conflicts)
    assert shortfall == 40
    factories = {f for c in result.conflicts for f in c.factories}
    assert factories == {"F1", "F2"}


def test_budget_below_the_minimum_fills() -> None:
    # 100 units at price 10 cost 1000; the budget is 500.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=200)], items=[item(min_fill=100)], budget="500"
    )
    result = solve(problem)
    assert result.status == "infeasible"
    rules = {c.rule: c for c in result.conflicts}
    assert set(rules) == {"budget", "min_fill"}
    # either 50 units short of the fill, or 500 over the budget: the violated one says which
    violated = result.conflicts[0]
    assert (violated.rule, violated.shortfall) in {("min_fill", 50), ("budget", Decimal("500.00"))}
    assert rules["min_fill"].items == ("I1",)


def test_new_factory_guarantee_beyond_the_budget() -> None:
    # F2 is new and guaranteed 100 units (within its share of 500); at price 30 that is
    # 3000, and the budget is 1000.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="27", capacity=200)],
        factories=[factory("F1"), factory("F2", is_new=True, guaranteed_units=100)],
        budget="1000",
    )
    result = solve(problem)
    assert result.status == "infeasible"
    rules = {c.rule: c for c in result.conflicts}
    assert {"guarantee", "budget"} <= set(rules)
    assert rules["guarantee"].factories == ("F2",)
    assert rules["guarantee"].bids == ("B2",)


def test_new_factory_guarantee_against_the_item_share_cap() -> None:
    # F1 is the only bidder and beta = 0.5: it may have at most half of the item, so any
    # unit at all breaks the cap, and its guarantee of 10 cannot be met.
    problem = make_problem(
        [bid("B1", "F1", capacity=100)],
        factories=[factory("F1", is_new=True, guaranteed_units=10)],
        items=[item(max_factory_share="0.5")],
    )
    result = solve(problem)
    assert result.status == "infeasible"
    rules = {c.rule for c in result.conflicts}
    assert rules == {"guarantee", "item_share"}
    assert {f for c in result.conflicts for f in c.factories} == {"F1"}


def test_cbc_names_the_same_conflict() -> None:
    problem = make_problem(
        [bid("B1", "F1", capacity=100), bid("B2", "F2", capacity=50)],
        items=[item(min_fill=500)],
    )
    result = solve(problem, SolveOptions(solver="cbc"))
    assert result.status == "infeasible"
    violated = result.conflicts[0]
    assert (violated.rule, violated.items, violated.shortfall) == (
        "min_fill",
        ("I1",),
        Decimal(350),
    )


def test_a_minimum_lot_beyond_the_factorys_room_is_named_as_the_lot() -> None:
    # I1 needs 30 units; its one bid B1 sells only in lots of 60 or more, and F1 may take
    # 0.2 of its month of 100: 20 units. Taking the lot would break F1's share by 40, so
    # the relaxation leaves B1 off and I1 short by 30: B1's lot is what binds, not its
    # capacity of 100 (it was named bid_capacity, "offers a limited capacity").
    problem = make_problem(
        [bid("B1", "F1", capacity=100, min_lot=60)],
        factories=[factory("F1", 100)],
        items=[item(min_fill=30)],
        capacity_share="0.2",
    )
    # (SPEC 3 "Infeasible rounds", by re-solves on the whole-unit problem) Removing F1's
    # share cap lets B1 take its lot, and so does a lot of 0: both are named, binding.
    result = solve(problem)
    assert result.status == "infeasible"
    assert [(c.rule, c.bids, c.shortfall) for c in result.conflicts] == [
        ("min_fill", ("B1",), Decimal(30)),
        ("capacity_share", ("B1",), None),
        ("min_lot", ("B1",), None),
    ]
    assert "minimum lot of 60 units" in result.conflicts[2].detail
    assert result.message == (
        "no allocation meets every rule; in conflict: capacity_share, min_fill, min_lot"
    )


@pytest.mark.parametrize("ask", ["min_fill", "guarantee"])
def test_a_fill_or_a_guarantee_that_a_lot_and_a_share_make_impossible_is_named(ask: str) -> None:
    # (issue 10) A minimum fill of 2, or a guarantee of 3, from one bid that sells in lots
    # of 6 at a factory with room for 5: the fill (or the guarantee) is what is broken,
    # and the lot and the share are what make it so, each confirmed by a re-solve.
    new = ask == "guarantee"
    problem = make_problem(
        [bid("B1", "F1", capacity=10, min_lot=6)],
        factories=[factory("F1", 10, is_new=new, guaranteed_units=3 if new else 0)],
        items=[item(min_fill=0 if new else 2)],
    )
    result = solve(problem)
    assert result.status == "infeasible"
    violated = result.conflicts[0]
    assert (violated.rule, violated.shortfall) == (ask, Decimal(3 if new else 2))
    assert {c.rule for c in result.conflicts[1:]} == {"capacity_share", "min_lot"}


@pytest.mark.parametrize("min_lot", [0, 1])
def test_a_setup_fee_beyond_the_budget_is_named_as_the_budget(min_lot: int) -> None:
    # I1 needs 30 units; its one bid B1 costs a setup of 100,000 (a fee of 111,111.12 at
    # m = 0.1) and the round may spend 500: the relaxation leaves B1 off, short by 30. The
    # fee against the budget keeps it off, whatever its lot (it was named min_lot with a
    # lot, bid_capacity without).
    problem = make_problem(
        [bid("B1", "F1", capacity=100, min_lot=min_lot, setup_cost="100000")],
        items=[item(min_fill=30)],
        budget="500",
    )
    result = solve(problem)
    assert [(c.rule, c.bids, c.shortfall) for c in result.conflicts] == [
        ("min_fill", ("B1",), Decimal(30)),
        ("budget", ("B1",), None),
    ]
    assert "setup fee of 111111.12" in result.conflicts[1].detail
    assert "spend cap of 500" in result.conflicts[1].detail
