"""solver/problem_hash.py against the plain path: the templated hash is the sha256 of
json.dumps of the canonical problem, on random problems with any ids and optional fields."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.problem import Problem, parse_problem
from tests.unit.solver.builders import random_problem_data


def plain_hash(problem: Problem) -> str:
    """The hash as problem-format.md states it: sha256 of the canonical JSON, compact."""
    text = json.dumps(problem.canonical(), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


IDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=12,
)
MONEY = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    milp=st.booleans(),
    factory_id=IDS,
    budget=st.none() | MONEY,
    share=st.none() | st.decimals(min_value="0.001", max_value=1, places=3),
    cap=st.none() | st.decimals(min_value="0.05", max_value="0.95", places=9),
    fill=st.integers(0, 5),
    committed=st.integers(0, 3),
)
def test_the_templated_hash_is_the_hash_of_the_canonical_json(
    seed: int,
    milp: bool,
    factory_id: str,
    budget: Decimal | None,
    share: Decimal | None,
    cap: Decimal | None,
    fill: int,
    committed: int,
) -> None:
    data = random_problem_data(seed, milp=milp, bids=12)
    data["round"]["budget"] = None if budget is None else str(budget)
    data["factories"][0]["capacity_share"] = None if share is None else str(share)
    data["factories"][0]["committed_units"] = committed
    data["items"][0]["max_factory_share"] = None if cap is None else str(cap)
    data["items"][0]["min_fill"] = fill
    old_id = data["factories"][1]["id"]
    if factory_id not in {f["id"] for f in data["factories"]}:
        data["factories"][1]["id"] = factory_id
        for bid in data["bids"]:
            if bid["factory"] == old_id:
                bid["factory"] = factory_id
    problem = parse_problem(data)
    assert problem.input_hash == plain_hash(problem)


def test_fast_input_hash_is_the_hash_of_the_canonical_problem() -> None:
    # Problem.input_hash encodes numbers in the JSON encoder's hook for speed; it must give
    # the same bytes as hashing Problem.canonical().
    import hashlib

    for seed in range(4):
        problem = parse_problem(random_problem_data(seed, milp=True, bids=20))
        text = json.dumps(problem.canonical(), sort_keys=True, separators=(",", ":"))
        expected = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert problem.input_hash == expected


def test_fast_input_hash_covers_every_optional_field_and_any_id() -> None:
    # Budget, per-factory shares, item caps and fills, and ids JSON must escape.
    import hashlib

    data = random_problem_data(5, milp=True, bids=20)
    data["round"]["budget"] = "123456.70"
    data["factories"][0]["capacity_share"] = "0.350"
    data["factories"][0]["committed_units"] = 3
    data["items"][0]["max_factory_share"] = 0.5
    data["items"][0]["min_fill"] = 1
    old_id = data["factories"][1]["id"]
    new_id = 'Fé "quoted" \\ 工厂'
    data["factories"][1]["id"] = new_id
    for bid in data["bids"]:
        if bid["factory"] == old_id:
            bid["factory"] = new_id
    problem = parse_problem(data)
    text = json.dumps(problem.canonical(), sort_keys=True, separators=(",", ":"))
    assert problem.input_hash == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
