"""The exchange format's values: money, units, shares and fractions, and their limits.

One module that the solver's parser, the service's domain and its API all import, so a
value means the same thing (and is refused for the same reasons) on every side. It
imports nothing of the solver, the service or a database.
"""

from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

MAX_UNITS = 10**9
"""Largest unit count accepted anywhere: a billion units is beyond any factory's month."""
MAX_MONEY = Decimal("1000000000")
"""Largest price or cost per unit, and per setup, accepted."""
MAX_BUDGET = Decimal("1000000000000000")
CENT = Decimal("0.01")
PROBABILITY_TOLERANCE = Decimal("1e-9")


def _refuse_bool(value: object) -> object:
    # JSON true is not 1 unit or 1 yuan; pydantic's lax mode would take it as such.
    if isinstance(value, bool):
        raise ValueError("a number is required, not a boolean")
    return value


def _whole_cents(value: Decimal | None) -> Decimal | None:
    # Money is stored in whole cents; a finer amount would be rounded silently later.
    # (pydantic's decimal_places check does the same in Python, several times slower.)
    if value is not None and value.quantize(CENT) != value:
        raise ValueError("money has at most 2 decimal places (whole cents)")
    return value


PART_PER_BILLION = Decimal("1e-9")


@lru_cache(maxsize=4096)
def _within_nine_places(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -9:  # 1e30 too: its range check says why
        return True
    try:
        return value.quantize(PART_PER_BILLION) == value
    except ArithmeticError:  # more digits than the context holds
        return False


def _nine_places(value: Decimal | None) -> Decimal | None:
    # Fractions are stored in parts per billion. pydantic's decimal_places check runs in
    # Python per value; these repeat (probabilities, shares), so each is checked once.
    if value is not None and not _within_nine_places(value):
        raise ValueError("a fraction has at most 9 decimal places")
    return value


def _none_as_zero(value: object) -> object:
    # problem-format.md: for optional numbers, absent, null and 0 mean the same thing.
    return 0 if value is None else value


def _zero_as_none(value: object) -> object:
    if value is None:
        return None
    try:
        if not isinstance(value, bool) and isinstance(value, int | float | Decimal) and value == 0:
            return None
        if isinstance(value, str) and Decimal(value) == 0:
            return None
    except ArithmeticError:  # not a number, or a signalling NaN: the field's check says so
        return value
    return value


# Range constraints come before the BeforeValidators: on the number's own schema pydantic
# checks them in Rust; after a validator function, in Python (a tenth of a second for the
# 25,000 demand scenarios of 2,500 items). The last BeforeValidator runs first.
Units = Annotated[int, Field(ge=0, le=MAX_UNITS), BeforeValidator(_refuse_bool)]
PositiveUnits = Annotated[int, Field(gt=0, le=MAX_UNITS), BeforeValidator(_refuse_bool)]
OptionalUnits = Annotated[
    int, Field(ge=0, le=MAX_UNITS), BeforeValidator(_none_as_zero), BeforeValidator(_refuse_bool)
]
Money = Annotated[
    Decimal, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False), AfterValidator(_whole_cents)
]
OptionalMoney = Annotated[
    Decimal,
    BeforeValidator(_none_as_zero),
    Field(ge=0, le=MAX_MONEY, allow_inf_nan=False),
    AfterValidator(_whole_cents),
]
OptionalPositiveMoney = Annotated[
    Annotated[Decimal, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False), AfterValidator(_whole_cents)]
    | None,
    BeforeValidator(_zero_as_none),
]
Budget = Annotated[
    Decimal | None,
    Field(ge=0, le=MAX_BUDGET, allow_inf_nan=False),
    AfterValidator(_whole_cents),
]
Fraction = Annotated[
    Decimal, BeforeValidator(_refuse_bool), Field(allow_inf_nan=False), AfterValidator(_nine_places)
]
Share = Annotated[
    Decimal,
    Field(gt=0, le=1, allow_inf_nan=False),
    AfterValidator(_nine_places),
    BeforeValidator(_refuse_bool),
]
OptionalShare = Annotated[
    Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False), AfterValidator(_nine_places)] | None,
    BeforeValidator(_zero_as_none),
    BeforeValidator(_refuse_bool),
]
FactoryShare = Annotated[
    Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False), AfterValidator(_nine_places)] | None,
    BeforeValidator(_refuse_bool),
]
"""A factory's own capacity share, or null for the round's: 0 is refused, not taken as
null, since a manager who writes 0 to keep a factory out would give it the round's share."""
Id = Annotated[str, Field(min_length=1, max_length=128)]
