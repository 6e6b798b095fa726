"""The model: both formulations of expected sales give the same optimum; rows are named."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.highs_engine import item_order, reorder_columns
from solver.model import build_model, demand_segments
from solver.problem import parse_problem
from solver.solve import SolveOptions, solve
from solver.verify import verify
from tests.unit.solver.builders import bid, factory, item, make_problem, random_problem_data


def test_segments_are_sorted_distinct_demands_with_the_chance_of_reaching_them() -> None:
    # demand 100 (0.25), 60 (0.5), 100 (0.25): P(D >= 60) = 1, P(D >= 100) = 0.5
    it = make_problem(
        [bid("B1", "F1")], items=[item(demand=[(100, "0.25"), (60, "0.5"), (100, "0.25")])]
    ).items[0]
    assert demand_segments(it) == [(Decimal(60), Decimal("1.00")), (Decimal(100), Decimal("0.50"))]


def test_rows_are_named_by_family_and_id_in_spec_order() -> None:
    problem = make_problem(
        [
            bid("B1", "F1", capacity=40, min_lot=10),
            bid("B2", "F2", capacity=80),
        ],
        factories=[factory("F1"), factory("F2", is_new=True, guaranteed_units=5)],
        items=[item(min_fill=10, max_factory_share="0.9")],
        budget="5000",
    )
    model = build_model(problem)
    names = list(model.rows)
    assert names == [
        "item_sales[I1]",
        "item_total[I1]",
        "cap_share[F1]",
        "cap_share[F2]",
        "bid_cap[B1]",
        "min_lot[B1]",
        "min_fill[I1]",
        "item_share[B1]",
        "item_share[B2]",
        "budget[R1]",
        "guarantee[F2]",
    ]
    assert model.lp.get_constraint_by_name("cap_share[F1]") is not None
    assert set(model.x) == {"B1", "B2"}
    assert set(model.z) == {"B1"}


def test_an_lp_round_has_no_binaries_and_bid_capacity_is_a_bound() -> None:
    model = build_model(make_problem([bid("B1", "F1", capacity=40)]))
    assert model.z == {}
    assert model.x["B1"].upBound == 40
    assert "bid_cap[B1]" not in model.rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), milp=st.booleans())
def test_segments_and_scenarios_give_the_same_optimum(seed: int, milp: bool) -> None:
    problem = parse_problem(random_problem_data(seed, milp=milp))
    segments = solve(problem, SolveOptions(formulation="segments"))
    scenarios = solve(problem, SolveOptions(formulation="scenarios"))
    assert segments.status == scenarios.status
    if segments.status != "optimal":
        return
    assert segments.continuous_objective is not None
    assert scenarios.continuous_objective is not None
    tolerance = Decimal("0.01") + abs(segments.continuous_objective) * Decimal("1e-6")
    assert abs(segments.continuous_objective - scenarios.continuous_objective) <= tolerance
    assert verify(problem, segments) == []
    assert verify(problem, scenarios) == []


def test_in_item_order_highs_gets_each_items_bids_as_neighbouring_columns_in_id_order() -> None:
    problem = make_problem(
        [
            bid("B1", "F1", "I2"),
            bid("B2", "F1", "I1"),
            bid("B3", "F2", "I2"),
            bid("B4", "F2", "I1"),
        ],
        factories=[factory("F1"), factory("F2")],
        items=[item("I1"), item("I2")],
    )
    model = build_model(problem)
    assert model.x_col.tolist() == [0, 1, 2, 3]
    order = item_order(model)
    # I1's bids B2, B4 first, then I2's B1, B3, then X_I1, X_I2 and the sales columns
    assert order.tolist() == [1, 3, 0, 2, *range(4, model.n_cols)]
    arrays = model.arrays()
    given = reorder_columns(arrays, order)
    assert given.cost.tolist() == arrays.cost[order].tolist()
    # the same rows, their columns renumbered: HiGHS's column j is the model's order[j]
    for row in range(len(arrays.row_lower)):
        terms = slice(arrays.start[row], arrays.start[row + 1])
        assert order[given.index[terms]].tolist() == arrays.index[terms].tolist()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), milp=st.booleans())
def test_the_column_order_changes_neither_the_optimum_nor_the_allocation(
    seed: int, milp: bool
) -> None:
    """The tie rule depends on the bids' ids alone, not on the solver's basis: an LP round
    gets the same units in either order, and the same objective; a MILP round, whose search
    may stop at another allocation, optima within the round's gap. Both verify."""
    problem = parse_problem(random_problem_data(seed, milp=milp))
    by_bid = solve(problem, SolveOptions(column_order="bid"))
    by_item = solve(problem, SolveOptions(column_order="item"))
    assert by_bid.status == by_item.status
    if by_bid.status != "optimal":
        return
    assert verify(problem, by_item) == []
    assert verify(problem, by_bid) == []
    if milp:
        assert by_bid.continuous_objective is not None
        assert by_item.continuous_objective is not None
        larger = max(abs(by_bid.continuous_objective), abs(by_item.continuous_objective))
        tolerance = problem.round.mip_gap * larger + Decimal("0.01")
        assert abs(by_bid.continuous_objective - by_item.continuous_objective) <= tolerance
        return
    assert by_item.objective == by_bid.objective
    assert [a.units for a in by_item.allocations] == [a.units for a in by_bid.allocations]
