"""Shared bases of every body: shape checks only; rules that need the database live in bidding.

Field names follow problem-format.md. Money travels as decimal strings with at most two
decimals, fractions as decimal strings, units as integers; unknown fields are refused.
The value types (money, units, shares) are solver.values's, shared with the solver.
"""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
)

from bidding.values import plain
from solver.values import (
    Fraction,
    Money,
)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Ref = Annotated[str, Field(pattern=ID_PATTERN, examples=["itm_3vQk9Jw0bY2mT1pe"])]
"""An object's id, as this service makes them."""
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
PositiveMoney = Annotated[Money, Field(gt=0)]
MarginFloor = Annotated[Fraction, Field(ge=0, lt=1)]
Probability = Annotated[Fraction, Field(gt=0, le=1)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]


def _not_null(value: Any) -> Any:
    # PATCH: an absent field stays as it is; null is no value for these fields.
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


NotNull = AfterValidator(_not_null)


class Input(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """A response body: decimals as plain strings ("0.00000001", never "1E-8")."""

    @field_serializer("*", mode="wrap", when_used="json")
    def _plain_decimals(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, Decimal):
            return plain(value)
        return handler(value)


class ProblemFieldError(Output):
    """One field at fault and what is wrong with it."""

    field: str
    message: str
    row: int | None = Field(default=None, description="A bid sheet's row, numbered as shown.")
    cell: str | None = Field(default=None, description="A bid sheet's cell, such as `B5`.")


class ProblemDetails(Output):
    """An RFC 9457 problem: every refusal of the API looks like this."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemFieldError] | None = None
    limits: dict[str, int] | None = Field(
        default=None, description="A refused bid sheet's limits: `max_bytes`, `max_rows`."
    )
    bid: str | None = Field(
        default=None, description="`bid_exists`: the id of the live bid to amend instead."
    )


class Page[T](Output):
    """A page of a list; pass `next_cursor` as `cursor` for the next one (null: the end)."""

    data: list[T]
    next_cursor: str | None
