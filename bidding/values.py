"""Ids and exact conversions between API values and stored integers."""

import re
import secrets
from decimal import Decimal

from bidding.models import PPB


def new_id(prefix: str) -> str:
    """An opaque random id such as `bid_Xk3...`: it reveals no count and no order."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def to_cents(amount: Decimal) -> int:
    """Money (at most 2 decimals, checked at the edge) as integer minor units."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than 2 decimals")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Integer minor units as money with exactly 2 decimals: 1850 -> 18.50."""
    return Decimal(cents).scaleb(-2)


def to_ppb(fraction: Decimal) -> int:
    """A fraction (at most 9 decimals, checked at the edge) as integer parts per billion."""
    parts = fraction * PPB
    if parts != parts.to_integral_value():
        raise ValueError(f"{fraction} has more than 9 decimals")
    return int(parts)


def from_ppb(parts: int) -> Decimal:
    """Parts per billion back as an exact fraction, shortest spelling: 100000000 -> 0.1.

    `str()` of a Decimal below 1e-6 uses an exponent (10 ppb -> "1E-8"): spell values
    with `plain`, never `str`.
    """
    value = Decimal(parts).scaleb(-9).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def plain(value: Decimal) -> str:
    """A decimal spelled without an exponent, digits kept: 1E-8 -> 0.00000001, 18.50 -> 18.50."""
    return format(value, "f")


MONEY_TEXT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")
"""Money as the API takes it: ASCII digits, then at most 2 decimals after a point."""
MONEY_EXAMPLE = '"18.50"'
_EXPONENT = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$", re.ASCII)
_DECIMAL_COMMA = re.compile(r"^[0-9]{1,3}(\.[0-9]{3})*,[0-9]+$|^[0-9]+,[0-9]+$", re.ASCII)


def money_text_fault(text: str) -> str | None:
    """What is wrong with an amount written as text, or None if it is money as API.md says.

    Money is ASCII digits with at most 2 decimals after a point: no spaces, no sign, no
    exponent, no separators, no other script's digits. Each fault says what to send.
    """
    if len(text) <= 20 and MONEY_TEXT.fullmatch(text):
        return None
    send = f"send a decimal string of ASCII digits with at most 2 decimals, such as {MONEY_EXAMPLE}"
    if text != text.strip():
        reason = "has spaces around it"
    elif not text:
        reason = "is empty"
    elif foreign_digits(text):
        reason = "has digits other than ASCII 0-9"
    elif _EXPONENT.fullmatch(text):
        reason = "has an exponent"
    elif text.startswith(("-", "+")):
        reason = "has a sign (money here is 0 or more)"
    elif _DECIMAL_COMMA.fullmatch(text):
        reason = "has a decimal comma"
    elif re.fullmatch(r"[0-9]+\.[0-9]{3,}", text, re.ASCII):
        reason = "has more than 2 decimals (money is in whole cents)"
    elif len(text) > 20:
        reason = "is too long"
    else:
        reason = "is not a decimal amount"
    return f"money {reason}: {send}"


def foreign_digits(text: str) -> bool:
    """The text holds a digit of a script other than ASCII (Arabic-Indic, full-width...)."""
    return any(not ch.isascii() and (ch.isdigit() or ch.isnumeric()) for ch in text)
