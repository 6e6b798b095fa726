"""Shared bases of every body: shape checks only; rules that need the database live in bidding.

Field names follow problem-format.md. Money travels as decimal strings of ASCII digits
with at most two decimals (strictly, here: the problem format's parser is lenient),
fractions as decimal strings, units as integers; unknown fields are refused. The value
types (money, units, shares) are solver.values's, shared with the solver.
"""

import math
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from api.deprecation import money_number_warning, note_deprecated
from bidding.values import (
    MONEY_TEXT,
    NAME_FORBIDDEN_PATTERN,
    money_text_fault,
    name_fault,
    normal_name,
    plain,
    text_fault,
)
from solver import values
from solver.values import MAX_BUDGET, MAX_MONEY, Fraction

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Ref = Annotated[str, Field(pattern=ID_PATTERN, examples=["itm_3vQk9Jw0bY2mT1pe"])]
"""An object's id, as this service makes them."""
MAX_NAME = 200


def _clean_name(value: str) -> str:
    # NFC first, so a name typed composed or decomposed is one name; then refuse what would
    # show a name other than the one stored (bidi controls, zero-width characters).
    value = normal_name(value)
    fault = name_fault(value)
    if fault is not None:
        raise PydanticCustomError("name_characters", fault)
    if len(value) > MAX_NAME:
        raise PydanticCustomError("name_length", f"at most {MAX_NAME} characters")
    return value


def _name_schema(min_length: int) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "minLength": min_length,
            "maxLength": MAX_NAME,
            "pattern": NAME_FORBIDDEN_PATTERN,
            "description": "Stored NFC-normalised; controls, bidi controls and zero-width "
            "characters are refused.",
        }
    )


def _clean_text(value: str) -> str:
    # A free text (a correction's reason) is read by people as a name is: NFC, and nothing
    # that would show other text than the one stored; line breaks and tabs are fine.
    value = normal_name(value)
    fault = text_fault(value)
    if fault is not None:
        raise PydanticCustomError("text_characters", fault)
    return value


Name = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_clean_name), _name_schema(1)
]
"""A name people read (a factory, an item, a round, a key): NFC, nothing invisible."""
OptionalName = Annotated[
    str, Field(max_length=MAX_NAME), AfterValidator(_clean_name), _name_schema(0)
]
Note = Annotated[
    str,
    Field(min_length=1, max_length=2000, pattern=r"\S"),
    AfterValidator(_clean_text),
]
"""A free text people read (why a correction was made): NFC, no bidi or zero-width
characters (line breaks and tabs allowed), not blank."""


def _strict_money(value: Any, info: ValidationInfo) -> Any:
    # API.md: money is a decimal string ("18.50"). A JSON number is read for one more
    # release, with a warning in the answer (api.deprecation); anything else is refused
    # here, before the value's own range and cents checks.
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        fault = money_text_fault(value)
        if fault is not None:
            raise PydanticCustomError("money_format", fault)
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError(
            "money_format", 'money is a decimal string, such as "18.50"; send it so'
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("money_format", 'money is a finite amount, such as "18.50"')
    note_deprecated(money_number_warning(f"body.{info.field_name}"))
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _money_schema(*, positive: bool, maximum: Decimal, nullable: bool) -> WithJsonSchema:
    text: dict[str, Any] = {
        "type": "string",
        "pattern": MONEY_TEXT.pattern,
        "maxLength": 20,
        "description": "A decimal string of ASCII digits, at most 2 decimals: `18.50`.",
        "examples": ["18.50"],
    }
    number: dict[str, Any] = {
        "type": "number",
        "maximum": float(maximum),
        "deprecated": True,
        "description": "Deprecated: read this release with a `Deprecation` header and a "
        "`warnings` member in the answer; send a string.",
    }
    number["exclusiveMinimum" if positive else "minimum"] = 0
    forms = [text, number] + ([{"type": "null"}] if nullable else [])
    return WithJsonSchema({"anyOf": forms})


StrictMoney = BeforeValidator(_strict_money)
Money = Annotated[
    values.Money, StrictMoney, _money_schema(positive=False, maximum=MAX_MONEY, nullable=False)
]
"""Money of 0 or more: a decimal string with at most 2 decimals."""
PositiveMoney = Annotated[
    values.Money,
    Field(gt=0),
    StrictMoney,
    _money_schema(positive=True, maximum=MAX_MONEY, nullable=False),
]
OptionalMoney = Annotated[
    values.OptionalMoney,
    StrictMoney,
    _money_schema(positive=False, maximum=MAX_MONEY, nullable=True),
]
"""Money where absent, null and 0 all mean none (a bid's setup cost)."""
OptionalPositiveMoney = Annotated[
    values.OptionalPositiveMoney,
    StrictMoney,
    _money_schema(positive=False, maximum=MAX_MONEY, nullable=True),
]
"""Money where null and 0 mean none, else above 0 (a bid's ask price)."""
Budget = Annotated[
    values.Budget, StrictMoney, _money_schema(positive=False, maximum=MAX_BUDGET, nullable=True)
]
"""A budget of 0 or more, or null for none."""
MarginFloor = Annotated[Fraction, Field(ge=0, lt=1)]
Probability = Annotated[Fraction, Field(gt=0, le=1)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]


def _not_null(value: Any) -> Any:
    # PATCH: an absent field stays as it is; null is no value for these fields.
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


class _NotNull:
    """A PATCH field that may be left out but not null: refused at null, and the schema
    lists no null (`X | None` keeps pydantic's one error per field; the schema drops it)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_not_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        forms = [f for f in found.get("anyOf", []) if f.get("type") != "null"]
        if "anyOf" in found and len(forms) == 1:
            del found["anyOf"]
            found.update(forms[0])
        elif "anyOf" in found:
            found["anyOf"] = forms
        return found


NotNull = _NotNull()


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
