"""pydantic objects made in bulk from values already checked, without validating them again.

At 100,000 bids, making the bids and the allocation rows one at a time in Python took
longer than HiGHS's simplex. Here every step runs over all rows at once in C (`map` over
the rows, drained by a zero-length deque): the attribute dicts from columns of values,
then the objects and their four slots, as `BaseModel.model_construct` would set them.

Only for values that already have their fields' exact types and ranges: the callers say
why theirs do, and tests hold the objects equal to pydantic's own validation of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import attrgetter, setitem

from pydantic import BaseModel

_drain: Callable[[Iterable[object]], None] = deque[object](maxlen=0).extend
_ATTRIBUTES = attrgetter("__dict__")
_new = object.__new__
_set_attribute = object.__setattr__
# pydantic's slots on every model object (BaseModel.__slots__), set through their descriptors
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def rows_from_columns(
    fields: Sequence[str], columns: Sequence[Sequence[object]]
) -> list[dict[str, object]]:
    """One dict per row, {field: value}, from the values of each field in row order."""
    return list(map(dict, map(zip, repeat(tuple(fields)), zip(*columns, strict=True))))


def attribute_dicts(objects: Iterable[object]) -> list[dict[str, object]]:
    """Each object's attribute dict (a pydantic object's fields, in field order), by `map`."""
    return list(map(_ATTRIBUTES, objects))


def put_column(rows: Sequence[dict[str, object]], field: str, values: Sequence[object]) -> None:
    """rows[k][field] = values[k], for every row (one value per row, or ValueError)."""
    if len(values) != len(rows):
        raise ValueError(f"{len(values)} values of {field!r} for {len(rows)} rows")
    _drain(map(setitem, rows, repeat(field), values))


def trusted_models[Model: BaseModel](
    model: type[Model], rows: list[dict[str, object]], fields_sets: Iterable[set[str]]
) -> list[Model]:
    """Objects of `model` whose attributes are the given dicts, one per row, as they are.

    `fields_sets` gives each object its record of the fields given (pydantic's
    `model_fields_set`); objects may share one set, since frozen objects never change it.
    """
    objects = list(map(_new, repeat(model, len(rows))))
    _drain(map(_set_attribute, objects, repeat("__dict__"), rows))
    _drain(map(_set_fields_set, objects, fields_sets))
    _drain(map(_set_extra, objects, repeat(None)))
    _drain(map(_set_private, objects, repeat(None)))
    return objects
