"""The exchange format's refusals, the bids' fast path against pydantic, and the input hash.

A problem that breaks the format must be refused by `parse_problem` with issues that name
the list, the offending id and the field (shared/problem-format.md), and nothing solved.
Bids have two validation paths (`_plain_bids` for rows already in exact types, pydantic for
the rest); they must accept the same rows and make the same objects, or the same file
would parse, hash or be refused differently depending on how its numbers are spelled.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from solver.problem import (
    _BIDS,
    Problem,
    ProblemBid,
    ProblemError,
    ProblemIssue,
    _plain_bids,
    _read_json,
    parse_problem,
)
from solver.values import CENT, MAX_BUDGET, MAX_MONEY, MAX_UNITS
from tests.unit.solver.builders import bid, factory, item, problem_data

TWO_FACTORIES = [factory("F1"), factory("F2")]


def refusal(data: dict[str, Any] | str | bytes | list[Any]) -> tuple[ProblemIssue, ...]:
    """The issues parse_problem gives for data it must refuse."""
    with pytest.raises(ProblemError) as caught:
        parse_problem(data)  # type: ignore[arg-type]  # a list is one of the refused shapes
    return caught.value.issues


def message_at(issues: tuple[ProblemIssue, ...], location: str) -> str:
    """The message of the one issue at this location (failing with all issues if none)."""
    found = [i.message for i in issues if i.location == location]
    assert len(found) == 1, f"no single issue at {location}: {[str(i) for i in issues]}"
    return found[0]


def row(bid_id: str, factory_id: str, item_id: str = "I1", **fields: Any) -> dict[str, Any]:
    """A bid row with any fields set to any value, well-typed or not."""
    return {**bid(bid_id, factory_id, item_id), **fields}


def one_bid(**overrides: Any) -> dict[str, Any]:
    """A valid one-bid problem (B1 of F1 on I1) with the bid's fields overridden."""
    return problem_data([bid("B1", "F1", **overrides)])


def with_factory(**overrides: Any) -> dict[str, Any]:
    """A valid one-bid problem whose factory F1 has these fields overridden."""
    return problem_data([bid("B1", "F1")], factories=[factory("F1", **overrides)])


def with_item(**overrides: Any) -> dict[str, Any]:
    """A valid one-bid problem whose item I1 is built with these arguments."""
    return problem_data([bid("B1", "F1")], items=[item("I1", **overrides)])


def with_round(**overrides: Any) -> dict[str, Any]:
    """A valid one-bid problem with these round terms."""
    return problem_data([bid("B1", "F1")], **overrides)


# (data, location, what the message must say): one fault each, named by list, id and field.
REFUSALS: list[Any] = [
    # references between lists
    pytest.param(
        problem_data([bid("B1", "F1"), bid("B2", "F9")], factories=[factory("F1")]),
        "bids[B2].factory",
        "unknown factory 'F9'",
        id="unknown-factory",
    ),
    pytest.param(
        problem_data([bid("B1", "F1"), bid("B2", "F2", "I9")], factories=TWO_FACTORIES),
        "bids[B2].item",
        "unknown item 'I9'",
        id="unknown-item",
    ),
    pytest.param(
        problem_data([bid("B1", "F1"), bid("B2", "F1")]),
        "bids[B2].item",
        "second bid of factory 'F1' on item 'I1' (first: B1)",
        id="second-bid-same-factory-and-item",
    ),
    # duplicate ids
    pytest.param(
        problem_data([bid("B1", "F1")], factories=[factory("F1"), factory("F1", 500)]),
        "factories[F1].id",
        "duplicate id",
        id="duplicate-factory",
    ),
    pytest.param(
        problem_data([bid("B1", "F1")], items=[item("I1"), item("I1")]),
        "items[I1].id",
        "duplicate id",
        id="duplicate-item",
    ),
    pytest.param(
        problem_data([bid("B1", "F1"), bid("B1", "F2")], factories=TWO_FACTORIES),
        "bids[B1].id",
        "duplicate id",
        id="duplicate-bid",
    ),
    # probabilities
    pytest.param(
        with_item(demand=[(60, "0.5"), (100, "0.4")]),
        "items[I1].demand",
        "sum to 0.9, not 1",
        id="probabilities-below-1",
    ),
    pytest.param(
        with_item(demand=[(60, "0.5"), (100, "0.50000001")]),
        "items[I1].demand",
        "not 1",
        id="probabilities-above-1-beyond-tolerance",
    ),
    # NaN and infinities given as values in a dict
    pytest.param(one_bid(cost=Decimal("NaN")), "bids[B1].unit_cost", "finite", id="decimal-nan"),
    pytest.param(one_bid(cost="NaN"), "bids[B1].unit_cost", "finite", id="string-nan"),
    pytest.param(one_bid(cost=float("nan")), "bids[B1].unit_cost", "finite", id="float-nan"),
    pytest.param(one_bid(cost="Infinity"), "bids[B1].unit_cost", "finite", id="string-infinity"),
    pytest.param(
        one_bid(setup_cost=Decimal("-Infinity")),
        "bids[B1].setup_cost",
        "finite",
        id="decimal-minus-infinity",
    ),
    pytest.param(one_bid(ask_price="NaN"), "bids[B1].ask_price", "finite", id="ask-nan"),
    pytest.param(one_bid(cost=Decimal("sNaN")), "bids[B1].unit_cost", "finite", id="signaling-nan"),
    pytest.param(with_item(retail="NaN"), "items[I1].retail_price", "finite", id="retail-nan"),
    pytest.param(
        with_item(demand=[(60, "NaN")]),
        "items[I1].demand[0].probability",
        "finite",
        id="probability-nan",
    ),
    pytest.param(
        with_round(margin_floor=Decimal("NaN")), "round.margin_floor", "finite", id="margin-nan"
    ),
    pytest.param(with_round(budget="Infinity"), "round.budget", "finite", id="budget-infinity"),
    # negative numbers
    pytest.param(one_bid(cost="-0.01"), "bids[B1].unit_cost", ">= 0", id="negative-unit-cost"),
    pytest.param(one_bid(capacity=-1), "bids[B1].capacity", "> 0", id="negative-capacity"),
    pytest.param(one_bid(capacity=0), "bids[B1].capacity", "> 0", id="zero-capacity"),
    pytest.param(one_bid(min_lot=-1), "bids[B1].min_lot", ">= 0", id="negative-min-lot"),
    pytest.param(one_bid(setup_cost="-1"), "bids[B1].setup_cost", ">= 0", id="negative-setup"),
    pytest.param(one_bid(ask_price="-1"), "bids[B1].ask_price", "> 0", id="negative-ask"),
    pytest.param(
        with_item(demand=[(-1, "1")]),
        "items[I1].demand[0].units",
        ">= 0",
        id="negative-demand-units",
    ),
    pytest.param(
        with_item(demand=[(60, "-0.5"), (100, "1.5")]),
        "items[I1].demand[0].probability",
        "> 0",
        id="negative-probability",
    ),
    # out of range and finer than 9 places: the range is what is said (checked first)
    pytest.param(
        with_item(demand=[(60, "-0.0000000001"), (100, "1")]),
        "items[I1].demand[0].probability",
        "> 0",
        id="probability-below-0-by-a-tenth-of-a-billionth",
    ),
    pytest.param(
        with_item(demand=[(60, "1.0000000001")]),
        "items[I1].demand[0].probability",
        "<= 1",
        id="probability-above-1-by-a-tenth-of-a-billionth",
    ),
    pytest.param(
        with_factory(committed_units=-1),
        "factories[F1].committed_units",
        ">= 0",
        id="negative-committed-units",
    ),
    pytest.param(
        with_factory(guaranteed_units=-1),
        "factories[F1].guaranteed_units",
        ">= 0",
        id="negative-guaranteed-units",
    ),
    pytest.param(
        with_factory(monthly_capacity=-5),
        "factories[F1].monthly_capacity",
        "> 0",
        id="negative-monthly-capacity",
    ),
    pytest.param(with_item(min_fill=-1), "items[I1].min_fill", ">= 0", id="negative-min-fill"),
    pytest.param(with_item(retail="-1"), "items[I1].retail_price", ">= 0", id="negative-retail"),
    pytest.param(
        with_item(handling="-1"), "items[I1].handling_cost", ">= 0", id="negative-handling"
    ),
    pytest.param(with_item(salvage="-1"), "items[I1].salvage_value", ">= 0", id="neg-salvage"),
    pytest.param(with_round(budget="-1"), "round.budget", ">= 0", id="negative-budget"),
    pytest.param(with_round(margin_floor="-0.1"), "round.margin_floor", ">= 0", id="neg-margin"),
    # money finer than a cent
    pytest.param(one_bid(cost="1.001"), "bids[B1].unit_cost", "2 decimal places", id="cost-3dp"),
    pytest.param(
        one_bid(setup_cost=Decimal("0.005")),
        "bids[B1].setup_cost",
        "2 decimal places",
        id="setup-3dp",
    ),
    pytest.param(
        one_bid(ask_price="10.001"), "bids[B1].ask_price", "2 decimal places", id="ask-3dp"
    ),
    pytest.param(
        with_item(retail="30.001"), "items[I1].retail_price", "2 decimal places", id="retail-3dp"
    ),
    pytest.param(with_round(budget="100.001"), "round.budget", "2 decimal places", id="budget-3dp"),
    # beyond the largest numbers accepted
    pytest.param(
        one_bid(cost=str(MAX_MONEY + CENT)),
        "bids[B1].unit_cost",
        f"<= {MAX_MONEY}",
        id="unit-cost-above-max-money",
    ),
    pytest.param(
        one_bid(cost=Decimal("1E+30")), "bids[B1].unit_cost", f"<= {MAX_MONEY}", id="cost-1e30"
    ),
    pytest.param(
        # pydantic words this bound "less than or equal to Decimal('1000000000')"
        one_bid(setup_cost=10**12),
        "bids[B1].setup_cost",
        "less than or equal to",
        id="huge-setup",
    ),
    pytest.param(
        one_bid(ask_price=str(MAX_MONEY + 1)),
        "bids[B1].ask_price",
        f"<= {MAX_MONEY}",
        id="huge-ask",
    ),
    pytest.param(
        one_bid(capacity=MAX_UNITS + 1),
        "bids[B1].capacity",
        f"<= {MAX_UNITS}",
        id="capacity-above-max-units",
    ),
    pytest.param(
        one_bid(capacity=MAX_UNITS, min_lot=MAX_UNITS + 1),
        "bids[B1].min_lot",
        f"<= {MAX_UNITS}",
        id="huge-min-lot",
    ),
    pytest.param(
        with_item(demand=[(MAX_UNITS + 1, "1")]),
        "items[I1].demand[0].units",
        f"<= {MAX_UNITS}",
        id="huge-demand-units",
    ),
    pytest.param(
        with_factory(monthly_capacity=MAX_UNITS + 1),
        "factories[F1].monthly_capacity",
        f"<= {MAX_UNITS}",
        id="huge-monthly-capacity",
    ),
    pytest.param(
        with_factory(committed_units=MAX_UNITS + 1),
        "factories[F1].committed_units",
        f"<= {MAX_UNITS}",
        id="huge-committed-units",
    ),
    pytest.param(
        with_item(retail="1E+30"), "items[I1].retail_price", f"<= {MAX_MONEY}", id="huge-retail"
    ),
    pytest.param(
        with_round(budget=str(MAX_BUDGET + 1)),
        "round.budget",
        f"<= {MAX_BUDGET}",
        id="huge-budget",
    ),
    # wrong types
    pytest.param(one_bid(capacity="abc"), "bids[B1].capacity", "valid integer", id="cap-abc"),
    pytest.param(one_bid(capacity=10.5), "bids[B1].capacity", "fractional", id="cap-10.5"),
    pytest.param(one_bid(cost="abc"), "bids[B1].unit_cost", "valid decimal", id="cost-abc"),
    pytest.param(
        problem_data([{**bid("B1", "F1"), "id": 7}]),
        "bids[7].id",
        "valid string",
        id="bid-id-number",
    ),
    pytest.param(
        problem_data([{**bid("B1", "F1"), "factory": 5}]),
        "bids[B1].factory",
        "valid string",
        id="bid-factory-number",
    ),
    pytest.param(
        problem_data([bid("B1", "F1")], factories=[{**factory("F1"), "id": 5}]),
        "factories[5].id",
        "valid string",
        id="factory-id-number",
    ),
    pytest.param(problem_data([bid("", "F1")]), "bids[].id", "at least 1", id="empty-id"),
    pytest.param(
        problem_data([bid("B" * 129, "F1")]),
        f"bids[{'B' * 129}].id",
        "at most 128",
        id="id-129-chars",
    ),
    # booleans are not numbers
    pytest.param(one_bid(capacity=True), "bids[B1].capacity", "boolean", id="capacity-true"),
    pytest.param(one_bid(min_lot=False), "bids[B1].min_lot", "boolean", id="min-lot-false"),
    pytest.param(one_bid(cost=True), "bids[B1].unit_cost", "Decimal input", id="cost-true"),
    pytest.param(one_bid(ask_price=True), "bids[B1].ask_price", "Decimal input", id="ask-true"),
    pytest.param(
        one_bid(setup_cost=False), "bids[B1].setup_cost", "Decimal input", id="setup-false"
    ),
    pytest.param(
        with_factory(guaranteed_units=True),
        "factories[F1].guaranteed_units",
        "boolean",
        id="guaranteed-true",
    ),
    pytest.param(
        with_factory(capacity_share=True),
        "factories[F1].capacity_share",
        "boolean",
        id="factory-share-true",
    ),
    pytest.param(
        with_item(demand=[(True, "1")]),
        "items[I1].demand[0].units",
        "boolean",
        id="demand-units-true",
    ),
    pytest.param(with_round(budget=True), "round.budget", "Decimal input", id="budget-true"),
    # a list or a scalar where an object is expected, and an object where a list is
    pytest.param(
        {**one_bid(), "bids": [bid("B1", "F1"), ["B2", "F1"]]},
        "bids[1]",
        "valid dictionary",
        id="bid-as-list",
    ),
    pytest.param({**one_bid(), "round": ["R1"]}, "round", "valid dictionary", id="round-as-list"),
    pytest.param(
        with_factory(monthly_capacity=[1000]),
        "factories[F1].monthly_capacity",
        "valid integer",
        id="capacity-as-list",
    ),
    pytest.param({**one_bid(), "bids": {"id": "B1"}}, "bids", "valid tuple", id="bids-as-object"),
    pytest.param(
        problem_data([bid("B1", "F1")], items=[{**item("I1"), "demand": {"units": 1}}]),
        "items[I1].demand",
        "valid tuple",
        id="demand-as-object",
    ),
    # rules relating fields
    pytest.param(
        one_bid(capacity=10, min_lot=11),
        "bids[B1].min_lot",
        "exceeds the bid's capacity",
        id="min-lot-above-capacity",
    ),
    pytest.param(
        with_item(retail="5", handling="6", salvage="0"),
        "items[I1].handling_cost",
        "above the retail price",
        id="handling-above-retail",
    ),
    pytest.param(
        with_item(retail="10", handling="2", salvage="8.01"),
        "items[I1].salvage_value",
        "at most retail_price - handling_cost (8), got 8.01",
        id="salvage-above-retail-minus-handling",
    ),
    pytest.param(
        with_factory(monthly_capacity=100, committed_units=101),
        "factories[F1].committed_units",
        "exceeds the factory's monthly capacity",
        id="committed-above-capacity",
    ),
    # round terms and shares
    pytest.param(with_round(margin_floor="1"), "round.margin_floor", "< 1", id="margin-floor-1"),
    pytest.param(with_round(margin_floor=1.5), "round.margin_floor", "< 1", id="margin-1.5"),
    pytest.param(with_round(mip_gap="1"), "round.mip_gap", "< 1", id="mip-gap-1"),
    pytest.param(with_round(capacity_share="0"), "round.capacity_share", "> 0", id="share-0"),
    pytest.param(
        with_round(capacity_share="1.01"), "round.capacity_share", "<= 1", id="share-above-1"
    ),
    pytest.param(
        with_factory(capacity_share="1.5"),
        "factories[F1].capacity_share",
        "<= 1",
        id="factory-share-above-1",
    ),
    pytest.param(
        with_item(max_factory_share="1.5"),
        "items[I1].max_factory_share",
        "<= 1",
        id="item-share-above-1",
    ),
    pytest.param(
        with_item(max_factory_share="-0.5"),
        "items[I1].max_factory_share",
        "> 0",
        id="item-share-negative",
    ),
    pytest.param(with_round(currency="cny"), "round.currency", "pattern", id="currency-case"),
    # unknown and missing fields
    pytest.param(one_bid(colour="red"), "bids[B1].colour", "Extra inputs", id="extra-bid-field"),
    pytest.param(with_factory(note=1), "factories[F1].note", "Extra inputs", id="extra-factory"),
    pytest.param(with_item(note=1), "items[I1].note", "Extra inputs", id="extra-item-field"),
    pytest.param(with_round(note=1), "round.note", "Extra inputs", id="extra-round-field"),
    pytest.param({**one_bid(), "note": 1}, "note", "Extra inputs", id="extra-top-level-field"),
    pytest.param(
        problem_data([{k: v for k, v in bid("B1", "F1").items() if k != "capacity"}]),
        "bids[B1].capacity",
        "Field required",
        id="missing-capacity",
    ),
]


def _said(message: str, expected: str) -> bool:
    # pydantic words bounds in full ("greater than or equal to 0"); the table writes ">= 0".
    words = {">=": "greater than or equal to", "<=": "less than or equal to"}
    words |= {">": "greater than", "<": "less than"}
    wanted = re.sub(r"^(>=|<=|>|<) ", lambda m: words[m.group(1)] + " ", expected)
    return wanted in message


@pytest.mark.parametrize(("data", "location", "expected"), REFUSALS)
def test_each_fault_is_refused_naming_list_id_and_field(
    data: dict[str, Any], location: str, expected: str
) -> None:
    """Every rule of the format refuses the file, at the field of the row at fault."""
    message = message_at(refusal(data), location)
    assert _said(message, expected), message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("unit_cost", float("nan")),
        ("unit_cost", float("inf")),
        ("setup_cost", float("-inf")),
        ("ask_price", float("nan")),
    ],
)
def test_nan_and_infinity_in_json_text_are_refused_at_their_field(field: str, value: float) -> None:
    """JSON text NaN/Infinity (json.dumps writes them) is named like any other bad number.

    The format promises a message naming the field and the id; "$: not valid JSON" names
    neither, and leaves the author to search the file for the constant.
    """
    text = json.dumps(one_bid(**{field: value}))
    assert re.search(r"\bNaN\b|Infinity", text)
    issues = refusal(text)
    message = message_at(issues, f"bids[B1].{field}")
    assert re.search(r"NaN|Infinity|finite", message), message


@pytest.mark.parametrize(
    ("data", "location"),
    [
        (one_bid(ask_price=Decimal("sNaN")), "bids[B1].ask_price"),
        (with_factory(capacity_share=Decimal("sNaN")), "factories[F1].capacity_share"),
        (with_item(max_factory_share=Decimal("sNaN")), "items[I1].max_factory_share"),
    ],
)
def test_signaling_nan_in_an_optional_field_is_refused_not_raised(
    data: dict[str, Any], location: str
) -> None:
    """A signalling NaN is a bad number like NaN: a ProblemError, not a decimal exception."""
    assert "finite" in message_at(refusal(data), location)


def test_a_factory_capacity_share_of_zero_is_refused() -> None:
    """The format's range is 0 < capacity_share <= 1; 0 for "none" is only for beta and bids.

    Read as "none", a factory meant to get nothing would get the round's share instead.
    """
    message = message_at(refusal(with_factory(capacity_share="0")), "factories[F1].capacity_share")
    assert "greater than 0" in message


def test_a_boolean_money_value_is_refused_even_when_another_bid_has_the_same_number() -> None:
    """JSON true is not 1 yuan, whichever bid comes first and whatever its neighbours say.

    The fast path once checked the types of a money column's distinct values only: True == 1.
    """
    rows = [row("B1", "F1", unit_cost=1), row("B2", "F2", unit_cost=True)]
    data = problem_data(rows, factories=TWO_FACTORIES)
    assert "Decimal input" in message_at(refusal(data), "bids[B2].unit_cost")
    text = json.dumps(data)
    assert '"unit_cost": true' in text
    assert "Decimal input" in message_at(refusal(text), "bids[B2].unit_cost")
    rows = [row("B1", "F1", unit_cost=1, setup_cost=0), row("B2", "F2", setup_cost=False)]
    data = problem_data(rows, factories=TWO_FACTORIES)
    assert "Decimal input" in message_at(refusal(data), "bids[B2].setup_cost")


def test_an_id_that_is_not_unicode_is_refused_however_the_money_is_spelled() -> None:
    """A lone surrogate (JSON "\\ud800") cannot be stored or written as UTF-8 later."""
    for cost in ("9", 9):
        text = json.dumps(problem_data([row("B\ud800", "F1", unit_cost=cost)]))
        assert "unicode" in message_at(refusal(text), "bids[B\ud800].id")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"round": ', "not valid JSON"),
        (b'{"round": {"id": "R1"}', "not valid JSON"),
        ("", "not valid JSON"),
        ("[]", "a problem is a JSON object"),
        ('"R1"', "a problem is a JSON object"),
        ("42", "a problem is a JSON object"),
        ("null", "a problem is a JSON object"),
    ],
)
def test_text_that_is_not_a_json_object_is_refused_as_a_whole(
    text: str | bytes, expected: str
) -> None:
    """Nothing inside can be named, so the issue is at the root, "$"."""
    assert expected in message_at(refusal(text), "$")


def test_data_that_is_not_a_mapping_is_refused_as_a_whole() -> None:
    """parse_problem also takes parsed data; a list there is not a problem either."""
    assert "JSON object" in message_at(refusal([one_bid()]), "$")


def test_every_fault_in_the_rows_is_reported_at_once() -> None:
    """The author fixes a file in one pass, not one error per run."""
    data = problem_data(
        [bid("B1", "F1", cost="-1"), row("B2", "F1", "I2", capacity="abc", colour="red")],
        items=[item("I1", retail="NaN"), item("I2", demand=[(-1, "1")])],
        factories=[factory("F1", committed_units=True)],
        margin_floor="1",
    )
    locations = {i.location for i in refusal(data)}
    assert {
        "round.margin_floor",
        "factories[F1].committed_units",
        "items[I1].retail_price",
        "items[I2].demand[0].units",
        "bids[B1].unit_cost",
        "bids[B2].capacity",
        "bids[B2].colour",
    } <= locations


def test_every_broken_rule_between_rows_is_reported_at_once() -> None:
    """The relation rules are checked in full too, not up to the first one broken."""
    data = problem_data(
        [
            bid("B1", "F9"),
            bid("B2", "F1", "I9"),
            bid("B3", "F1", capacity=10, min_lot=11),
            bid("B4", "F1"),
            bid("B4", "F2"),
        ],
        factories=[factory("F1", 10, committed_units=11), factory("F2")],
        items=[item("I1", retail="5", handling="6", salvage="0"), item("I2", demand=[(1, "0.5")])],
    )
    locations = [i.location for i in refusal(data)]
    assert sorted(locations) == sorted(
        [
            "bids[B4].id",
            "items[I1].handling_cost",
            "items[I2].demand",
            "factories[F1].committed_units",
            "bids[B1].factory",
            "bids[B2].item",
            "bids[B3].min_lot",
            "bids[B4].item",  # F1's B4 is its second bid on I1, after B3
        ]
    )


def test_a_fault_in_a_later_chunk_of_bids_is_named_by_its_id() -> None:
    """Bids are validated in chunks of 4096; a row far down must still be named by id."""
    rows = [bid(f"B{k:05d}", f"F{k:05d}") for k in range(5000)]
    rows[10]["unit_cost"] = "x"
    rows[4500]["capacity"] = -1
    locations = {i.location for i in refusal(problem_data(rows))}
    assert locations == {"bids[B00010].unit_cost", "bids[B04500].capacity"}


def test_the_limits_themselves_are_accepted() -> None:
    """MAX_UNITS, MAX_MONEY and a probability sum off by exactly 1e-9 are within the format."""
    problem = parse_problem(
        problem_data(
            [bid("B1", "F1", cost=str(MAX_MONEY), capacity=MAX_UNITS, min_lot=MAX_UNITS)],
            factories=[factory("F1", MAX_UNITS, committed_units=MAX_UNITS)],
            items=[item(retail=str(MAX_MONEY), demand=[(MAX_UNITS, "0.5"), (0, "0.499999999")])],
            budget=str(MAX_BUDGET),
            capacity_share="1",
            margin_floor="0",
        )
    )
    assert problem.bids[0].unit_cost == MAX_MONEY
    assert problem.bids[0].capacity == MAX_UNITS


# --- The bids' two validation paths -------------------------------------------------------

BID_PATH_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

PLAIN_IDS = st.one_of(
    st.sampled_from(["B1", "F1", "I1", "x" * 128]), st.text(min_size=1, max_size=128)
)
OTHER_IDS = st.sampled_from(["", "x" * 129, 7, None, b"B1", ["B1"], "B\ud800"])
PLAIN_MONEY = st.one_of(
    st.sampled_from([0, 1, Decimal(0), Decimal(1)]),  # equal to a bool or a float below
    st.sampled_from(
        [
            Decimal("14.40"),
            Decimal("0.0"),
            Decimal("-0"),
            Decimal("1.00"),
            Decimal("1E+2"),
            MAX_MONEY,
            10**9,
        ]
    ),
    st.integers(0, 2).flatmap(
        lambda places: st.integers(0, 10 ** (9 + places)).map(lambda n: Decimal(n).scaleb(-places))
    ),
    st.integers(0, 10**9),
)
OTHER_MONEY = st.one_of(
    st.sampled_from([True, False, 1.0, 0.0]),  # equal to a plain 1 or 0, but not plain
    st.sampled_from(
        [
            0.5,
            14.4,
            "14.40",
            "0",
            "1e2",
            -1,
            Decimal("-0.01"),
            Decimal("1.001"),
            Decimal("0.005"),
            MAX_MONEY + CENT,
            10**9 + 1,
            Decimal("NaN"),
            Decimal("-NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            "NaN",
            [],
        ]
    ),
    st.floats(),
)
PLAIN_CAPACITY = st.one_of(st.sampled_from([1, MAX_UNITS]), st.integers(1, MAX_UNITS))
PLAIN_LOT = st.one_of(st.sampled_from([0, None, MAX_UNITS]), st.integers(0, MAX_UNITS))
OTHER_UNITS = st.sampled_from(
    [True, False, -1, MAX_UNITS + 1, 5.0, 5.5, "5", Decimal(5), 2**70, None, 0]
)
REQUIRED = ("id", "factory", "item", "unit_cost", "capacity")


FIELD_VALUES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    # field: (plain values, values of another shape or range)
    "id": (PLAIN_IDS, OTHER_IDS),
    "factory": (PLAIN_IDS, OTHER_IDS),
    "item": (PLAIN_IDS, OTHER_IDS),
    "unit_cost": (PLAIN_MONEY, OTHER_MONEY | st.none()),
    "capacity": (PLAIN_CAPACITY, OTHER_UNITS),
    "ask_price": (PLAIN_MONEY | st.none(), OTHER_MONEY),
    "min_lot": (PLAIN_LOT, OTHER_UNITS),
    "setup_cost": (PLAIN_MONEY | st.none(), OTHER_MONEY),
}


@st.composite
def bid_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A bid row: all plain (the fast path's shape), or with a few fields of another shape.

    Few, so that a row otherwise plain often has one odd value next to plain rows: the
    case where a check of the fast path by column could let it through.
    """
    odd: set[str] = draw(
        st.one_of(st.just(set()), st.sets(st.sampled_from(sorted(FIELD_VALUES)), max_size=2))
    )
    row: dict[str, Any] = {}
    for name, (plain, other) in FIELD_VALUES.items():
        if name in REQUIRED or name in odd or draw(st.booleans()):  # optional: absent or given
            row[name] = draw(other if name in odd else plain)
    shaped_otherwise = bool(odd)  # the row's shape too may be off, not only its values
    if shaped_otherwise and draw(st.booleans()):
        del row[draw(st.sampled_from(REQUIRED))]
    if shaped_otherwise and draw(st.booleans()):
        row[draw(st.sampled_from(["colour", "bid", "Capacity"]))] = 1
    return dict(draw(st.permutations(list(row.items()))))  # any key order


class _Text(StrEnum):
    B1 = "B1"


def plain_row(bid_id: str, **fields: Any) -> dict[str, Any]:
    """A bid row in the fast path's shape, with these fields changed."""
    return {
        "id": bid_id,
        "factory": "F1",
        "item": "I1",
        "unit_cost": Decimal("1"),
        "capacity": 5,
        **fields,
    }


@BID_PATH_SETTINGS
@given(rows=st.lists(bid_rows(), min_size=1, max_size=4))
# Equal values of another type behind a plain one in the same column (True == 1 == 1.0):
@example(rows=[plain_row("B1", unit_cost=1), plain_row("B2", unit_cost=True)])
@example(rows=[plain_row("B1", unit_cost=Decimal(1)), plain_row("B2", unit_cost=1.0)])
@example(rows=[plain_row("B1", setup_cost=0), plain_row("B2", setup_cost=False)])
@example(rows=[plain_row("B1", ask_price=0), plain_row("B2", ask_price=False)])
# A str pydantic cannot read as text, and one of a subclass (pydantic makes it a str):
@example(rows=[plain_row("B\ud800")])
@example(rows=[plain_row(_Text.B1)])
# A value that cannot be hashed or compared:
@example(rows=[plain_row("B1", ask_price=Decimal("sNaN"))])
def test_the_fast_path_takes_only_rows_pydantic_accepts_and_makes_the_same_bids(
    rows: list[dict[str, Any]],
) -> None:
    """_plain_bids is a shortcut for pydantic, never a second opinion.

    Where it answers, pydantic must accept the rows and make the same objects, down to the
    spelling and type of each value and the record of given fields; where pydantic
    refuses, it must leave the rows to pydantic (which words the refusal).
    """
    plain = _plain_bids(rows)
    fast = None if plain is None else plain[0]
    try:
        checked = _BIDS.validate_python(rows)
    except ValidationError:
        assert fast is None, f"fast path accepted rows pydantic refuses: {rows!r}"
        return
    if fast is None:
        return  # valid, but not in the plain shape: pydantic's to make
    assert_same_bids(fast, checked)


def assert_same_bids(fast: tuple[ProblemBid, ...], checked: tuple[ProblemBid, ...]) -> None:
    """The same objects down to each value's type and spelling, key order, given fields."""
    assert fast == checked
    for ours, theirs in zip(fast, checked, strict=True):
        assert ours.model_fields_set == theirs.model_fields_set
        assert list(ours.__dict__) == list(theirs.__dict__)  # the order a dump follows
        for name in ProblemBid.model_fields:
            mine, reference = getattr(ours, name), getattr(theirs, name)
            assert type(mine) is type(reference), (name, mine, reference)
            assert str(mine) == str(reference), (name, mine, reference)


@st.composite
def full_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A plain bid row giving every field, in field order: what this product's files have.

    Ids in ASCII: other text is plain too, but the fast path leaves it to pydantic.
    """
    ascii_ids = PLAIN_IDS.filter(str.isascii)
    return {
        name: draw(ascii_ids if plain is PLAIN_IDS else plain)
        for name, (plain, _) in FIELD_VALUES.items()
    }


@BID_PATH_SETTINGS
@given(rows=st.lists(full_rows(), min_size=1, max_size=4), sort_keys=st.booleans())
@example(rows=[plain_row("B1", ask_price=0, min_lot=None, setup_cost=7)], sort_keys=False)
def test_rows_with_every_field_make_what_pydantic_makes_and_are_left_as_given(
    rows: list[dict[str, Any]], sort_keys: bool
) -> None:
    """Rows in field order (msgspec's copies become the bids' dicts, values put in their
    form) or with sorted keys (copied in field order) give what pydantic gives, and the
    rows handed in are not changed."""
    rows = [{name: row.get(name) for name in ProblemBid.model_fields} for row in rows]
    if sort_keys:
        rows = [dict(sorted(row.items())) for row in rows]
    given = copy.deepcopy(rows)
    plain = _plain_bids(rows)
    checked = _BIDS.validate_python(given)
    assert plain is not None
    fast, columns = plain
    assert_same_bids(fast, checked)
    assert list(columns) == [[getattr(b, name) for b in checked] for name in columns._fields]
    assert rows == given
    assert [list(row) for row in rows] == [list(row) for row in given]
    assert all(bid.__dict__ is not row for bid, row in zip(fast, rows, strict=True))


def _money_as_json_numbers(text: str) -> str:
    # Unquote the bids' money, keeping each spelling ("14.40" becomes 14.40).
    return re.sub(r'"(unit_cost|ask_price|setup_cost)": "([0-9.]+)"', r'"\1": \2', text)


def test_bids_with_money_as_json_numbers_or_strings_make_the_same_problem() -> None:
    """The fast path (JSON numbers) and pydantic (strings) give one problem and one hash."""
    rows = [
        bid("B1", "F1", cost="14.40", ask_price="20.00", min_lot=5, setup_cost="100.5"),
        bid("B2", "F2", cost="9", ask_price="0", setup_cost="0.00"),
        bid("B3", "F3", cost="0.0", capacity=1),
    ]
    data = problem_data(rows, factories=[factory("F1"), factory("F2"), factory("F3")])
    numbers = _money_as_json_numbers(json.dumps(data))
    assert '"unit_cost": 14.40' in numbers
    assert '"ask_price": 0,' in numbers
    fast = _plain_bids(json.loads(numbers, parse_float=Decimal)["bids"])
    assert fast is not None  # so the two spellings really take the two paths
    as_numbers, as_strings = parse_problem(numbers), parse_problem(data)
    assert as_numbers == as_strings
    assert as_numbers.input_hash == as_strings.input_hash
    assert as_numbers.to_json() == as_strings.to_json()


def test_absent_null_and_zero_optional_bid_terms_hash_the_same() -> None:
    """problem-format.md: absent, null and 0 mean none for ask, lot and setup, and hash so."""
    spellings: list[dict[str, Any]] = [
        {},
        {"ask_price": None, "min_lot": None, "setup_cost": None},
        {"ask_price": 0, "min_lot": 0, "setup_cost": 0},
        {"ask_price": "0.00", "min_lot": 0, "setup_cost": "0"},
        {"ask_price": Decimal("-0"), "setup_cost": Decimal("0.0")},
    ]
    hashes = {parse_problem(one_bid(cost=9, **terms)).input_hash for terms in spellings}
    assert len(hashes) == 1


# --- The cached input hash ----------------------------------------------------------------


def two_bid_problem() -> Problem:
    """A fresh parse of a small problem (each call a new object, nothing cached)."""
    return parse_problem(
        problem_data([bid("B1", "F1"), bid("B2", "F2", cost="8.5")], factories=TWO_FACTORIES)
    )


def test_reading_the_input_hash_leaves_equality_and_dumps_unchanged() -> None:
    """The hash is cached on the object, but it is not a field: it must not leak out."""
    problem = two_bid_problem()
    first = problem.input_hash
    assert problem.input_hash is first  # computed once
    assert first.startswith("sha256:")
    fresh = two_bid_problem()
    assert problem == fresh
    assert fresh == problem
    assert hash(problem) == hash(fresh)
    assert "input_hash" not in problem.model_dump()
    assert "input_hash" not in problem.model_dump_json()
    assert fresh.input_hash == first


Change = Callable[[Problem], dict[str, Any]]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda p: {"round": p.round.model_copy(update={"margin_floor": Decimal("0.2")})},
            id="round",
        ),
        pytest.param(lambda p: {"bids": p.bids[:1]}, id="bids"),
        pytest.param(
            lambda p: {"factories": (p.factories[0].model_copy(update={"is_new": True}),)},
            id="factories",
        ),
    ],
)
def test_a_copy_with_a_changed_field_has_its_own_hash(change: Change) -> None:
    """A copy must not inherit the cached hash of the problem it was copied from."""
    problem = two_bid_problem()
    original = problem.input_hash
    changed = problem.model_copy(update=change(problem))
    assert changed.input_hash != original
    rehashed = Problem.model_validate(changed.model_dump())
    assert changed.input_hash == rehashed.input_hash
    assert problem.input_hash == original


def test_a_plain_copy_keeps_the_same_hash() -> None:
    """An unchanged copy is the same problem and hashes the same."""
    problem = two_bid_problem()
    original = problem.input_hash
    copied = problem.model_copy()
    assert copied == problem
    assert copied.input_hash == original


# --- Reading JSON text ----------------------------------------------------------------------

NUMBER_SPELLINGS = st.sampled_from(
    [
        *("0", "-0", "7", "-12", "99999999999999999999999", "1.50", "-0.0", "1e5", "1E+2"),
        *("2.5e-3", "0.1000000000000000055511151231257827", "1.5e99", "1e-999", "14.40"),
    ]
)
JSON_SCALARS = st.one_of(
    NUMBER_SPELLINGS,
    st.sampled_from(["true", "false", "null"]),
    st.text(max_size=8).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.text(max_size=8).map(json.dumps),  # non-ASCII as \u escapes
)


def _json_object(members: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json.dumps(key)}: {value}" for key, value in members) + "}"


JSON_TEXTS = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda values: "[" + ",".join(values) + "]"),
        # keys may repeat: both readers keep the last value
        st.lists(st.tuples(st.sampled_from(["id", "a", "é", ""]), inner), max_size=4).map(
            _json_object
        ),
    ),
    max_leaves=12,
)


def _typed(value: Any) -> Any:
    """The value with every scalar's type and spelling and every key order made visible."""
    if isinstance(value, dict):
        return ("dict", [(key, _typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(item) for item in value])
    return (type(value).__name__, str(value))


@settings(max_examples=300, deadline=None)
@given(text=JSON_TEXTS, as_bytes=st.booleans())
@example(text='{"unit_cost": NaN, "capacity": Infinity}', as_bytes=False)
@example(text='\ufeff{"a": 1}', as_bytes=True)
@example(text='["B\\ud800"]', as_bytes=False)
def test_json_text_reads_as_the_json_module_reads_it_numbers_with_fractions_as_decimals(
    text: str, as_bytes: bool
) -> None:
    """_read_json (msgspec, the json module where msgspec refuses) reads what json.loads
    reads, down to each number's type and spelling and each object's key order."""
    data = text.encode() if as_bytes else text
    expected = json.loads(data, parse_float=Decimal, parse_constant=Decimal)
    assert _typed(_read_json(data)) == _typed(expected)


@pytest.mark.parametrize(
    "text", ["{", '{"bids": [}', "", "[1,]", '{"a": 1} x', b'{"round": {"id": "\xff"}}']
)
def test_text_that_no_reader_takes_is_refused_as_not_valid_json(text: str | bytes) -> None:
    issues = refusal(text)
    assert [i.location for i in issues] == ["$"]
    assert issues[0].message.startswith("not valid JSON: ")


@pytest.mark.parametrize(
    "text",
    [
        b'{"round": {"id": "\xed\xa0\x80"}, "factories": [], "items": [], "bids": []}',
        '{"round": {"id": "\ud800"}, "factories": [], "items": [], "bids": []}',
    ],
    ids=["surrogate-as-utf-8", "lone-surrogate-in-str"],
)
def test_a_lone_surrogate_is_refused_at_its_field(text: str | bytes) -> None:
    """msgspec refuses such text outright; the json module reads it, and the field says no."""
    assert [i.location for i in refusal(text)] == ["round.id"]


def test_a_number_beyond_any_decimal_is_refused_not_raised() -> None:
    issues = refusal('{"round": {"id": "R1", "budget": 1e99999999999999999999}}')
    assert [(i.location, i.message) for i in issues] == [("$", "a number is out of any range")]


@pytest.mark.parametrize("field", ["monthly_capacity", "committed_units"])
def test_a_whole_number_of_a_huge_exponent_is_refused_at_once(field: str) -> None:
    """pydantic would spend minutes making 1e999999999999999999 an int before refusing it
    for its range: no number above 10**100 reaches a field (a 30-byte file was a hang)."""
    data = json.dumps(problem_data([bid("B1", "F1")], factories=[factory("F1")]))
    text = data.replace('"monthly_capacity": 1000', f'"{field}": 1e999999999999999999', 1)
    assert "1e999999999999999999" in text
    issues = refusal(text)
    assert [(i.location, i.message) for i in issues] == [
        ("$", "the number 1e999999999999999999 is beyond any field's range")
    ]
    refusal(text.replace("1e999999999999999999", "1e100"))  # refused by the field, in words


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 5_000 + "]" * 5_000])
def test_json_nested_too_deep_is_refused_not_raised(text: str) -> None:
    assert [(i.location, i.message) for i in refusal(text)] == [
        ("$", "not valid JSON: nested too deep")
    ]


# --- Rules between bids: checked by column, worded bid by bid --------------------------------


@st.composite
def bid_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A few bids whose factory, item, id and lot may clash with the lists or each other."""
    ids = st.sampled_from(["B1", "B2", "B3", "B4"])
    rows = draw(
        st.lists(
            st.builds(
                lambda bid_id, factory_id, item_id, lot: row(
                    bid_id, factory_id, item_id, capacity=5, min_lot=lot
                ),
                ids,
                st.sampled_from(["F1", "F2", "F9"]),  # F9 is unknown
                st.sampled_from(["I1", "I2", "I9"]),  # I9 is unknown
                st.sampled_from([0, 5, 6]),  # 6 is above the capacity
            ),
            min_size=1,
            max_size=5,
        )
    )
    return problem_data(rows, factories=TWO_FACTORIES, items=[item("I1"), item("I2")])


@settings(max_examples=200, deadline=None)
@given(data=bid_tables())
def test_bids_are_refused_exactly_when_a_bid_by_bid_reading_finds_a_fault(
    data: dict[str, Any],
) -> None:
    """The column check lets a problem through only where no bid breaks a rule between
    rows; what it refuses is worded bid by bid, every fault named."""
    bids = data["bids"]
    known = [b for b in bids if b["factory"] != "F9" and b["item"] != "I9"]
    pairs = [(b["factory"], b["item"]) for b in bids]
    faulty = (
        len(known) < len(bids)
        or any(b["min_lot"] > b["capacity"] for b in bids)
        or len(set(pairs)) < len(pairs)
        or len({b["id"] for b in bids}) < len(bids)
    )
    if not faulty:
        problem = parse_problem(data)
        assert [b.id for b in problem.bids] == sorted(b["id"] for b in bids)
        return
    issues = refusal(data)
    assert all(i.location.startswith("bids[") for i in issues)
    duplicated = {b["id"] for b in bids if [c["id"] for c in bids].count(b["id"]) > 1}
    named = {i.location for i in issues if i.message.startswith("duplicate id")}
    assert named == {f"bids[{bid_id}].id" for bid_id in duplicated}
