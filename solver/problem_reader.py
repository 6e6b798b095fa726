"""The fast reader: JSON text in C (msgspec), and bid rows of the plain shape made without
pydantic.

At 100,000 bids pydantic's validation took more time than the simplex. Both paths here
are shortcuts, never a second opinion: what they take they make exactly as the plain
path would (json.loads; pydantic's ProblemBid), and what they do not take goes to the plain
path (tests/unit/solver/test_problem_reader.py holds them equal on random rows and text).
The schema (solver/problem.py) calls them; they do not import it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import repeat
from operator import attrgetter
from typing import Annotated, Any, NotRequired, TypedDict

import msgspec
from pydantic import BaseModel

from solver.trusted import put_column, rows_from_columns, trusted_models
from solver.values import CENT, MAX_MONEY, MAX_UNITS


class UnreadableError(ValueError):
    """Text that is not a problem's JSON: the message says why (the schema words it)."""


def read_json(text: str | bytes) -> Any:
    """JSON text as Python data, every number with a fraction or exponent as a Decimal.

    msgspec reads it in C, in half the time of the json module. Text msgspec refuses
    (malformed, not UTF-8, NaN and Infinity, which JSON has not but the json module reads,
    a lone surrogate) goes to the json module, so that a NaN or a surrogate is refused at
    its field and any other fault is worded as before. Either way one Decimal is made per
    distinct spelling: prices repeat across bids, and a Decimal is immutable, so the bids
    share them.
    """
    spellings = _DecimalBySpelling()
    try:
        return msgspec.json.Decoder(float_hook=spellings.__getitem__).decode(text)
    except NumberOutOfRangeError as exc:
        raise UnreadableError(str(exc)) from exc
    except (ValueError, ArithmeticError, RecursionError):  # msgspec.DecodeError, UnicodeError
        pass
    try:
        return json.loads(text, parse_float=spellings.__getitem__, parse_constant=Decimal)
    except ValueError as exc:
        raise UnreadableError(f"not valid JSON: {exc}") from exc
    except NumberOutOfRangeError as exc:
        raise UnreadableError(str(exc)) from exc
    except ArithmeticError as exc:  # 1e99999999999999999999: beyond any Decimal
        raise UnreadableError("a number is out of any range") from exc
    except RecursionError as exc:
        raise UnreadableError("not valid JSON: nested too deep") from exc


_RowId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_RowUnits = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNITS)]


class _PlainBidRow(TypedDict):
    """A bid row in the plain shape, as msgspec checks it in C (_plain_bids).

    The same types and ranges as Bid, strictly: ids as str, units as int (not bool, not
    1.0). Money is left to _plain_money, which checks each distinct amount once.
    """

    id: _RowId
    factory: _RowId
    item: _RowId
    unit_cost: Any
    capacity: Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)]
    ask_price: NotRequired[Any]
    min_lot: NotRequired[_RowUnits | None]
    setup_cost: NotRequired[Any]


_PLAIN_ROWS = list[_PlainBidRow]
_MONEY_TYPES = {Decimal, int}
_OPTIONAL_MONEY_TYPES = {Decimal, int, type(None)}


def plain_bids[M: BaseModel](
    rows: list[Any], bid_type: type[M]
) -> tuple[tuple[M, ...], list[list[Any]]] | None:
    """The Bids of rows in the plain shape problem files have, made without pydantic.

    At 100,000 bids pydantic's validation took more time than the simplex. This takes
    only rows whose every value already has its field's exact type and range (ids as
    ASCII str, money as Decimal or int in whole cents, units as int), checked in C by
    msgspec (money by column, each distinct amount once), and makes the objects pydantic
    would make (a property test holds them equal). When any row has another shape, valid
    or not, it returns None and pydantic validates them all (and words any refusal).
    The rows given are not changed: msgspec's checked copies become the bids' dicts.
    The values by column come with the bids.
    """
    fields = tuple(bid_type.model_fields)
    if set(map(type, rows)) != {dict} or not set().union(*rows).issubset(fields):
        return None  # msgspec would drop unknown fields; pydantic refuses them
    try:
        checked: list[dict[str, Any]] = msgspec.convert(rows, _PLAIN_ROWS)
    except msgspec.ValidationError:
        return None
    get = dict.get
    columns: list[list[Any]] = [list(map(get, checked, repeat(name))) for name in fields]
    values = _plain_values(columns)
    if values is None:
        return None
    fields_sets = _fields_sets(checked)
    if set(map(tuple, checked)) == {fields}:
        # Every row has every field in field order (the order of problem-format.md's
        # example, which `supplybid generate` writes too): msgspec's copies become the
        # bids' attribute dicts, with the values put in their form, instead of a second
        # copy being made (a tenth of a second at 100,000 bids). A stored round's
        # snapshot has its keys sorted, and is copied.
        for field, given, made in zip(fields, columns, values, strict=True):
            if made is not given:
                put_column(checked, field, made)
        attributes = checked
    else:
        attributes = rows_from_columns(fields, values)
    return tuple(trusted_models(bid_type, attributes, fields_sets)), values


def _plain_values(columns: list[list[Any]]) -> list[list[Any]] | None:
    """The bids' columns (ProblemBid's fields, in order; None where a row gives none) with
    each value as pydantic makes it, or None where a value is not of the plain shape."""
    ids, factories, items, costs, capacities, asks, lots, setups = columns
    # other text (a lone surrogate...) is left to pydantic, which may refuse it, and a str
    # subclass (an Enum's member), which pydantic makes a plain str
    for texts in (ids, factories, items):
        if set(map(type, texts)) != {str} or not all(map(str.isascii, texts)):
            return None
    try:
        plain_money = (
            _plain_money(costs, _MONEY_TYPES)
            and _plain_money(asks, _OPTIONAL_MONEY_TYPES)
            and _plain_money(setups, _OPTIONAL_MONEY_TYPES)
        )
    except TypeError:  # a value that cannot be hashed (a signalling NaN): pydantic says so
        return None
    if not plain_money:
        return None
    # each value as pydantic makes it: money as Decimal, no ask as None, no lot as 0, no
    # setup cost as 0 (a column already in that form is kept as it is)
    if int in set(map(type, costs)):
        costs = [as_decimal(cost) for cost in costs]
    if set(map(type, asks)) != {type(None)}:
        asks = [as_decimal(ask) if ask else None for ask in asks]
    if type(None) in set(map(type, lots)):
        lots = [lot or 0 for lot in lots]
    if set(map(type, setups)) != {Decimal}:
        zero = Decimal(0)
        setups = [zero if setup is None else as_decimal(setup) for setup in setups]
    return [ids, factories, items, costs, capacities, asks, lots, setups]


class _BidText(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A bid row of a problem's text, checked in C while it is read (plain_problem): the
    same types and ranges as _PlainBidRow. UNSET: not given."""

    id: _RowId
    factory: _RowId
    item: _RowId
    unit_cost: Any
    capacity: Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)]
    ask_price: Any = msgspec.UNSET
    min_lot: _RowUnits | msgspec.UnsetType | None = msgspec.UNSET
    setup_cost: Any = msgspec.UNSET


class _ProblemText(msgspec.Struct, forbid_unknown_fields=True):
    """A problem's text with its bids read as _BidText; the rest as read_json reads it."""

    bids: list[_BidText]
    round: Any = msgspec.UNSET
    factories: Any = msgspec.UNSET
    items: Any = msgspec.UNSET


_OPTIONAL_BID_FIELDS = ("ask_price", "min_lot", "setup_cost")
_BY_ID = attrgetter("id")


def plain_problem[M: BaseModel](
    text: str | bytes, bid_type: type[M]
) -> tuple[dict[str, Any], tuple[M, ...], list[list[Any]]] | None:
    """A problem's text read with its bids made as plain_bids makes them, in one pass.

    read_json then plain_bids make a dict per bid row and then a checked copy of it (at
    100,000 bids, 60 MB of rows that are thrown away, and the holes they leave in memory
    stay for the whole solve). Here msgspec checks each bid row as it reads it, into a
    small record; the bids' dicts are made once, from columns. Anything else (a row of
    another shape, text msgspec refuses, no bids) gives None: the plain path then reads
    the text and words any refusal (tests/unit/solver/test_problem_reader.py holds the two
    equal). Returns the other fields as read_json reads them, the bids in id order (the
    order _sorted_lists gives), and their values by column.
    """
    spellings = _DecimalBySpelling()
    try:
        read = msgspec.json.Decoder(_ProblemText, float_hook=spellings.__getitem__).decode(text)
    except (ValueError, ArithmeticError, RecursionError):  # msgspec's errors, the number's
        return None
    rows = read.bids
    if not rows:
        return None
    rows.sort(key=_BY_ID)  # stable: equal ids keep their order, as in _sorted_lists
    fields = tuple(bid_type.model_fields)
    if fields != _BidText.__struct_fields__:  # pragma: no cover - a schema change
        raise RuntimeError("_BidText's fields out of step with the bid type's")
    columns = [list(map(attrgetter(name), rows)) for name in fields]
    del rows
    for name in ("factory", "item"):  # one string per factory and per item, not per bid
        shared_text: dict[str, str] = {}
        k = fields.index(name)
        columns[k] = list(map(shared_text.setdefault, columns[k], columns[k]))
    unset = msgspec.UNSET
    given: list[list[bool] | None] = []  # per optional field: the rows giving it (None: all)
    for name in _OPTIONAL_BID_FIELDS:
        column = columns[fields.index(name)]
        if msgspec.UnsetType in set(map(type, column)):
            given.append([value is not unset for value in column])
            columns[fields.index(name)] = [None if v is unset else v for v in column]
        else:
            given.append(None)
    values = _plain_values(columns)
    if values is None:
        return None
    n = len(values[0])
    if all(flags is None for flags in given):
        fields_sets: Iterable[set[str]] = repeat(set(fields), n)
    else:
        shared: dict[tuple[bool, ...], set[str]] = {}
        flags = zip(*(repeat(True, n) if f is None else f for f in given), strict=True)
        required = [name for name in fields if name not in _OPTIONAL_BID_FIELDS]
        fields_sets = [
            shared.get(key)
            or shared.setdefault(
                key,
                set(required) | {f for f, g in zip(_OPTIONAL_BID_FIELDS, key, strict=True) if g},
            )
            for key in flags
        ]
    bids = tuple(trusted_models(bid_type, _bid_rows(values), fields_sets))
    others = {name: getattr(read, name) for name in ("round", "factories", "items")}
    return {k: v for k, v in others.items() if v is not unset}, bids, values


def _bid_rows(values: list[list[Any]]) -> list[dict[str, Any]]:
    """One dict per bid, {field: value} in _BidText's (the bid type's) field order: written
    out, as a dict display makes a row twice as fast as dict(zip(fields, row))."""
    return [
        {
            "id": bid_id,
            "factory": factory,
            "item": item,
            "unit_cost": cost,
            "capacity": capacity,
            "ask_price": ask,
            "min_lot": lot,
            "setup_cost": setup,
        }
        for bid_id, factory, item, cost, capacity, ask, lot, setup in zip(*values, strict=True)
    ]


def _plain_money(amounts: list[Any], types: set[type]) -> bool:
    """Every amount of a column of the given types (by type: True == 1) and, for each
    distinct one, finite, within range and in whole cents."""
    if not set(map(type, amounts)) <= types:
        return False
    for amount in set(amounts) - {None}:
        if type(amount) is int:
            if not 0 <= amount <= MAX_MONEY:
                return False
        elif not _whole_cents_in_range(amount):
            return False
    return True


def _whole_cents_in_range(value: Decimal) -> bool:
    return value.is_finite() and 0 <= value <= MAX_MONEY and value.quantize(CENT) == value


def as_decimal(value: Decimal | int) -> Decimal:
    """An amount as Decimal: a Decimal as it is, an int converted exactly."""
    return value if type(value) is Decimal else Decimal(value)


def _fields_sets(rows: list[dict[str, Any]]) -> Iterable[set[str]]:
    """pydantic's record of the fields given, per row: one set shared by rows of the same
    keys (and, as usual, one set for all without asking each row when all have the same)."""
    keys = set().union(*rows)
    if set(map(len, rows)) == {len(keys)}:
        return repeat(keys, len(rows))
    shared: dict[frozenset[str], set[str]] = {}
    return [shared.setdefault(frozenset(row), set(row)) for row in rows]


class _DecimalBySpelling(dict[str, Decimal]):
    def __missing__(self, text: str) -> Decimal:
        value = self[text] = Decimal(text)
        if value.is_finite() and value and value.adjusted() > MAX_MAGNITUDE:
            raise NumberOutOfRangeError(text)
        return value


MAX_MAGNITUDE = 100
"""Largest power of ten a number of a problem file may have: every field stops at 10**15
(a budget), and pydantic would spend minutes making 1e999999999999999999 an int before
its range check refuses it."""


class NumberOutOfRangeError(ArithmeticError):
    """A number in a problem file beyond MAX_MAGNITUDE: refused before any field sees it."""

    def __init__(self, text: str) -> None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        super().__init__(f"the number {shown} is beyond any field's range")


def share_fields_sets(rows: Sequence[BaseModel]) -> None:
    """Let rows whose fields-set (pydantic's record of given fields) is equal share one.

    pydantic keeps a set of the given field names in every object: at 700 bytes a bid, the
    largest part of a parsed problem. Frozen objects never change theirs (a copy copies
    it), so equal sets can be one object.
    """
    shared: dict[frozenset[str], set[str]] = {}
    for row in rows:
        fields = row.__pydantic_fields_set__
        object.__setattr__(
            row, "__pydantic_fields_set__", shared.setdefault(frozenset(fields), fields)
        )
