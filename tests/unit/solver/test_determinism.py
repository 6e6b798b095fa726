"""Same problem, same Result bytes: shuffled input lists, and two separate processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from solver.problem import parse_problem
from solver.solve import solve
from tests.unit.solver.builders import random_problem_data

ROOT = Path(__file__).resolve().parents[3]


def shuffled(data: Mapping[str, Any], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = json.loads(json.dumps(data))
    for key in ("factories", "items", "bids"):
        rng.shuffle(out[key])
    for it in out["items"]:
        rng.shuffle(it["demand"])
    return out


def test_shuffled_input_lists_give_the_same_result_bytes() -> None:
    for seed in range(6):
        data = random_problem_data(seed, milp=seed % 2 == 1, bids=16)
        first = solve(parse_problem(data)).identity()
        for k in range(2):
            assert solve(parse_problem(shuffled(data, k))).identity() == first


def test_ties_broken_the_same_way_whatever_the_order() -> None:
    # eight bids at the same price on one item, demand for fewer units than they offer
    bids = [
        {"id": f"B{k}", "factory": f"F{k}", "item": "I1", "unit_cost": "9", "capacity": 30}
        for k in range(8)
    ]
    data = {
        "round": {"id": "R1"},
        "factories": [{"id": f"F{k}", "monthly_capacity": 1000} for k in range(8)],
        "items": [
            {
                "id": "I1",
                "retail_price": "30",
                "handling_cost": "2",
                "salvage_value": "0",
                "demand": [{"units": 100, "probability": "1"}],
            }
        ],
        "bids": bids,
    }
    result = solve(parse_problem(data))
    # lowest ids first: 30 + 30 + 30 + 10
    assert [a.units for a in result.allocations] == [30, 30, 30, 10, 0, 0, 0, 0]
    for k in range(3):
        assert solve(parse_problem(shuffled(data, k))).identity() == result.identity()


def test_two_processes_give_the_same_result_bytes(tmp_path: Path) -> None:
    data = random_problem_data(11, milp=True, bids=16)
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(data))
    script = (
        "import sys; from solver.problem import parse_problem; from solver.solve import solve;"
        "print(solve(parse_problem(open(sys.argv[1]).read())).identity())"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1] == solve(parse_problem(data)).identity()


def test_fast_input_hash_is_the_hash_of_the_canonical_problem() -> None:
    # Problem.input_hash encodes numbers in the JSON encoder's hook for speed; it must give
    # the same bytes as hashing Problem.canonical().
    import hashlib

    for seed in range(4):
        problem = parse_problem(random_problem_data(seed, milp=True, bids=20))
        text = json.dumps(problem.canonical(), sort_keys=True, separators=(",", ":"))
        expected = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert problem.input_hash() == expected
