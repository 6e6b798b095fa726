"""Bid sheets (CSV or XLSX) read into checked rows; the rules against the round are bidding's."""

import csv
import io
import zipfile
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError

from api.schemas.bids import BidCreate
from bidding.bids import BidTerms
from bidding.errors import InvalidInput

MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_SHEET_ROWS = 5000
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
"""What an XLSX's parts may add up to once unpacked: a zip bomb is refused before reading."""
MAX_XLSX_ENTRIES = 1000
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
    named = [c for c in header if c]
    duplicated = sorted({c for c in named if named.count(c) > 1})
    if missing or unknown or duplicated:
        raise InvalidInput(
            [("file", f"missing column {c!r}") for c in missing]
            + [("file", f"unknown column {c!r} (known: {', '.join(COLUMNS)})") for c in unknown]
            + [("file", f"column {c!r} appears more than once") for c in duplicated]
        )
    if len(table) - 1 > MAX_SHEET_ROWS:
        raise InvalidInput([("file", f"more than {MAX_SHEET_ROWS} rows")])
    rows: list[tuple[int, str, BidTerms]] = []
    errors: list[tuple[str, str]] = []
    for line, cells in enumerate(table[1:], start=2):
        # A value under no column name would be dropped, and the others read shifted.
        stray = [
            position
            for position, value in enumerate(cells, start=1)
            if _cell(value) is not None and (position > len(header) or not header[position - 1])
        ]
        if stray:
            errors.append(
                (
                    f"rows[{line}]",
                    f"a value in column {stray[0]}, which has no header "
                    f"(the header names {len(named)} columns)",
                )
            )
            continue
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
    _refuse_zip_bomb(content)
    try:
        return _read_xlsx(content)
    except Exception as exc:
        # Untrusted bytes through a zip reader, an XML parser and openpyxl's cell readers:
        # each fails in its own way (BadZipFile, ParseError, ValueError, IndexError, ...),
        # and every one of them means the same thing to the caller.
        raise InvalidInput([("file", "not a readable XLSX workbook")]) from exc


def _refuse_zip_bomb(content: bytes) -> None:
    """Refuse a workbook whose parts unpack to more than the cap, before unpacking any."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidInput([("file", "not a readable XLSX workbook")]) from exc
    # zipfile stops each part at its declared size, so the declared sizes bound the unpacking.
    if len(entries) > MAX_XLSX_ENTRIES:
        raise InvalidInput([("file", f"an XLSX workbook with more than {MAX_XLSX_ENTRIES} parts")])
    if sum(entry.file_size for entry in entries) > MAX_XLSX_UNPACKED_BYTES:
        raise InvalidInput(
            [("file", f"an XLSX workbook larger than {MAX_XLSX_UNPACKED_BYTES} bytes unpacked")]
        )


def _read_xlsx(content: bytes) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
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
