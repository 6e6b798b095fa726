"""Migrations: upgrade, downgrade and upgrade again, and the result matches the models."""

from alembic import command
from sqlalchemy import inspect

from bidding.db import make_engine
from migrations import alembic_config

TABLES = {
    "allocation",
    "api_key",
    "award",
    "audit_event",
    "bid",
    "bid_version",
    "factory",
    "idempotency_record",
    "invitation",
    "item",
    "round",
    "round_item",
    "scenario",
    "settlement",
    "settlement_item",
    "settlement_takeover",
}


def _tables(database_url: str) -> set[str]:
    engine = make_engine(database_url, pool_size=1)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_up_down_and_up_again_and_match_the_models(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    assert _tables(database_url) == TABLES
    command.check(config)  # raises if the migrated schema differs from the models
    command.downgrade(config, "base")
    assert _tables(database_url) == set()
    command.upgrade(config, "head")
    command.check(config)
    assert _tables(database_url) == TABLES
