"""Bodies of /v1/factories."""

from datetime import datetime
from typing import Annotated

from pydantic import (
    StrictBool,
)

from api.schemas.base import Input, Name, NotNull, Output
from bidding.models import (
    Factory,
    as_utc,
)
from solver.values import (
    PositiveUnits,
)


class FactoryCreate(Input):
    """A factory to register."""

    name: Name
    monthly_capacity: PositiveUnits
    is_new: StrictBool = False


class FactoryUpdate(Input):
    """Fields of a factory to change; absent ones stay."""

    name: Annotated[Name | None, NotNull] = None
    monthly_capacity: Annotated[PositiveUnits | None, NotNull] = None
    is_new: Annotated[StrictBool | None, NotNull] = None


class FactoryPublic(Output):
    """A factory."""

    id: str
    name: str
    monthly_capacity: int
    is_new: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Factory) -> "FactoryPublic":
        """The public view of a row."""
        return cls(
            id=row.id,
            name=row.name,
            monthly_capacity=row.monthly_capacity,
            is_new=row.is_new,
            created_at=as_utc(row.created_at),
        )
