"""Reasons by re-solve at every size (SPEC 3): on the solve's own model, skips proven.

The re-solves on the kept HiGHS model (rows freed in place) and the skip of a rule with
room to spare at a whole, published tie choice (solver/reasons.py) must name exactly what
the full re-solves name, each rebuilding the round without the rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.explain_check import check_round, small_round
from solver.clock import Clock
from solver.generate import generate_problem
from solver.problem import Problem, parse_problem
from solver.reasons import Relaxation, confirmed_reasons, relaxations
from solver.regain import Published
from solver.solve import (
    SolveOptions,
    Solving,
    engine_settings,
    first_solve,
    resolve_relaxed,
    settled,
    solve,
    solver_info,
    ties,
    whole_allocation,
    whole_units,
)


def _published(problem: Problem) -> tuple[Any, ...]:
    """The solve's passes up to whole units, as solve() runs them."""
    options = SolveOptions()
    mip = problem.has_binaries
    settings = engine_settings(problem, options, mip=mip)
    run = Solving(problem, options, settings, solver_info(settings, options, mip=mip), Clock(), mip)
    solved = first_solve(run, lambda _: None)
    assert not isinstance(solved, type(None))
    ties(solved)  # type: ignore[arg-type]
    whole = whole_units(run, solved)  # type: ignore[arg-type]
    assert whole is not None
    return run, solved, whole.units, whole.objective


def _both_ways(problem: Problem) -> tuple[list[str], list[str], bool, int]:
    """Reasons by full rebuilt re-solves, and by in-place re-solves with the proven skips;
    whether the round was settled and how many re-solves the skips saved."""
    run, solved, units, value = _published(problem)
    model = solved.model
    published = Published.of(model, units, value, solved.engine.original_costs())

    def rebuilt(change: Relaxation) -> Any:
        return whole_allocation(change.problem, run.options)

    def in_place(change: Relaxation) -> Any:
        return resolve_relaxed(run, solved, change, published)

    full = confirmed_reasons(model, units, rebuilt)
    calm = settled(run, solved, units)
    fast = confirmed_reasons(model, units, in_place, settled=calm)
    saved = len(list(relaxations(model, units, settled=False))) - len(
        list(relaxations(model, units, settled=calm))
    )
    return list(full), list(fast), calm, saved


def _lp_round(data: dict[str, Any]) -> bool:
    return not any(b.get("min_lot") or b.get("setup_cost") for b in data["bids"])


def test_in_place_and_skipped_re_solves_name_what_full_re_solves_name() -> None:
    saved = 0
    checked = 0
    for seed in range(120):
        data = small_round(seed)
        if not _lp_round(data):
            continue
        problem = parse_problem(data)
        if solve(problem).status != "optimal":
            continue
        full, fast, _, skipped = _both_ways(problem)
        assert fast == full, seed
        saved += skipped
        checked += 1
    assert checked > 50
    assert saved > 0  # the skips were exercised


def _generated(seed: int, *, beta: str | None, budget: str | None) -> Problem:
    data = generate_problem(factories=6, items=5, bids_per_factory=4, scenarios=3, seed=seed)
    data["round"]["mip_gap"] = 0
    data["round"]["budget"] = budget
    for row in data["items"][::2]:
        row["max_factory_share"] = beta
    for row in data["factories"][:4]:
        row["monthly_capacity"] = row["monthly_capacity"] // 8
    return parse_problem(data)


@pytest.mark.parametrize(
    ("beta", "budget"), [(None, None), ("0.4", None), (None, "400000"), ("0.35", "300000")]
)
def test_reasons_of_generated_rounds_match_the_full_re_solves(
    beta: str | None, budget: str | None
) -> None:
    for seed in range(3):
        problem = _generated(seed, beta=beta, budget=budget)
        full, fast, _, _ = _both_ways(problem)
        assert fast == full, seed


def test_a_whole_tie_choice_is_settled_and_its_slack_rules_are_skipped() -> None:
    problem = _generated(0, beta=None, budget="4000000")  # a budget with room to spare
    run, solved, units, _ = _published(problem)
    assert settled(run, solved, units)
    assert len(list(relaxations(solved.model, units, settled=True))) < len(
        list(relaxations(solved.model, units, settled=False))
    )


def test_above_the_size_explained_with_the_solve_reasons_are_still_re_solved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # seed 239: its factory's share cap keeps B01 from 2 more units; the continuous
    # optimum's duals (the reading used above the cap before) called it won_partial
    data = small_round(239)
    problem = parse_problem(data)
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "0")
    above = {a.bid: a.reason for a in solve(problem).allocations}
    assert above["B01"] == "capacity_bound"
    monkeypatch.delenv("SUPPLYBID_EXPLAIN_UP_TO")
    assert above == {a.bid: a.reason for a in solve(problem).allocations}
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "0")
    assert check_round(data)["reasons_off"] == 0


def test_the_relaxed_rows_are_put_back_after_each_re_solve() -> None:
    problem = _generated(1, beta="0.4", budget="400000")
    run, solved, units, _ = _published(problem)
    engine = solved.engine
    before = np.array(engine._row_upper), np.array(engine._row_lower)
    for change in relaxations(solved.model, units, settled=False):
        resolve_relaxed(run, solved, change)
    assert np.array_equal(before[0], engine._row_upper)
    assert np.array_equal(before[1], engine._row_lower)
