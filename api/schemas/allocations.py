"""Bodies of allocations: solve requests, results, awards, comparisons."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
)

from api.schemas.base import (
    Budget,
    Input,
    MarginFloor,
    Output,
    Ref,
)
from bidding.award_figures import AwardContext
from bidding.comparison import Comparison
from bidding.models import (
    Allocation,
    AllocationStatus,
    Award,
    as_utc,
)
from bidding.names import Names
from bidding.snapshot import Overrides
from bidding.thresholds import ThresholdState
from bidding.values import from_cents, from_ppb
from solver.result import Result
from solver.values import (
    Share,
    Units,
)

ScaleFactor = Annotated[
    Decimal, Field(gt=0, le=1000, max_digits=15, decimal_places=6, allow_inf_nan=False)
]


class AllocationRequest(Input):
    """A solve of the round; any field given makes it a what-if that leaves the round as is."""

    margin_floor: MarginFloor | None = None
    capacity_share: Annotated[
        Share | None,
        Field(
            description="The round's capacity share alpha for this what-if. It replaces the "
            "round-level share only: an invited factory with its own share keeps that share."
        ),
    ] = None
    budget: Annotated[
        Budget,
        Field(description="A budget for this what-if (0 or more); null solves with no budget."),
    ] = None
    # pydantic copies a field's default per instance: these lists and dicts are not shared.
    exclude_factories: Annotated[list[Ref], Field(max_length=10000)] = []  # noqa: RUF012
    exclude_bids: Annotated[list[Ref], Field(max_length=100000)] = []  # noqa: RUF012
    demand_scale: Annotated[dict[Ref, ScaleFactor], Field(max_length=10000)] = {}  # noqa: RUF012
    """Per item: every demand scenario's units times this factor, rounded half up."""
    min_fill: Annotated[dict[Ref, Units], Field(max_length=10000)] = {}  # noqa: RUF012

    def overrides(self) -> Overrides:
        """The domain's view of the body."""
        return Overrides(
            margin_floor=self.margin_floor,
            capacity_share=self.capacity_share,
            budget=self.budget,
            no_budget="budget" in self.model_fields_set and self.budget is None,
            exclude_factories=tuple(self.exclude_factories),
            exclude_bids=tuple(self.exclude_bids),
            demand_scale=dict(self.demand_scale),
            min_fill=dict(self.min_fill),
        )


class AllocationTimings(Output):
    """When the solve was asked for, started and finished, and how long each part took."""

    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    published_at: datetime | None
    queued_s: float | None
    solve_s: float | None
    total_s: float | None
    attempts: int


Phase = Literal["building", "solving", "whole_units", "explaining", "writing"]
"""A running solve's phase (solver.solve.PHASES)."""


class AllocationSummary(Output):
    """An allocation without its result: what lists show."""

    id: str
    round: str
    status: AllocationStatus
    phase: Annotated[
        Phase | None,
        Field(description="Where a running solve is; null unless `status` is running."),
    ] = None
    what_if: bool
    overrides: dict[str, Any] | None
    input_hash: str
    published: bool
    error: str | None
    timings: AllocationTimings

    @classmethod
    def of(cls, row: Allocation) -> "AllocationSummary":
        """The public view of a row, without its result."""
        created = as_utc(row.created_at)
        started = None if row.started_at is None else as_utc(row.started_at)
        finished = None if row.finished_at is None else as_utc(row.finished_at)
        return cls(
            id=row.id,
            round=row.round_id,
            status=row.status,
            phase=row.phase if row.status == AllocationStatus.running else None,
            what_if=row.what_if,
            overrides=json.loads(row.overrides) if row.overrides else None,
            input_hash=row.input_hash,
            published=row.published_at is not None,
            error=row.error,
            timings=AllocationTimings(
                created_at=created,
                started_at=started,
                finished_at=finished,
                published_at=None if row.published_at is None else as_utc(row.published_at),
                queued_s=None if started is None else (started - created).total_seconds(),
                solve_s=row.solve_s,
                total_s=None if finished is None else (finished - created).total_seconds(),
                attempts=row.attempts,
            ),
        )


class ThresholdsPublic(Output):
    """A published allocation's thresholds left "pending" by its solve, worked out by a job
    after publication: its status, how many were pending and how many it has stored."""

    status: Literal["queued", "running", "done", "failed"]
    pending: int
    stored: int


class AllocationPublic(AllocationSummary):
    """An allocation with its result (result format; a what-if's excluded bids included).

    `result` stays exactly the result format, so `supplybid verify` reads it as it is; the
    names of the factories and items its rows name are beside it, by id.
    """

    result: Result | None
    thresholds: Annotated[
        ThresholdsPublic | None,
        Field(
            description="Where the job after publication is that works out the result's "
            '"pending" `cost_to_win_more` (stored ones replace "pending" in `result`); '
            "null where there is none (nothing pending, or not published)."
        ),
    ] = None
    factory_names: Annotated[
        dict[str, str],
        Field(description="The name of each factory the result's rows name, by factory id."),
    ] = {}  # noqa: RUF012 - pydantic copies a field's default per instance
    item_names: Annotated[
        dict[str, str],
        Field(description="The name of each item the result's rows name, by item id."),
    ] = {}  # noqa: RUF012

    @classmethod
    def with_result(
        cls,
        row: Allocation,
        result: Result | None,
        names: Names | None = None,
        thresholds: ThresholdState | None = None,
    ) -> "AllocationPublic":
        """The public view of a row, its presented result and the names its rows name."""
        return cls(
            **AllocationSummary.of(row).model_dump(),
            result=result,
            thresholds=None
            if thresholds is None
            else ThresholdsPublic.model_validate(thresholds, from_attributes=True),
            factory_names=dict(sorted(names.factories.items())) if names else {},
            item_names=dict(sorted(names.items.items())) if names else {},
        )


class AwardPublic(Output):
    """One bid's award in the published allocation, and why it got what it got."""

    bid: str
    factory: str
    factory_name: str | None = Field(description="The factory's name as published.")
    item: str
    item_name: str | None = Field(description="The item's name as published.")
    units: int
    supply_price: Decimal
    setup_fee: Decimal
    capacity_share_used: Decimal
    margin: Decimal | None
    reason: str
    cost_to_win_more: Decimal | Literal["pending"] | None = Field(
        description="The highest unit cost at which this bid would have won more units "
        '(SPEC 3); "pending" while the job after publication works it out (a round '
        "above the size explained with its solve)."
    )
    cost_ceiling: Decimal | None = Field(
        description="The unit cost at or above which this bid can win no unit in a round "
        "like this one, whatever the others bid (SPEC 3); null where the allocator states "
        "none (a fill or guarantee could force units on it, or not computed)."
    )
    explanation: str = Field(
        description="The award in plain words, built from its figures: what it won, the "
        "rule that stopped it, and the unit cost that would have won more."
    )

    @classmethod
    def of(cls, row: Award, context: AwardContext, names: Names | None = None) -> "AwardPublic":
        """The public view of an award row (names as published; `names` fills older rows),
        explained with the figures of its allocation (`context`, read once per request)."""
        item_name = row.item_name or (names.item(row.item_id) if names else None)
        cost_to_win_more = context.cost_to_win_more(row.bid_id, row.cost_to_win_more_cents)
        return cls(
            bid=row.bid_id,
            factory=row.factory_id,
            factory_name=row.factory_name or (names.factory(row.factory_id) if names else None),
            item=row.item_id,
            item_name=item_name,
            units=row.units,
            supply_price=from_cents(row.supply_price_cents),
            setup_fee=from_cents(row.setup_fee_cents),
            capacity_share_used=from_ppb(row.capacity_share_used_ppb),
            margin=None if row.margin_ppb is None else from_ppb(row.margin_ppb),
            reason=row.reason,
            cost_to_win_more=cost_to_win_more,
            cost_ceiling=context.ceilings.get(row.bid_id),
            explanation=context.explain_award(row, item_name),
        )


class UnitsChange(Output):
    """Units in the base allocation, in the other, and the change (other minus base)."""

    base: int
    other: int
    change: int


class AmountChange(Output):
    """An exact decimal figure in the base allocation, in the other, and the change."""

    base: Decimal
    other: Decimal
    change: Decimal


def _units(base: int, other: int) -> UnitsChange:
    return UnitsChange(base=base, other=other, change=other - base)


def _amount(base: Decimal, other: Decimal) -> AmountChange:
    return AmountChange(base=base, other=other, change=other - base)


class ItemComparison(Output):
    """One item in two allocations: units, spend and expected takeover."""

    item: str
    item_name: str | None
    units: UnitsChange
    spend: AmountChange
    expected_unsold_units: AmountChange
    expected_takeover_cost: AmountChange
    expected_salvage: AmountChange


class FactoryComparison(Output):
    """One factory in two allocations: units and what it is paid."""

    factory: str
    factory_name: str | None
    units: UnitsChange
    spend: AmountChange


class ComparisonPublic(Output):
    """Two allocations of one round; totals are the sums of the per-item figures."""

    round: str
    base: str
    other: str
    objective: AmountChange
    spend: AmountChange
    units: UnitsChange
    expected_unsold_units: AmountChange
    expected_takeover_cost: AmountChange
    expected_salvage: AmountChange
    items: list[ItemComparison]
    factories: list[FactoryComparison]

    @classmethod
    def of(cls, c: Comparison) -> "ComparisonPublic":
        """The comparison, item by item and factory by factory, in id order."""
        a, b = c.base_figures, c.other_figures
        zero = Decimal("0.00")
        return cls(
            round=c.base.round_id,
            base=c.base.id,
            other=c.other.id,
            objective=_amount(a.objective, b.objective),
            spend=_amount(a.spend, b.spend),
            units=_units(a.units, b.units),
            expected_unsold_units=_amount(a.expected_unsold, b.expected_unsold),
            expected_takeover_cost=_amount(a.takeover_cost, b.takeover_cost),
            expected_salvage=_amount(a.salvage, b.salvage),
            items=[
                ItemComparison(
                    item=i,
                    item_name=c.names.item(i),
                    units=_units(a.item_units.get(i, 0), b.item_units.get(i, 0)),
                    spend=_amount(a.item_spend.get(i, zero), b.item_spend.get(i, zero)),
                    expected_unsold_units=_amount(
                        a.item_unsold.get(i, Decimal(0)), b.item_unsold.get(i, Decimal(0))
                    ),
                    expected_takeover_cost=_amount(
                        a.item_takeover_cost.get(i, zero), b.item_takeover_cost.get(i, zero)
                    ),
                    expected_salvage=_amount(
                        a.item_salvage.get(i, zero), b.item_salvage.get(i, zero)
                    ),
                )
                for i in c.item_ids()
            ],
            factories=[
                FactoryComparison(
                    factory=f,
                    factory_name=c.names.factory(f),
                    units=_units(a.factory_units.get(f, 0), b.factory_units.get(f, 0)),
                    spend=_amount(a.factory_spend.get(f, zero), b.factory_spend.get(f, zero)),
                )
                for f in c.factory_ids()
            ],
        )
