"""Reading exports back as a spreadsheet user would: CSV rows, XLSX sheets, and their match."""

import csv
import io
from decimal import Decimal
from typing import Any

import openpyxl

BOM = "\ufeff"
TEXT_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_rows(content: bytes) -> list[dict[str, str]]:
    """A CSV export's rows by header; it starts with a UTF-8 byte order mark."""
    text = content.decode("utf-8")
    assert text.startswith(BOM), "a CSV export starts with a byte order mark"
    return list(csv.DictReader(io.StringIO(text[len(BOM) :])))


def csv_cells(content: bytes) -> list[list[str]]:
    """Every cell of a CSV export, the header row included."""
    return list(csv.reader(io.StringIO(content.decode("utf-8").removeprefix(BOM))))


def sheets(content: bytes) -> dict[str, list[dict[str, Any]]]:
    """An XLSX export's sheets by title, each a list of rows by header."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    out = {}
    for sheet in book.worksheets:
        values = list(sheet.iter_rows(values_only=True))
        headers = [str(h) for h in values[0]]
        out[sheet.title] = [dict(zip(headers, row, strict=True)) for row in values[1:]]
    return out


def opened_sheet(content: bytes) -> list[dict[str, Any]]:
    """The rows of the sheet an XLSX export opens on."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.active
    assert sheet is not None
    return sheets(content)[sheet.title]


def number(text: str) -> Decimal:
    """A CSV number as a Decimal: `12.5%` is 0.125."""
    if text.endswith("%"):
        return Decimal(text[:-1]) / 100
    return Decimal(text)


def same_cell(text: str, cell: Any) -> bool:
    """Whether a CSV cell and the XLSX cell of the same export hold the same thing."""
    if text == "":
        return cell is None
    if isinstance(cell, bool):
        return False
    if isinstance(cell, int | float):
        return number(text) == Decimal(str(cell))
    return text == str(cell)


def assert_same_rows(csv_part: list[dict[str, str]], xlsx_part: list[dict[str, Any]]) -> None:
    """A CSV view and its XLSX sheet hold the same rows, cell for cell."""
    assert len(csv_part) == len(xlsx_part)
    for c, x in zip(csv_part, xlsx_part, strict=True):
        assert list(c) == list(x)
        for key, text in c.items():
            assert same_cell(text, x[key]), (key, text, x[key])


def xlsx_text_cells(content: bytes) -> list[tuple[str, str, Any, str]]:
    """Every cell of every sheet: (sheet, coordinate, value, data type)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [
        (sheet.title, cell.coordinate, cell.value, cell.data_type)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
    ]


def assert_no_formula(csv_content: bytes | None, xlsx_content: bytes | None) -> None:
    """No cell a spreadsheet would run: no text cell starts with a trigger, no formula cell."""
    if csv_content is not None:
        for row in csv_cells(csv_content):
            for text in row:
                if text.startswith(TEXT_TRIGGERS):
                    # Only a number may start with a minus: it is no formula.
                    assert text.startswith("-"), text
                    number(text)
    if xlsx_content is not None:
        for sheet, where, value, kind in xlsx_text_cells(xlsx_content):
            assert kind != "f", (sheet, where, value)
            if isinstance(value, str):
                assert not value.startswith(TEXT_TRIGGERS), (sheet, where, value)
