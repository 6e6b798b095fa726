"""An award row's two keys (migration 0010): its allocation of its round, and its bid with
that bid's round, factory and item. A row naming anything else is refused by the database."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bidding.db import make_engine
from migrations import alembic_config

AWARD = (
    "INSERT INTO award (allocation_id, bid_id, round_id, factory_id, item_id, units,"
    " supply_price_cents, setup_fee_cents, capacity_share_used_ppb, reason)"
    " VALUES (:allocation, :bid, :round, :factory, :item, 1, 100, 0, 0, 'won')"
)
GOOD = {
    "allocation": "alc_1",
    "bid": "bid_1",
    "round": "rnd_1",
    "factory": "fac_1",
    "item": "itm_1",
}
FRESH = GOOD | {"allocation": "alc_3"}
"""A right award not stored yet: bid_1 in another allocation of its round."""


def _world(connection: Connection) -> None:
    """Two rounds, factories and items; a bid of each round; allocations 1 and 3 of round 1,
    2 of round 2."""
    for n in (1, 2):
        connection.execute(
            text(
                "INSERT INTO factory (id, name, monthly_capacity, is_new, created_at)"
                " VALUES (:id, 'F', 100, false, '2026-11-22')"
            ),
            {"id": f"fac_{n}"},
        )
        connection.execute(
            text(
                "INSERT INTO item (id, name, retail_price_cents, handling_cost_cents,"
                " salvage_value_cents, created_at) VALUES (:id, 'I', 1000, 10, 1, '2026-11-22')"
            ),
            {"id": f"itm_{n}"},
        )
        connection.execute(
            text(
                'INSERT INTO "round" (id, name, category, period, currency, margin_floor_ppb,'
                " capacity_share_ppb, state, created_at) VALUES (:id, 'R', 'c', '2026-11', 'CNY',"
                " 0, 0, 'closed', '2026-11-22')"
            ),
            {"id": f"rnd_{n}"},
        )
        connection.execute(
            text(
                "INSERT INTO bid (id, round_id, factory_id, item_id, status, version, live_slot,"
                " created_at, updated_at) VALUES (:id, :round, :factory, :item, 'live', 1, :id,"
                " '2026-11-22', '2026-11-22')"
            ),
            {"id": f"bid_{n}", "round": f"rnd_{n}", "factory": f"fac_{n}", "item": f"itm_{n}"},
        )
        connection.execute(
            text(
                "INSERT INTO allocation (id, round_id, what_if, status, problem, input_hash,"
                " attempts, created_at) VALUES (:id, :round, false, 'done', :problem, 'sha256:x',"
                " 0, '2026-11-22')"
            ),
            {"id": f"alc_{n}", "round": f"rnd_{n}", "problem": b"x"},
        )
    connection.execute(
        text(
            "INSERT INTO allocation (id, round_id, what_if, status, problem, input_hash,"
            " attempts, created_at) VALUES ('alc_3', 'rnd_1', false, 'done', :problem,"
            " 'sha256:x', 0, '2026-11-22')"
        ),
        {"problem": b"x"},
    )


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    """A database at 0008 with a world and one award, then migrated to the head."""
    config = alembic_config(database_url)
    command.upgrade(config, "0008")
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            _world(connection)
            connection.execute(text(AWARD), GOOD)
        command.upgrade(config, "head")
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "wrong",
    [
        {"factory": "fac_2"},  # a factory other than the bid's
        {"item": "itm_2"},  # an item other than the bid's
        {"round": "rnd_2"},  # a round other than the bid's and the allocation's
        {"round": "rnd_2", "allocation": "alc_2"},  # the allocation's round, not the bid's
        {"allocation": "alc_2"},  # an allocation of another round than the bid's and the row's
        {"bid": "bid_9"},  # no such bid
        {"allocation": "alc_9"},  # no such allocation
        {"factory": "fac_9"},  # no such factory
    ],
)
def test_an_award_naming_other_than_its_bid_and_allocation_is_refused(
    migrated: Engine, wrong: dict[str, str]
) -> None:
    with pytest.raises(IntegrityError), migrated.begin() as connection:
        connection.execute(text(AWARD), FRESH | wrong)


def test_the_same_award_naming_its_bid_and_allocation_rightly_is_kept(migrated: Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(text(AWARD), FRESH)
    with migrated.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM award")).scalar_one() == 2


def test_awards_that_agree_with_their_bid_and_allocation_are_kept_across_0010(
    migrated: Engine, database_url: str
) -> None:
    with migrated.begin() as connection:
        connection.execute(
            text(AWARD),
            {"allocation": "alc_2", "bid": "bid_2", "round": "rnd_2"}
            | {"factory": "fac_2", "item": "itm_2"},
        )
    config = alembic_config(database_url)
    command.downgrade(config, "0008")
    command.upgrade(config, "head")
    command.check(config)
    with migrated.connect() as connection:
        rows = connection.execute(text("SELECT allocation_id, bid_id FROM award ORDER BY 1"))
        assert [tuple(r) for r in rows] == [("alc_1", "bid_1"), ("alc_2", "bid_2")]
