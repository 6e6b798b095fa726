"""Spreadsheet cell safety: text that would run as a formula is neutralised; numbers stay."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from bidding.export_cells import (
    Cell,
    Money,
    Percent,
    csv_row,
    csv_text,
    money_format,
    neutralise,
    percent_text,
    xlsx_value,
)

DANGEROUS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["Acme Toys", "fac_Xk3abc", "", "a=b", " =1", "'quoted", "100% cotton"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert csv_text(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralise(text) == text
    assert csv_text(text) == text


def test_numbers_stay_numbers_in_csv_even_negative() -> None:
    assert csv_text(-5) == "-5"
    assert csv_text(Decimal("-0.25")) == "-0.25"
    assert csv_text(Money(Decimal("-1850"))) == "-1850.00"
    assert csv_text(Percent(Decimal("-0.05"))) == "-5.00%"
    assert csv_text(None) == ""


def test_money_has_two_decimals_and_percentages_are_readable() -> None:
    assert csv_text(Money(Decimal("18.5"))) == "18.50"
    assert csv_text(Money(Decimal("1234567.891"))) == "1234567.89"
    assert percent_text(Decimal("0.125")) == "12.50%"
    assert percent_text(Decimal("0.123456789")) == "12.3456789%"
    assert percent_text(Decimal("1")) == "100.00%"
    # Rounded down to 9 decimals of the fraction: never shown above the true margin.
    assert percent_text(Decimal("0.1234567899")) == "12.3456789%"
    assert percent_text(Decimal("1E-9")) == "0.0000001%"


def test_a_csv_row_round_trips_through_a_csv_reader() -> None:
    row: list[Cell] = ['=HYPERLINK("x","y")', "Acme, Ltd", 3, Money(Decimal("2.5")), None]
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(row))
    parsed = next(csv.reader(io.StringIO(out.getvalue())))
    assert parsed == ['\'=HYPERLINK("x","y")', "Acme, Ltd", "3", "2.50", ""]


def test_money_format_names_only_a_currency_code() -> None:
    assert money_format("EUR") == '#,##0.00 "EUR"'
    assert money_format(None) == "#,##0.00"
    assert money_format('E"R') == "#,##0.00"


def _round_trip(cells: list[Cell]) -> list[tuple[object, str, str]]:
    """Write cells to a workbook as an export does, read them back: (value, type, format)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for column, cell in enumerate(cells, start=1):
        value, number_format = xlsx_value(cell)
        target = sheet.cell(row=1, column=column, value=value)
        if number_format is not None:
            target.number_format = number_format
    out = io.BytesIO()
    book.save(out)
    read = load_workbook(io.BytesIO(out.getvalue())).active
    assert read is not None
    return [(c.value, c.data_type, c.number_format) for c in read[1]]


def test_xlsx_text_is_never_a_formula_and_numbers_are_numbers() -> None:
    cells: list[Cell] = [
        *DANGEROUS,
        "bad\x01char",
        -7,
        Money(Decimal("-1850"), "EUR"),
        Percent(Decimal("0.125")),
        Decimal("2.5"),
    ]
    read = _round_trip(cells)
    texts = read[: len(DANGEROUS)]
    for (value, data_type, _), original in zip(texts, DANGEROUS, strict=True):
        assert data_type == "s"
        assert isinstance(value, str)
        # XML reads a carriage return back as a line feed; the apostrophe still leads.
        assert value == "'" + original.replace("\r", "\n")
    rest = read[len(DANGEROUS) :]
    assert rest[0] == ("bad\ufffdchar", "s", "General")
    assert rest[1][:2] == (-7, "n")
    assert rest[2] == (-1850, "n", '#,##0.00 "EUR"')
    assert rest[3] == (0.125, "n", "0.00%")
    assert rest[4][:2] == (2.5, "n")
