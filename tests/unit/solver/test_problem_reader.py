"""solver/problem_reader.py against the plain path: the fast bid rows against pydantic, the
msgspec reader against the json module.

Bids have two validation paths (`plain_bids` for rows already in exact types, pydantic for
the rest); they must accept the same rows and make the same objects, or the same file
would parse, hash or be refused differently depending on how its numbers are spelled.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from solver.problem import _BIDS, ProblemBid, _sorted_lists, parse_problem
from solver.problem_reader import plain_bids, plain_problem, read_json
from solver.values import CENT, MAX_MONEY, MAX_UNITS
from tests.unit.solver.builders import bid, factory, item, problem_data
from tests.unit.solver.test_problem import one_bid, refusal

TWO_FACTORIES = [factory("F1"), factory("F2")]


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
    """plain_bids is a shortcut for pydantic, never a second opinion.

    Where it answers, pydantic must accept the rows and make the same objects, down to the
    spelling and type of each value and the record of given fields; where pydantic
    refuses, it must leave the rows to pydantic (which words the refusal).
    """
    plain = plain_bids(rows, ProblemBid)
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
    plain = plain_bids(rows, ProblemBid)
    checked = _BIDS.validate_python(given)
    assert plain is not None
    fast, columns = plain
    assert_same_bids(fast, checked)
    assert columns == [[getattr(b, name) for b in checked] for name in ProblemBid.model_fields]
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
    fast = plain_bids(json.loads(numbers, parse_float=Decimal)["bids"], ProblemBid)
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
    """read_json (msgspec, the json module where msgspec refuses) reads what json.loads
    reads, down to each number's type and spelling and each object's key order."""
    data = text.encode() if as_bytes else text
    expected = json.loads(data, parse_float=Decimal, parse_constant=Decimal)
    assert _typed(read_json(data)) == _typed(expected)


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


# --- A problem's text read in one pass (plain_problem) against read_json + the plain path ---


def _json_value(value: Any) -> str | None:
    """A bid row's value as JSON text: a Decimal as a bare number of its own spelling; None
    for what JSON cannot spell (NaN, bytes, an Enum's member as such)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, int | str) and type(value) in (int, str):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: json.dumps escapes it
            return None
        return json.dumps(value)
    if isinstance(value, list) and not value:
        return "[]"
    return None


def _problem_text(rows: list[dict[str, Any]], top: list[tuple[str, str]]) -> str | None:
    members = []
    for row in rows:
        spelled = [(key, _json_value(value)) for key, value in row.items()]
        if any(text is None for _, text in spelled):
            return None
        members.append(_json_object([(k, v) for k, v in spelled if v is not None]))
    data = problem_data([bid("B0", "F1")], factories=TWO_FACTORIES)
    parts = [(key, json.dumps(data[key])) for key in ("round", "factories", "items")]
    return _json_object([*parts, ("bids", "[" + ",".join(members) + "]"), *top])


TOP_LEVEL_EXTRAS: st.SearchStrategy[list[tuple[str, str]]] = st.one_of(
    st.just([]), st.just([("colour", "1")]), st.just([("bids", "[]")]), st.just([("round", "7")])
)


@BID_PATH_SETTINGS
@given(rows=st.lists(bid_rows(), min_size=0, max_size=4), top=TOP_LEVEL_EXTRAS)
@example(rows=[plain_row("B2"), plain_row("B1", min_lot=None)], top=[])
@example(rows=[plain_row("B1"), plain_row("B1", unit_cost=Decimal("2"))], top=[])
@example(rows=[plain_row("B1", unit_cost=Decimal("1E+999"))], top=[])
def test_a_problem_text_read_in_one_pass_makes_what_the_plain_path_makes(
    rows: list[dict[str, Any]], top: list[tuple[str, str]]
) -> None:
    """plain_problem is a shortcut for read_json + _sorted_lists + the bids' validation,
    never a second opinion: where it answers, the plain path makes the same bids (in the
    same order, with the same record of given fields), the same columns and the same
    other fields; where the plain path refuses, it gives None."""
    text = _problem_text(rows, top)
    assume(text is not None)
    assert text is not None
    fast = plain_problem(text, ProblemBid)
    try:
        read = read_json(text)
        raw = _sorted_lists(read)
        checked = _BIDS.validate_python(raw["bids"])
        if not checked or set(read) - {"round", "factories", "items", "bids"}:
            raise ValueError("not a problem's plain shape")
    except (ValueError, TypeError, KeyError):  # UnreadableError, ValidationError...
        assert fast is None, f"read in one pass what the plain path refuses: {text!r}"
        return
    if fast is None:
        return  # valid, but not in the plain shape: the plain path's to make
    others, bids, values = fast
    assert_same_bids(bids, checked)
    assert values == [[getattr(b, name) for b in checked] for name in ProblemBid.model_fields]
    del raw["bids"]
    assert _typed(others) == _typed(raw)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_problem_file_parses_to_the_same_problem_by_either_path(as_bytes: bool) -> None:
    """parse_problem of the text (one pass) and of the data (json + the plain path)."""
    rows = [
        bid("B2", "F2", cost="14.40", ask_price="20.00", min_lot=5, setup_cost="100.5"),
        bid("B1", "F1", cost="9", ask_price="0", setup_cost="0.00"),
        bid("B3", "F1", "I2", cost="0.0", capacity=1, min_lot=None),
    ]
    data = problem_data(rows, factories=TWO_FACTORIES, items=[item("I1"), item("I2")])
    text = _money_as_json_numbers(json.dumps(data))
    assert plain_problem(text, ProblemBid) is not None  # so the two paths really differ
    one_pass = parse_problem(text.encode() if as_bytes else text)
    plain = parse_problem(json.loads(text, parse_float=Decimal))
    assert one_pass == plain
    assert one_pass.bid_columns == plain.bid_columns
    assert one_pass.input_hash == plain.input_hash
    assert [b.model_fields_set for b in one_pass.bids] == [b.model_fields_set for b in plain.bids]
