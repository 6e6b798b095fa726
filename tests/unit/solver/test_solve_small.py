"""Small rounds solved by hand: units, objective, whole units, status, solvers.

Unless a test says otherwise the item sells at r = 30 with handling h = 2 and salvage
s = 4, so each unit earns s = 4 plus (r - h - s) = 24 times the chance it sells. With
demand 60 or 100 (probability 1/2 each) the marginal value of a unit is 24 + 4 = 28 up
to 60 units, 24 * 0.5 + 4 = 16 from 60 to 100, and 4 beyond. A unit cost of 9 at the
10% margin floor gives a supply price of 10; a cost of 18 gives 20.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.problem import Problem, parse_problem
from solver.solve import SolveOptions, expected_profit, solve
from solver.verify import verify
from tests.unit.solver.builders import bid, factory, item, make_problem, random_problem_data


def units(result_problem: tuple[Problem, object]) -> dict[str, int]:
    _, result = result_problem
    return {a.bid: a.units for a in result.allocations}  # type: ignore[attr-defined]


def two_bid_round() -> Problem:
    return make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="18", capacity=80)]
    )


@pytest.mark.parametrize("formulation", ["segments", "scenarios"])
def test_cheap_bid_fills_and_dear_bid_stops_where_its_price_beats_the_value(
    formulation: str,
) -> None:
    # B1 (price 10) is worth taking up to 100 units but offers 40: all 40.
    # B2 (price 20) is worth it while the marginal value 28 > 20, i.e. up to X = 60: 20 units.
    # Objective: E[min(60, D)] = 60, so 24 * 60 + 4 * 60 = 1680; spend 40*10 + 20*20 = 800.
    result = solve(two_bid_round(), SolveOptions(formulation=formulation))  # type: ignore[arg-type]
    assert result.status == "optimal"
    assert {a.bid: a.units for a in result.allocations} == {"B1": 40, "B2": 20}
    assert result.objective == Decimal("880.00")
    assert result.continuous_objective == Decimal("880.00")
    assert result.gap == 0.0


def test_result_rows_carry_prices_shares_and_margins() -> None:
    problem = two_bid_round()
    result = solve(problem)
    b1, b2 = result.allocations
    assert (b1.supply_price, b2.supply_price) == (Decimal("10.00"), Decimal("20.00"))
    assert b1.setup_fee == Decimal("0.00")
    assert b1.capacity_share_used == 0.04  # 40 of 1000 monthly
    assert b1.margin == 0.1  # (10 - 9) / 10
    assert result.input_hash == problem.input_hash
    assert verify(problem, result) == []


def test_capacity_share_caps_a_factory_and_the_next_bid_takes_the_rest() -> None:
    # F1's month is 60 units, half of it is 30: B1 gets 30, B2 tops X up to 60 with 30.
    # Objective 1680 - (30 * 10 + 30 * 20) = 780.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="18", capacity=80)],
        factories=[factory("F1", 60), factory("F2", 1000)],
    )
    result = solve(problem)
    assert {a.bid: a.units for a in result.allocations} == {"B1": 30, "B2": 30}
    assert result.objective == Decimal("780.00")


def test_committed_units_count_against_the_share() -> None:
    # F1: 50% of 100 is 50, 35 already committed this period: room for 15.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="18", capacity=80)],
        factories=[factory("F1", 100, committed_units=35), factory("F2", 1000)],
    )
    assert {a.bid: a.units for a in solve(problem).allocations} == {"B1": 15, "B2": 45}


def test_fractional_optimum_is_made_whole_keeping_the_item_share_cap() -> None:
    # Demand is 101 units for sure, s = 0: each unit up to 101 is worth 28. beta = 0.5, so
    # each of the two bids may have at most half of the item: x1 = x2 = X / 2.
    # LP: X = 101, x1 = x2 = 50.5: 28 * 101 - 10 * 50.5 - 20 * 50.5 = 2828 - 1515 = 1313.
    # Whole units, each between floor and ceiling: (51, 50) and (50, 51) break the cap
    # (51 > 101 / 2); (51, 51): 2828 - 1530 = 1298; (50, 50): 2800 - 1500 = 1300: the best.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=100), bid("B2", "F2", cost="18", capacity=100)],
        items=[item(salvage="0", demand=[(101, "1")], max_factory_share="0.5")],
    )
    result = solve(problem)
    # (whole units proven, SPEC 3) The whole-unit search proves 1300 the best: its bound,
    # tighter than the LP's 1313, is the continuous objective, and the gap is within the
    # round's (1e-9).
    assert {a.bid: a.units for a in result.allocations} == {"B1": 50, "B2": 50}
    assert result.continuous_objective == Decimal("1300.00")
    assert result.objective == Decimal("1300.00")
    assert result.gap is not None
    assert result.gap <= 1e-9
    assert result.status == "optimal"
    assert verify(problem, result) == []


def test_minimum_lot_and_setup_fee_in_a_milp() -> None:
    # B1: price 10, lot 100, setup 9 -> fee 10. Demand 60 or 100, s = 4.
    # Taking the lot: income 24 * 80 + 4 * 100 = 2320, spend 1000 + fee 10: 1310.
    # B2 alone (price 20) up to 60: 1680 - 1200 = 480. Both: B1 100 and B2 0. -> 1310.
    problem = make_problem(
        [
            bid("B1", "F1", cost="9", capacity=100, min_lot=100, setup_cost="9"),
            bid("B2", "F2", cost="18", capacity=100),
        ]
    )
    result = solve(problem)
    rows = {a.bid: a for a in result.allocations}
    assert (rows["B1"].units, rows["B2"].units) == (100, 0)
    assert rows["B1"].setup_fee == Decimal("10.00")
    # margin: ((10 - 9) * 100 + 10 - 9) / (10 * 100 + 10) = 101 / 1010
    assert rows["B1"].margin == 0.1
    assert result.objective == Decimal("1310.00")
    assert verify(problem, result) == []


def test_min_fill_forces_units_beyond_the_profitable_point() -> None:
    # Without it B2 (price 20) would stop at 60; min fill 70 takes 10 units more at 16 each.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="18", capacity=80)],
        items=[item(min_fill=70)],
    )
    result = solve(problem)
    assert {a.bid: a.units for a in result.allocations} == {"B1": 40, "B2": 30}
    # income: E[min(70, D)] = 65 -> 24 * 65 + 4 * 70 = 1840; spend 400 + 600 = 1000
    assert result.objective == Decimal("840.00")


def test_new_factory_guarantee_is_clipped_to_its_capacity_share() -> None:
    # F2 is new with 80 units guaranteed, but 50% of its month of 100 is 50: g = 50.
    # Its price 30 is above any unit's value (28), so it gets exactly the guarantee.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="27", capacity=100)],
        factories=[factory("F1"), factory("F2", 100, is_new=True, guaranteed_units=80)],
    )
    result = solve(problem)
    assert result.status == "optimal"
    assert {a.bid: a.units for a in result.allocations} == {"B1": 40, "B2": 50}


def test_equal_prices_fill_the_lower_bid_id_first_whatever_the_input_order() -> None:
    # Both at price 10 with 50 units each; demand 60 for sure, s = 0: 60 units are bought.
    rows = [bid("B2", "F1", cost="9", capacity=50), bid("B1", "F2", cost="9", capacity=50)]
    items = [item(salvage="0", demand=[(60, "1")])]
    result = solve(make_problem(rows, items=items))
    assert {a.bid: a.units for a in result.allocations} == {"B1": 50, "B2": 10}
    swapped = [bid("B1", "F1", cost="9", capacity=50), bid("B2", "F2", cost="9", capacity=50)]
    result = solve(make_problem(swapped[::-1], items=items))
    assert {a.bid: a.units for a in result.allocations} == {"B1": 50, "B2": 10}


def test_a_price_exactly_at_the_marginal_value_buys_no_extra_units() -> None:
    # B2 at price 16 equals the value of units 61..100: buying them or not is a tie,
    # and the tie rule takes no more units than needed.
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="14.40", capacity=80)]
    )
    assert {a.bid: a.units for a in solve(problem).allocations} == {"B1": 40, "B2": 20}


def test_expected_profit_is_exact_decimal_arithmetic() -> None:
    problem = two_bid_round()
    got = expected_profit(
        problem, {0: Decimal(40), 1: Decimal(20)}, [Decimal("10.00"), Decimal("20.00")], {}
    )
    assert got == Decimal("880")
    # B1's 40 units alone, all sold: 24 * 40 + 4 * 40 = 1120; spend 40 * 10 and a fee of
    # 7.50 (bids left out of `units` win nothing, yet a fee given is paid)
    with_fee = expected_profit(
        problem, {0: Decimal(40)}, [Decimal("10.00"), Decimal("20.00")], {1: Decimal("7.50")}
    )
    assert with_fee == Decimal("712.50")


def test_solver_name_version_and_options_are_reported() -> None:
    result = solve(two_bid_round(), SolveOptions(time_limit=30, threads=1, random_seed=7))
    assert result.solver.name == "HiGHS"
    assert result.solver.version.startswith("1.")
    assert result.solver.options["time_limit"] == 30.0
    assert result.solver.options["random_seed"] == 7
    assert result.solver.options["formulation"] == "segments"
    assert "mip_rel_gap" not in result.solver.options  # an LP round has no gap


def test_an_lp_round_is_built_in_segments_and_a_milp_round_in_scenarios() -> None:
    """The formulation each solves fastest in HiGHS (SolveOptions.formulation), reported."""
    lp_round = parse_problem(random_problem_data(1))
    milp_round = parse_problem(random_problem_data(1, milp=True))
    lp, milp = solve(lp_round), solve(milp_round)
    assert lp.solver.options["formulation"] == "segments"
    assert milp.solver.options["formulation"] == "scenarios"
    assert "mip_rel_gap" in milp.solver.options
    # what is reported is what was built: the same as asking for that form by name
    assert lp.identity() == solve(lp_round, SolveOptions(formulation="segments")).identity()
    asked = solve(milp_round, SolveOptions(formulation="scenarios"))
    assert milp.identity() == asked.identity()


def test_a_result_solved_with_other_options_is_solved_again_as_it_records() -> None:
    """Replay takes the options a result records, not today's defaults: a MILP round solved
    in the segment form, without the tie pass, with the columns in bid order (as every
    result before the column order was an option: it records none) comes out the same."""
    problem = parse_problem(random_problem_data(4, milp=True, bids=30))
    options = SolveOptions(
        formulation="segments", tie_break=False, time_limit=90, random_seed=3, column_order="bid"
    )
    first = solve(problem, options)
    assert "column_order" not in first.solver.options
    again = SolveOptions.as_recorded(first.solver)
    assert again == SolveOptions(
        formulation="segments",
        tie_break=False,
        time_limit=90,
        random_seed=3,
        presolve="on",
        column_order="bid",
    )
    assert solve(problem, again).identity() == first.identity()
    lp_round = parse_problem(random_problem_data(4, bids=30))
    today = solve(lp_round)
    assert today.solver.options["column_order"] == "item"
    assert SolveOptions.as_recorded(today.solver).column_order == "item"
    assert "column_order" not in solve(problem).solver.options  # a MILP round: bid order


def test_cbc_is_selectable_by_name_and_agrees_with_highs() -> None:
    problem = make_problem(
        [
            bid("B1", "F1", cost="9", capacity=40),
            bid("B2", "F2", cost="18", capacity=80),
            bid("B3", "F3", cost="12", capacity=30),
        ],
        factories=[factory("F1"), factory("F2"), factory("F3", 40)],
    )
    highs = solve(problem)
    cbc = solve(problem, SolveOptions(solver="cbc"))
    assert cbc.status == "optimal"
    assert cbc.solver.name == "CBC"
    assert cbc.objective == highs.objective
    assert [a.units for a in cbc.allocations] == [a.units for a in highs.allocations]
    assert [a.reason for a in cbc.allocations] == [a.reason for a in highs.allocations]


def test_cbc_solves_a_milp_round() -> None:
    problem = make_problem(
        [
            bid("B1", "F1", cost="9", capacity=100, min_lot=100, setup_cost="9"),
            bid("B2", "F2", cost="18", capacity=100),
        ]
    )
    result = solve(problem, SolveOptions(solver="cbc"))
    assert result.objective == Decimal("1310.00")
    assert result.solver.options["mip_rel_gap"] == pytest.approx(1e-9)


def test_round_without_bids_is_an_empty_optimal_allocation() -> None:
    problem = make_problem([], factories=[factory("F1")])
    result = solve(problem)
    assert result.status == "optimal"
    assert result.allocations == ()
    assert result.objective == Decimal("0.00")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10**6), milp=st.booleans())
def test_whole_units_keep_every_hard_constraint_on_random_rounds(seed: int, milp: bool) -> None:
    problem = parse_problem(random_problem_data(seed, milp=milp))
    result = solve(problem)
    assert result.status in ("optimal", "infeasible")
    # an infeasible result claims no allocation (no_allocation) and nothing else
    expected = [] if result.status == "optimal" else ["no_allocation"]
    assert [f.rule for f in verify(problem, result)] == expected
    if result.status == "optimal":
        assert result.objective is not None
        assert result.continuous_objective is not None
        # the continuous optimum bounds the whole-unit one (to the cent, and LP tolerance)
        slack = Decimal("0.01") + abs(result.continuous_objective) * Decimal("1e-7")
        assert result.objective <= result.continuous_objective + slack


def test_round_without_items_or_bids_is_an_empty_optimal_allocation() -> None:
    problem = parse_problem({"round": {"id": "R"}, "factories": [], "items": [], "bids": []})
    result = solve(problem)
    assert result.status == "optimal"
    assert result.objective == Decimal("0.00")


def test_a_pass_after_a_first_run_that_used_the_whole_limit_still_gets_a_quarter() -> None:
    """A MILP search that took all 100 s must not leave its re-solves 1 s (they failed so)."""
    from solver.engine import EngineSettings, later_pass_limit

    settings = EngineSettings(
        solver="highs", time_limit=100.0, mip_rel_gap=0.0, threads=1, random_seed=0, presolve=True
    )
    now = time.perf_counter()
    assert later_pass_limit(settings, started=now - 150.0) == 25.0
    assert 69.0 < later_pass_limit(settings, started=now - 30.0) <= 70.0
    tiny = EngineSettings(
        solver="highs", time_limit=2.0, mip_rel_gap=0.0, threads=1, random_seed=0, presolve=True
    )
    assert later_pass_limit(tiny, started=now - 5.0) == 1.0


def test_a_later_pass_gets_its_own_seconds_whatever_highs_run_clock_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HiGHS's run clock adds up over every run of a model, and its time limit is held
    against that clock: a pass's seconds must come on top of it. (A 100,000-bid MILP whose
    search took 450 of 600 s had its re-solve stopped at once, and the round failed.)"""
    import solver.highs_engine
    from solver.engine import EngineSettings
    from solver.engines import make_engine
    from solver.highs_engine import HighsEngine
    from solver.model import build_model

    problem = parse_problem(random_problem_data(3, bids=400))
    settings = EngineSettings(
        solver="highs", time_limit=600.0, mip_rel_gap=0.0, threads=1, random_seed=0, presolve=False
    )
    model = build_model(problem)
    engine = make_engine(model, settings)
    assert isinstance(engine, HighsEngine)
    assert engine.run(mip=False) == "optimal"
    highs = engine.highs
    assert highs is not None
    while highs.getRunTime() < 1.0:  # the clock a long first solve would leave
        highs.clearSolver()
        highs.run()
    # each later pass may take a quarter of what the clock reads (far more than it needs)
    monkeypatch.setattr(solver.highs_engine, "later_pass_limit", lambda *_: highs.getRunTime() / 4)
    engine.set_costs(engine.original_costs() * 1.01)
    assert engine.run(mip=False, cold=True) == "optimal"
    assert engine.run(mip=True, presolve=True) == "optimal"


def test_a_setup_opened_by_the_search_that_the_lp_leaves_without_units_is_released() -> None:
    """A search stopped within its gap may open a setup whose units the LP, binaries fixed,
    sends to a cheaper bid. Its fee then counted in the continuous optimum for nothing, and
    the allocation (no units, no fee) came out above that optimum: a 100,000-bid MILP's
    result failed `supplybid verify` so. B2 (price 20, fee 100) against B1 (price 10, fee
    100) for a demand of 100 units that B1 alone can supply: with both setups fixed open
    the LP gives B2 nothing, and releasing B2's setup raises the optimum by its fee."""
    import numpy as np

    from solver.engine import EngineSettings
    from solver.engines import make_engine
    from solver.model import build_model
    from solver.solve import release_idle_setups

    problem = make_problem(
        [
            bid("B1", "F1", setup_cost="90", capacity=200),
            bid("B2", "F2", cost="18", setup_cost="90", capacity=200),
        ],
        items=[item(demand=[(100, "1")])],
    )
    settings = EngineSettings(
        solver="highs", time_limit=60.0, mip_rel_gap=0.0, threads=1, random_seed=0, presolve=True
    )
    model = build_model(problem)
    engine = make_engine(model, settings)
    assert engine.run(mip=True) == "optimal"
    lower, upper = engine.original_bounds()
    z = model.z_col[model.binary]
    lower[z] = upper[z] = 1.0  # both setups open, as a search stopped early may leave them
    engine.set_col_bounds(lower, upper)
    engine.set_integer(np.zeros(model.n_cols, dtype=np.bool_))
    assert engine.run(mip=False) == "optimal"
    with_both = engine.objective()
    units = engine.values()[model.x_col]
    assert units.tolist() == [100.0, 0.0]
    assert release_idle_setups(model, engine, lower, upper, units)
    assert (lower[z].tolist(), upper[z].tolist()) == ([1.0, 0.0], [1.0, 0.0])
    assert engine.objective() == pytest.approx(with_both + 100.0)
    assert not release_idle_setups(model, engine, lower, upper, engine.values()[model.x_col])


def test_a_bid_costing_nothing_wins_at_price_zero_with_no_margin_stated() -> None:
    """unit_cost 0 is allowed by the format; its revenue is 0, so its margin is undefined.

    (It once divided by zero while writing the result.)
    """
    problem = make_problem([bid("B1", "F1", cost="0", capacity=10)])
    result = solve(problem)
    assert result.status == "optimal"
    (row,) = result.allocations
    assert (row.units, row.supply_price, row.margin) == (10, Decimal("0.00"), None)
    assert verify(problem, result) == []


@given(st.integers(1, 10**9), st.data())
def test_capacity_share_in_integers_is_the_decimal_share(
    capacity: int, data: st.DataObject
) -> None:
    """_share rounds half up in integers; it must be the float of the Decimal rounding."""
    from decimal import ROUND_HALF_UP

    from solver.solve import FLOAT_PLACES, _share

    units = data.draw(st.integers(0, capacity))
    exact = (Decimal(units) / capacity).quantize(FLOAT_PLACES, rounding=ROUND_HALF_UP)
    assert _share(units, capacity) == float(exact)
