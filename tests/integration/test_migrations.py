"""Migrations: upgrade, downgrade and upgrade again, and the result matches the models."""

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from bidding.db import make_engine
from bidding.jobs import apply_procrastinate_schema
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
    "web_session",
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


def _append_an_event_and_tamper(database_url: str, seq: int) -> None:
    """Insert an event, then try to change and remove it: refused while the guard is there."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_event (seq, occurred_at, actor_role, action, entity_type,"
                    " entity_id, prev_hash, hash) VALUES (:seq, '2026-11-22T00:00:00Z', 'admin',"
                    " 'test', 'test', 'x', 'p', 'h')"
                ),
                {"seq": seq},
            )
        for statement in ("UPDATE audit_event SET action = 'forged'", "DELETE FROM audit_event"):
            refused = pytest.raises(DBAPIError, match="audit_event is append-only")
            with refused, engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def test_the_migrated_audit_log_is_append_only_until_downgraded(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    _append_an_event_and_tamper(database_url, 1)
    command.downgrade(config, "0003")
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_event SET action = 'changed'"))
            connection.execute(text("DELETE FROM audit_event"))
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    _append_an_event_and_tamper(database_url, 2)


def test_alembic_check_is_clean_with_the_job_queue_schema_in_place(database_url: str) -> None:
    """`supplybid db upgrade` also makes procrastinate's tables on PostgreSQL: autogenerate
    must leave them alone, or a new revision would drop the job queue."""
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    engine = make_engine(database_url, pool_size=1)
    try:
        if engine.dialect.name == "postgresql":
            assert apply_procrastinate_schema(engine)
            queue_tables = {t for t in inspect(engine).get_table_names() if "procrastinate" in t}
            assert "procrastinate_jobs" in queue_tables
    finally:
        engine.dispose()
    command.check(config)  # raises: "New upgrade operations detected" on any difference
