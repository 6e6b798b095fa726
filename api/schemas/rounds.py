"""Bodies of /v1/rounds: terms, items in a round, invitations."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

from api.schemas.base import Budget, Currency, Input, MarginFloor, Name, NotNull, Output, Period
from bidding.models import (
    Invitation,
    Role,
    Round,
    RoundItem,
    RoundState,
    as_utc,
)
from bidding.principal import Principal
from bidding.rounds import RoundDetail
from bidding.values import from_cents, from_ppb
from solver.values import (
    FactoryShare,
    OptionalShare,
    OptionalUnits,
    Share,
)


def _in_utc(value: datetime) -> datetime:
    # A time near the calendar's ends with an offset has no UTC spelling: invalid, not a 500.
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range") from exc


Deadline = Annotated[
    AwareDatetime,
    AfterValidator(_in_utc),
    Field(
        description="The round's deadline: an ISO 8601 time with a zone, in the future. From "
        "then on bids are refused and the round is closed by the system.",
        examples=["2026-12-31T18:00:00+08:00"],
    ),
]


class RoundCreate(Input):
    """A round's terms (SPEC 2); it starts in draft."""

    name: Name
    category: Name
    period: Period
    currency: Currency = "CNY"
    margin_floor: MarginFloor = Decimal("0.10")
    capacity_share: Share = Decimal("0.20")
    budget: Budget = None
    closes_at: Deadline | None = None


class RoundUpdate(Input):
    """Terms of a draft round to change; absent ones stay (budget may be set to null).

    `closes_at` alone may also be moved on an open round, to a future time, while the
    deadline has not passed; in draft it may be set to null (no deadline).
    """

    name: Annotated[Name | None, NotNull] = None
    category: Annotated[Name | None, NotNull] = None
    period: Annotated[Period | None, NotNull] = None
    currency: Annotated[Currency | None, NotNull] = None
    margin_floor: Annotated[MarginFloor | None, NotNull] = None
    capacity_share: Annotated[Share | None, NotNull] = None
    budget: Budget = None
    closes_at: Deadline | None = None

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
    closes_at: datetime | None = Field(description="The deadline, if any (SPEC 2).")

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
            closes_at=None if row.closes_at is None else as_utc(row.closes_at),
        )
