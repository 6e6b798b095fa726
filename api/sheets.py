"""Bid sheets over HTTP: the import's answer; the reading and rules are bidding's."""

from typing import Literal

from pydantic import Field

from api.schemas import BidPublic, Output
from bidding.bid_sheet_import import SheetOutcome
from bidding.bid_sheets import LIMITS, BidSheet


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
