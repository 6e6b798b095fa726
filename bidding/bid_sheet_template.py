"""A factory's bid sheet to fill: the round's items, its own live bids, and how to send it back.

The XLSX has an instructions sheet and a bids sheet whose cells carry data validation
(money above 0 in whole cents, whole units) and a hidden `version` column, so a sheet
filled from an old copy is refused instead of undoing a later amendment. The CSV holds
the same rows. Both read back through `bid_sheets.read_bid_sheet` unchanged.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from bidding.bid_sheet_import import SheetItem, round_items
from bidding.bid_sheets import (
    BIDS_SHEET,
    COLUMNS,
    MAX_SHEET_BYTES,
    MAX_SHEET_ROWS,
    Column,
)
from bidding.bids import BidTerms, live_bids_of, terms_of
from bidding.errors import RoundNotFound
from bidding.export_cells import neutralise, xlsx_text
from bidding.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from bidding.models import Round
from bidding.principal import Principal
from bidding.rounds import can_see_round
from bidding.values import from_cents, plain
from solver.values import MAX_MONEY, MAX_UNITS

TemplateFormat = Literal["csv", "xlsx"]
REFERENCE_FILL = PatternFill("solid", fgColor="EEEEEE")
MONEY_FORMAT = "0.00"
UNITS_FORMAT = "0"


@dataclass(frozen=True)
class TemplateRow:
    """One item's row: the item, and the factory's live bid on it (if any) with its version."""

    item: SheetItem
    terms: BidTerms | None
    version: int


@dataclass(frozen=True)
class BidSheetFile:
    """A template ready to send: its bytes, media type and file name."""

    content: bytes
    media_type: str
    filename: str


def bid_sheet_template(
    *, session: Session, principal: Principal, round_id: str, fmt: TemplateFormat
) -> BidSheetFile:
    """The factory's bid sheet for a round, pre-filled with its own live bids only."""
    row = session.get(Round, round_id)
    if row is None or principal.factory_id is None or not can_see_round(session, principal, row):
        raise RoundNotFound(f"no round {round_id!r}")
    items = round_items(session, row)
    live = live_bids_of(session, row, principal.factory_id)  # its own bids, never another's
    rows = [
        TemplateRow(
            item,
            terms_of(live[item.id][1]) if item.id in live else None,
            live[item.id][0].version if item.id in live else 0,
        )
        for item in items
    ]
    if fmt == "csv":
        return BidSheetFile(template_csv(rows), CSV_MEDIA_TYPE, f"bids-{row.id}.csv")
    return BidSheetFile(template_xlsx(row, rows), XLSX_MEDIA_TYPE, f"bids-{row.id}.xlsx")


def _values(row: TemplateRow) -> list[str | int | Decimal | None]:
    """The row's cells in COLUMNS order: money as exact decimals, blanks where no bid."""
    terms = row.terms
    by_key: dict[str, str | int | Decimal | None] = {
        "item": row.item.id,
        "item_name": row.item.name,
        "retail_price": from_cents(row.item.retail_price_cents),
        "version": row.version,
    }
    if terms is not None:
        by_key |= {
            "unit_cost": terms.unit_cost,
            "capacity": terms.capacity,
            "ask_price": terms.ask_price,
            "min_lot": terms.min_lot,
            "setup_cost": terms.setup_cost,
        }
    return [by_key.get(column.key) for column in COLUMNS]


def template_csv(rows: Sequence[TemplateRow]) -> bytes:
    """The template's rows as CSV: the labels, then one row per item (UTF-8, comma)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([column.label for column in COLUMNS])
    for row in rows:
        writer.writerow(
            [
                ""
                if value is None
                else plain(value)
                if isinstance(value, Decimal)
                else neutralise(value)
                if isinstance(value, str)
                else str(value)
                for value in _values(row)
            ]
        )
    return out.getvalue().encode("utf-8")


def template_xlsx(round_row: Round, rows: Sequence[TemplateRow]) -> bytes:
    """The template as a workbook: instructions first, then the bids sheet (opened on it)."""
    book = Workbook()
    instructions = book.active
    assert instructions is not None  # a new workbook has one sheet
    instructions.title = "Instructions"
    _write_instructions(instructions, round_row)
    bids = book.create_sheet(BIDS_SHEET)
    _write_bids(bids, rows)
    book.active = bids
    instructions.sheet_view.tabSelected = False  # one selected tab: Excel groups several
    bids.sheet_view.tabSelected = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_instructions(sheet: Worksheet, round_row: Round) -> None:
    lines = [
        f"Bid sheet for round {round_row.name} ({round_row.id}), period {round_row.period}",
        "",
        f"Fill the {BIDS_SHEET!r} sheet, one row per item, and send the file back to "
        f"POST /v1/rounds/{round_row.id}/bids/import (this XLSX, or a CSV of the same columns).",
        "A row equal to your live bid changes nothing; a changed row amends the bid (a new "
        "version); a row with no terms leaves the item alone; Withdraw = yes withdraws "
        "your live bid on the item.",
        "Numbers: a point for decimals (18.50), no thousands separators. Money has at most "
        "2 decimals; capacity and min lot are whole units.",
        "Items are matched by their id, or by their name where it is unique in the round.",
        "The hidden 'version' column is the bid version each row shows. If the bid has "
        "changed since this sheet was made, the import is refused naming the row: download "
        "a new template.",
        "Every fault of every row is answered at once, and nothing is stored until the sheet "
        "has none.",
        f"Limits: at most {MAX_SHEET_ROWS} rows and {MAX_SHEET_BYTES} bytes per file.",
        "",
        "Column",
    ]
    for line in lines:
        sheet.append([line])
    sheet["A1"].font = Font(bold=True, size=14)
    heading = sheet.max_row
    sheet.cell(row=heading, column=2, value="What to write")
    for cell in sheet[heading]:
        cell.font = Font(bold=True)
    for column in COLUMNS:
        sheet.append([column.label, column.help])
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 60


def _write_bids(sheet: Worksheet, rows: Sequence[TemplateRow]) -> None:
    sheet.append([column.label for column in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        for position, (column, value) in enumerate(zip(COLUMNS, _values(row), strict=True), 1):
            shown = xlsx_text(value) if isinstance(value, str) else value
            cell = sheet.cell(row=number, column=position, value=shown)
            if isinstance(value, str):
                cell.data_type = "s"  # a name such as "=1+1" stays text, never a formula
            if column.kind == "money" or column.key == "retail_price":
                cell.number_format = MONEY_FORMAT
            elif column.kind == "units":
                cell.number_format = UNITS_FORMAT
            if column.kind in ("item", "reference"):
                cell.fill = REFERENCE_FILL
    last = len(rows) + 1
    for position, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = 28 if column.key == "item_name" else 14
        validation = _validation(column, f"{letter}2") if last > 1 else None
        if validation is not None:
            validation.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(validation)
    version = get_column_letter(len(COLUMNS))
    sheet.column_dimensions[version].hidden = True
    sheet.freeze_panes = "C2"


def _validation(column: Column, first: str) -> DataValidation | None:
    """The cell rule Excel checks as the user types; the import checks the same again."""
    if column.kind == "money":
        least = ">0" if column.key == "unit_cost" else ">=0"
        rule = DataValidation(
            type="custom",
            formula1=f"AND(ISNUMBER({first}),{first}{least},{first}<={MAX_MONEY},"
            f"ROUND({first},2)={first})",
            error=f"{column.label}: a number {least.replace('>=', 'from ').replace('>', 'above ')}"
            f", at most 2 decimals, with a point (18.50)",
        )
    elif column.kind == "units":
        fewest = 1 if column.key == "capacity" else 0
        rule = DataValidation(
            type="whole",
            operator="between",
            formula1=str(fewest),
            formula2=str(MAX_UNITS),
            error=f"{column.label}: whole units from {fewest}",
        )
    elif column.kind == "flag":
        rule = DataValidation(type="list", formula1='"yes,no"', error="yes, no or blank")
    else:
        return None
    rule.allow_blank = True
    rule.showErrorMessage = True
    rule.errorTitle = column.label
    return rule
