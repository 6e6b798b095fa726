"""The result of an allocation, in the exchange format of shared/problem-format.md."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


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


class Allocation(_Frozen):
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
    cost_to_win_more: Decimal | None = None


class Conflict(_Frozen):
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
    allocations: tuple[Allocation, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    def to_json(self) -> str:
        """The result as JSON text, money as strings, stable for the same result."""
        return self.model_dump_json(indent=2) + "\n"

    def identity(self) -> str:
        """The result without its timings: what replay compares byte for byte."""
        return self.model_copy(update={"timings": Timings()}).model_dump_json()


def parse_result(data: Mapping[str, Any] | str | bytes) -> Result:
    """Read a result file; raises pydantic's ValidationError on a malformed one."""
    if isinstance(data, str | bytes):
        return Result.model_validate_json(data)
    return Result.model_validate(data)
