"""solver/problem_writer.py against the plain path: what it writes reads back as the same
problem, and each number's text is the number itself, in its shortest plain spelling."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from solver.problem import parse_problem
from solver.problem_writer import format_decimal
from tests.unit.solver.builders import random_problem_data


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), milp=st.booleans(), bids=st.integers(1, 30))
def test_the_written_problem_reads_back_as_the_same_problem(
    seed: int, milp: bool, bids: int
) -> None:
    problem = parse_problem(random_problem_data(seed, milp=milp, bids=bids))
    text = problem.to_json()
    again = parse_problem(text)
    assert again.canonical() == problem.canonical()
    assert again.input_hash == problem.input_hash
    assert again.to_json() == text
    assert json.loads(text) == problem.canonical()


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=9))
def test_a_number_is_written_as_its_shortest_plain_spelling(value: Decimal) -> None:
    text = format_decimal(value)
    assert Decimal(text) == value
    assert "e" not in text.lower()
    assert text == "0" or not (text.startswith("-0") and Decimal(text) == 0)
    if "." in text:
        assert not text.endswith("0")
        assert not text.endswith(".")
