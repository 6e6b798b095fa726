"""The allocation problem of shared/problem-format.md: parsed, validated, frozen, hashed.

Everything the solver, the verifier and the service exchange goes through `parse_problem`,
so a problem that breaks a rule of the format is refused in one place, with messages that
name the field and the offending id, before anything is built or solved.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from itertools import repeat
from operator import attrgetter, gt, itemgetter
from typing import Annotated, Any, NamedTuple, NotRequired, TypedDict

import msgspec
import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

from solver.trusted import put_column, rows_from_columns, trusted_models
from solver.values import (
    CENT,
    MAX_MONEY,
    MAX_UNITS,
    PROBABILITY_TOLERANCE,
    Budget,
    FactoryShare,
    Fraction,
    Id,
    Money,
    OptionalMoney,
    OptionalPositiveMoney,
    OptionalShare,
    OptionalUnits,
    PositiveUnits,
    Share,
    Units,
)

IntArray = npt.NDArray[np.int64]

DEFAULT_CURRENCY = "CNY"
DEFAULT_MARGIN_FLOOR = Decimal("0.10")
DEFAULT_CAPACITY_SHARE = Decimal("0.20")
DEFAULT_MIP_GAP = Decimal("0.001")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundTerms(_Frozen):
    """The round's parameters (SPEC 2): margin floor m, capacity share alpha, budget, gap."""

    id: Id
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = DEFAULT_CURRENCY
    margin_floor: Annotated[Fraction, Field(ge=0, lt=1)] = DEFAULT_MARGIN_FLOOR
    capacity_share: Share = DEFAULT_CAPACITY_SHARE
    budget: Budget = None
    mip_gap: Annotated[Fraction, Field(ge=0, lt=1)] = DEFAULT_MIP_GAP


class ProblemFactory(_Frozen):
    """A factory as the round sees it: capacity, newcomer terms, units already committed."""

    id: Id
    monthly_capacity: PositiveUnits
    is_new: bool = False
    guaranteed_units: OptionalUnits = 0
    capacity_share: FactoryShare = None
    committed_units: OptionalUnits = 0


class ProblemScenario(_Frozen):
    """One demand scenario of an item: units sold with this probability."""

    units: Units
    probability: Share


class ProblemItem(_Frozen):
    """A hot-selling item in the round, with its prices, demand scenarios and round terms."""

    id: Id
    retail_price: Money
    handling_cost: Money
    salvage_value: Money
    demand: Annotated[tuple[ProblemScenario, ...], Field(min_length=1, max_length=1000)]
    min_fill: OptionalUnits = 0
    max_factory_share: OptionalShare = None


class ProblemBid(_Frozen):
    """A factory's sealed bid on one item: unit cost, capacity, and optional terms."""

    id: Id
    factory: Id
    item: Id
    unit_cost: Money
    capacity: PositiveUnits
    ask_price: OptionalPositiveMoney = None
    min_lot: OptionalUnits = 0
    setup_cost: OptionalMoney = Decimal(0)


class BidColumns(NamedTuple):
    """The bids' fields a column each, in bid order: what checks and the model read in bulk.

    A column of 100,000 values read from the objects costs a few milliseconds; the parser
    already holds them (Problem.bid_columns).
    """

    id: list[str]
    factory: list[str]
    item: list[str]
    unit_cost: list[Decimal]
    capacity: list[int]
    ask_price: list[Decimal | None]
    min_lot: list[int]
    setup_cost: list[Decimal]


@dataclass(frozen=True, eq=False)
class BidPositions:
    """Each bid's factory and item by position (Problem.bid_positions).

    Compared by identity: pydantic compares two problems' attribute dicts, cache included,
    before their fields, and arrays have no single truth value.
    """

    factory: IntArray
    item: IntArray


class Problem(_Frozen):
    """A closed round ready to solve. Lists are in canonical order: sorted by id."""

    round: RoundTerms
    factories: tuple[ProblemFactory, ...]
    items: tuple[ProblemItem, ...]
    bids: tuple[ProblemBid, ...]

    def factory_share(self, factory: ProblemFactory) -> Decimal:
        """The capacity share alpha_f that applies to this factory."""
        return (
            factory.capacity_share
            if factory.capacity_share is not None
            else self.round.capacity_share
        )

    @property
    def has_binaries(self) -> bool:
        """True where the model needs binaries (a minimum lot or a setup cost): a MILP."""
        columns = self.bid_columns  # lots and setup costs are never negative: non-zero is positive
        return any(columns.min_lot) or any(columns.setup_cost)

    @cached_property
    def bid_columns(self) -> BidColumns:
        """The bids' fields by column (the parser fills this in with the columns it read)."""
        bids = self.bids
        return BidColumns(*(list(map(attrgetter(name), bids)) for name in BidColumns._fields))

    @cached_property
    def bid_positions(self) -> BidPositions:
        """Each bid's factory and item as positions in `factories` and `items`.

        Only for a problem check_problem accepts (every bid's factory and item known).
        """
        columns = self.bid_columns
        factory_pos = {f.id: k for k, f in enumerate(self.factories)}
        item_pos = {item.id: k for k, item in enumerate(self.items)}
        n = len(self.bids)
        factory = np.fromiter(map(factory_pos.__getitem__, columns.factory), np.int64, n)
        item = np.fromiter(map(item_pos.__getitem__, columns.item), np.int64, n)
        factory.setflags(write=False)  # shared by every model built from this problem
        item.setflags(write=False)
        return BidPositions(factory=factory, item=item)

    @cached_property
    def input_hash(self) -> str:
        """sha256 of the canonical problem: same problem, same hash, whatever its spelling.

        Computed once (the problem is frozen; solve() computes it on another thread while
        the simplex runs). pydantic leaves a cached property out of equality and dumps.
        """
        # The same bytes as json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        # (a test holds them equal), written row by row from templates with the keys already
        # in sorted order: at 100,000 bids the generic encoder took most of a second.
        sha = hashlib.sha256()
        for part in _canonical_text(self):
            sha.update(part.encode("utf-8"))
        return "sha256:" + sha.hexdigest()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Problem:
        """A copy, without what is cached (the input hash, the bids' columns): an update
        would make it wrong."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _CACHED:
            copied.__dict__.pop(name, None)
        return copied

    def canonical(self) -> dict[str, Any]:
        """The problem as plain JSON data, every number normalised, every list in id order."""
        data = self.model_dump(mode="python")
        data["items"] = [
            {**item, "demand": sorted(item["demand"], key=lambda s: (s["units"], s["probability"]))}
            for item in data["items"]
        ]
        return _normalise(data)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The problem in the exchange format, canonical and stable (numbers as strings)."""
        return json.dumps(self.canonical(), sort_keys=True, indent=2) + "\n"


_CACHED = ("input_hash", "bid_columns", "bid_positions")


def _canonical_text(problem: Problem) -> Iterator[str]:
    """The canonical problem as compact JSON with sorted keys, in pieces (see input_hash)."""
    text = _json_text
    r = problem.round
    # Each distinct number is spelled once: prices repeat across bids.
    bids = problem.bids
    num = _number_texts(
        [b.unit_cost for b in bids] + [b.setup_cost for b in bids] + [b.ask_price for b in bids]
    )
    yield '{"bids":['
    # In pieces of a few thousand bids: the text of them all would be tens of megabytes,
    # made while the solver holds its model (the hash runs during the simplex).
    for start in range(0, len(bids), _HASH_PIECE):
        yield ("," if start else "") + ",".join(
            f'{{"ask_price":{num[b.ask_price]},"capacity":{b.capacity},'
            f'"factory":{text(b.factory)},"id":{text(b.id)},"item":{text(b.item)},'
            f'"min_lot":{b.min_lot},"setup_cost":{num[b.setup_cost]},'
            f'"unit_cost":{num[b.unit_cost]}}}'
            for b in bids[start : start + _HASH_PIECE]
        )
    num = _number_texts(
        [f.capacity_share for f in problem.factories]
        + [s.probability for item in problem.items for s in item.demand]
        + [item.max_factory_share for item in problem.items]
        + [m for item in problem.items for m in (item.retail_price, item.handling_cost)]
        + [item.salvage_value for item in problem.items]
        + [r.budget, r.capacity_share, r.margin_floor, r.mip_gap]
    )
    yield '],"factories":['
    yield ",".join(
        f'{{"capacity_share":{num[f.capacity_share]},'
        f'"committed_units":{f.committed_units},"guaranteed_units":{f.guaranteed_units},'
        f'"id":{text(f.id)},"is_new":{"true" if f.is_new else "false"},'
        f'"monthly_capacity":{f.monthly_capacity}}}'
        for f in problem.factories
    )
    yield '],"items":['
    yield ",".join(
        '{"demand":['
        + ",".join(
            f'{{"probability":{num[s.probability]},"units":{s.units}}}'
            for s in sorted(item.demand, key=lambda s: (s.units, s.probability))
        )
        + f'],"handling_cost":{num[item.handling_cost]},"id":{text(item.id)},'
        f'"max_factory_share":{num[item.max_factory_share]},'
        f'"min_fill":{item.min_fill},"retail_price":{num[item.retail_price]},'
        f'"salvage_value":{num[item.salvage_value]}}}'
        for item in problem.items
    )
    yield (
        f'],"round":{{"budget":{num[r.budget]},'
        f'"capacity_share":{num[r.capacity_share]},"currency":{text(r.currency)},'
        f'"id":{text(r.id)},"margin_floor":{num[r.margin_floor]},'
        f'"mip_gap":{num[r.mip_gap]}}}}}'
    )


_HASH_PIECE = 4096
_json_text: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""A str as json.dumps writes it by default (ASCII, escaped), in C."""


def _number_texts(values: Iterable[Decimal | None]) -> dict[Decimal | None, str]:
    """Each distinct value's canonical JSON: format_decimal as a string, or null."""
    texts: dict[Decimal | None, str] = {None: "null"}
    for value in set(values):
        if value is not None:
            texts[value] = _json_text(format_decimal(value))
    return texts


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return format_decimal(value)
    raise TypeError(f"unexpected value in a problem: {value!r}")


def format_decimal(value: Decimal) -> str:
    """The shortest plain spelling of a number: 1, 1.0 and "1.00" all give "1"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class ProblemIssue:
    """One reason a problem is refused: where (field and id) and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ProblemError(ValueError):
    """A problem file that breaks the exchange format; nothing may be solved from it."""

    def __init__(self, issues: Sequence[ProblemIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("invalid problem:\n" + "\n".join(f"  {i}" for i in self.issues))


_LISTS = ("factories", "items", "bids")


def parse_problem(data: Mapping[str, Any] | str | bytes) -> Problem:
    """Validate a problem (JSON text or parsed data) and return it frozen, lists sorted by id.

    Raises ProblemError listing every field at fault, each named by list, id and field.
    """
    if isinstance(data, str | bytes):
        data = _read_json(data)
    if not isinstance(data, Mapping):
        raise ProblemError([ProblemIssue("$", "a problem is a JSON object")])
    raw = _sorted_lists(data)
    del data  # parsed here, the rows now live in `raw` only, and go as they are validated
    rows = raw.get("bids")
    bid_errors: list[ErrorDetails] = []
    columns: BidColumns | None = None
    if isinstance(rows, list) and rows and _all_mappings(rows):
        raw["bids"], bid_errors, columns = _validate_bids(rows)
    try:
        problem = Problem.model_validate(raw)
        errors: list[ErrorDetails] = []
    except ValidationError as exc:
        errors = exc.errors()
    if errors or bid_errors:
        # the rows at fault are still in `rows` (already in id order)
        raise ProblemError(_issues_from_validation(errors + bid_errors, {**raw, "bids": rows}))
    if columns is not None:  # read already: Problem.bid_columns need not read them again
        problem.__dict__["bid_columns"] = columns
    issues = check_problem(problem)
    if issues:
        raise ProblemError(issues)
    share_fields_sets(problem.factories)
    share_fields_sets(problem.items)
    share_fields_sets([s for item in problem.items for s in item.demand])
    return problem


def _read_json(text: str | bytes) -> Any:
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
        raise ProblemError([ProblemIssue("$", str(exc))]) from exc
    except (ValueError, ArithmeticError, RecursionError):  # msgspec.DecodeError, UnicodeError
        pass
    try:
        return json.loads(text, parse_float=spellings.__getitem__, parse_constant=Decimal)
    except ValueError as exc:
        raise ProblemError([ProblemIssue("$", f"not valid JSON: {exc}")]) from exc
    except NumberOutOfRangeError as exc:
        raise ProblemError([ProblemIssue("$", str(exc))]) from exc
    except ArithmeticError as exc:  # 1e99999999999999999999: beyond any Decimal
        raise ProblemError([ProblemIssue("$", "a number is out of any range")]) from exc
    except RecursionError as exc:
        raise ProblemError([ProblemIssue("$", "not valid JSON: nested too deep")]) from exc


_BIDS = TypeAdapter(tuple[ProblemBid, ...])
_CHUNK = 4096
_BID_FIELDS = tuple(ProblemBid.model_fields)


def _validate_bids(
    rows: list[Any],
) -> tuple[tuple[ProblemBid, ...], list[ErrorDetails], BidColumns | None]:
    """Bid objects for the rows, or the errors (located as in the problem) if any.

    Plain rows are made directly (_plain_bids), with their columns. Others go through
    pydantic in chunks,
    each chunk's rows let go (replaced by None in `rows`, the caller's own sorted list)
    once made, as pydantic's objects are larger; rows at fault are kept, to name them.
    """
    plain = _plain_bids(rows)
    if plain is not None:
        return plain[0], [], plain[1]
    bids: list[ProblemBid] = []
    errors: list[ErrorDetails] = []
    for start in range(0, len(rows), _CHUNK):
        stop = min(start + _CHUNK, len(rows))
        try:
            chunk = _BIDS.validate_python(rows[start:stop])
        except ValidationError as exc:
            for error in exc.errors():
                index, *rest = error["loc"]
                assert isinstance(index, int)
                error["loc"] = ("bids", start + index, *rest)
                errors.append(error)
            continue
        share_fields_sets(chunk)
        bids.extend(chunk)
        rows[start:stop] = [None] * (stop - start)
    return tuple(bids), errors, None


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


def _plain_bids(rows: list[Any]) -> tuple[tuple[ProblemBid, ...], BidColumns] | None:
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
    if set(map(type, rows)) != {dict} or not set().union(*rows).issubset(_BID_FIELDS):
        return None  # msgspec would drop unknown fields; pydantic refuses them
    try:
        checked: list[dict[str, Any]] = msgspec.convert(rows, _PLAIN_ROWS)
    except msgspec.ValidationError:
        return None
    get = dict.get
    columns: list[list[Any]] = [list(map(get, checked, repeat(name))) for name in _BID_FIELDS]
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
    fields_sets = _fields_sets(checked)
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
    values = [ids, factories, items, costs, capacities, asks, lots, setups]
    if set(map(tuple, checked)) == {_BID_FIELDS}:
        # Every row has every field in field order (the order of problem-format.md's
        # example, which `supplybid generate` writes too): msgspec's copies become the
        # bids' attribute dicts, with the values put in their form, instead of a second
        # copy being made (a tenth of a second at 100,000 bids). A stored round's
        # snapshot has its keys sorted, and is copied.
        for field, given, made in zip(_BID_FIELDS, columns, values, strict=True):
            if made is not given:
                put_column(checked, field, made)
        attributes = checked
    else:
        attributes = rows_from_columns(_BID_FIELDS, values)
    return tuple(trusted_models(ProblemBid, attributes, fields_sets)), BidColumns(*values)


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


def _sorted_lists(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in _LISTS:
        rows = out.get(key)
        if not (isinstance(rows, list) and _all_mappings(rows)):
            continue
        ids = map(dict.get, rows, repeat("id")) if set(map(type, rows)) == {dict} else None
        if ids is not None and set(map(type, ids)) == {str}:
            out[key] = sorted(rows, key=_BY_ID)  # the same order, keyed in C
        else:
            out[key] = sorted(rows, key=lambda r: str(r.get("id", "")))
    return out


_BY_ID = itemgetter("id")


def _all_mappings(rows: list[Any]) -> bool:
    """Every row is a JSON object: by type first (the parser makes dicts), as an isinstance
    of the Mapping ABC costs 30 ms per 100,000 rows, and the bids are checked twice."""
    return set(map(type, rows)) == {dict} or all(isinstance(r, Mapping) for r in rows)


def _issues_from_validation(
    errors: Sequence[ErrorDetails], raw: Mapping[str, Any]
) -> list[ProblemIssue]:
    sorted_raw = _sorted_lists(raw)
    issues = []
    for error in errors:
        loc = list(error["loc"])
        parts: list[str] = []
        i = 0
        while i < len(loc):
            part = loc[i]
            if isinstance(part, str) and part in _LISTS and i + 1 < len(loc):
                index = loc[i + 1]
                rows = sorted_raw.get(part)
                row_id = None
                if isinstance(index, int) and isinstance(rows, list) and index < len(rows):
                    row = rows[index]
                    row_id = row.get("id") if isinstance(row, Mapping) else None
                parts.append(f"{part}[{row_id if row_id is not None else index}]")
                i += 2
                continue
            parts.append(f"[{part}]" if isinstance(part, int) else f".{part}" if parts else part)
            i += 1
        location = "".join(parts) or "$"
        issues.append(ProblemIssue(location, error["msg"]))
    return issues


def check_problem(problem: Problem) -> list[ProblemIssue]:
    """The rules of the format that relate fields and lists to one another."""
    issues: list[ProblemIssue] = []
    issues += _duplicate_ids("factories", [f.id for f in problem.factories])
    issues += _duplicate_ids("items", [i.id for i in problem.items])
    issues += _duplicate_ids("bids", problem.bid_columns.id)
    factory_ids = {f.id for f in problem.factories}
    item_ids = {i.id for i in problem.items}
    for item in problem.items:
        where = f"items[{item.id}]"
        if item.handling_cost > item.retail_price:
            issues.append(ProblemIssue(f"{where}.handling_cost", "is above the retail price"))
        elif item.salvage_value > item.retail_price - item.handling_cost:
            issues.append(
                ProblemIssue(
                    f"{where}.salvage_value",
                    f"must be at most retail_price - handling_cost "
                    f"({item.retail_price - item.handling_cost}), got {item.salvage_value}",
                )
            )
        total = sum((s.probability for s in item.demand), Decimal(0))
        if abs(total - 1) > PROBABILITY_TOLERANCE:
            issues.append(ProblemIssue(f"{where}.demand", f"probabilities sum to {total}, not 1"))
    for factory in problem.factories:
        if factory.committed_units > factory.monthly_capacity:
            issues.append(
                ProblemIssue(
                    f"factories[{factory.id}].committed_units",
                    "exceeds the factory's monthly capacity",
                )
            )
    if not _bids_plainly_consistent(problem, factory_ids, item_ids):
        issues += _bid_issues(problem, factory_ids, item_ids)
    return issues


def _duplicate_ids(key: str, ids: list[str]) -> list[ProblemIssue]:
    if len(set(ids)) == len(ids):
        return []
    return [
        ProblemIssue(f"{key}[{row_id}].id", f"duplicate id ({count} times)")
        for row_id, count in Counter(ids).items()
        if count > 1
    ]


def _bids_plainly_consistent(problem: Problem, factory_ids: set[str], item_ids: set[str]) -> bool:
    """True when no bid breaks a rule between bids and lists (duplicate ids aside: checked
    before): checked by column, with sets and arrays (a tenth of a second at 100,000 bids
    one bid at a time); else _bid_issues names them."""
    columns = problem.bid_columns
    if any(map(gt, columns.min_lot, columns.capacity)):
        return False
    if not (set(columns.factory) <= factory_ids and set(columns.item) <= item_ids):
        return False
    positions = problem.bid_positions  # every factory and item known: positions exist
    pairs = np.sort(positions.item * max(len(problem.factories), 1) + positions.factory)
    return bool((pairs[1:] != pairs[:-1]).all())


def _bid_issues(problem: Problem, factory_ids: set[str], item_ids: set[str]) -> list[ProblemIssue]:
    """Each bid's faults against the other lists and bids, worded one bid at a time."""
    issues: list[ProblemIssue] = []
    seen_pairs: dict[tuple[str, str], str] = {}
    for bid in problem.bids:
        if bid.factory not in factory_ids:
            issues.append(
                ProblemIssue(f"bids[{bid.id}].factory", f"unknown factory {bid.factory!r}")
            )
        if bid.item not in item_ids:
            issues.append(ProblemIssue(f"bids[{bid.id}].item", f"unknown item {bid.item!r}"))
        if bid.min_lot > bid.capacity:
            issues.append(ProblemIssue(f"bids[{bid.id}].min_lot", "exceeds the bid's capacity"))
        pair = (bid.factory, bid.item)
        if pair in seen_pairs:
            issues.append(
                ProblemIssue(
                    f"bids[{bid.id}].item",
                    f"second bid of factory {bid.factory!r} on item {bid.item!r} "
                    f"(first: {seen_pairs[pair]})",
                )
            )
        else:
            seen_pairs[pair] = bid.id
    return issues
