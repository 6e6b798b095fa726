"""Factory and item names beside their ids: what every output shows a person reading it.

Names stored with a figure win (an award row keeps the names it was published under, an
allocation the item names of its request); the current name fills in the rest, read in one
query per table.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bidding.models import Allocation, Award, Factory, Item
from bidding.snapshot import solved_items
from solver.result import Result

CHUNK = 10_000
"""Ids per `IN (...)` list: well under SQLite's limit of bound parameters."""


def _read(
    session: Session, table: type[Factory] | type[Item], ids: set[str] | None
) -> dict[str, str]:
    if ids is None:
        return {row[0]: row[1] for row in session.exec(select(table.id, table.name)).all()}
    ordered = sorted(ids)
    out: dict[str, str] = {}
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        query = select(table.id, table.name).where(col(table.id).in_(chunk))
        out.update({row[0]: row[1] for row in session.exec(query).all()})
    return out


def factory_names(*, session: Session, factory_ids: set[str] | None = None) -> dict[str, str]:
    """Factory id to current name (all, or those named)."""
    return _read(session, Factory, factory_ids)


def item_names(*, session: Session, item_ids: set[str] | None = None) -> dict[str, str]:
    """Item id to current name (all, or those named)."""
    return _read(session, Item, item_ids)


@dataclass(frozen=True)
class Names:
    """Factory and item names by id; an id without a name (a deleted row) has None."""

    factories: Mapping[str, str] = field(default_factory=dict)
    items: Mapping[str, str] = field(default_factory=dict)

    def factory(self, factory_id: str) -> str | None:
        """The factory's name, if known."""
        return self.factories.get(factory_id)

    def item(self, item_id: str) -> str | None:
        """The item's name, if known."""
        return self.items.get(item_id)


def names_of(
    *,
    session: Session,
    factory_ids: Iterable[str],
    item_ids: Iterable[str],
    stored: Names | None = None,
) -> Names:
    """Names of these factories and items: those stored first, the current ones for the rest."""
    known = stored or Names()
    wanted_factories, wanted_items = set(factory_ids), set(item_ids)
    factories = {f: n for f in wanted_factories if (n := known.factory(f)) is not None}
    items = {i: n for i in wanted_items if (n := known.item(i)) is not None}
    missing_factories = wanted_factories - set(factories)
    missing_items = wanted_items - set(items)
    if missing_factories:
        factories |= factory_names(session=session, factory_ids=missing_factories)
    if missing_items:
        items |= item_names(session=session, item_ids=missing_items)
    return Names(factories=factories, items=items)


def allocation_names(*, session: Session, row: Allocation, result: Result) -> Names:
    """Names for an allocation's rows: the item names its request stored, current factory names."""
    items = solved_items(row)
    stored = Names(items={i.id: i.name for i in items if i.name is not None})
    return names_of(
        session=session,
        factory_ids={a.factory for a in result.allocations},
        item_ids={i.id for i in items} | {a.item for a in result.allocations},
        stored=stored,
    )


def award_names(*, session: Session, rows: Iterable[Award]) -> Names:
    """Names for award rows: as published; current ones for rows published before they were
    stored (migration 0005)."""
    listed = list(rows)
    stored = Names(
        factories={r.factory_id: r.factory_name for r in listed if r.factory_name is not None},
        items={r.item_id: r.item_name for r in listed if r.item_name is not None},
    )
    return names_of(
        session=session,
        factory_ids={r.factory_id for r in listed},
        item_ids={r.item_id for r in listed},
        stored=stored,
    )
