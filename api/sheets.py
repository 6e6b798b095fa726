"""Bid sheets (CSV or XLSX) read into checked rows; the rules against the round are bidding's."""

import csv
import io
import zipfile
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from api.schemas import BidCreate
from bidding.bids import BidTerms
from bidding.errors import InvalidInput

MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_SHEET_ROWS = 5000
REQUIRED = ("item", "unit_cost", "capacity")
COLUMNS = (*REQUIRED, "ask_price", "min_lot", "setup_cost")
XLSX_MAGIC = b"PK\x03\x04"


def read_bid_sheet(filename: str | None, content: bytes) -> list[tuple[int, str, BidTerms]]:
    """The bid rows of a sheet as (sheet line, item, terms); every fault of every row listed."""
    if len(content) > MAX_SHEET_BYTES:
        raise InvalidInput([("file", f"larger than {MAX_SHEET_BYTES} bytes")])
    is_xlsx = (filename or "").lower().endswith(".xlsx") or content.startswith(XLSX_MAGIC)
    table = _xlsx_rows(content) if is_xlsx else _csv_rows(content)
    if not table:
        raise InvalidInput([("file", "the sheet is empty")])
    header = [str(cell or "").strip().lower() for cell in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing or unknown:
        raise InvalidInput(
            [("file", f"missing column {c!r}") for c in missing]
            + [("file", f"unknown column {c!r} (known: {', '.join(COLUMNS)})") for c in unknown]
        )
    if len(table) - 1 > MAX_SHEET_ROWS:
        raise InvalidInput([("file", f"more than {MAX_SHEET_ROWS} rows")])
    rows: list[tuple[int, str, BidTerms]] = []
    errors: list[tuple[str, str]] = []
    for line, cells in enumerate(table[1:], start=2):
        values = {
            name: _cell(value)
            for name, value in zip(header, cells, strict=False)
            if name and _cell(value) is not None
        }
        if not values:
            continue  # a blank line
        try:
            bid = BidCreate.model_validate(values)
        except ValidationError as exc:
            errors += [
                (f"rows[{line}]." + ".".join(str(p) for p in e["loc"]), e["msg"])
                for e in exc.errors()
            ]
            continue
        terms = BidTerms(
            unit_cost=bid.unit_cost,
            capacity=bid.capacity,
            ask_price=bid.ask_price,
            min_lot=bid.min_lot,
            setup_cost=bid.setup_cost,
        )
        rows.append((line, bid.item, terms))
    if errors:
        raise InvalidInput(errors)
    return rows


def _cell(value: Any) -> Any:
    # Spreadsheets hand numbers back as floats: their shortest repr is what the user typed.
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return value.strip() if isinstance(value, str) else value


def _csv_rows(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput([("file", "a CSV sheet must be UTF-8")]) from exc
    try:
        return [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InvalidInput([("file", f"not a readable CSV: {exc}")]) from exc


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput([("file", "not a readable XLSX workbook")]) from exc
    try:
        sheet = book.worksheets[0]
        rows: list[list[Any]] = []
        for row in sheet.iter_rows(values_only=True):
            if len(rows) > MAX_SHEET_ROWS + 1:
                break
            if any(cell is not None for cell in row):
                rows.append(list(row))
        return rows
    finally:
        book.close()
