"""Demo data for `make run`: a category with factories, items, an open round and some bids."""

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from bidding import bids, factories, items, keys, rounds
from bidding.bids import BidTerms
from bidding.items import DemandScenario
from bidding.models import ApiKey, Factory, Role, Round
from bidding.principal import SYSTEM, Principal

DEMO_CATEGORY = "demo-toys"

_FACTORIES = [
    ("Dongguan Plush Works", 50000, False),
    ("Yiwu Toy Co.", 30000, False),
    ("Shantou Model Factory", 80000, False),
    ("Ningbo Craft Ltd.", 20000, True),
    ("Guangzhou Play Industries", 60000, False),
]
# Sealed bids the other demo factories have already made (the first factory, whose key is
# printed, has bid on nothing: it can try the API from scratch). Item by its index above;
# unit cost, capacity, then optional ask price, minimum lot and setup cost.
_BIDS: dict[str, list[tuple[int, str, int, str | None, int, str]]] = {
    "Yiwu Toy Co.": [(0, "18.20", 4000, None, 0, "0"), (1, "41.50", 2500, None, 0, "0")],
    "Shantou Model Factory": [
        (0, "19.10", 9000, None, 0, "0"),
        (2, "61.00", 2500, "70.00", 500, "1200.00"),
    ],
    "Ningbo Craft Ltd.": [(0, "17.60", 3000, None, 0, "0"), (1, "43.00", 1500, None, 0, "0")],
    "Guangzhou Play Industries": [
        (1, "40.20", 4000, None, 0, "0"),
        (2, "58.40", 3000, None, 0, "0"),
    ],
}
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
    """The demo round, the factory whose key is shown, and the keys made by this run (if any)."""

    round_id: str
    factory_id: str
    item_ids: list[str]
    keys: dict[str, str]
    seeded_now: bool


DEMO_ROLES = ("admin", "manager", "finance", "factory")


def seed_demo(*, session: Session, fresh_keys: bool) -> DemoSeed:
    """Seed the demo category the first time only; later runs find its round.

    Keys are made only when asked (`fresh_keys`, the first run or a lost keys file); the
    demo keys made before are revoked first, so running the demo again never piles up keys.
    """
    row = session.exec(
        select(Round).where(Round.category == DEMO_CATEGORY).order_by(col(Round.created_at))
    ).first()
    seeded_now = row is None
    if row is None:
        row = _seed_round(session)
    detail = rounds.round_details(session=session, round_ids=[row.id])[row.id]
    # The demo factory that has not bid: its key is the one a new user tries the API with.
    factory = session.exec(
        select(Factory).where(Factory.name == _FACTORIES[0][0]).order_by(col(Factory.created_at))
    ).first()
    assert factory is not None
    made: dict[str, str] = {}
    if fresh_keys:
        _revoke_demo_keys(session)
        made = {
            role: keys.create_key(
                session=session,
                actor=SYSTEM,
                role=Role(role),
                factory_id=factory.id if role == "factory" else None,
                name=f"demo {role}",
            ).secret
            for role in DEMO_ROLES
        }
    return DemoSeed(
        round_id=row.id,
        factory_id=factory.id,
        item_ids=[i.item_id for i in detail.items],
        keys=made,
        seeded_now=seeded_now,
    )


def _revoke_demo_keys(session: Session) -> None:
    names = [f"demo {role}" for role in DEMO_ROLES]
    live = session.exec(
        select(ApiKey).where(col(ApiKey.name).in_(names), col(ApiKey.revoked_at).is_(None))
    ).all()
    for key in live:
        keys.revoke_key(session=session, actor=SYSTEM, key_id=key.id)


def _seed_round(session: Session) -> Round:
    made = {
        name: factories.create_factory(
            session=session, actor=SYSTEM, name=name, monthly_capacity=capacity, is_new=is_new
        )
        for name, capacity, is_new in _FACTORIES
    }
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
    item_ids = []
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
        item_ids.append(item.id)
    opened = rounds.open_round(session=session, actor=SYSTEM, round_id=row.id)
    for name, factory_bids in _BIDS.items():
        bidder = Principal(key_id=None, role=Role.factory, factory_id=made[name].id)
        for index, cost, capacity, ask, lot, setup in factory_bids:
            terms = BidTerms(
                unit_cost=Decimal(cost),
                capacity=capacity,
                ask_price=None if ask is None else Decimal(ask),
                min_lot=lot,
                setup_cost=Decimal(setup),
            )
            bids.submit_bid(
                session=session,
                actor=bidder,
                round_id=opened.id,
                item_id=item_ids[index],
                terms=terms,
            )
    return opened
