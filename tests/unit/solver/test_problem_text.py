"""solver/problem_text.py against the plain path: `Problem.to_json` is json.dumps of the
canonical problem with an indent of 2, on random problems with any ids and optional fields."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.problem import Problem, parse_problem
from solver.problem_writer import canonical, to_json
from tests.unit.solver.builders import random_problem_data

IDS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=12,
)
MONEY = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)


def plain_text(problem: Problem) -> str:
    """The text as problem_writer spells it: json.dumps, sorted keys, indent 2."""
    return to_json(problem.canonical())


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    milp=st.booleans(),
    factory_id=IDS,
    bids=st.integers(0, 12),
    budget=st.none() | MONEY,
    share=st.none() | st.decimals(min_value="0.001", max_value=1, places=3),
    cap=st.none() | st.decimals(min_value="0.05", max_value="0.95", places=9),
    fill=st.integers(0, 5),
    committed=st.integers(0, 3),
)
def test_the_templated_text_is_the_indented_canonical_json(
    seed: int,
    milp: bool,
    factory_id: str,
    bids: int,
    budget: Decimal | None,
    share: Decimal | None,
    cap: Decimal | None,
    fill: int,
    committed: int,
) -> None:
    data = random_problem_data(seed, milp=milp, bids=12)
    data["bids"] = data["bids"][:bids]
    data["round"]["budget"] = None if budget is None else str(budget)
    data["factories"][0]["capacity_share"] = None if share is None else str(share)
    data["factories"][0]["committed_units"] = committed
    data["items"][0]["max_factory_share"] = None if cap is None else str(cap)
    data["items"][0]["min_fill"] = 0 if not data["bids"] else fill
    old_id = data["factories"][1]["id"]
    if factory_id not in {f["id"] for f in data["factories"]}:
        data["factories"][1]["id"] = factory_id
        for bid in data["bids"]:
            if bid["factory"] == old_id:
                bid["factory"] = factory_id
    problem = parse_problem(data)
    text = problem.to_json()
    assert text == plain_text(problem)
    # The text reads back as the same problem: equal in canonical form (the text lists an
    # item's scenarios of equal units by probability, where the problem keeps input order)
    read_back = parse_problem(text).model_dump(mode="python")
    assert canonical(read_back) == canonical(problem.model_dump(mode="python"))
