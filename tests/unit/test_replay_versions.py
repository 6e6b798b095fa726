"""A replay of a round solved under an earlier allocator version says so, with what changed."""

from __future__ import annotations

from bidding.finance import compare_results
from solver.problem import parse_problem
from solver.solve import solve
from solver.version import ALLOCATOR_VERSION, CHANGES, version_changes
from tests.unit.solver.test_whole_units import ZERO_PROFIT_ROUND


def test_a_replay_of_a_version_1_result_names_the_versions_and_the_changes() -> None:
    problem = parse_problem(ZERO_PROFIT_ROUND)
    replayed = solve(problem)
    # as a result solved before versions were recorded (version 1) stood: 20 units
    options = {k: v for k, v in replayed.solver.options.items() if k != "allocator_version"}
    rows = tuple(row.model_copy(update={"units": 20}) for row in replayed.allocations)
    stored = replayed.model_copy(
        update={
            "solver": replayed.solver.model_copy(update={"options": options}),
            "allocations": rows,
        }
    )
    replay = compare_results("alloc_1", problem, stored, replayed)
    assert not replay.identical
    assert replay.allocator_version_differs
    assert not replay.solver_version_differs
    assert "solved under allocator version 1" in replay.version_note
    assert f"this replay runs version {ALLOCATOR_VERSION}" in replay.version_note
    assert CHANGES["2"] in replay.version_note
    assert [d.bid for d in replay.differences] == ["B1"]


def test_a_replay_under_the_same_version_says_so() -> None:
    problem = parse_problem(ZERO_PROFIT_ROUND)
    result = solve(problem)
    replay = compare_results("alloc_1", problem, result, solve(problem))
    assert replay.identical
    assert not replay.allocator_version_differs
    assert replay.version_note == f"solved under allocator version {ALLOCATOR_VERSION}, as now"
    assert version_changes(ALLOCATOR_VERSION) == []
