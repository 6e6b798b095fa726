"""Reading bid sheets without a database: separators, headers, numbers, limits."""

import io
import time
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook

from bidding.bid_sheets import (
    MAX_SHEET_BYTES,
    MAX_SHEET_LINES,
    MAX_SHEET_ROWS,
    BidSheet,
    read_bid_sheet,
)
from bidding.errors import BidSheetInvalid


def _read(text: str, name: str = "s.csv") -> BidSheet:
    return read_bid_sheet(name, text.encode())


def _refusal(content: bytes, name: str = "s.csv") -> dict[str, str]:
    with pytest.raises(BidSheetInvalid) as refused:
        read_bid_sheet(name, content)
    return dict(refused.value.errors)


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_the_separator_is_the_one_the_header_uses(separator: str) -> None:
    sheet = _read(separator.join(["Item", "Unit cost", "Capacity"]) + "\nJar,x" + "\n")
    assert sheet.header_row == 1
    text = (
        separator.join(["item", "unit_cost", "capacity"])
        + "\n"
        + separator.join(["Jar", "18.50", "8000"])
    )
    (row,) = _read(text).rows
    assert (row.item, str(row.terms and row.terms.unit_cost), row.terms and row.terms.capacity) == (
        "Jar",
        "18.50",
        8000,
    )


@pytest.mark.parametrize(
    "header",
    ["UNIT_COST", "Unit Cost", " unit cost ", "Unit cost (CNY)", "unit-cost"],
)
def test_headers_match_whatever_their_case_spacing_or_unit(header: str) -> None:
    sheet = _read(f"item,{header},capacity\nJar,1.00,5\n")
    assert sheet.rows[0].terms is not None
    assert sheet.ignored_columns == ()


def test_a_bom_and_utf16_text_are_read() -> None:
    text = "item\tunit_cost\tcapacity\r\nJar\t1.00\t5\r\n"
    for content in ("\ufeff" + text.replace("\t", ",")).encode(), text.encode("utf-16"):
        (row,) = read_bid_sheet("s.txt", content).rows
        assert row.item == "Jar"


@pytest.mark.parametrize(
    ("cell", "money", "expected"),
    [
        ("18,50", True, "write 18.50"),
        ("1.234,50", True, "write 1234.50"),
        ("8,000", False, "write 8000"),
        ("8 000", False, "write 8000"),
        ("8.000", False, "write 8000"),
        ("18.5.0", True, "write it as e.g. 18.50"),
        ("1e3", True, "write it as e.g. 18.50"),
        ("\u0661\u0668.\u0665\u0660", True, "digits other than ASCII 0-9: write it as e.g. 18.50"),
        ("\uff11\uff18.50", True, "digits other than ASCII 0-9"),
        ("\u0668\u0660\u0660\u0660", False, "digits other than ASCII 0-9: write it as e.g. 8000"),
        ("+18.50", True, "write it as e.g. 18.50"),
        ("18.", True, "write it as e.g. 18.50"),
    ],
)
def test_a_number_in_a_local_spelling_is_refused_showing_the_form_expected(
    cell: str, money: bool, expected: str
) -> None:
    column = "unit_cost" if money else "capacity"
    values = {"unit_cost": "1.00", "capacity": "5", column: f'"{cell}"'}
    sheet = _read(f"item,unit_cost,capacity\nJar,{values['unit_cost']},{values['capacity']}\n")
    faults = {f.field: f for f in sheet.faults}
    assert set(faults) == {f"rows[2].{column}"}
    fault = faults[f"rows[2].{column}"]
    assert fault.cell == ("B2" if money else "C2")
    assert expected in fault.message


def test_a_float_cell_is_read_as_the_decimal_excel_shows_and_refused_past_cents() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["item", "unit_cost", "capacity"])
    sheet.append(["Jar", 0.1, 10])
    sheet.append(["Lid", 2 / 3, 10])
    sheet.append(["Cup", 18.4 + 0.1, 8000.0])  # 18.499999999999996: arithmetic's noise
    sheet.append(["Pan", 18.505, 10])
    out = io.BytesIO()
    book.save(out)
    # openpyxl writes a float's shortest repr; Excel writes up to 17 digits: write those.
    content = _rezipped_floats(out.getvalue(), {b"18.5": b"18.499999999999996"})
    read = read_bid_sheet("b.xlsx", content)
    by_item = {row.item: row.terms for row in read.rows}
    jar, cup = by_item["Jar"], by_item["Cup"]
    assert jar is not None
    assert cup is not None
    assert (str(jar.unit_cost), cup.unit_cost, cup.capacity) == ("0.1", Decimal("18.5"), 8000)
    faults = {f.field: f.message for f in read.faults}
    assert set(faults) == {"rows[3].unit_cost", "rows[5].unit_cost"}
    assert "0.666666666666667 has more than 2 decimal places" in faults["rows[3].unit_cost"]
    assert "18.505 has more than 2 decimal places" in faults["rows[5].unit_cost"]


def _rezipped_floats(xlsx: bytes, values: dict[bytes, bytes]) -> bytes:
    """The workbook with some `<v>` numbers of its first sheet spelled otherwise."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    for old, new in values.items():
        assert b"<v>" + old + b"</v>" in parts[sheet]
        parts[sheet] = parts[sheet].replace(b"<v>" + old + b"</v>", b"<v>" + new + b"</v>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


def test_a_column_named_twice_through_its_label_is_refused() -> None:
    errors = _refusal(b"item,Unit cost,capacity,unit_cost\nJar,1,2,3\n")
    assert "'unit_cost' appears more than once (B1, D1)" in errors["file"]


def test_no_header_names_what_is_wanted_and_what_the_first_row_reads() -> None:
    errors = _refusal(b"colour,size\nred,1\n")
    assert "'colour', 'size'" in errors["file"]
    assert "Unit cost" in errors["file"]


def test_the_row_limit_is_kept_and_stated() -> None:
    rows = "".join(f"Item{i},1.00,1\n" for i in range(MAX_SHEET_ROWS + 1))
    errors = _refusal(("item,unit_cost,capacity\n" + rows).encode())
    assert f"more than {MAX_SHEET_ROWS} rows" in errors["file"]


def test_a_workbook_claiming_a_row_a_million_lines_down_is_refused_quickly() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["item", "unit_cost", "capacity"])
    sheet.cell(row=1_000_000, column=1, value="far away")
    out = io.BytesIO()
    book.save(out)
    started = time.monotonic()
    errors = _refusal(out.getvalue(), "far.xlsx")
    assert f"past row {MAX_SHEET_LINES}" in errors["file"]
    assert time.monotonic() - started < 30  # a guard against walking the million rows


def test_the_size_limit_is_kept_and_stated() -> None:
    content = b"item,unit_cost,capacity\n" + b" " * MAX_SHEET_BYTES
    errors = _refusal(content)
    assert errors["file"] == f"larger than {MAX_SHEET_BYTES} bytes (the limit)"
