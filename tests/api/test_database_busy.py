"""A SQLite writer that waits past the busy timeout gets a 503 to retry, not a 500."""

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.requests import Request

from api.app import create_app
from api.db_errors import database_busy
from bidding.db import get_engine
from bidding.models import Role
from bidding.settings import Settings, get_settings
from tests import factories as builders
from tests.conftest import RAISED_LIMITS, create_tables


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": []})


def _locked_sqlite_error(path: Path) -> OperationalError:
    """A real "database is locked" from SQLAlchemy while another connection writes."""
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
        with pytest.raises(OperationalError) as caught, engine.connect() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        engine.dispose()
        return caught.value
    finally:
        holder.rollback()
        holder.close()


def test_a_locked_database_is_a_503_problem_with_retry_after(tmp_path: Path) -> None:
    exc = _locked_sqlite_error(tmp_path / "busy.db")
    response = asyncio.run(database_busy(_request(), exc))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.media_type == "application/problem+json"
    assert b'"code":"database_busy"' in response.body


def test_any_other_operational_error_is_left_to_the_server_error_handler() -> None:
    exc = OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    with pytest.raises(OperationalError):
        asyncio.run(database_busy(_request(), exc))


@pytest.fixture
def busy_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, str, str]]:
    """An app on SQLite whose writers give up after 0.1 s, as a factory; a bid URL and body."""
    monkeypatch.setenv("SUPPLYBID_SQLITE_BUSY_TIMEOUT_S", "0.1")
    get_settings.cache_clear()
    get_engine.cache_clear()
    url = f"sqlite:///{tmp_path / 'app.db'}"
    app = create_app(Settings(database_url=url, job_queue="embedded", **RAISED_LIMITS))
    app.add_exception_handler(OperationalError, database_busy)  # as api/app.py will
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        row = builders.an_open_round(session, item_list=[item])
        key = builders.a_key(session, Role.factory, builders.a_factory(session))
        body = f'{{"item": "{item.id}", "unit_cost": "18.50", "capacity": 10}}'
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        client.headers["Content-Type"] = "application/json"
        yield client, f"/v1/rounds/{row.id}/bids", body
    app.state.engine.dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_a_bid_while_another_writer_holds_the_lock_is_a_503_and_then_goes_through(
    busy_app: tuple[TestClient, str, str], tmp_path: Path
) -> None:
    client, url, body = busy_app
    holder = sqlite3.connect(tmp_path / "app.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        plain = client.post(url, content=body)
        keyed = client.post(url, content=body, headers={"Idempotency-Key": "busy-1"})
    finally:
        holder.rollback()
        holder.close()
    for response in (plain, keyed):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "database_busy"
    retried = client.post(url, content=body, headers={"Idempotency-Key": "busy-1"})
    assert retried.status_code == 201, retried.text
