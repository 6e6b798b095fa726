"""Bid sheets as spreadsheets really come: the columns, and reading a CSV or XLSX into rows.

Tolerant where a spreadsheet's habits are harmless (a BOM, a semicolon or tab separator,
title rows above the header, `Unit Cost` for `unit_cost`, the bids on the second sheet,
extra columns) and strict where a guess could change a bid: a decimal comma, a number
beyond two decimals or a part unit is refused, naming its cell and the expected form.
Reading collects every fault of every cell; the rules against the round (items, live
bids, versions) are `bid_sheet_import`'s, which adds its faults to these.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from bidding.bids import BidTerms
from bidding.errors import BidSheetInvalid
from bidding.values import foreign_digits
from solver.values import MAX_MONEY, MAX_UNITS

MAX_SHEET_BYTES = 5 * 1024 * 1024
"""The largest sheet file read."""
MAX_SHEET_ROWS = 5000
"""The most bid rows (non-blank rows below the header) one sheet may hold."""
MAX_SHEET_LINES = 2 * MAX_SHEET_ROWS
"""The last spreadsheet row read: a sheet running past it is refused, not cut short."""
MAX_SHEET_COLUMNS = 64
"""Columns read per row; a bid sheet has ten."""
HEADER_SEARCH_ROWS = 30
"""How far down title rows may push the header row."""
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
"""What an XLSX's parts may add up to once unpacked: a zip bomb is refused before reading."""
MAX_XLSX_ENTRIES = 1000
MAX_XLSX_SHEETS = 50
XLSX_MAGIC = b"PK\x03\x04"
BIDS_SHEET = "Bids"
SEPARATORS = (",", ";", "\t")
WITHDRAW_YES = frozenset({"yes", "y", "true", "x", "1"})
WITHDRAW_NO = frozenset({"no", "n", "false", "0"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Kind = Literal["item", "reference", "money", "units", "flag", "version"]


@dataclass(frozen=True)
class Column:
    """A bid-sheet column: its key, the template's label, and the headers read as it."""

    key: str
    label: str
    kind: Kind
    aliases: tuple[str, ...] = ()
    help: str = ""


COLUMNS = (
    Column("item", "Item id", "item", ("item",), "the item's id (itm_...), as the round lists it"),
    Column("item_name", "Item name", "item", ("name",), "the item's name: matches where unique"),
    Column("retail_price", "Retail price", "reference", (), "for reference only: not read"),
    Column("unit_cost", "Unit cost", "money", (), "your cost per unit, e.g. 18.50"),
    Column("capacity", "Capacity", "units", (), "whole units you can supply this month"),
    Column("ask_price", "Ask price", "money", (), "optional: the least you accept per unit"),
    Column("min_lot", "Min lot", "units", ("minimumlot",), "optional: the fewest units worth it"),
    Column("setup_cost", "Setup cost", "money", (), "optional: a one-off cost if you win any"),
    Column("withdraw", "Withdraw", "flag", (), "yes withdraws your live bid on the item"),
    Column("version", "version", "version", (), "do not edit: the bid version the sheet shows"),
)
BY_KEY = {column.key: column for column in COLUMNS}
TERMS = ("unit_cost", "capacity", "ask_price", "min_lot", "setup_cost")
LIMITS = {"max_bytes": MAX_SHEET_BYTES, "max_rows": MAX_SHEET_ROWS}
"""The limits a sheet is held to, stated in every answer to an import."""


def _normal(header: str) -> str:
    # "Unit Cost (CNY)", "unit_cost" and "UNIT COST" are one column.
    return re.sub(r"[\W_]+", "", re.sub(r"\(.*?\)|\[.*?\]", "", header)).lower()


HEADERS = {
    _normal(name): column.key
    for column in COLUMNS
    for name in (column.key, column.label, *column.aliases)
}


SheetFault = tuple[str, str, int | None, str | None]
"""(field, message, sheet row, A1 cell), as `BidSheetInvalid` takes them."""


@dataclass(frozen=True)
class Fault:
    """One thing wrong with a sheet: where (row, column, A1 cell) and what."""

    message: str
    row: int | None = None
    column: str | None = None
    cell: str | None = None

    @property
    def field(self) -> str:
        """The problem's field: `file`, `rows[5]` or `rows[5].unit_cost`."""
        if self.row is None:
            return "file"
        return f"rows[{self.row}]" + (f".{self.column}" if self.column else "")

    def as_tuple(self) -> SheetFault:
        """As `BidSheetInvalid` takes it."""
        place = f"cell {self.cell}: " if self.cell else ""
        return self.field, place + self.message, self.row, self.cell


def refuse(faults: Sequence[Fault]) -> BidSheetInvalid:
    """The 422 for a sheet's faults, in sheet order, with the limits stated."""
    ordered = sorted(faults, key=lambda f: (f.row or 0, _column_order(f.column)))
    return BidSheetInvalid([f.as_tuple() for f in ordered], LIMITS)


def _column_order(key: str | None) -> int:
    return next((i for i, c in enumerate(COLUMNS) if c.key == key), -1)


SheetAction = Literal["blank", "set", "withdraw"]


@dataclass(frozen=True)
class SheetRow:
    """A non-blank row below the header: the item as written, what it asks for, its version.

    `terms` is None for a blank or withdrawing row and for one whose terms are at fault
    (the sheet's `faults` say how); such a row is still checked for its item and version.
    `version` is the bid version the sheet was made from (0: no live bid then).
    """

    row: int
    item: str | None
    item_name: str | None
    action: SheetAction
    terms: BidTerms | None
    version: int | None
    cells: dict[str, str] = field(default_factory=dict)
    """Column key -> A1 cell, to name the cell of a fault found later."""


@dataclass(frozen=True)
class BidSheet:
    """A sheet read: which sheet and header row, its rows, and every fault found so far."""

    sheet: str | None
    header_row: int
    rows: tuple[SheetRow, ...]
    ignored_columns: tuple[str, ...]
    faults: tuple[Fault, ...]


# --- reading ------------------------------------------------------------------------------


def read_bid_sheet(filename: str | None, content: bytes) -> BidSheet:
    """A CSV or XLSX bid sheet read into rows and faults; a sheet that cannot be read raises."""
    if len(content) > MAX_SHEET_BYTES:
        raise refuse([Fault(f"larger than {MAX_SHEET_BYTES} bytes (the limit)")])
    is_xlsx = (filename or "").lower().endswith(".xlsx") or content.startswith(XLSX_MAGIC)
    name, table = _xlsx_table(content) if is_xlsx else (None, _csv_table(content))
    return _read_table(name, table)


Table = list[tuple[int, list[Any]]]
"""A sheet's non-blank rows as (spreadsheet row number, cells)."""


def _header(cells: Sequence[Any]) -> dict[int, str] | None:
    """Position -> column key where `cells` are a header row naming what a bid needs."""
    found = {
        position: HEADERS[_normal(value)]
        for position, value in enumerate(cells)
        if isinstance(value, str) and _normal(value) in HEADERS
    }
    keys = set(found.values())
    if {"unit_cost", "capacity"} <= keys and keys & {"item", "item_name"}:
        return found
    return None


def _find_header(table: Table) -> tuple[int, dict[int, str]] | None:
    """The index in `table` of the header row and its columns, within the rows searched."""
    for index, (number, cells) in enumerate(table):
        if number > HEADER_SEARCH_ROWS:
            return None
        found = _header(cells)
        if found is not None:
            return index, found
    return None


def _read_table(sheet: str | None, table: Table) -> BidSheet:
    located = _find_header(table)
    if located is None:
        raise refuse([_no_header(table)])
    index, columns = located
    header_number, header_cells = table[index]
    faults: list[Fault] = []
    positions: dict[str, list[int]] = {}
    for position, key in columns.items():
        positions.setdefault(key, []).append(position)
    for key, places in positions.items():
        if len(places) > 1:
            where = ", ".join(_a1(header_number, p) for p in places)
            faults.append(Fault(f"column {key!r} appears more than once ({where})"))
    if faults:
        raise refuse(faults)
    ignored = tuple(
        str(value).strip()
        for position, value in enumerate(header_cells)
        if position not in columns and _text(value)
    )
    named = {p for p, v in enumerate(header_cells) if p in columns or _text(v)}
    body = table[index + 1 :]
    if len(body) > MAX_SHEET_ROWS:
        raise refuse([Fault(f"more than {MAX_SHEET_ROWS} rows below the header (the limit)")])
    rows = []
    for number, cells in body:
        row = _read_row(number, cells, columns, named, faults)
        if row is not None:
            rows.append(row)
    return BidSheet(sheet, header_number, tuple(rows), ignored, tuple(faults))


def _no_header(table: Table) -> Fault:
    wanted = "the item (id or name), unit cost and capacity"
    if not table:
        return Fault("the sheet is empty")
    first = [str(v).strip() for v in table[0][1] if _text(v)]
    shown = ", ".join(repr(v) for v in first[:10])
    return Fault(
        f"no header row naming {wanted} in the first {HEADER_SEARCH_ROWS} rows "
        f"(the first row reads {shown}); the template's labels are "
        + ", ".join(c.label for c in COLUMNS)
    )


def _read_row(
    number: int,
    cells: Sequence[Any],
    columns: dict[int, str],
    named: set[int],
    faults: list[Fault],
) -> SheetRow | None:
    # A value under no column name would be dropped, and the others perhaps read shifted.
    stray = [p for p, v in enumerate(cells) if p not in named and _text(v)]
    if stray:
        faults.append(
            Fault(
                f"a value in column {stray[0] + 1}, which has no header "
                f"(the header names {len(named)} columns)",
                row=number,
                cell=_a1(number, stray[0]),
            )
        )
        return None
    values = {
        key: (cells[p], _a1(number, p))
        for p, key in columns.items()
        if p < len(cells) and _present(cells[p])
    }
    refs = {key: _a1(number, p) for p, key in columns.items()}
    if not values:
        return None
    item = _item_text(values.get("item"))
    item_name = _item_text(values.get("item_name"))
    version = _version(number, values.get("version"), faults)
    withdraw = _flag(number, values.get("withdraw"), faults)
    given = [key for key in TERMS if key in values]
    if withdraw:
        action: SheetAction = "withdraw"
    elif given:
        action = "set"
    else:
        action = "blank"
    if action != "blank" and item is None and item_name is None:
        faults.append(Fault("an item id or name is required", number, "item", refs.get("item")))
    terms = _terms(number, values, refs, faults) if action == "set" else None
    return SheetRow(number, item, item_name, action, terms, version, refs)


def _terms(
    number: int, values: dict[str, tuple[Any, str]], refs: dict[str, str], faults: list[Fault]
) -> BidTerms | None:
    before = len(faults)
    read: dict[str, Decimal] = {}
    for key in TERMS:
        if key not in values:
            if key in ("unit_cost", "capacity"):
                faults.append(
                    Fault("required where the row sets a bid", number, key, refs.get(key))
                )
            continue
        value, cell = values[key]
        parsed = _number(value, money=BY_KEY[key].kind == "money")
        problem = parsed if isinstance(parsed, str) else _range(key, parsed)
        if problem is not None:
            faults.append(Fault(problem, number, key, cell))
        elif isinstance(parsed, Decimal):
            read[key] = parsed
    if len(faults) > before:
        return None
    ask = read.get("ask_price")
    terms = BidTerms(
        unit_cost=read["unit_cost"],
        capacity=int(read["capacity"]),
        ask_price=ask or None,  # 0 is no ask, as in the JSON API
        min_lot=int(read.get("min_lot", 0)),
        setup_cost=read.get("setup_cost", Decimal(0)),
    )
    if terms.min_lot > terms.capacity:
        faults.append(
            Fault("must be at most the bid's capacity", number, "min_lot", values["min_lot"][1])
        )
        return None
    return terms


def _range(key: str, value: Decimal) -> str | None:
    """What is wrong with a number in a column, if anything (the JSON API's rules)."""
    if BY_KEY[key].kind == "units":
        if value != value.to_integral_value():
            return f"{_plain(value)} is not a whole number of units"
        least = 1 if key == "capacity" else 0
        if not least <= value <= MAX_UNITS:
            return f"must be a whole number from {least} to {MAX_UNITS}"
        return None
    if value != value.quantize(Decimal("0.01")):
        return f"{_plain(value)} has more than 2 decimal places: money is in whole cents"
    if key == "unit_cost" and not 0 < value <= MAX_MONEY:
        return f"must be more than 0 and at most {MAX_MONEY}"
    if not 0 <= value <= MAX_MONEY:
        return f"must be from 0 to {MAX_MONEY}"
    return None


EXCEL_DIGITS = 15
"""Significant digits Excel shows of a number (and keeps of one typed)."""
# ASCII digits only (re.ASCII): Python's \d, and Decimal(), also read other scripts' digits.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
MONEY_NUMBER = re.compile(r"\d+(\.\d+)?", re.ASCII)
"""Money as text in a cell: as the API takes it (more than 2 decimals is refused after)."""
DECIMAL_COMMA = re.compile(r"[+-]?\d{1,3}(\.\d{3})*,\d+|[+-]?\d+,\d+", re.ASCII)
DOTTED_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+", re.ASCII)
THOUSANDS = re.compile(r"[+-]?\d{1,3}([, \u00a0\u202f]\d{3})+(\.\d+)?", re.ASCII)


def _number(value: Any, *, money: bool) -> Decimal | str:
    """A cell as the decimal it shows, or what is wrong with it.

    An XLSX number comes back as a float (openpyxl reads `<v>18.5</v>` so). It is spelled
    to 15 significant digits, as Excel shows it: `=18.4+0.1` is stored as
    18.499999999999996 and shown, and read, as 18.5, while a typed 18.505 stays 18.505
    and is refused. The float is only a carrier: no arithmetic is done on it.
    """
    if isinstance(value, bool):
        return "a TRUE/FALSE value, not a number"
    if isinstance(value, (datetime, date, time)):
        return "a date or time, not a number (format the cell as a number)"
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        parsed = Decimal(format(value, f".{EXCEL_DIGITS}g"))
        return parsed if parsed.is_finite() else "not a finite number"
    text = _text(value) or ""
    example = "18.50" if money else "8000"
    if foreign_digits(text):
        return f"{text!r} has digits other than ASCII 0-9: write it as e.g. {example}"
    if money and PLAIN_NUMBER.fullmatch(text) and not MONEY_NUMBER.fullmatch(text):
        return f"{text!r} is not written as money: write it as e.g. {example}"
    if not money and DOTTED_THOUSANDS.fullmatch(text):  # 8.000: eight, or eight thousand?
        digits = text.replace(".", "")
        return (
            f"{text!r} reads as a thousands separator or as decimals: write {digits} "
            "for that many whole units, without separators"
        )
    if PLAIN_NUMBER.fullmatch(text):
        return Decimal(text)
    if THOUSANDS.fullmatch(text):
        digits = re.sub(r"[, \u00a0\u202f]", "", text)
        return f"{text!r} has thousands separators: write {digits}"
    if DECIMAL_COMMA.fullmatch(text):
        expected = text.replace(".", "").replace(",", ".")
        return f"{text!r} has a decimal comma: write {expected} (a point, no separators)"
    return f"{text!r} is not a number: write it as e.g. {example}"


def _plain(value: Decimal) -> str:
    return format(value, "f")


def _version(number: int, cell: tuple[Any, str] | None, faults: list[Fault]) -> int | None:
    if cell is None:
        return None
    value, ref = cell
    parsed = _number(value, money=False)
    if isinstance(parsed, Decimal) and parsed == parsed.to_integral_value() and parsed >= 0:
        return int(parsed)
    faults.append(Fault("not a bid version: copy it from a fresh template", number, "version", ref))
    return None


def _flag(number: int, cell: tuple[Any, str] | None, faults: list[Fault]) -> bool:
    if cell is None:
        return False
    value, ref = cell
    if isinstance(value, bool):
        return value
    text = (_text(value) or "").lower()
    if text in WITHDRAW_YES:
        return True
    if text in WITHDRAW_NO:
        return False
    faults.append(
        Fault(f"{text!r}: write yes to withdraw, or leave it blank", number, "withdraw", ref)
    )
    return False


def _item_text(cell: tuple[Any, str] | None) -> str | None:
    if cell is None:
        return None
    value = cell[0]
    text = format(value, f".{EXCEL_DIGITS}g") if isinstance(value, float) else _text(value)
    return unneutralised(text) if text else None


def neutralised(text: str) -> str:
    """A text cell a spreadsheet would run as a formula, made plain text with a leading '."""
    return "'" + text if text.startswith(FORMULA_START) else text


def unneutralised(text: str) -> str:
    """`neutralised` undone, so a name read back matches the item's."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _present(value: Any) -> bool:
    return not (value is None or (isinstance(value, str) and not value.strip()))


def _a1(number: int, position: int) -> str:
    return f"{get_column_letter(position + 1)}{number}"


# --- CSV ----------------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise refuse([Fault("not readable as UTF-16 text")]) from exc
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse([Fault("a CSV sheet must be UTF-8 (in Excel: Save As, 'CSV UTF-8')")]) from exc


def _csv_table(content: bytes) -> Table:
    """The CSV's rows, split on whichever of comma, semicolon and tab its header uses."""
    text = _decode(content)
    heads = {separator: _split(text, separator, HEADER_SEARCH_ROWS) for separator in SEPARATORS}
    for separator, head in heads.items():
        if _find_header(head) is not None:
            return _split(text, separator, MAX_SHEET_LINES + 1)
    # No separator gives a header: answer for the one that splits the first row most.
    return max(heads.values(), key=lambda t: len(t[0][1]) if t else 0)


def _split(text: str, separator: str, records: int) -> Table:
    """The first `records` records of the text, refused past MAX_SHEET_LINES."""
    table: Table = []
    try:
        reader = csv.reader(io.StringIO(text), delimiter=separator)
        for number, cells in enumerate(reader, 1):
            if number > records:
                break
            if number > MAX_SHEET_LINES:
                raise refuse([Fault(f"more than {MAX_SHEET_LINES} lines (the limit)")])
            if any(c.strip() for c in cells):
                table.append((number, cells[:MAX_SHEET_COLUMNS]))
    except csv.Error as exc:
        raise refuse([Fault(f"not a readable CSV: {exc}")]) from exc
    return table


# --- XLSX ---------------------------------------------------------------------------------


def _xlsx_table(content: bytes) -> tuple[str, Table]:
    _refuse_zip_bomb(content)
    try:
        sheets = _read_xlsx(content)
    except BidSheetInvalid:
        raise
    except Exception as exc:
        # Untrusted bytes through a zip reader, an XML parser and openpyxl's cell readers:
        # each fails in its own way (BadZipFile, ParseError, ValueError, IndexError, ...),
        # and every one of them means the same thing to the caller.
        raise refuse([Fault("not a readable XLSX workbook")]) from exc
    if not sheets:
        raise refuse([Fault("not a readable XLSX workbook")])
    return _bids_sheet(sheets)


def _bids_sheet(sheets: list[tuple[str, Table]]) -> tuple[str, Table]:
    """The sheet named Bids if it has a header row, else the first sheet that has one."""
    with_header = [(name, table) for name, table in sheets if _find_header(table) is not None]
    for name, table in with_header:
        if _normal(name) == _normal(BIDS_SHEET):
            return name, table
    if with_header:
        return with_header[0]
    if len(sheets) == 1:
        return sheets[0]
    names = ", ".join(repr(name) for name, _ in sheets)
    raise refuse(
        [
            Fault(
                f"no sheet of the workbook ({names}) has a header row naming the item "
                "(id or name), unit cost and capacity; the template's bids sheet is "
                f"named {BIDS_SHEET!r}"
            )
        ]
    )


def _refuse_zip_bomb(content: bytes) -> None:
    """Refuse a workbook whose parts unpack to more than the cap, before unpacking any."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise refuse([Fault("not a readable XLSX workbook")]) from exc
    # zipfile stops each part at its declared size, so the declared sizes bound the unpacking.
    if len(entries) > MAX_XLSX_ENTRIES:
        raise refuse([Fault(f"an XLSX workbook with more than {MAX_XLSX_ENTRIES} parts")])
    if sum(entry.file_size for entry in entries) > MAX_XLSX_UNPACKED_BYTES:
        raise refuse(
            [Fault(f"an XLSX workbook larger than {MAX_XLSX_UNPACKED_BYTES} bytes unpacked")]
        )


def _read_xlsx(content: bytes) -> list[tuple[str, Table]]:
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        return [
            (sheet.title, _sheet_rows(sheet.iter_rows(max_col=MAX_SHEET_COLUMNS, values_only=True)))
            for sheet in book.worksheets[:MAX_XLSX_SHEETS]
        ]
    finally:
        book.close()


def _sheet_rows(rows: Iterable[tuple[Any, ...]]) -> Table:
    table: Table = []
    # openpyxl fills the gaps between stored rows: count them all, so a sheet that claims
    # a row a million lines down is refused rather than walked.
    for number, cells in enumerate(rows, start=1):
        if number > MAX_SHEET_LINES:
            raise refuse(
                [
                    Fault(
                        f"a sheet with rows past row {MAX_SHEET_LINES} (the limit): delete "
                        "the rows below the bids, formatted empty ones too"
                    )
                ]
            )
        if any(_present(c) for c in cells):
            table.append((number, list(cells)))
    return table
