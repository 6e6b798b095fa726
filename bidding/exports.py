"""Exports a finance person opens: a report is sheets, one per view, written as XLSX or CSV.

An XLSX workbook holds every view of a report (per bid, per item, per factory, totals), each
a sheet with a bold, frozen header row, filters and columns wide enough to read; a CSV holds
one view (`view`, the first by default). Every cell goes through `bidding.export_cells`:
text that a spreadsheet would run as a formula is neutralised, money is a number in a money
format, shares and margins are percentages. The CSV starts with a UTF-8 byte order mark, so
a spreadsheet reads names in any script as they are.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bidding.errors import InvalidInput
from bidding.export_cells import Cell, csv_row, csv_text, xlsx_text, xlsx_value

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
View = Literal["bid", "item", "factory", "totals", "findings"]
"""Every view a report may have; each report has some of them, in this order."""
VIEWS: tuple[str, ...] = get_args(View)
MIN_WIDTH = 10
MAX_WIDTH = 60
MAX_TITLE = 31
"""Excel's limit on a sheet's name."""


@dataclass(frozen=True)
class Sheet:
    """One view of a report: a sheet of the workbook, or the whole of a CSV."""

    view: str
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[Cell, ...]]


@dataclass(frozen=True)
class Report:
    """A report: its file name (no extension) and its views, the first the CSV's default."""

    name: str
    sheets: tuple[Sheet, ...]

    def views(self) -> tuple[str, ...]:
        """The views this report has, in sheet order."""
        return tuple(s.view for s in self.sheets)

    def sheet(self, view: str | None) -> Sheet:
        """The sheet of this view (the first: None); 422 naming `view` when it has none."""
        if view is None:
            return self.sheets[0]
        for sheet in self.sheets:
            if sheet.view == view:
                return sheet
        raise InvalidInput([("query.view", f"this report's views are {', '.join(self.views())}")])


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """A table as CSV text a line at a time (a streamed export writes these as they come):
    the byte order mark and the header first, `\\r\\n` line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(list(headers)))
    yield BOM + out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow(csv_row(list(row)))
        yield out.getvalue()


def to_csv(report: Report, view: str | None = None) -> bytes:
    """One view of the report as CSV (UTF-8 with a byte order mark, a header row)."""
    sheet = report.sheet(view)
    return "".join(csv_lines(sheet.headers, sheet.rows)).encode("utf-8")


def _width(headers: Sequence[str], rows: Sequence[tuple[Cell, ...]], column: int) -> float:
    sample = [headers[column], *(csv_text(r[column]) for r in rows[:200])]
    return float(min(MAX_WIDTH, max(MIN_WIDTH, *(len(text) + 2 for text in sample))))


def write_sheet(
    sheet: WriteOnlyWorksheet, headers: Sequence[str], rows: Iterable[Sequence[Cell]]
) -> None:
    """A table into a write-only sheet: a bold header, then each cell safe and formatted."""
    bold = Font(bold=True)
    head = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=xlsx_text(text))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in rows:
        cells = []
        for value in row:
            written, number_format = xlsx_value(value)
            cell = WriteOnlyCell(sheet, value=written)
            if isinstance(written, str):
                cell.data_type = "s"  # text, never a formula
            if number_format is not None:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)


def to_xlsx(report: Report, view: str | None = None) -> bytes:
    """Every view of the report, a sheet each; the workbook opens on `view` (or the first).

    Written in openpyxl's write-only mode: a sheet of 100,000 rows is streamed to the file
    rather than held as a cell object per cell.
    """
    opened = report.sheet(view)
    book = Workbook(write_only=True)
    for sheet in report.sheets:
        target = book.create_sheet(sheet.title[:MAX_TITLE])
        target.freeze_panes = "A2"
        target.sheet_view.tabSelected = sheet is opened  # one selected tab: Excel groups several
        columns = len(sheet.headers)
        for column in range(columns):
            width = _width(sheet.headers, sheet.rows, column)
            target.column_dimensions[get_column_letter(column + 1)].width = width
        if columns:
            last = get_column_letter(columns)
            target.auto_filter.ref = f"A1:{last}{len(sheet.rows) + 1}"
        write_sheet(target, sheet.headers, sheet.rows)
    book.active = report.sheets.index(opened)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_bytes(report: Report, fmt: str, view: str | None = None) -> tuple[bytes, str, str]:
    """The report as `csv` or `xlsx`: (content, media type, file name)."""
    if fmt == "csv":
        return to_csv(report, view), CSV_MEDIA_TYPE, f"{report.name}.csv"
    return to_xlsx(report, view), XLSX_MEDIA_TYPE, f"{report.name}.xlsx"
