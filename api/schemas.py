"""Request and response bodies: shape checks only; rules that need the database live in bidding.

Field names follow problem-format.md. Money travels as decimal strings with at most two
decimals, fractions as decimal strings, units as integers; unknown fields are refused.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    field_serializer,
)

from bidding.allocation import Comparison, Overrides
from bidding.audit import ChainReport
from bidding.bids import terms_of
from bidding.finance import AuditFinding, MarginAudit, Replay, TakeoverLine
from bidding.items import DemandScenario
from bidding.models import (
    Allocation,
    AllocationStatus,
    ApiKey,
    AuditEvent,
    Award,
    Bid,
    BidVersion,
    Factory,
    Invitation,
    Item,
    Role,
    Round,
    RoundItem,
    RoundState,
    as_utc,
)
from bidding.principal import Principal
from bidding.reports import margin_fraction, money
from bidding.rounds import RoundDetail
from bidding.settlement import (
    ItemOutcome,
    PlatformResult,
    PublishedRound,
    RecordedSettlement,
    RoundStatements,
)
from bidding.values import from_cents, from_ppb, plain
from solver.problem import (
    MAX_UNITS,
    Budget,
    FactoryShare,
    Fraction,
    Money,
    OptionalMoney,
    OptionalPositiveMoney,
    OptionalShare,
    OptionalUnits,
    PositiveUnits,
    Share,
    Units,
)
from solver.result import Result

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Ref = Annotated[str, Field(pattern=ID_PATTERN, examples=["itm_3vQk9Jw0bY2mT1pe"])]
"""An object's id, as this service makes them."""
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
PositiveMoney = Annotated[Money, Field(gt=0)]
MarginFloor = Annotated[Fraction, Field(ge=0, lt=1)]
Probability = Annotated[Fraction, Field(gt=0, le=1)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]


def _not_null(value: Any) -> Any:
    # PATCH: an absent field stays as it is; null is no value for these fields.
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


NotNull = AfterValidator(_not_null)


class Input(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """A response body: decimals as plain strings ("0.00000001", never "1E-8")."""

    @field_serializer("*", mode="wrap", when_used="json")
    def _plain_decimals(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, Decimal):
            return plain(value)
        return handler(value)


class ProblemFieldError(Output):
    """One field at fault and what is wrong with it."""

    field: str
    message: str
    row: int | None = Field(default=None, description="A bid sheet's row, numbered as shown.")
    cell: str | None = Field(default=None, description="A bid sheet's cell, such as `B5`.")


class ProblemDetails(Output):
    """An RFC 9457 problem: every refusal of the API looks like this."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemFieldError] | None = None
    limits: dict[str, int] | None = Field(
        default=None, description="A refused bid sheet's limits: `max_bytes`, `max_rows`."
    )


class Page[T](Output):
    """A page of a list; pass `next_cursor` as `cursor` for the next one (null: the end)."""

    data: list[T]
    next_cursor: str | None


class Health(Output):
    """Liveness and database reachability."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]


# Factories


class FactoryCreate(Input):
    """A factory to register."""

    name: Name
    monthly_capacity: PositiveUnits
    is_new: StrictBool = False


class FactoryUpdate(Input):
    """Fields of a factory to change; absent ones stay."""

    name: Annotated[Name | None, NotNull] = None
    monthly_capacity: Annotated[PositiveUnits | None, NotNull] = None
    is_new: Annotated[StrictBool | None, NotNull] = None


class FactoryPublic(Output):
    """A factory."""

    id: str
    name: str
    monthly_capacity: int
    is_new: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Factory) -> "FactoryPublic":
        """The public view of a row."""
        return cls(
            id=row.id,
            name=row.name,
            monthly_capacity=row.monthly_capacity,
            is_new=row.is_new,
            created_at=as_utc(row.created_at),
        )


# Items


class ScenarioIn(Input):
    """One demand scenario: units sold with this probability."""

    units: Units
    probability: Probability


class ScenarioOut(Output):
    """One demand scenario."""

    units: int
    probability: Decimal


class ItemCreate(Input):
    """An item with its prices and demand scenarios (probabilities sum to 1)."""

    name: Name
    retail_price: PositiveMoney
    handling_cost: Money
    salvage_value: Money
    demand: Annotated[list[ScenarioIn], Field(min_length=1, max_length=1000)]

    def scenarios(self) -> list[DemandScenario]:
        """The demand as the domain takes it."""
        return [DemandScenario(s.units, s.probability) for s in self.demand]


class ItemUpdate(Input):
    """Fields of an item to change; absent ones stay."""

    name: Annotated[Name | None, NotNull] = None
    retail_price: Annotated[PositiveMoney | None, NotNull] = None
    handling_cost: Annotated[Money | None, NotNull] = None
    salvage_value: Annotated[Money | None, NotNull] = None
    demand: Annotated[
        Annotated[list[ScenarioIn], Field(min_length=1, max_length=1000)] | None, NotNull
    ] = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, as the domain takes them."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.model_fields_set}
        if self.demand is not None:
            out["demand"] = [DemandScenario(s.units, s.probability) for s in self.demand]
        return out


class ItemPublic(Output):
    """An item."""

    id: str
    name: str
    retail_price: Decimal
    handling_cost: Decimal
    salvage_value: Decimal
    demand: list[ScenarioOut]
    created_at: datetime

    @classmethod
    def of(cls, row: Item, demand: list[DemandScenario]) -> "ItemPublic":
        """The public view of a row and its scenarios."""
        return cls(
            id=row.id,
            name=row.name,
            retail_price=from_cents(row.retail_price_cents),
            handling_cost=from_cents(row.handling_cost_cents),
            salvage_value=from_cents(row.salvage_value_cents),
            demand=[ScenarioOut(units=s.units, probability=s.probability) for s in demand],
            created_at=as_utc(row.created_at),
        )


# Rounds


class RoundCreate(Input):
    """A round's terms (SPEC 2); it starts in draft."""

    name: Name
    category: Name
    period: Period
    currency: Currency = "CNY"
    margin_floor: MarginFloor = Decimal("0.10")
    capacity_share: Share = Decimal("0.20")
    budget: Budget = None


class RoundUpdate(Input):
    """Terms of a draft round to change; absent ones stay (budget may be set to null)."""

    name: Annotated[Name | None, NotNull] = None
    category: Annotated[Name | None, NotNull] = None
    period: Annotated[Period | None, NotNull] = None
    currency: Annotated[Currency | None, NotNull] = None
    margin_floor: Annotated[MarginFloor | None, NotNull] = None
    capacity_share: Annotated[Share | None, NotNull] = None
    budget: Budget = None

    def changes(self) -> dict[str, Any]:
        """The fields sent."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class RoundItemPut(Input):
    """An item's terms in a round: minimum fill, and beta, one factory's maximum share."""

    min_fill: OptionalUnits = 0
    max_factory_share: OptionalShare = None


class RoundItemPublic(Output):
    """An item in a round, with its round terms."""

    item: str
    min_fill: int
    max_factory_share: Decimal | None

    @classmethod
    def of(cls, row: RoundItem) -> "RoundItemPublic":
        """The public view of a row."""
        share = row.max_factory_share_ppb
        return cls(
            item=row.item_id,
            min_fill=row.min_fill,
            max_factory_share=None if share is None else from_ppb(share),
        )


class InvitationPut(Input):
    """A factory's own terms in a round: its capacity share and guaranteed volume."""

    capacity_share: FactoryShare = None
    guaranteed_units: OptionalUnits = 0


class InvitationPublic(Output):
    """A factory invited to a round, with its terms."""

    factory: str
    capacity_share: Decimal | None
    guaranteed_units: int

    @classmethod
    def of(cls, row: Invitation) -> "InvitationPublic":
        """The public view of a row."""
        share = row.capacity_share_ppb
        return cls(
            factory=row.factory_id,
            capacity_share=None if share is None else from_ppb(share),
            guaranteed_units=row.guaranteed_units,
        )


class RoundPublic(Output):
    """A round: terms, state, items, invitations; `bid_count` (live bids) for staff only."""

    id: str
    name: str
    category: str
    period: str
    currency: str
    margin_floor: Decimal
    capacity_share: Decimal
    budget: Decimal | None
    state: RoundState
    items: list[RoundItemPublic]
    factories: list[InvitationPublic]
    bid_count: int | None
    input_hash: str | None
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def of(cls, row: Round, detail: RoundDetail, *, viewer: Principal) -> "RoundPublic":
        """The public view of a round; a factory sees neither the count nor other invitees."""
        staff = viewer.role != Role.factory
        invitations = [i for i in detail.invitations if staff or i.factory_id == viewer.factory_id]
        return cls(
            id=row.id,
            name=row.name,
            category=row.category,
            period=row.period,
            currency=row.currency,
            margin_floor=from_ppb(row.margin_floor_ppb),
            capacity_share=from_ppb(row.capacity_share_ppb),
            budget=None if row.budget_cents is None else from_cents(row.budget_cents),
            state=RoundState(row.state),
            items=[RoundItemPublic.of(i) for i in detail.items],
            factories=[InvitationPublic.of(i) for i in invitations],
            bid_count=detail.bid_count if staff else None,
            input_hash=row.input_hash,
            created_at=as_utc(row.created_at),
            opened_at=None if row.opened_at is None else as_utc(row.opened_at),
            closed_at=None if row.closed_at is None else as_utc(row.closed_at),
            cancelled_at=None if row.cancelled_at is None else as_utc(row.cancelled_at),
        )


# Bids


class BidAmend(Input):
    """A bid's content (SPEC 2): unit cost c, capacity q, optional ask a, lot l, setup F."""

    unit_cost: PositiveMoney
    capacity: PositiveUnits
    ask_price: OptionalPositiveMoney = None
    min_lot: OptionalUnits = 0
    setup_cost: OptionalMoney = Decimal(0)


class BidCreate(BidAmend):
    """A bid on one item of the round."""

    item: Ref


class BidPublic(Output):
    """A bid, at its latest version."""

    id: str
    round: str
    factory: str
    item: str
    status: Literal["live", "withdrawn"]
    version: int
    unit_cost: Decimal
    capacity: int
    ask_price: Decimal | None
    min_lot: int
    setup_cost: Decimal
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, bid: Bid, version: BidVersion) -> "BidPublic":
        """The public view of a bid and its latest version."""
        terms = terms_of(version)
        return cls(
            id=bid.id,
            round=bid.round_id,
            factory=bid.factory_id,
            item=bid.item_id,
            status="live" if bid.status == "live" else "withdrawn",
            version=bid.version,
            unit_cost=terms.unit_cost,
            capacity=terms.capacity,
            ask_price=terms.ask_price,
            min_lot=terms.min_lot,
            setup_cost=terms.setup_cost,
            created_at=as_utc(bid.created_at),
            updated_at=as_utc(bid.updated_at),
        )


class BidVersionPublic(Output):
    """One version of a bid, with the commitment the audit log holds for it.

    `commitment` is sha256 over `nonce` and the version's canonical content (see
    bidding.bids.commitment): after the close, finance can check the log against the bids.
    """

    version: int
    unit_cost: Decimal
    capacity: int
    ask_price: Decimal | None
    min_lot: int
    setup_cost: Decimal
    commitment: str
    nonce: str
    created_at: datetime

    @classmethod
    def of(cls, row: BidVersion) -> "BidVersionPublic":
        """The public view of a version."""
        terms = terms_of(row)
        return cls(
            version=row.version,
            unit_cost=terms.unit_cost,
            capacity=terms.capacity,
            ask_price=terms.ask_price,
            min_lot=terms.min_lot,
            setup_cost=terms.setup_cost,
            commitment=row.commitment,
            nonce=row.nonce,
            created_at=as_utc(row.created_at),
        )


# API keys


class ApiKeyCreate(Input):
    """A key to make: its role, and for a factory key its factory."""

    role: Literal["admin", "manager", "finance", "factory"]
    factory: Ref | None = None
    name: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class ApiKeyPublic(Output):
    """An API key as listed: never the key itself, only its first characters."""

    id: str
    name: str
    role: str
    factory: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> "ApiKeyPublic":
        """The public view of a row."""
        return cls(
            id=row.id,
            name=row.name,
            role=str(row.role),
            factory=row.factory_id,
            prefix=row.prefix,
            created_at=as_utc(row.created_at),
            revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
        )


class ApiKeyCreated(ApiKeyPublic):
    """A key just made: `key` is shown this once and never again."""

    key: str


# Audit


class AuditEventPublic(Output):
    """One event of the audit log, with its place in the hash chain."""

    seq: int
    occurred_at: str
    actor_key_id: str | None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AuditEvent) -> "AuditEventPublic":
        """The stored event as it is (its JSON fields as the hashed text)."""
        return cls.model_validate(row, from_attributes=True)


class AuditVerification(Output):
    """The chain check: ok, events checked, the first broken link, and the head to record.

    Record `head_seq` and `head_hash` of an ok report and give them to the next
    verification: it then also catches events removed from the end or a recomputed chain.
    """

    ok: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str
    published_findings: list["MarginFindingPublic"]
    """Published allocations whose award rows or result differ from what was published."""

    @classmethod
    def of(
        cls, report: ChainReport, published_findings: Sequence[AuditFinding]
    ) -> "AuditVerification":
        """The public view of a report and of the published-allocation check."""
        return cls(
            ok=report.ok and not published_findings,
            published_findings=[MarginFindingPublic(**vars(f)) for f in published_findings],
            events_checked=report.events_checked,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
        )


# Allocations

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
    exclude_factories: Annotated[list[Ref], Field(max_length=10000)] = []
    exclude_bids: Annotated[list[Ref], Field(max_length=100000)] = []
    demand_scale: Annotated[dict[Ref, ScaleFactor], Field(max_length=10000)] = {}
    """Per item: every demand scenario's units times this factor, rounded half up."""
    min_fill: Annotated[dict[Ref, Units], Field(max_length=10000)] = {}

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


class AllocationSummary(Output):
    """An allocation without its result: what lists show."""

    id: str
    round: str
    status: AllocationStatus
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


class AllocationPublic(AllocationSummary):
    """An allocation with its result (result format; a what-if's excluded bids included)."""

    result: Result | None

    @classmethod
    def with_result(cls, row: Allocation, result: Result | None) -> "AllocationPublic":
        """The public view of a row and its presented result."""
        return cls(**AllocationSummary.of(row).model_dump(), result=result)


class AwardPublic(Output):
    """One bid's award in the published allocation, and why it got what it got."""

    bid: str
    factory: str
    item: str
    units: int
    supply_price: Decimal
    setup_fee: Decimal
    capacity_share_used: Decimal
    margin: Decimal | None
    reason: str
    cost_to_win_more: Decimal | None

    @classmethod
    def of(cls, row: Award) -> "AwardPublic":
        """The public view of an award row."""
        return cls(
            bid=row.bid_id,
            factory=row.factory_id,
            item=row.item_id,
            units=row.units,
            supply_price=from_cents(row.supply_price_cents),
            setup_fee=from_cents(row.setup_fee_cents),
            capacity_share_used=from_ppb(row.capacity_share_used_ppb),
            margin=None if row.margin_ppb is None else from_ppb(row.margin_ppb),
            reason=row.reason,
            cost_to_win_more=None
            if row.cost_to_win_more_cents is None
            else from_cents(row.cost_to_win_more_cents),
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
    units: UnitsChange
    spend: AmountChange
    expected_unsold_units: AmountChange
    expected_takeover_cost: AmountChange
    expected_salvage: AmountChange


class FactoryComparison(Output):
    """One factory in two allocations: units and what it is paid."""

    factory: str
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
        item_ids = sorted(set(a.item_unsold) | set(b.item_unsold) | set(a.item_units))
        factory_ids = sorted(set(a.factory_units) | set(b.factory_units))
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
                for i in item_ids
            ],
            factories=[
                FactoryComparison(
                    factory=f,
                    units=_units(a.factory_units.get(f, 0), b.factory_units.get(f, 0)),
                    spend=_amount(a.factory_spend.get(f, zero), b.factory_spend.get(f, zero)),
                )
                for f in factory_ids
            ],
        )


# Settlement and finance


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

    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


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


class StatementPublic(Output):
    """A factory's statement: units ordered and paid, amount due, cost, margin, takeover.

    `margin` is (amount - cost - setup_cost) / amount, rounded down to 9 decimals.
    `takeover_units` and `takeover_value` (those units at their supply price) are null
    until the round is settled.
    """

    factory: str
    units: int
    amount: Decimal
    cost: Decimal
    setup_cost: Decimal
    margin: Decimal | None
    takeover_units: int | None
    takeover_value: Decimal | None


class StatementsPublic(Output):
    """A round's statements (a factory's own only), and the settlement version they follow."""

    round: str
    currency: str
    state: str
    settlement_version: int | None
    data: list[StatementPublic]

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
                    units=line.units,
                    amount=money(line.amount),
                    cost=money(line.cost),
                    setup_cost=money(line.setup_cost),
                    margin=margin_fraction(line.margin),
                    takeover_units=line.takeover_units if settled else None,
                    takeover_value=money(line.takeover_value) if settled else None,
                )
                for line in report.lines
            ],
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
        )
