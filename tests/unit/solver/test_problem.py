"""The exchange format's refusals, the bids' fast path against pydantic, and the input hash.

A problem that breaks the format must be refused by `parse_problem` with issues that name
the list, the offending id and the field (shared/problem-format.md), and nothing solved.
Bids have two validation paths (`_plain_bids` for rows already in exact types, pydantic for
the rest); they must accept the same rows and make the same objects, or the same file
would parse, hash or be refused differently depending on how its numbers are spelled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.problem import (
    Problem,
    ProblemError,
    ProblemIssue,
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
