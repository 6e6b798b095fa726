"""Request and response bodies: shape checks only; rules that need the database live in bidding.

Field names follow problem-format.md. Money travels as decimal strings with at most two
decimals, fractions as decimal strings, units as integers; unknown fields are refused.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from bidding.audit import ChainReport
from bidding.bids import terms_of
from bidding.items import DemandScenario
from bidding.models import (
    ApiKey,
    AuditEvent,
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
from bidding.rounds import RoundDetail
from bidding.values import from_cents, from_ppb
from solver.problem import (
    Budget,
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
    """A response body."""


class ProblemFieldError(Output):
    """One field at fault and what is wrong with it."""

    field: str
    message: str


class ProblemDetails(Output):
    """An RFC 9457 problem: every refusal of the API looks like this."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemFieldError] | None = None


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

    capacity_share: OptionalShare = None
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
    """The chain check: ok, how many events were checked, and the first broken link."""

    ok: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None

    @classmethod
    def of(cls, report: ChainReport) -> "AuditVerification":
        """The public view of a report."""
        return cls(
            ok=report.ok,
            events_checked=report.events_checked,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
        )
