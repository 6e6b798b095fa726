"""Bodies of /v1/items: prices and demand scenarios."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    Field,
)

from api.schemas.base import Input, Money, Name, NotNull, Output, PositiveMoney, Probability
from bidding.items import DemandScenario
from bidding.models import (
    Item,
    as_utc,
)
from bidding.values import from_cents
from solver.values import Units


class ScenarioIn(Input):
    """One demand scenario: units sold with this probability."""

    units: Units
    probability: Probability


class ScenarioOut(Output):
    """One demand scenario."""

    units: int
    probability: Decimal


class ItemCreate(Input):
    """An item with its prices and demand scenarios (probabilities sum to 1)."""

    name: Name
    retail_price: PositiveMoney
    handling_cost: Money
    salvage_value: Money
    demand: Annotated[list[ScenarioIn], Field(min_length=1, max_length=1000)]

    def scenarios(self) -> list[DemandScenario]:
        """The demand as the domain takes it."""
        return [DemandScenario(s.units, s.probability) for s in self.demand]


class ItemUpdate(Input):
    """Fields of an item to change; absent ones stay."""

    name: Annotated[Name | None, NotNull] = None
    retail_price: Annotated[PositiveMoney | None, NotNull] = None
    handling_cost: Annotated[Money | None, NotNull] = None
    salvage_value: Annotated[Money | None, NotNull] = None
    demand: Annotated[
        Annotated[list[ScenarioIn], Field(min_length=1, max_length=1000)] | None, NotNull
    ] = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, as the domain takes them."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.model_fields_set}
        if self.demand is not None:
            out["demand"] = [DemandScenario(s.units, s.probability) for s in self.demand]
        return out


class ItemPublic(Output):
    """An item."""

    id: str
    name: str
    retail_price: Decimal
    handling_cost: Decimal
    salvage_value: Decimal
    demand: list[ScenarioOut]
    created_at: datetime

    @classmethod
    def of(cls, row: Item, demand: list[DemandScenario]) -> "ItemPublic":
        """The public view of a row and its scenarios."""
        return cls(
            id=row.id,
            name=row.name,
            retail_price=from_cents(row.retail_price_cents),
            handling_cost=from_cents(row.handling_cost_cents),
            salvage_value=from_cents(row.salvage_value_cents),
            demand=[ScenarioOut(units=s.units, probability=s.probability) for s in demand],
            created_at=as_utc(row.created_at),
        )
