"""The result of an allocation, in the exchange format of shared/problem-format.md."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import repeat
from operator import itemgetter
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, TypeAdapter

from solver.trusted import attribute_dicts, trusted_models


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Status = Literal["optimal", "feasible", "infeasible", "error"]
Reason = Literal[
    "excluded",
    "below_min_lot",
    "won_full",
    "capacity_bound",
    "item_share_bound",
    "budget_bound",
    "guarantee_bound",
    "won_partial",
    "lost_on_price",
]
REASONS: tuple[Reason, ...] = (
    "excluded",
    "below_min_lot",
    "won_full",
    "capacity_bound",
    "item_share_bound",
    "budget_bound",
    "guarantee_bound",
    "won_partial",
    "lost_on_price",
)
"""Reasons in precedence order (SPEC 3): the first that applies is the bid's reason."""


class SolverInfo(_Frozen):
    """Which solver produced a result, its version and every option it was given."""

    name: str
    version: str
    options: dict[str, int | float | str | bool]


class Timings(_Frozen):
    """Wall-clock seconds per phase. Not part of a result's identity: replays ignore them."""

    parse_s: float = 0.0
    build_s: float = 0.0
    solve_s: float = 0.0
    rounding_s: float = 0.0
    explain_s: float = 0.0
    total_s: float = 0.0


class BidAllocation(_Frozen):
    """One bid's outcome: units, supply price, setup fee, margins and why."""

    bid: str
    factory: str
    item: str
    units: int
    supply_price: Decimal
    setup_fee: Decimal
    capacity_share_used: float
    margin: float | None
    reason: Reason
    cost_to_win_more: Decimal | Literal["pending"] | None = None
    """The highest unit cost (cent) at which the bid gets more units, all else equal;
    "pending" where the round is above the size explained with the solve."""
    cost_ceiling: Decimal | None = None
    """The unit cost at or above which the bid can never win a unit (SPEC 3)."""


def trusted_allocations(rows: list[dict[str, object]]) -> tuple[BidAllocation, ...]:
    """Allocation objects made without validation, from rows the solver built itself.

    Only for rows made from validated values with the fields' own types, every field
    given in field order; a test holds such a result equal to its re-validation.
    """
    return tuple(trusted_models(BidAllocation, rows, repeat(set(BidAllocation.model_fields))))


class RuleConflict(_Frozen):
    """A rule of the round that cannot hold with the others, found by a relaxation re-solve."""

    rule: str
    items: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    bids: tuple[str, ...] = ()
    shortfall: Decimal | None = None
    detail: str


class Result(_Frozen):
    """The result format of problem-format.md. Money is written as decimal strings."""

    round: str
    status: Status
    message: str | None = None
    objective: Decimal | None = None
    continuous_objective: Decimal | None = None
    gap: float | None = None
    input_hash: str
    solver: SolverInfo
    timings: Timings = Timings()
    allocations: tuple[BidAllocation, ...] = ()
    conflicts: tuple[RuleConflict, ...] = ()

    def to_json(self) -> str:
        """The result as JSON text, money as strings, stable for the same result.

        Indented two spaces a level, except that each allocation is one line: a bid's row
        is one line to read, grep or diff, and 100,000 rows take 20 MB instead of 30.
        """
        return b"".join(self.to_json_bytes()).decode()

    def to_json_bytes(self, rows_per_piece: int = 4096) -> Iterator[bytes]:
        """`to_json()` encoded as UTF-8, in pieces of a few thousand allocations.

        At 100,000 bids the whole text is tens of megabytes: made a piece at a time, it
        never exists whole. Each piece is a list of allocations serialised alone, its
        brackets taken off and a line break put before each row.
        """
        head = self.__pydantic_serializer__.to_json(
            self.model_copy(update={"allocations": ()}), indent=2
        )
        if not self.allocations:
            yield head + b"\n"
            return
        empty = b'\n  "allocations": [],'
        before, found, after = head.partition(empty)
        if not found:  # pragma: no cover - pydantic writes an empty tuple so
            raise RuntimeError("unexpected layout of the result's JSON")
        yield before + b'\n  "allocations": [\n'
        rows = self.allocations
        for start in range(0, len(rows), rows_per_piece):
            piece = allocations_json(rows[start : start + rows_per_piece])
            # '[{"bid":...},{"bid":...}]' -> '    {"bid":...},\n    {"bid":...}': the text
            # '},{"bid":' is found only between rows, as a quote inside a string is escaped
            body = b"    " + piece[1:-1].replace(b'},{"bid":', b'},\n    {"bid":')
            yield (b",\n" if start else b"") + body
        yield b"\n  ],"
        yield after
        yield b"\n"

    def identity(self) -> str:
        """The result without its timings: what replay compares byte for byte."""
        return self.model_copy(update={"timings": Timings()}).model_dump_json()


_ENCODER = msgspec.json.Encoder(decimal_format="string")
_SHARE = itemgetter("capacity_share_used")
_MARGIN = itemgetter("margin")
_ALLOCATIONS = TypeAdapter(tuple[BidAllocation, ...])
_SHORT_FLOATS = 1e16
"""Below this magnitude msgspec and pydantic spell a float alike; from it on pydantic
writes 1e+16 and msgspec 1e16."""


def allocations_json(rows: Sequence[BidAllocation]) -> bytes:
    """The rows as a compact JSON list: the bytes of pydantic's `dump_json`, made by msgspec.

    An allocation's fields are text, whole numbers, Decimals (written as strings by both)
    and floats, which the solver makes between 0 and 1 (the same shortest round-trip
    spelling in both); msgspec encodes their attribute dicts two and a half times faster
    (0.06 s against 0.16 s for 100,000 rows). A float of 1e16 or more, which only a result
    read from a file can hold, leaves the rows to pydantic. A property test holds the
    bytes equal.
    """
    attributes = attribute_dicts(rows)
    shares = list(map(_SHARE, attributes))
    margins = [m for m in map(_MARGIN, attributes) if m is not None]
    if _short(shares) and _short(margins):
        return _ENCODER.encode(attributes)
    return _ALLOCATIONS.dump_json(tuple(rows))


def _short(values: list[float]) -> bool:
    """No value of a magnitude of _SHORT_FLOATS or more (NaN and infinities both write as
    null; an infinity is caught here all the same)."""
    return max(values, default=0.0) < _SHORT_FLOATS and min(values, default=0.0) > -_SHORT_FLOATS


def parse_result(data: Mapping[str, Any] | str | bytes) -> Result:
    """Read a result file; raises pydantic's ValidationError on a malformed one."""
    if isinstance(data, str | bytes):
        return Result.model_validate_json(data)
    return Result.model_validate(data)
