"""Bodies of /v1/rounds/{id}/bids: a bid's terms written once each way (`BidAmend` in,
`BidTermsPublic` out) and extended by the bodies that carry them; a bid sheet's answer."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from api.schemas.base import (
    Input,
    OptionalMoney,
    OptionalPositiveMoney,
    Output,
    PositiveMoney,
    Ref,
)
from bidding.bid_sheet_import import SheetOutcome
from bidding.bid_sheets import LIMITS, BidSheet
from bidding.bids import terms_of
from bidding.models import (
    Bid,
    BidVersion,
    as_utc,
)
from solver.values import OptionalUnits, PositiveUnits


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


class SheetLimits(Output):
    """The limits every bid sheet is held to."""

    max_bytes: int = Field(description="The largest file read.")
    max_rows: int = Field(description="The most rows below the header.")


class SheetRowOutcome(Output):
    """What one row of the sheet did."""

    row: int = Field(description="The row's number in the sheet, as a spreadsheet shows it.")
    item: str
    action: Literal["submitted", "amended", "withdrawn", "unchanged", "left_alone"] = Field(
        description="`unchanged`: the row equals the live bid (or withdraws none); "
        "`left_alone`: the row gives no terms."
    )
    bid: BidPublic | None = Field(description="The bid after the row, where there is one.")


class BidSheetImportPublic(Output):
    """A bid sheet applied: which sheet and header row were read, and each row's outcome."""

    sheet: str | None = Field(description="The worksheet read (XLSX), null for a CSV.")
    header_row: int
    rows: list[SheetRowOutcome]
    submitted: int
    amended: int
    withdrawn: int
    unchanged: int
    ignored_columns: list[str] = Field(
        description="Headers of columns the sheet has that a bid sheet does not: not read."
    )
    limits: SheetLimits

    @classmethod
    def of(cls, sheet: BidSheet, done: list[SheetOutcome]) -> "BidSheetImportPublic":
        """The answer for a sheet and what its rows did."""
        rows = [
            SheetRowOutcome(
                row=outcome.row,
                item=outcome.item_id,
                action=outcome.action,
                bid=None if outcome.bid is None else BidPublic.of(*outcome.bid),
            )
            for outcome in done
        ]

        def count(action: str) -> int:
            return sum(1 for row in rows if row.action == action)

        return cls(
            sheet=sheet.sheet,
            header_row=sheet.header_row,
            rows=rows,
            submitted=count("submitted"),
            amended=count("amended"),
            withdrawn=count("withdrawn"),
            unchanged=count("unchanged"),
            ignored_columns=list(sheet.ignored_columns),
            limits=SheetLimits(**LIMITS),
        )
