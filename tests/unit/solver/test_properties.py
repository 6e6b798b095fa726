"""Property tests: on random small rounds, the verifier finds nothing in what solve() returns,
the LP optimum matches scipy's linprog on the plain form built independently by
bench.direct, and the allocation does not depend on the order of the input lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from bench.direct import build_plain_model, linprog_form
from solver.problem import Problem, parse_problem
from solver.result import Result
from solver.verify import verify

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _cents(draw: st.DrawFn, low: int, high: int) -> str:
    return str(Decimal(draw(st.integers(low, high))) / 100)


@st.composite
def problems(draw: st.DrawFn, *, milp: bool) -> dict[str, Any]:
    """A random round of a few factories, items and bids, in the exchange format."""
    n_f = draw(st.integers(1, 4))
    n_i = draw(st.integers(1, 4))
    pairs = [(f, i) for f in range(n_f) for i in range(n_i)]
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
    factories = []
    for f in range(n_f):
        is_new = milp and draw(st.booleans())
        factories.append(
            {
                "id": f"F{f}",
                "monthly_capacity": draw(st.integers(100, 5000)),
                "is_new": is_new,
                "guaranteed_units": draw(st.integers(0, 200)) if is_new else 0,
                "capacity_share": draw(st.sampled_from([None, "0.1", "0.35", "1"])),
                "committed_units": draw(st.sampled_from([0, 0, 10, 50])),
            }
        )
    items = []
    for i in range(n_i):
        retail = draw(st.integers(1000, 6000))
        handling = draw(st.integers(0, retail // 5))
        salvage = draw(st.integers(0, (retail - handling) // 2))
        n_s = draw(st.integers(1, 3))
        cuts = sorted(
            draw(st.lists(st.integers(1, 99), min_size=n_s - 1, max_size=n_s - 1, unique=True))
        )
        bounds = [0, *cuts, 100]
        probabilities = [bounds[k + 1] - bounds[k] for k in range(n_s)]
        demand = [
            {"units": draw(st.integers(0, 800)), "probability": str(Decimal(p) / 100)}
            for p in probabilities
        ]
        items.append(
            {
                "id": f"I{i}",
                "retail_price": str(Decimal(retail) / 100),
                "handling_cost": str(Decimal(handling) / 100),
                "salvage_value": str(Decimal(salvage) / 100),
                "demand": demand,
                "min_fill": draw(st.sampled_from([0, 0, 0, 20])),
                "max_factory_share": draw(st.sampled_from([None, None, "0.6"])),
            }
        )
    bids = []
    for n, (f, i) in enumerate(chosen):
        capacity = draw(st.integers(1, 500))
        bids.append(
            {
                "id": f"B{n:02d}",
                "factory": f"F{f}",
                "item": f"I{i}",
                "unit_cost": _cents(draw, 100, 3000),
                "capacity": capacity,
                "ask_price": draw(st.one_of(st.none(), st.just(_cents(draw, 500, 4000)))),
                "min_lot": draw(st.integers(0, capacity)) if milp and draw(st.booleans()) else 0,
                "setup_cost": _cents(draw, 0, 20000) if milp and draw(st.booleans()) else 0,
            }
        )
    budget = draw(st.sampled_from([None, None, "5000.00", "50000.00"]))
    return {
        "round": {
            "id": "R-prop",
            "margin_floor": draw(st.sampled_from(["0.10", "0", "0.25"])),
            "capacity_share": "0.20",
            "budget": budget,
            "mip_gap": "0.0001",
        },
        "factories": factories,
        "items": items,
        "bids": bids,
    }


def solved(problem: Problem) -> Result:
    from solver.solve import solve

    return solve(problem)


def unit_findings(problem: Problem, result: Result) -> list[str]:
    """The verifier's findings, less the one every infeasible result gets (no allocation)."""
    return [f.rule for f in verify(problem, result) if f.rule != "no_allocation"]


@PROPERTY_SETTINGS
@given(problems(milp=False))
def test_lp_results_pass_the_verifier_and_match_linprog(data: dict[str, Any]) -> None:
    problem = parse_problem(data)
    result = solved(problem)
    assert unit_findings(problem, result) == []
    theirs = linprog(**linprog_form(build_plain_model(problem)))
    if theirs.status == 2:  # infeasible in the plain form too
        assert result.status == "infeasible"
        return
    assert theirs.status == 0
    assert result.status == "optimal"
    assert result.continuous_objective is not None
    assert result.objective is not None
    optimum = -float(theirs.fun)
    # (whole units proven, SPEC 3) the continuous objective is the best proven bound of the
    # whole-unit problem: the LP optimum, or a branch and bound's tighter bound
    tolerance = 0.006 + 1e-6 * abs(optimum)
    assert float(result.continuous_objective) <= optimum + tolerance
    assert result.objective <= result.continuous_objective


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(milp=True))
def test_milp_results_pass_the_verifier(data: dict[str, Any]) -> None:
    problem = parse_problem(data)
    result = solved(problem)
    assert result.status in ("optimal", "feasible", "infeasible")
    assert unit_findings(problem, result) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(milp=True), st.randoms(use_true_random=False))
def test_shuffled_input_gives_the_same_result(data: dict[str, Any], rng: Any) -> None:
    shuffled = {
        "round": dict(data["round"]),
        **{key: rng.sample(data[key], len(data[key])) for key in ("factories", "items", "bids")},
    }
    for item in shuffled["items"]:
        item["demand"] = rng.sample(item["demand"], len(item["demand"]))
    first = solved(parse_problem(data))
    second = solved(parse_problem(shuffled))
    assert first.identity() == second.identity()
