"""Probabilities with any number of decimal places, brought to 9 places (problem-format.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from solver.problem import MAX_SCENARIOS, ProblemError, parse_problem
from tests.unit.solver.builders import bid, factory, problem_data


def _round(demand: list[dict[str, Any]]) -> dict[str, Any]:
    data = problem_data([bid("B1", "F1")], factories=[factory("F1")])
    data["items"][0]["demand"] = demand
    return data


def _parsed(demand: list[dict[str, Any]]) -> list[tuple[int, Decimal]]:
    problem = parse_problem(_round(demand))
    return [(s.units, s.probability) for s in problem.items[0].demand]


def test_a_third_as_any_json_writer_spells_it_is_accepted() -> None:
    text = json.dumps(
        _round([{"units": 4, "probability": 1 / 3}, {"units": 7, "probability": 2 / 3}])
    )
    assert "0.3333333333333333" in text
    problem = parse_problem(text)
    got = [(s.units, s.probability) for s in problem.items[0].demand]
    # floors 0.333333333 + 0.666666666: the larger remainder (2/3's) takes the last 1e-9
    assert got == [(4, Decimal("0.333333333")), (7, Decimal("0.666666667"))]
    assert sum(p for _, p in got) == 1


def test_equal_remainders_go_to_fewer_units_then_to_the_earlier_scenario() -> None:
    third = "0.3333333333333333"
    got = _parsed(
        [
            {"units": 9, "probability": third},
            {"units": 3, "probability": third},
            {"units": 6, "probability": third},
        ]
    )
    assert got == [
        (9, Decimal("0.333333333")),
        (3, Decimal("0.333333334")),
        (6, Decimal("0.333333333")),
    ]
    same = _parsed([{"units": 5, "probability": third}] * 2 + [{"units": 5, "probability": third}])
    assert [p for _, p in same] == [
        Decimal("0.333333334"),
        Decimal("0.333333333"),
        Decimal("0.333333333"),
    ]


def test_a_sum_just_above_1_gives_back_from_the_smallest_remainder() -> None:
    got = _parsed([{"units": 10, "probability": "0.500000001"}, {"units": 5, "probability": "0.5"}])
    assert got == [(10, Decimal("0.500000001")), (5, Decimal("0.499999999"))]


def test_the_stored_problem_and_its_hash_use_the_nine_places() -> None:
    long = parse_problem(
        _round([{"units": 4, "probability": 1 / 3}, {"units": 7, "probability": 2 / 3}])
    )
    short = parse_problem(
        _round(
            [{"units": 4, "probability": "0.333333333"}, {"units": 7, "probability": "0.666666667"}]
        )
    )
    assert long.input_hash == short.input_hash
    assert '"0.333333333"' in long.to_json()


@pytest.mark.parametrize(
    ("demand", "message"),
    [
        (
            [{"units": 4, "probability": "0.5"}, {"units": 5, "probability": "0.4"}],
            "sum to 0.9, not 1",
        ),
        (
            [{"units": 4, "probability": "1e-12"}, {"units": 5, "probability": "0.999999999999"}],
            "become 0",
        ),
        ([{"units": -1, "probability": "1"}], "greater than or equal to 0"),
        ([{"units": 4, "probability": "0.3x"}], "valid decimal"),
    ],
)
def test_one_message_per_fault(demand: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_problem(_round(demand))
    assert len(caught.value.issues) == 1, caught.value.issues
    assert message in caught.value.issues[0].message
    assert caught.value.issues[0].location.startswith("items[I1].demand")


def test_two_thousand_scenarios_are_accepted_and_the_limit_is_named() -> None:
    many = [{"units": k, "probability": 1 / 2000} for k in range(2000)]
    assert len(_parsed(many)) == 2000
    too_many = [{"units": k, "probability": "0.0001"} for k in range(MAX_SCENARIOS + 1)]
    with pytest.raises(ProblemError) as caught:
        parse_problem(_round(too_many))
    assert f"at most {MAX_SCENARIOS} items" in caught.value.issues[0].message
