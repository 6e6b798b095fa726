"""Bodies of /v1/rounds/{id}/bids: a bid's terms written once each way (`BidAmend` in,
`BidTermsPublic` out) and extended by the bodies that carry them."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from api.schemas.base import Input, Output, PositiveMoney, Ref
from bidding.bids import terms_of
from bidding.models import (
    Bid,
    BidVersion,
    as_utc,
)
from solver.values import (
    OptionalMoney,
    OptionalPositiveMoney,
    OptionalUnits,
    PositiveUnits,
)


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


class BidTermsPublic(Output):
    """A bid version's terms, as every answer that shows a bid spells them."""

    unit_cost: Decimal
    capacity: int
    ask_price: Decimal | None
    min_lot: int
    setup_cost: Decimal

    @staticmethod
    def fields_of(version: BidVersion) -> dict[str, Any]:
        """The terms of a stored version, as this model's fields."""
        terms = terms_of(version)
        return {
            "unit_cost": terms.unit_cost,
            "capacity": terms.capacity,
            "ask_price": terms.ask_price,
            "min_lot": terms.min_lot,
            "setup_cost": terms.setup_cost,
        }


class BidPublic(BidTermsPublic):
    """A bid, at its latest version."""

    id: str
    round: str
    factory: str
    item: str
    status: Literal["live", "withdrawn"]
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, bid: Bid, version: BidVersion) -> "BidPublic":
        """The public view of a bid and its latest version."""
        return cls(
            id=bid.id,
            round=bid.round_id,
            factory=bid.factory_id,
            item=bid.item_id,
            status="live" if bid.status == "live" else "withdrawn",
            version=bid.version,
            **cls.fields_of(version),
            created_at=as_utc(bid.created_at),
            updated_at=as_utc(bid.updated_at),
        )


class BidVersionPublic(BidTermsPublic):
    """One version of a bid, with the commitment the audit log holds for it.

    `commitment` is sha256 over `nonce` and the version's canonical content (see
    bidding.bids.commitment): after the close, finance can check the log against the bids.
    """

    version: int
    commitment: str
    nonce: str
    created_at: datetime

    @classmethod
    def of(cls, row: BidVersion) -> "BidVersionPublic":
        """The public view of a version."""
        return cls(
            version=row.version,
            **cls.fields_of(row),
            commitment=row.commitment,
            nonce=row.nonce,
            created_at=as_utc(row.created_at),
        )
