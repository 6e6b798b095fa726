"""The verifier's cost_ceiling check: a solved result's ceilings pass, and a ceiling one
cent off either way, or missing where nothing can force units, is named for its bid."""

from decimal import Decimal

from solver.problem import Problem, parse_problem
from solver.result import Result
from solver.solve import SolveOptions, solve
from solver.values import CENT
from solver.verify import verify
from tests.unit.solver.builders import random_problem_data


def _with_ceiling(result: Result, bid: str, ceiling: Decimal | None) -> Result:
    rows = [
        r.model_copy(update={"cost_ceiling": ceiling}) if r.bid == bid else r
        for r in result.allocations
    ]
    return result.model_copy(update={"allocations": rows})


def _ceiling_findings(problem: Problem, result: Result) -> list[str | None]:
    return [f.bid for f in verify(problem, result) if f.rule == "cost_ceiling_mismatch"]


def test_stated_ceilings_pass_and_one_cent_off_or_missing_is_found() -> None:
    checked = 0
    for seed in range(12):
        problem = parse_problem(random_problem_data(seed, milp=seed % 3 == 0, bids=14))
        result = solve(problem, SolveOptions())
        assert _ceiling_findings(problem, result) == []
        for row in result.allocations:
            if row.cost_ceiling is None:
                continue
            for wrong in (row.cost_ceiling + CENT, row.cost_ceiling - CENT, None):
                if wrong is not None and wrong < 0:
                    continue
                tampered = _with_ceiling(result, row.bid, wrong)
                assert _ceiling_findings(problem, tampered) == [row.bid], (seed, row, wrong)
                checked += 1
    assert checked > 30
