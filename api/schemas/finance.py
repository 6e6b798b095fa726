"""Bodies of settlement, statements, the platform's result, finance's audits and replay."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    Field,
)

from api.schemas.base import Input, Note, Output, Ref
from bidding.finance import MarginAudit, Replay, TakeoverLine
from bidding.models import (
    as_utc,
)
from bidding.reports import margin_fraction, money
from bidding.settlement import PublishedRound, RecordedSettlement, RoundStatements
from bidding.takeover import ItemOutcome, PlatformResult, StatementFigures
from solver.values import (
    MAX_UNITS,
)

SoldUnits = Annotated[int, Field(strict=True, ge=0, le=MAX_UNITS)]
"""Units sold: a whole number, never a bool, a float or a string."""


class SettlementRequest(Input):
    """The units sold per item: every item of the round, 0 where none sold."""

    sold: dict[Ref, SoldUnits] = Field(
        examples=[{"itm_3vQk9Jw0bY2mT1pe": 11500}],
        description="Units sold per item id; every item of the published allocation, 0 if none.",
    )


class SettlementCorrectionRequest(SettlementRequest):
    """Corrected units sold per item (every item again), and why."""

    reason: Note


class SettlementItemPublic(Output):
    """One item in a settlement: units ordered, sold and taken over by the platform."""

    item: str
    allocated: int
    sold: int
    taken_over: int


class SettlementPublic(Output):
    """One version of a round's settlement (1 settles; each correction adds one)."""

    id: str
    round: str
    allocation: str
    version: int
    reason: str | None
    recorded_at: datetime
    items: list[SettlementItemPublic]

    @classmethod
    def of(cls, recorded: RecordedSettlement) -> "SettlementPublic":
        """The public view of a stored settlement version."""
        s = recorded.settlement
        return cls(
            id=s.id,
            round=s.round_id,
            allocation=s.allocation_id,
            version=s.version,
            reason=s.reason,
            recorded_at=as_utc(s.recorded_at),
            items=[
                SettlementItemPublic(
                    item=i.item_id,
                    allocated=i.allocated,
                    sold=i.sold,
                    taken_over=recorded.taken_over.get(i.item_id, 0),
                )
                for i in recorded.items
            ],
        )


class SettlementHistoryPublic(Output):
    """A round's settlement: the version in force and every version, oldest first."""

    current: SettlementPublic
    versions: list[SettlementPublic]


class StatementTotalPublic(Output):
    """The statements' total: the sums of every line, `margin` that of the sums."""

    units: int
    amount: Decimal
    cost: Decimal
    setup_cost: Decimal
    margin: Decimal | None
    takeover_units: int | None
    takeover_value: Decimal | None

    @classmethod
    def of(cls, figures: StatementFigures, settled: bool) -> "StatementTotalPublic":
        """Money to the cent, the margin rounded down to 9 decimals, takeover once settled."""
        return cls(
            units=figures.units,
            amount=money(figures.amount),
            cost=money(figures.cost),
            setup_cost=money(figures.setup_cost),
            margin=margin_fraction(figures.margin),
            takeover_units=figures.takeover_units if settled else None,
            takeover_value=money(figures.takeover_value) if settled else None,
        )


class StatementPublic(StatementTotalPublic):
    """A factory's statement: units ordered and paid, amount due, cost, margin, takeover.

    `margin` is (amount - cost - setup_cost) / amount, rounded down to 9 decimals.
    `takeover_units` and `takeover_value` (those units at their supply price) are null
    until the round is settled.
    """

    factory: str
    factory_name: str | None


class StatementsPublic(Output):
    """A round's statements (a factory's own only), their total, and the settlement version
    they follow."""

    round: str
    currency: str
    state: str
    settlement_version: int | None
    data: list[StatementPublic]
    total: StatementTotalPublic

    @classmethod
    def of(cls, report: RoundStatements) -> "StatementsPublic":
        """The public view of a round's statements."""
        settled = report.settlement is not None
        return cls(
            round=report.round.id,
            currency=report.round.currency,
            state=str(report.round.state),
            settlement_version=report.settlement.version if report.settlement else None,
            data=[
                StatementPublic(
                    factory=line.factory,
                    factory_name=report.names.factory(line.factory),
                    **StatementTotalPublic.of(line, settled).model_dump(),
                )
                for line in report.lines
            ],
            total=StatementTotalPublic.of(report.total, settled),
        )


class ResultFigures(Output):
    """The platform's figures: `net` = revenue - handling - supply_spend + salvage.

    Expected figures have exact decimal units; realised ones whole units.
    `takeover_loss` = takeover_spend (the taken-over units at their supply prices) - salvage.
    """

    units_ordered: int
    units_sold: Decimal
    units_taken_over: Decimal
    revenue: Decimal
    handling: Decimal
    supply_spend: Decimal
    salvage: Decimal
    takeover_spend: Decimal
    takeover_loss: Decimal
    net: Decimal

    @classmethod
    def of(cls, figures: PlatformResult | ItemOutcome) -> "ResultFigures":
        """Figures with money to the cent."""
        return cls(
            units_ordered=figures.units_ordered,
            units_sold=figures.units_sold.normalize(),
            units_taken_over=figures.units_taken_over.normalize(),
            revenue=money(figures.revenue),
            handling=money(figures.handling),
            supply_spend=money(figures.supply_spend),
            salvage=money(figures.salvage),
            takeover_spend=money(figures.takeover_spend),
            takeover_loss=money(figures.takeover_loss),
            net=money(figures.net),
        )


class ItemResultPublic(Output):
    """One item's figures, expected and realised."""

    item: str
    item_name: str | None
    expected: ResultFigures
    realised: ResultFigures | None


class RoundResultPublic(Output):
    """The platform's result of a round: expected at publication, realised once settled."""

    round: str
    currency: str
    state: str
    allocation: str
    settlement_version: int | None
    expected: ResultFigures
    realised: ResultFigures | None
    items: list[ItemResultPublic]

    @classmethod
    def of(cls, published: PublishedRound) -> "RoundResultPublic":
        """The public view of a published round's figures."""
        expected = published.expected()
        realised = published.realised()
        realised_items = {o.item: o for o in realised.items} if realised else {}
        return cls(
            round=published.round.id,
            currency=published.round.currency,
            state=str(published.round.state),
            allocation=published.allocation.id,
            settlement_version=published.settlement.version if published.settlement else None,
            expected=ResultFigures.of(expected),
            realised=None if realised is None else ResultFigures.of(realised),
            items=[
                ItemResultPublic(
                    item=o.item,
                    item_name=published.names.item(o.item),
                    expected=ResultFigures.of(o),
                    realised=ResultFigures.of(realised_items[o.item])
                    if o.item in realised_items
                    else None,
                )
                for o in expected.items
            ],
        )


class MarginFindingPublic(Output):
    """One finding of the margin audit, with the allocation, bid and factory at fault."""

    round: str
    allocation: str
    bid: str | None
    factory: str | None
    finding: str
    factory_name: str | None = None


class MarginAuditPublic(Output):
    """Every published award re-checked by the independent verifier; no findings: all kept."""

    allocations_checked: int
    awards_checked: int
    findings: list[MarginFindingPublic]

    @classmethod
    def of(cls, audit: MarginAudit) -> "MarginAuditPublic":
        """The public view of a margin audit."""
        return cls(
            allocations_checked=audit.allocations_checked,
            awards_checked=audit.awards_checked,
            findings=[MarginFindingPublic(**vars(f)) for f in audit.findings],
        )


class TakeoverLinePublic(Output):
    """One item of a published round: its takeover expected at publication, and settled."""

    round: str
    period: str
    currency: str
    state: str
    settlement_version: int | None
    item: str
    item_name: str | None
    expected: ResultFigures
    settled: ResultFigures | None


class TakeoverAuditPublic(Output):
    """Takeover liability per round and item."""

    data: list[TakeoverLinePublic]

    @classmethod
    def of(cls, lines: list[TakeoverLine]) -> "TakeoverAuditPublic":
        """The public view of the takeover audit."""
        return cls(
            data=[
                TakeoverLinePublic(
                    round=line.round,
                    period=line.period,
                    currency=line.currency,
                    state=line.state,
                    settlement_version=line.settlement_version,
                    item=line.expected.item,
                    item_name=line.item_name,
                    expected=ResultFigures.of(line.expected),
                    settled=None if line.settled is None else ResultFigures.of(line.settled),
                )
                for line in lines
            ]
        )


class ReplayDifferencePublic(Output):
    """A bid whose row differs: the stored row and the replayed one (null: no row)."""

    bid: str
    stored: dict[str, Any] | None
    replayed: dict[str, Any] | None


class ReplayPublic(Output):
    """A replay: identical (the result byte for byte, timings apart), or the differences."""

    allocation: str
    identical: bool
    input_hash: str
    solver_version_differs: bool
    stored_solver: dict[str, Any]
    replayed_solver: dict[str, Any]
    stored_objective: Decimal | None
    replayed_objective: Decimal | None
    differences: list[ReplayDifferencePublic]
    allocator_version_differs: bool = False
    version_note: str = ""

    @classmethod
    def of(cls, replay: Replay) -> "ReplayPublic":
        """The public view of a replay."""
        return cls(
            allocation=replay.allocation,
            identical=replay.identical,
            input_hash=replay.input_hash,
            solver_version_differs=replay.solver_version_differs,
            stored_solver=replay.stored_solver,
            replayed_solver=replay.replayed_solver,
            stored_objective=replay.stored_objective,
            replayed_objective=replay.replayed_objective,
            differences=[ReplayDifferencePublic(**vars(d)) for d in replay.differences],
            allocator_version_differs=replay.allocator_version_differs,
            version_note=replay.version_note,
        )
