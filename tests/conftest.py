"""Fixtures shared by the suites: a fresh database per test, on SQLite and PostgreSQL.

PostgreSQL runs where SUPPLYBID_TEST_POSTGRES_URL names a server (scripts/with-postgres.sh
sets it); each test gets its own schema there, dropped after. With
SUPPLYBID_REQUIRE_POSTGRES=1 (CI) a missing server fails the PostgreSQL tests instead of
skipping them.
"""

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

import bidding.models  # noqa: F401  (registers the tables)
from api.app import create_app
from bidding.audit import install_append_only_guard
from bidding.db import make_engine
from bidding.models import Role
from bidding.settings import Settings
from migrations import alembic_config
from tests import factories as builders

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
REPORTS = Path("var/test-reports")
FIGURES: list[str] = []
"""Lines of figures (close race, schemathesis) to print at the end of the run."""


def report_figures(name: str, figures: dict[str, Any]) -> None:
    """Keep a test's figures for the run's summary and in var/test-reports/NAME.json."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    FIGURES.append(f"{name}: {json.dumps(figures)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures the tests reported, so a run's output can be quoted."""
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def postgres_url() -> str:
    """The test server's URL, or skip (fail in CI) where there is none."""
    url = os.environ.get("SUPPLYBID_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("SUPPLYBID_REQUIRE_POSTGRES") == "1":
        pytest.fail("SUPPLYBID_REQUIRE_POSTGRES=1 but SUPPLYBID_TEST_POSTGRES_URL is not set")
    pytest.skip("no PostgreSQL server (set SUPPLYBID_TEST_POSTGRES_URL)")


MIGRATIONS = ScriptDirectory.from_config(alembic_config("sqlite://"))


def create_tables(engine: Engine) -> None:
    """Every table, and the append-only guard on the audit log, as the migrations make them."""
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        install_append_only_guard(connection)
        # stamped at the newest revision, so that the command line takes it as migrated
        MigrationContext.configure(connection).stamp(MIGRATIONS, "heads")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own for one test: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = make_engine(base, pool_size=1)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's database, with every table created."""
    engine = make_engine(database_url, pool_size=5)
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test's database."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@dataclass
class World:
    """An API on its own database, with a key per role and an open round to bid in."""

    client: TestClient
    engine: Engine
    keys: dict[str, str]
    factory_id: str
    rival_id: str
    item_id: str
    round_id: str
    draft_round_id: str

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        """Headers for a request as `who` (a role, or "rival": another factory)."""
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    """A fresh API with two factories, an item, an open round and a draft round."""
    app = create_app(Settings(database_url=database_url, job_queue="embedded"))
    engine: Engine = app.state.engine
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        factory = builders.a_factory(session, name="Own factory")
        rival = builders.a_factory(session, name="Rival factory")
        item = builders.an_item(session)
        row = builders.an_open_round(session, item_list=[item])
        draft = builders.a_draft_round(session, item_list=[item])
        keys = {
            "admin": builders.a_key(session, Role.admin),
            "manager": builders.a_key(session, Role.manager),
            "finance": builders.a_key(session, Role.finance),
            "factory": builders.a_key(session, Role.factory, factory),
            "rival": builders.a_key(session, Role.factory, rival),
        }
        world = World(
            client=TestClient(app),
            engine=engine,
            keys=keys,
            factory_id=factory.id,
            rival_id=rival.id,
            item_id=item.id,
            round_id=row.id,
            draft_round_id=draft.id,
        )
    with world.client:
        yield world
    engine.dispose()
