"""bench/direct.py: the plain form handed to HiGHS directly, baseline and independent optimum."""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from bench.direct import _ceil_div_margin, build_plain_model, linprog_form, main, solve_direct
from solver.generate import generate_problem
from solver.problem import parse_problem
from tests.unit.solver.test_verify import problem_data


def test_the_hand_solved_round_has_its_hand_computed_optimum() -> None:
    # See test_verify: B1 1,500, B2 500, B3 500 for an expected profit of 25,900.00.
    solution = solve_direct(parse_problem(problem_data()))
    assert solution.status == "Optimal"
    assert solution.objective == pytest.approx(25_900.0, rel=1e-9)
    assert solution.units == pytest.approx({"B1": 1500, "B2": 500, "B3": 500})


def test_the_relaxation_is_an_upper_bound_of_the_milp() -> None:
    # Relaxed, B3 pays only 500/600 of its fee: z = 500/600, so 100 * (1 - 5/6) more profit.
    relaxed = solve_direct(parse_problem(problem_data()), relax=True)
    assert relaxed.objective == pytest.approx(25_900 + 100 / 6, rel=1e-9)


def test_raw_data_and_a_parsed_problem_build_the_same_model() -> None:
    data = generate_problem(
        factories=8, items=6, bids_per_factory=3, scenarios=3, seed=5, milp=True
    )
    raw = build_plain_model(json.loads(json.dumps(data)))
    parsed = build_plain_model(parse_problem(data))
    for field in ("cost", "col_lower", "col_upper", "row_lower", "row_upper", "value", "index"):
        np.testing.assert_array_equal(getattr(raw, field), getattr(parsed, field))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_linprog_finds_the_same_lp_optimum(seed: int) -> None:
    data = generate_problem(factories=12, items=8, bids_per_factory=4, scenarios=5, seed=seed)
    model = build_plain_model(data)
    ours = solve_direct(data)
    theirs = linprog(**linprog_form(model))
    assert theirs.status == 0
    assert -theirs.fun == pytest.approx(ours.objective, rel=1e-6)


def test_budget_beta_fill_and_guarantee_rows_are_honoured() -> None:
    data = problem_data(budget="30000")
    data["items"][0]["max_factory_share"] = "0.8"
    data["factories"][1].update(is_new=True, guaranteed_units=600)
    solution = solve_direct(parse_problem(data), relax=True)
    x = solution.units
    spend = 20 * x["B1"] + 21 * x["B2"] + 10 * x["B3"]
    assert spend <= 30_000 + 1e-6  # relaxed fee counted as z * 100 on top, so spend is lower
    total = x["B1"] + x["B2"]
    assert x["B1"] <= 0.8 * total + 1e-6
    assert x["B2"] >= 600 - 1e-6
    theirs = linprog(**linprog_form(build_plain_model(parse_problem(data), relax=True)))
    assert -theirs.fun == pytest.approx(solution.objective, rel=1e-6)


def test_price_floors_in_integer_cents_are_exact() -> None:
    rng = np.random.default_rng(0)
    cents = rng.integers(0, 10**9, 2000)
    for margin in (Decimal("0.1"), Decimal("0.123456789"), Decimal("0"), Decimal("0.999")):
        ours = _ceil_div_margin(cents, Fraction(margin))
        exact = [
            int((Decimal(int(c)) / (1 - margin)).quantize(Decimal(1), rounding=ROUND_CEILING))
            for c in cents
        ]
        assert ours.tolist() == exact


def test_the_command_prints_the_optimum_and_timings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem_data()))
    assert main([str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["objective"] == pytest.approx(25_900.0)
    assert set(report) >= {"parse_s", "build_s", "solve_s", "total_s", "max_rss_kb"}
