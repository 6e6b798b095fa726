"""The allocation problem of shared/problem-format.md: parsed, validated, frozen, hashed.

Everything the solver, the verifier and the service exchange goes through `parse_problem`,
so a problem that breaks a rule of the format is refused in one place, with messages that
name the field and the offending id, before anything is built or solved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cached_property
from itertools import repeat
from operator import attrgetter, gt, itemgetter
from typing import Annotated, Any, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

from solver.problem_hash import input_hash
from solver.problem_reader import (
    UnreadableError,
    plain_bids,
    plain_problem,
    read_json,
    share_fields_sets,
)
from solver.problem_text import indented_json
from solver.problem_writer import canonical
from solver.values import (
    PART_PER_BILLION,
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
    Probability,
    Share,
    Units,
    within_nine_places,
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


MAX_SCENARIOS = 10_000
"""Demand scenarios per item at most (README: a round's size)."""


class ProblemScenario(_Frozen):
    """One demand scenario of an item: units sold with this probability."""

    units: Units
    probability: Probability


class ProblemItem(_Frozen):
    """A hot-selling item in the round, with its prices, demand scenarios and round terms."""

    id: Id
    retail_price: Money
    handling_cost: Money
    salvage_value: Money
    demand: Annotated[
        tuple[ProblemScenario, ...],
        Field(min_length=1, max_length=MAX_SCENARIOS),
        AfterValidator(lambda demand: normalise_probabilities(demand)),
    ]
    min_fill: OptionalUnits = 0
    max_factory_share: OptionalShare = None


def normalise_probabilities(
    demand: tuple[ProblemScenario, ...],
) -> tuple[ProblemScenario, ...]:
    """problem-format.md: probabilities brought to 9 places so that they sum to exactly 1.

    Each is floored to 9 places; then 1e-9 is added to those with the largest remainders
    (or taken from those with the smallest, where the sum is above 1) until the sum is 1,
    ties going to the scenario of fewer units, then to the earlier one in the list. The set
    must sum to 1 within 1e-9 as written (else it is left as written, for check_problem to
    refuse), and no probability may become 0.
    """
    written = [s.probability for s in demand]
    total = sum(written, Decimal(0))
    if abs(total - 1) > PROBABILITY_TOLERANCE:
        return demand  # check_problem refuses it, with the other rules between fields
    if total == 1 and all(map(within_nine_places, written)):
        return demand  # already in 9 places and summing to 1: as written
    floors = [p.quantize(PART_PER_BILLION, rounding=ROUND_FLOOR) for p in written]
    remainders = [p - f for p, f in zip(written, floors, strict=True)]
    steps = int((1 - sum(floors, Decimal(0))) / PART_PER_BILLION)
    order = list(range(len(demand)))
    if steps >= 0:  # largest remainder first
        order.sort(key=lambda k: (-remainders[k], demand[k].units, k))
    else:  # smallest remainder first
        order.sort(key=lambda k: (remainders[k], demand[k].units, k))
    step = PART_PER_BILLION if steps >= 0 else -PART_PER_BILLION
    for n in range(abs(steps)):
        floors[order[n % len(order)]] += step
    if any(p <= 0 for p in floors):
        raise ValueError("a probability is below 1e-9: it would become 0 in 9 decimal places")
    return tuple(
        s if s.probability == p else s.model_copy(update={"probability": p})
        for s, p in zip(demand, floors, strict=True)
    )


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
        return input_hash(self)  # solver/problem_hash.py

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Problem:
        """A copy, without what is cached (the input hash, the bids' columns): an update
        would make it wrong."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _CACHED:
            copied.__dict__.pop(name, None)
        return copied

    def canonical(self) -> dict[str, Any]:
        """The problem as plain JSON data, every number normalised, every list in id order."""
        return canonical(self.model_dump(mode="python"))

    def to_json(self) -> str:
        """The problem in the exchange format, canonical and stable (numbers as strings):
        `to_json(self.canonical())`, written from templates (solver/problem_text.py)."""
        return indented_json(self)


_CACHED = ("input_hash", "bid_columns", "bid_positions")


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
    bid_errors: list[ErrorDetails] = []
    columns: BidColumns | None = None
    # text of the plain shape: its bids made as they are read (solver/problem_reader.py)
    plain = plain_problem(data, ProblemBid) if isinstance(data, str | bytes) else None
    if plain is not None:
        others, bids, values = plain
        raw = _sorted_lists(others)
        raw["bids"], columns = bids, BidColumns(*values)
        rows: Any = [bid.__dict__ for bid in bids]  # to name the bids in a refusal
    else:
        if isinstance(data, str | bytes):
            try:
                data = read_json(data)
            except UnreadableError as exc:
                raise ProblemError([ProblemIssue("$", str(exc))]) from exc
        if not isinstance(data, Mapping):
            raise ProblemError([ProblemIssue("$", "a problem is a JSON object")])
        raw = _sorted_lists(data)
        del data  # parsed here, the rows now live in `raw` only, and go as they are validated
        rows = raw.get("bids")
        if isinstance(rows, list) and rows and _all_mappings(rows):
            raw["bids"], bid_errors, columns = _validate_bids(rows)
    try:
        problem = Problem.model_validate(raw)
        errors: list[ErrorDetails] = []
    except ValidationError as exc:
        errors = exc.errors()
    if errors or bid_errors:
        # the rows at fault are still in `rows` (already in id order)
        faults = _without_follow_ons(errors + bid_errors)
        raise ProblemError(_issues_from_validation(faults, {**raw, "bids": rows}))
    if columns is not None:  # read already: Problem.bid_columns need not read them again
        problem.__dict__["bid_columns"] = columns
    issues = check_problem(problem)
    if issues:
        raise ProblemError(issues)
    share_fields_sets(problem.factories)
    share_fields_sets(problem.items)
    share_fields_sets([s for item in problem.items for s in item.demand])
    return problem


_BIDS = TypeAdapter(tuple[ProblemBid, ...])
_CHUNK = 4096
_BID_FIELDS = tuple(ProblemBid.model_fields)


def _validate_bids(
    rows: list[Any],
) -> tuple[tuple[ProblemBid, ...], list[ErrorDetails], BidColumns | None]:
    """Bid objects for the rows, or the errors (located as in the problem) if any.

    Plain rows are made directly (solver/problem_reader.py), with their columns. Others go through
    pydantic in chunks,
    each chunk's rows let go (replaced by None in `rows`, the caller's own sorted list)
    once made, as pydantic's objects are larger; rows at fault are kept, to name them.
    """
    plain = plain_bids(rows, ProblemBid)
    if plain is not None:
        return plain[0], [], BidColumns(*plain[1])
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


def _without_follow_ons(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """One message per fault: a list's length error that only counts the rows refused
    inside it ("Tuple should have at least 1 item after validation, not 0") is dropped."""
    inner = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    return [
        e
        for e in errors
        if not (e["type"] in ("too_short", "too_long") and tuple(e["loc"]) in inner)
    ]


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
        total = sum((s.probability for s in item.demand), Decimal(0))
        if total != 1:  # written more than 1e-9 away from 1 (normalise_probabilities)
            issues.append(ProblemIssue(f"{where}.demand", f"probabilities sum to {total}, not 1"))
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
