"""Ids and exact conversions between API values and stored integers."""

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
