"""Finance's reports as tables, written as CSV or XLSX: the API and `supplybid report` share them.

Money is exact: a CSV cell spells it with two decimals ("1850.00"); an XLSX cell holds the
same decimal as a number with the format `#,##0.00` (written from its decimal spelling,
never through a binary float computation). Fractions keep their decimals; units are integers.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook

from bidding.export_cells import Money
from bidding.finance import MarginAudit, TakeoverLine
from bidding.settlement import PublishedRound, RoundStatements
from bidding.values import plain
from solver.values import CENT

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MARGIN_DIGITS = Decimal("0.000000001")


Cell = str | int | Decimal | Money | None


@dataclass(frozen=True)
class Table:
    """A report: a title (the sheet's name), column names and rows."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def money(value: Decimal) -> Decimal:
    """Money with exactly two decimals (every figure is whole cents already)."""
    return value.quantize(CENT)


def margin_fraction(value: Decimal | None) -> Decimal | None:
    """A margin rounded down to 9 decimals: never shown above the true one."""
    return None if value is None else value.quantize(MARGIN_DIGITS, rounding="ROUND_FLOOR")


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return plain(money(cell.value))
    if isinstance(cell, Decimal):
        return plain(cell)
    return str(cell)


def to_csv(table: Table) -> bytes:
    """The table as CSV (UTF-8, a header row, `\\r\\n` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    writer.writerows([_text(c) for c in row] for row in table.rows)
    return out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """The table as an XLSX workbook of one sheet, money as numbers with two decimals."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = table.title[:31]
    sheet.append(list(table.headers))
    for r, row in enumerate(table.rows, start=2):
        for c, cell in enumerate(row, start=1):
            target = sheet.cell(row=r, column=c)
            if isinstance(cell, Money):
                target.value = money(cell.value)
                target.number_format = "#,##0.00"
            else:
                target.value = cell
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def statements_table(report: RoundStatements) -> Table:
    """One row per factory statement."""
    settled = report.settlement is not None
    return Table(
        title="statements",
        headers=(
            "round",
            "factory",
            "units",
            "amount",
            "cost",
            "setup_cost",
            "margin",
            "takeover_units",
            "takeover_value",
        ),
        rows=tuple(
            (
                report.round.id,
                line.factory,
                line.units,
                Money(line.amount),
                Money(line.cost),
                Money(line.setup_cost),
                margin_fraction(line.margin),
                line.takeover_units if settled else None,
                Money(line.takeover_value) if settled else None,
            )
            for line in report.lines
        ),
    )


RESULT_FIGURES = (
    "units_ordered",
    "units_sold",
    "units_taken_over",
    "revenue",
    "handling",
    "supply_spend",
    "salvage",
    "takeover_spend",
    "takeover_loss",
    "net",
)
UNIT_FIGURES = frozenset({"units_ordered", "units_sold", "units_taken_over"})


def figure_cell(name: str, value: Decimal | int) -> Cell:
    """A figure of the platform's result as a cell: units as numbers, money as Money."""
    if name in UNIT_FIGURES:
        return int(value) if value == int(value) else Decimal(value).normalize()
    return Money(Decimal(value))


def result_table(published: PublishedRound) -> Table:
    """The platform's result, figure by figure: expected at publication and realised."""
    expected = published.expected()
    realised = published.realised()
    return Table(
        title="result",
        headers=("round", "figure", "expected", "realised"),
        rows=tuple(
            (
                published.round.id,
                name,
                figure_cell(name, getattr(expected, name)),
                None if realised is None else figure_cell(name, getattr(realised, name)),
            )
            for name in RESULT_FIGURES
        ),
    )


def margins_table(audit: MarginAudit) -> Table:
    """One row per finding of the margin audit (none: the header alone)."""
    return Table(
        title="margins",
        headers=("round", "allocation", "bid", "factory", "finding"),
        rows=tuple((f.round, f.allocation, f.bid, f.factory, f.finding) for f in audit.findings),
    )


def takeover_table(lines: Sequence[TakeoverLine]) -> Table:
    """One row per round and item: the expected takeover and the settled one."""
    rows = []
    for line in lines:
        e, s = line.expected, line.settled
        rows.append(
            (
                line.round,
                line.period,
                line.currency,
                line.state,
                line.settlement_version,
                e.item,
                e.units_ordered,
                e.units_taken_over.normalize(),
                Money(e.takeover_spend),
                Money(e.salvage),
                Money(e.takeover_loss),
                None if s is None else int(s.units_sold),
                None if s is None else int(s.units_taken_over),
                None if s is None else Money(s.takeover_spend),
                None if s is None else Money(s.salvage),
                None if s is None else Money(s.takeover_loss),
            )
        )
    return Table(
        title="takeover",
        headers=(
            "round",
            "period",
            "currency",
            "state",
            "settlement_version",
            "item",
            "units_ordered",
            "expected_units_taken_over",
            "expected_takeover_spend",
            "expected_salvage",
            "expected_takeover_loss",
            "units_sold",
            "units_taken_over",
            "takeover_spend",
            "salvage",
            "takeover_loss",
        ),
        rows=tuple(rows),
    )
