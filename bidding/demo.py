"""Demo data for `make run`: a category with factories, items, and an open round."""

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, select

from bidding import factories, items, keys, rounds
from bidding.items import DemandScenario
from bidding.models import Factory, Role, Round, RoundState
from bidding.principal import SYSTEM

DEMO_CATEGORY = "demo-toys"

_FACTORIES = [
    ("Dongguan Plush Works", 50000, False),
    ("Yiwu Toy Co.", 30000, False),
    ("Shantou Model Factory", 80000, False),
    ("Ningbo Craft Ltd.", 20000, True),
    ("Guangzhou Play Industries", 60000, False),
]
_ITEMS = [
    ("Plush bear 30cm", "39.90", "4.00", "8.00", [(9000, "0.25"), (12000, "0.5"), (16000, "0.25")]),
    ("Building blocks 500pc", "89.00", "6.50", "20.00", [(4000, "0.3"), (6000, "0.7")]),
    (
        "Remote-control car",
        "129.00",
        "9.00",
        "25.00",
        [(2000, "0.2"), (3000, "0.5"), (5000, "0.3")],
    ),
]


@dataclass(frozen=True)
class DemoSeed:
    """What the seed made or found: the open round, a factory, and one fresh key per role."""

    round_id: str
    factory_id: str
    item_ids: list[str]
    keys: dict[str, str]


def seed_demo(*, session: Session) -> DemoSeed:
    """Seed the demo category once (later runs reuse it) and make fresh keys for each role."""
    row = session.exec(
        select(Round).where(Round.category == DEMO_CATEGORY, Round.state == RoundState.open)
    ).first()
    if row is None:
        row = _seed_round(session)
    detail = rounds.round_details(session=session, round_ids=[row.id])[row.id]
    factory = session.exec(select(Factory).order_by(Factory.name)).first()
    assert factory is not None
    made = {
        role: keys.create_key(
            session=session,
            actor=SYSTEM,
            role=Role(role),
            factory_id=factory.id if role == "factory" else None,
            name=f"demo {role}",
        ).secret
        for role in ("admin", "manager", "finance", "factory")
    }
    return DemoSeed(
        round_id=row.id,
        factory_id=factory.id,
        item_ids=[i.item_id for i in detail.items],
        keys=made,
    )


def _seed_round(session: Session) -> Round:
    for name, capacity, is_new in _FACTORIES:
        factories.create_factory(
            session=session, actor=SYSTEM, name=name, monthly_capacity=capacity, is_new=is_new
        )
    row = rounds.create_round(
        session=session,
        actor=SYSTEM,
        name="Demo toys, next month",
        category=DEMO_CATEGORY,
        period="2026-12",
        currency="CNY",
        margin_floor=Decimal("0.10"),
        capacity_share=Decimal("0.20"),
        budget=None,
    )
    for name, retail, handling, salvage, demand in _ITEMS:
        item = items.create_item(
            session=session,
            actor=SYSTEM,
            name=name,
            retail_price=Decimal(retail),
            handling_cost=Decimal(handling),
            salvage_value=Decimal(salvage),
            demand=[DemandScenario(units, Decimal(p)) for units, p in demand],
        )
        rounds.put_round_item(
            session=session,
            actor=SYSTEM,
            round_id=row.id,
            item_id=item.id,
            min_fill=0,
            max_factory_share=Decimal("0.6"),
        )
    return rounds.open_round(session=session, actor=SYSTEM, round_id=row.id)
