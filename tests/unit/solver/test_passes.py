"""solve()'s passes, each run and checked alone on a problem worked by hand.

solve() is first_solve, ties, whole_units, explanations, then the result; each pass is a
function over the round (what is solved, how) and what the first solve found.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from solver.clock import Clock
from solver.engine import EngineSettings
from solver.problem import Problem
from solver.result import Result
from solver.solve import (
    Solved,
    SolveOptions,
    Solving,
    explanations,
    first_solve,
    solver_info,
    ties,
    whole_units,
)
from tests.unit.solver.builders import bid, item, make_problem


def round_of(problem: Problem, options: SolveOptions | None = None) -> Solving:
    options = options or SolveOptions()
    mip = problem.has_binaries
    settings = EngineSettings(
        solver="highs",
        time_limit=60.0,
        mip_rel_gap=float(problem.round.mip_gap),
        threads=1,
        random_seed=0,
        presolve=mip,
        column_order=options.column_order_for(mip=mip),
    )
    return Solving(
        problem, options, settings, solver_info(settings, options, mip=mip), Clock(), mip
    )


def solved(problem: Problem) -> Solved:
    found = first_solve(round_of(problem), lambda _: None)
    assert isinstance(found, Solved)
    return found


def units(found: Solved) -> dict[str, float]:
    x = found.continuous[found.model.x_col]
    return {b.id: float(v) for b, v in zip(found.model.problem.bids, x, strict=True)}


def share_capped() -> Problem:
    """Demand 101 for sure (s = 0): every unit up to 101 is worth 28; each of the two bids
    may have at most half the item. LP: x1 = x2 = 50.5, profit 2828 - 1515 = 1313."""
    return make_problem(
        [bid("B1", "F1", cost="9", capacity=100), bid("B2", "F2", cost="18", capacity=100)],
        items=[item(salvage="0", demand=[(101, "1")], max_factory_share="0.5")],
    )


def test_first_solve_finds_the_continuous_optimum_and_its_bound() -> None:
    found = solved(share_capped())
    assert units(found) == pytest.approx({"B1": 50.5, "B2": 50.5})
    assert found.status == "optimal"
    assert found.bound == Decimal("1313.00")
    assert not found.tied.any()


def test_first_solve_decides_a_round_with_nothing_to_decide() -> None:
    empty = make_problem([], items=[])
    assert isinstance(first_solve(round_of(empty), lambda _: None), Result)


def test_the_tie_pass_takes_units_from_the_higher_id_of_two_equal_bids() -> None:
    # Two bids at the same price for a sure demand of 60: any split is optimal; the rule
    # gives the lower id all it can take (capacity 40) and the other the rest.
    problem = make_problem(
        [bid("B1", "F1", capacity=40), bid("B2", "F2", capacity=100)],
        items=[item(salvage="0", demand=[(60, "1")])],
    )
    found = solved(problem)
    ties(found)
    assert units(found) == pytest.approx({"B1": 40, "B2": 20})
    assert float(found.model.price @ found.continuous[found.model.x_col]) == pytest.approx(600)


def test_whole_units_rounds_within_every_rule() -> None:
    # (51, 50) and (50, 51) break the cap (51 > 101 / 2); (51, 51) earns 1298; (50, 50) 1300.
    found = solved(share_capped())
    whole = whole_units(round_of(share_capped()), found)
    assert whole is not None
    assert whole.units.tolist() == [50, 50]
    assert whole.objective == Decimal("1300")


def test_explanations_give_every_bid_a_reason() -> None:
    problem = make_problem(
        [bid("B1", "F1", cost="9", capacity=40), bid("B2", "F2", cost="27.9", capacity=100)],
        items=[item(salvage="0", demand=[(60, "1")])],
    )
    run = round_of(problem)
    found = solved(problem)
    whole = whole_units(run, found)
    assert whole is not None
    explanation = explanations(run, found, whole)
    # B1 (price 10) is taken to its capacity; B2 (price 31) costs more than a unit earns (28)
    assert whole.units.tolist() == [40, 0]
    assert explanation.reasons[1] == "lost_on_price"
    assert explanation.reasons[0] != "lost_on_price"


def test_the_pulp_problem_is_let_go_before_the_simplex_runs() -> None:
    """HiGHS is handed the model, then the PuLP problem's rows and columns go before the
    simplex runs (memory: the two copies are never held while it works); later passes
    change HiGHS's model only."""
    from pulp import HiGHS

    from solver.pulp_bulk import num_columns, num_rows

    seen: list[tuple[int, int]] = []
    call_solver = HiGHS.callSolver

    def spy(self: HiGHS, lp: object) -> None:
        seen.append((num_columns(lp), num_rows(lp)))  # type: ignore[arg-type]
        call_solver(self, lp)  # type: ignore[no-untyped-call]

    problem = share_capped()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HiGHS, "callSolver", spy)
        found = solved(problem)
    assert seen == [(0, 0)]
    assert num_columns(found.model.lp) == 0
    ties(found)
    assert whole_units(round_of(problem), found) is not None


def test_work_beside_the_solver_starts_once_the_model_is_handed_over() -> None:
    """when_solving's function runs once, after the PuLP problem is let go (the hand-over
    done) and before HiGHS's simplex: it never takes turns with the hand-over for the GIL."""
    from pulp import HiGHS

    from solver.engines import make_engine
    from solver.model import build_model
    from solver.pulp_bulk import num_columns

    problem = share_capped()
    run = round_of(problem)
    model = build_model(problem)
    engine = make_engine(model, run.settings)
    events: list[str] = []
    engine.when_solving(lambda: events.append(f"start with {num_columns(model.lp)} columns"))
    call_solver = HiGHS.callSolver

    def spy(self: HiGHS, lp: object) -> None:
        events.append("simplex")
        call_solver(self, lp)  # type: ignore[no-untyped-call]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HiGHS, "callSolver", spy)
        assert engine.run(mip=False) == "optimal"
        assert engine.run(mip=False) == "optimal"
    assert events == ["start with 0 columns", "simplex"]
