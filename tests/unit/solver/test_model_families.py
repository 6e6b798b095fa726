"""Each constraint family of SPEC 3, checked row by row without solving.

Given one tiny problem, each family yields exactly these rows: named by family and id,
each with its sense, its right-hand side and its terms, read back from the PuLP problem
through PuLP's public API (what HiGHS is given: test_pulp_bulk.py). In the manner of
linopy's `assert_conequal` and Timefold's `verify_that(rule).given(...)`: a change to one
family's rows fails that family's test, by name.

The problem, worked by hand (margin floor 0.10, capacity share 0.5):
- item I1: retail 30, handling 2, salvage 4 (margin r - h - s = 24), demand 60 or 100
  units at 1/2 each, a minimum fill of 10 and a factory share of at most 0.6;
- F1 (capacity 1000: room 500); F2 new (capacity 1000, 100 committed: room 400),
  guaranteed 5 units;
- B1 from F1: cost 9 (price 10), capacity 40, lot 10, setup 90 (fee 100: a binary z);
  B2 from F2: cost 18 (price 20), capacity 80;
- budget 5,000.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from solver.model import AllocationModel, Formulation, build_model
from solver.problem import Problem
from tests.unit.solver.builders import bid, factory, item, make_problem

Rows = dict[str, tuple[str, float, dict[str, float]]]
SENSES = {-1: "<=", 0: "=", 1: ">="}


def tiny_problem() -> Problem:
    return make_problem(
        [
            bid("B1", "F1", cost="9", capacity=40, min_lot=10, setup_cost="90"),
            bid("B2", "F2", cost="18", capacity=80),
        ],
        factories=[
            factory("F1", 1000),
            factory("F2", 1000, is_new=True, guaranteed_units=5, committed_units=100),
        ],
        items=[item(demand=[(60, "0.5"), (100, "0.5")], min_fill=10, max_factory_share="0.6")],
        budget="5000",
    )


def family_rows(model: AllocationModel, family: str) -> Rows:
    """The rows of one family as the PuLP problem holds them: name -> (sense, rhs, terms)."""
    out: Rows = {}
    for row in model.lp.constraints():
        name = row.name
        if name.split("[", 1)[0] != family:
            continue
        terms = {var.name: coef for var, coef in row.items()}
        out[name] = (SENSES[row.sense], -row.constant + 0.0, terms)
    return out


def columns(model: AllocationModel) -> dict[str, tuple[float, float, str]]:
    """Every variable: name -> (lower, upper, category)."""
    return {v.name: (v.lowBound, v.upBound, v.cat) for v in model.lp.variables()}


@pytest.fixture(scope="module")
def model() -> AllocationModel:
    return build_model(tiny_problem())


def test_the_columns_are_units_binaries_totals_and_segments(model: AllocationModel) -> None:
    assert columns(model) == {
        "x[B1]": (0.0, 40.0, "Continuous"),  # a bid's capacity is its bound
        "x[B2]": (0.0, 80.0, "Continuous"),
        "z[B1]": (0.0, 1.0, "Integer"),  # a lot or a setup: a binary
        "X[I1]": (0.0, math.inf, "Continuous"),
        "u[I1,0]": (0.0, 60.0, "Continuous"),  # (0, 60]
        "u[I1,1]": (0.0, 40.0, "Continuous"),  # (60, 100]
        "u[I1,2]": (0.0, math.inf, "Continuous"),  # beyond the largest demand
    }


def test_the_objective_is_expected_profit(model: AllocationModel) -> None:
    objective = model.lp.objective
    assert objective is not None
    assert {v.name: c for v, c in objective.items()} == {
        "x[B1]": -10.0,  # price
        "x[B2]": -20.0,
        "z[B1]": -100.0,  # fee
        "X[I1]": 4.0,  # salvage on every unit
        "u[I1,0]": 24.0,  # margin times P(D >= 60) = 1
        "u[I1,1]": 12.0,  # margin times P(D >= 100) = 1/2
        "u[I1,2]": 0.0,  # never sold
    }


def test_item_sales_the_total_is_the_sum_of_its_segments(model: AllocationModel) -> None:
    assert family_rows(model, "item_sales") == {
        "item_sales[I1]": (
            "=",
            0.0,
            {"X[I1]": 1.0, "u[I1,0]": -1.0, "u[I1,1]": -1.0, "u[I1,2]": -1.0},
        )
    }


def test_item_sales_in_the_plain_form_one_row_per_scenario() -> None:
    plain = build_model(tiny_problem(), "scenarios")
    assert family_rows(plain, "item_sales") == {
        "item_sales[I1,0]": ("<=", 0.0, {"y[I1,0]": 1.0, "X[I1]": -1.0}),
        "item_sales[I1,1]": ("<=", 0.0, {"y[I1,1]": 1.0, "X[I1]": -1.0}),
    }
    assert columns(plain)["y[I1,0]"] == (0.0, 60.0, "Continuous")
    assert columns(plain)["y[I1,1]"] == (0.0, 100.0, "Continuous")


def test_item_total_is_the_sum_of_its_bids(model: AllocationModel) -> None:
    assert family_rows(model, "item_total") == {
        "item_total[I1]": ("=", 0.0, {"X[I1]": 1.0, "x[B1]": -1.0, "x[B2]": -1.0})
    }


def test_capacity_share_is_the_room_each_factory_has_left(model: AllocationModel) -> None:
    assert family_rows(model, "cap_share") == {
        "cap_share[F1]": ("<=", 500.0, {"x[B1]": 1.0}),  # 0.5 * 1000
        "cap_share[F2]": ("<=", 400.0, {"x[B2]": 1.0}),  # 0.5 * 1000 - 100
    }


def test_bid_capacity_only_where_a_binary_is(model: AllocationModel) -> None:
    assert family_rows(model, "bid_cap") == {
        "bid_cap[B1]": ("<=", 0.0, {"x[B1]": 1.0, "z[B1]": -40.0})
    }


def test_minimum_lot(model: AllocationModel) -> None:
    assert family_rows(model, "min_lot") == {
        "min_lot[B1]": (">=", 0.0, {"x[B1]": 1.0, "z[B1]": -10.0})
    }


def test_minimum_fill(model: AllocationModel) -> None:
    assert family_rows(model, "min_fill") == {"min_fill[I1]": (">=", 10.0, {"X[I1]": 1.0})}


def test_item_share_is_scaled_to_whole_coefficients(model: AllocationModel) -> None:
    # x_b <= 0.6 X_i written times 10: 10 x_b - 6 X_i <= 0, its dual scaled back by 10
    assert family_rows(model, "item_share") == {
        "item_share[B1]": ("<=", 0.0, {"x[B1]": 10.0, "X[I1]": -6.0}),
        "item_share[B2]": ("<=", 0.0, {"x[B2]": 10.0, "X[I1]": -6.0}),
    }
    rows = [model.rows["item_share[B1]"], model.rows["item_share[B2]"]]
    assert {row: model.row_scale[row] for row in rows} == dict.fromkeys(rows, 10.0)


def test_budget_is_written_in_cents(model: AllocationModel) -> None:
    assert family_rows(model, "budget") == {
        "budget[R1]": ("<=", 500_000.0, {"x[B1]": 1000.0, "x[B2]": 2000.0, "z[B1]": 10_000.0})
    }
    assert model.row_scale[model.rows["budget[R1]"]] == 100.0


def test_new_factory_guarantee(model: AllocationModel) -> None:
    # g = min(guaranteed 5, room 400, its bids' capacity 80)
    assert family_rows(model, "guarantee") == {"guarantee[F2]": (">=", 5.0, {"x[B2]": 1.0})}


def test_no_row_belongs_to_no_family(model: AllocationModel) -> None:
    families = {
        "item_sales",
        "item_total",
        "cap_share",
        "bid_cap",
        "min_lot",
        "min_fill",
        "item_share",
        "budget",
        "guarantee",
    }
    assert sum(len(family_rows(model, f)) for f in families) == len(model.lp.constraints())
    assert [f"{family}[{key}]" for family, key in model.row_meta] == [
        row.name for row in model.lp.constraints()
    ]


@pytest.mark.parametrize("formulation", ["segments", "scenarios"])
def test_the_elastic_model_relaxes_only_what_a_round_asks_for(formulation: Formulation) -> None:
    """SPEC 3 "Infeasible rounds": minimum fill, item share, budget and guarantee get a
    slack each (unscaled: slacks are weighed in units, the budget's in money over the top
    price); what a factory offers (capacity share, bid capacity, lot) stays hard."""
    elastic = build_model(tiny_problem(), formulation, elastic=True)
    slack: dict[str, Any] = {
        "min_fill": {"min_fill[I1]": (">=", 10.0, {"X[I1]": 1.0, "slack_min_fill[I1]": 1.0})},
        "item_share": {
            f"item_share[{b}]": (
                "<=",
                0.0,
                {f"x[{b}]": 1.0, "X[I1]": -0.6, f"slack_item_share[{b}]": -1.0},
            )
            for b in ("B1", "B2")
        },
        "budget": {
            "budget[R1]": (
                "<=",
                5000.0,
                {"x[B1]": 10.0, "x[B2]": 20.0, "z[B1]": 100.0, "slack_budget[R1]": -1.0},
            )
        },
        "guarantee": {"guarantee[F2]": (">=", 5.0, {"x[B2]": 1.0, "slack_guarantee[F2]": 1.0})},
    }
    for family, rows in slack.items():
        assert family_rows(elastic, family) == rows, family
    assert family_rows(elastic, "cap_share") == family_rows(
        build_model(tiny_problem()), "cap_share"
    )
    assert columns(elastic)["x[B1]"] == (0.0, 40.0, "Integer")  # whole units
    objective = elastic.lp.objective
    assert objective is not None
    assert {v.name: c for v, c in objective.items()} == {
        "slack_min_fill[I1]": 1.0,
        "slack_item_share[B1]": 1.0,
        "slack_item_share[B2]": 1.0,
        "slack_budget[R1]": 1.0 / 20.0,  # money over the top price
        "slack_guarantee[F2]": 1.0,
    }
