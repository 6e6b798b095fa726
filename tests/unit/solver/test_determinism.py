"""Same problem, same Result bytes: shuffled input lists, and two separate processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from solver.problem import parse_problem
from solver.result import REASONS, BidAllocation, allocations_json
from solver.solve import solve
from solver.trusted import put_column
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


def test_a_result_is_what_validating_it_again_gives() -> None:
    # solve() makes the allocation rows without validation (trusted_allocations): every
    # value must already have its field's type, so a re-validation changes nothing.
    from solver.result import Result

    for seed, milp in ((0, False), (1, True), (2, True)):
        result = solve(parse_problem(random_problem_data(seed, milp=milp, bids=30)))
        again = Result.model_validate(result.model_dump())
        assert again == result
        assert again.to_json() == result.to_json()
        for checked, made in zip(again.allocations, result.allocations, strict=True):
            assert {k: type(v) for k, v in vars(checked).items()} == {
                k: type(v) for k, v in vars(made).items()
            }
            assert made.model_fields_set == set(type(made).model_fields)


def test_parsing_shares_values_and_keeps_every_field() -> None:
    # parse_problem shares equal Decimals and pydantic's field records between bids
    # (memory); what the problem says must not change.
    data = random_problem_data(3, milp=True, bids=40)
    from_text = parse_problem(json.dumps(data))
    assert from_text == parse_problem(data)
    assert from_text.model_dump() == parse_problem(data).model_dump()
    for bid in from_text.bids:
        assert bid.model_fields_set <= set(type(bid).model_fields)


def test_the_result_written_in_pieces_is_the_result_as_one_text() -> None:
    """`supplybid solve` writes to_json_bytes(): it must be to_json(), byte for byte, and
    that text the result's JSON, one line per allocation."""
    from solver.result import RuleConflict

    for seed, milp in ((0, False), (1, True)):
        result = solve(parse_problem(random_problem_data(seed, milp=milp, bids=30)))
        whole = result.to_json().encode()
        for rows_per_piece in (1, 2, 7, 30, 4096):
            assert b"".join(result.to_json_bytes(rows_per_piece)) == whole
        assert json.loads(whole) == json.loads(result.model_dump_json())
        rows = [line for line in whole.splitlines() if line.startswith(b'    {"bid":')]
        assert [json.loads(line.rstrip(b","))["bid"] for line in rows] == [
            a.bid for a in result.allocations
        ]
    # ids holding what separates two rows, quotes and backslashes: still one row each
    odd_ids = ('},{"bid":"x', 'a"},{"bid":', "b\\", '\\"},{"bid":')
    odd = result.model_copy(
        update={
            "allocations": tuple(
                a.model_copy(update={"bid": bid_id, "factory": bid_id})
                for a, bid_id in zip(result.allocations, odd_ids, strict=False)
            )
        }
    )
    for rows_per_piece in (1, 3):
        text = b"".join(odd.to_json_bytes(rows_per_piece))
        assert json.loads(text) == json.loads(odd.model_dump_json())
        assert text.count(b'\n    {"bid":') == len(odd_ids)
    infeasible = result.model_copy(
        update={
            "status": "infeasible",
            "allocations": (),
            "conflicts": (RuleConflict(rule="min_fill", items=("I1",), detail="a\nb"),),
        }
    )
    assert b"".join(infeasible.to_json_bytes(3)) == infeasible.to_json().encode()


_MONEY = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)
_FRACTION = st.one_of(
    st.integers(0, 10**6).map(lambda n: round(n / 10**6, 6)),  # as solve rounds them
    st.floats(),  # as a result read from a file may hold: 1e+16, NaN (pydantic then)
)
_TEXT = st.text(min_size=1, max_size=12)  # controls, quotes, escapes, non-ASCII


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.builds(
            BidAllocation,
            bid=_TEXT,
            factory=_TEXT,
            item=_TEXT,
            units=st.integers(0, 10**9),
            supply_price=_MONEY,
            setup_fee=_MONEY,
            capacity_share_used=_FRACTION,
            margin=st.none() | _FRACTION,
            reason=st.sampled_from(REASONS),
            cost_to_win_more=st.none() | _MONEY,
        ),
        max_size=5,
    )
)
@example(rows=[])
def test_allocations_are_written_as_pydantic_writes_them(rows: list[BidAllocation]) -> None:
    """The rows of a result file (msgspec, or pydantic for huge floats) are the bytes of
    pydantic's own serialiser."""
    assert allocations_json(rows) == TypeAdapter(tuple[BidAllocation, ...]).dump_json(tuple(rows))


def test_a_column_put_into_rows_has_one_value_per_row() -> None:
    rows: list[dict[str, object]] = [{}, {}]
    put_column(rows, "reason", ["won_full", "lost_on_price"])
    assert rows == [{"reason": "won_full"}, {"reason": "lost_on_price"}]
    with pytest.raises(ValueError, match="1 values of 'reason' for 2 rows"):
        put_column(rows, "reason", ["won_full"])
