"""Ids and exact conversions between API values and stored integers."""

import re
import secrets
import unicodedata
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


BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Characters that reorder the text around them (the "Trojan Source" characters)."""
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
"""Characters that take no room: two names that look the same would differ."""
NAME_FORBIDDEN_PATTERN = (
    "^[^\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u180e"
    "\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*$"
)
"""The characters `name_fault` refuses that a JSON Schema pattern can name (all but the
format characters beyond the first plane), for the OpenAPI document."""


def normal_name(text: str) -> str:
    """A name as stored: NFC, so that one spelling of `é` (composed or not) is one name."""
    return unicodedata.normalize("NFC", text)


def name_fault(text: str) -> str | None:
    """What makes a name unfit to show, or None: invisible or reordering characters.

    Refused: controls (Cc), format characters (Cf: bidi controls, zero-width characters,
    the soft hyphen), line and paragraph separators, lone surrogates. Each would make two
    names that look alike differ, or show a name other than the one stored.
    """
    for ch in text:
        point = f"U+{ord(ch):04X}"
        if ch in BIDI_CONTROLS:
            return f"has a bidi control character ({point}), which reorders the text shown"
        if ch in ZERO_WIDTH:
            return f"has a zero-width character ({point}), which cannot be seen"
        category = unicodedata.category(ch)
        if category == "Cc":
            return f"has a control character ({point})"
        if category in ("Cf", "Zl", "Zp", "Cs"):
            return f"has an invisible formatting character ({point})"
    return None


LINE_BREAKS = str.maketrans("", "", "\n\r\t")
"""What a free text (a reason, a note) may hold beyond a name: line breaks and tabs."""


def text_fault(text: str) -> str | None:
    """What makes a free text unfit to show, or None: as `name_fault`, but line breaks and
    tabs are allowed (a reason may run over lines)."""
    return name_fault(text.translate(LINE_BREAKS))
