"""Builders for test data: plain functions that call the domain, with sensible defaults."""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from sqlalchemy import Connection
from sqlmodel import Session

from bidding import factories, items, keys, rounds
from bidding.audit import install_append_only_guard, remove_append_only_guard
from bidding.bids import BidTerms
from bidding.items import DemandScenario
from bidding.models import Factory, Item, Role, Round
from bidding.principal import SYSTEM, Principal

MANAGER = Principal(key_id="key_test_manager", role=Role.manager)
FINANCE = Principal(key_id="key_test_finance", role=Role.finance)
ADMIN = Principal(key_id="key_test_admin", role=Role.admin)


def as_factory(factory: Factory) -> Principal:
    """The principal of a factory's key."""
    return Principal(key_id=f"key_{factory.id}", role=Role.factory, factory_id=factory.id)


def a_factory(
    session: Session, *, name: str = "Test Factory", capacity: int = 50000, is_new: bool = False
) -> Factory:
    """A registered factory."""
    return factories.create_factory(
        session=session, actor=MANAGER, name=name, monthly_capacity=capacity, is_new=is_new
    )


def an_item(
    session: Session,
    *,
    name: str = "Plush bear",
    retail_price: str = "39.90",
    handling_cost: str = "4.00",
    salvage_value: str = "8.00",
) -> Item:
    """An item with a three-scenario demand forecast."""
    return items.create_item(
        session=session,
        actor=MANAGER,
        name=name,
        retail_price=Decimal(retail_price),
        handling_cost=Decimal(handling_cost),
        salvage_value=Decimal(salvage_value),
        demand=[
            DemandScenario(9000, Decimal("0.25")),
            DemandScenario(12000, Decimal("0.5")),
            DemandScenario(16000, Decimal("0.25")),
        ],
    )


def a_draft_round(session: Session, *, item_list: list[Item] | None = None) -> Round:
    """A draft round holding these items (none by default)."""
    row = rounds.create_round(
        session=session,
        actor=MANAGER,
        name="Toys, November",
        category="toys",
        period="2026-11",
        currency="CNY",
        margin_floor=Decimal("0.10"),
        capacity_share=Decimal("0.20"),
        budget=None,
    )
    for item in item_list or []:
        rounds.put_round_item(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            item_id=item.id,
            min_fill=0,
            max_factory_share=None,
        )
    return row


def an_open_round(session: Session, *, item_list: list[Item]) -> Round:
    """An open round holding these items."""
    row = a_draft_round(session, item_list=item_list)
    return rounds.open_round(session=session, actor=MANAGER, round_id=row.id)


def terms(
    unit_cost: str = "18.50", capacity: int = 8000, **extra: Decimal | int | None
) -> BidTerms:
    """A bid's content."""
    return BidTerms(unit_cost=Decimal(unit_cost), capacity=capacity, **extra)  # type: ignore[arg-type]


def a_key(session: Session, role: Role, factory: Factory | None = None) -> str:
    """A fresh API key's secret for a role (and factory)."""
    made = keys.create_key(
        session=session,
        actor=SYSTEM,
        role=role,
        factory_id=factory.id if factory else None,
        name=f"test {role}",
    )
    return made.secret


@contextmanager
def without_audit_guard(connection: Connection) -> Iterator[Connection]:
    """An attacker with the database owner's rights: drop the append-only guard, tamper, restore.

    All in the connection's transaction (the caller commits), so the tampering tests still
    show that the verifier catches what the triggers alone could not stop.
    """
    remove_append_only_guard(connection)
    yield connection
    install_append_only_guard(connection)
