"""Spreadsheet cells that are safe to open: every CSV and XLSX export writes its cells here.

A text cell (a name, an id, a note) that a spreadsheet would read as a formula, one starting
with `=`, `+`, `-`, `@`, a tab or a carriage return (API.md), is neutralised by a leading
apostrophe, in CSV and XLSX alike: a factory named `=HYPERLINK(...)` shows as the text
`'=HYPERLINK(...)` and never runs. Numbers stay numbers, negative ones included: only text is
neutralised, so a cell's type (not its spelling) decides. Money is exact: written from its
decimal (never a binary float computation), two decimals in CSV, a money number format in
XLSX. Percentages are fractions: `Percent(Decimal("0.125"))` is `12.5%` in CSV and the number
0.125 shown as a percentage in XLSX.
"""

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"
CENTS = Decimal("0.01")
FRACTION_DIGITS = Decimal("0.000000001")
MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.00%"
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# XML 1.0 cannot hold these control characters; openpyxl refuses a cell holding one.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Money:
    """A money cell: exactly two decimals; `currency` (a 3-letter code) labels the XLSX format."""

    value: Decimal
    currency: str | None = None


@dataclass(frozen=True)
class Percent:
    """A share or margin, held as a fraction (0.125) and shown as a percentage (12.5%)."""

    value: Decimal


Cell = str | int | Decimal | Money | Percent | None


def neutralise(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula: a trigger first gets an apostrophe."""
    return NEUTRALISER + text if text.startswith(FORMULA_TRIGGERS) else text


def unneutralise(text: str) -> str:
    """`neutralise` undone, so a name read back from an export matches the stored one."""
    if text.startswith(NEUTRALISER) and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def money_value(value: Decimal) -> Decimal:
    """Money with exactly two decimals (every stored figure is whole cents already)."""
    return value.quantize(CENTS)


def fraction_value(value: Decimal) -> Decimal:
    """A fraction rounded down to 9 decimals: a margin is never shown above the true one."""
    return value.quantize(FRACTION_DIGITS, rounding=ROUND_FLOOR)


def _spell(value: Decimal) -> str:
    """A decimal without an exponent: 1E-8 -> 0.00000001."""
    return format(value, "f")


def percent_text(value: Decimal) -> str:
    """A fraction as a percentage a spreadsheet reads as a number: 0.125 -> `12.50%`."""
    percent = (fraction_value(value) * 100).normalize()
    if -percent.as_tuple().exponent < 2:  # type: ignore[operator]  # finite: never NaN here
        percent = percent.quantize(CENTS)
    return _spell(percent) + "%"


def csv_text(cell: Cell) -> str:
    """A cell's CSV spelling: text neutralised, numbers plain, money with two decimals."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralise(cell)
    if isinstance(cell, Money):
        return _spell(money_value(cell.value))
    if isinstance(cell, Percent):
        return percent_text(cell.value)
    if isinstance(cell, Decimal):
        return _spell(cell)
    return str(cell)


def cents_text(cents: int) -> str:
    """`csv_text(Money(cents / 100))` from whole cents, without a Decimal: 1234 -> 12.34."""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


def ppb_percent_text(ppb: int) -> str:
    """`csv_text(Percent(ppb / 10^9))` from parts per billion, without a Decimal: 125000000
    (0.125) -> 12.50%; at least two decimals, no trailing zeros beyond them."""
    whole, part = divmod(abs(ppb), 10**7)
    decimals = f"{part:07d}".rstrip("0").ljust(2, "0")
    return f"{'-' if ppb < 0 else ''}{whole}.{decimals}%"


def csv_row(cells: tuple[Cell, ...] | list[Cell]) -> list[str]:
    """A row's CSV spellings, for `csv.writer.writerow` (it quotes what needs quoting)."""
    return [csv_text(cell) for cell in cells]


def money_format(currency: str | None) -> str:
    """The XLSX money format: thousands separated, two decimals, the currency code after."""
    if currency is not None and _CURRENCY_CODE.fullmatch(currency):
        return f'{MONEY_FORMAT} "{currency}"'
    return MONEY_FORMAT


def xlsx_text(text: str) -> str:
    """Text for an XLSX cell: neutralised, and without characters XML cannot hold."""
    return neutralise(_NOT_IN_XML.sub("\ufffd", text))


def xlsx_value(cell: Cell) -> tuple[str | int | Decimal | None, str | None]:
    """A cell's XLSX value and number format (None: the sheet's general format).

    The value is never a string starting with `=`, so openpyxl never stores it as a formula.
    """
    if isinstance(cell, str):
        return xlsx_text(cell), None
    if isinstance(cell, Money):
        return money_value(cell.value), money_format(cell.currency)
    if isinstance(cell, Percent):
        return fraction_value(cell.value), PERCENT_FORMAT
    return cell, None
