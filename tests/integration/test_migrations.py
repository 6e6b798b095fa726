"""Migrations: upgrade, downgrade and upgrade again, and the result matches the models."""

import importlib

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from bidding.db import make_engine
from bidding.jobs import apply_procrastinate_schema
from bidding.models import Allocation, Round
from migrations import alembic_config

TABLES = {
    "allocation",
    "api_key",
    "award",
    "award_threshold",
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
    "threshold_job",
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


def test_documents_are_compressed_and_back_across_0008(database_url: str) -> None:
    """A snapshot, problem and result written before 0008 read back the same after it (the
    column holds far fewer bytes than the text), and after a downgrade are text again."""
    config = alembic_config(database_url)
    command.upgrade(config, "0007")
    snapshot = '{"bids": ["é", ' + ", ".join(['"b"'] * 5000) + "]}\n"
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    'INSERT INTO "round" (id, name, category, period, currency, margin_floor_ppb,'
                    " capacity_share_ppb, state, created_at, snapshot) VALUES ('rnd_1', 'R', 'c',"
                    " '2026-11', 'CNY', 0, 0, 'closed', '2026-11-22', :snapshot)"
                ),
                {"snapshot": snapshot},
            )
            connection.execute(
                text(
                    "INSERT INTO allocation (id, round_id, what_if, status, problem, input_hash,"
                    " result, attempts, created_at) VALUES ('alc_1', 'rnd_1', false, 'done',"
                    " :problem, 'sha256:x', NULL, 0, '2026-11-22')"
                ),
                {"problem": snapshot + " "},
            )
        command.upgrade(config, "head")
        with Session(engine) as session:
            row = session.get(Round, "rnd_1")
            allocation = session.get(Allocation, "alc_1")
            assert row is not None
            assert allocation is not None
            assert row.snapshot == snapshot
            assert allocation.problem == snapshot + " "
            assert allocation.result is None
        with engine.connect() as connection:
            stored = connection.execute(text('SELECT snapshot FROM "round"')).scalar_one()
            assert isinstance(stored, bytes | memoryview)
            assert len(bytes(stored)) < len(snapshot) / 10
        command.downgrade(config, "0007")
        with engine.connect() as connection:
            assert connection.execute(text('SELECT snapshot FROM "round"')).scalar_one() == snapshot
            assert connection.execute(text("SELECT problem FROM allocation")).scalar_one() == (
                snapshot + " "
            )
    finally:
        engine.dispose()


def test_0008_converts_every_document_of_many_rounds_page_by_page(database_url: str) -> None:
    """More rounds and allocations than 0008 reads at a time, some without documents: each
    document is compressed and read back the same, and is text again after a downgrade."""
    batch: int = importlib.import_module("migrations.versions.0008_compressed_documents").BATCH
    config = alembic_config(database_url)
    command.upgrade(config, "0007")
    count = 2 * batch + 3
    snapshots = {
        f"rnd_{n:03}": None if n % 7 == 3 else f'{{"round": {n}, "bids": ["é"{", 0" * n}]}}\n'
        for n in range(count)
    }
    results = {
        f"alc_{n:03}": None if n % 5 == 1 else f'{{"objective": "{n}.5"}}\n' for n in range(count)
    }
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    'INSERT INTO "round" (id, name, category, period, currency, margin_floor_ppb,'
                    " capacity_share_ppb, state, created_at, snapshot) VALUES (:id, 'R', 'c',"
                    " '2026-11', 'CNY', 0, 0, 'closed', '2026-11-22', :snapshot)"
                ),
                [{"id": k, "snapshot": v} for k, v in snapshots.items()],
            )
            connection.execute(
                text(
                    "INSERT INTO allocation (id, round_id, what_if, status, problem, input_hash,"
                    " result, attempts, created_at) VALUES (:id, 'rnd_000', false, 'done',"
                    " :problem, 'sha256:x', :result, 0, '2026-11-22')"
                ),
                [{"id": k, "problem": f"problem {k}", "result": v} for k, v in results.items()],
            )
        command.upgrade(config, "0008")
        with Session(engine) as session:
            rounds = session.exec(select(Round)).all()
            assert {r.id: r.snapshot for r in rounds} == snapshots
            allocations = session.exec(select(Allocation)).all()
            assert {a.id: a.result for a in allocations} == results
            assert {a.id: a.problem for a in allocations} == {k: f"problem {k}" for k in results}
        command.downgrade(config, "0007")
        with engine.connect() as connection:
            stored = connection.execute(text('SELECT id, snapshot FROM "round"')).all()
            assert dict(tuple(r) for r in stored) == snapshots
            stored = connection.execute(text("SELECT id, result FROM allocation")).all()
            assert dict(tuple(r) for r in stored) == results
    finally:
        engine.dispose()
