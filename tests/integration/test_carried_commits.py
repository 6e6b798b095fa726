"""An idempotency claim's commit is carried to disk by the next one; every other waits."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding import idempotency
from bidding.models import Role
from tests import factories as builders
from tests.conftest import create_tables


def _statements(engine: Engine) -> list[str]:
    """Each statement run from now on; a SQLite BEGIN is noted with its connection's
    safety level then (`BEGIN IMMEDIATE @NORMAL`)."""
    seen: list[str] = []
    level: dict[int, str] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _record(connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        spelled = statement.strip().upper()
        dbapi = id(connection.connection.dbapi_connection)
        if spelled.startswith("PRAGMA SYNCHRONOUS="):
            level[dbapi] = spelled.partition("=")[2]
        if spelled.startswith("BEGIN") and engine.dialect.name == "sqlite":
            spelled = f"{spelled} @{level.get(dbapi, 'FULL')}"
        seen.append(spelled)

    return seen


def _relaxed(statement: str) -> bool:
    return statement in ("PRAGMA SYNCHRONOUS=NORMAL", "SET LOCAL SYNCHRONOUS_COMMIT TO OFF")


def test_a_claim_is_carried_and_the_write_after_it_waits_for_the_disk(engine: Engine) -> None:
    create_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        key = builders.a_key(session, Role.manager)
        seen = _statements(engine)
        claimed = idempotency.claim(
            session=session,
            api_key_id=key,
            method="POST",
            path="/v1/items",
            key="k-1",
            request_hash="h",
        )
        assert claimed is None
        during_claim = list(seen)
        seen.clear()
        builders.an_item(session)  # the request's own write, as a use case
        after = list(seen)
    sqlite = engine.dialect.name == "sqlite"
    assert any(_relaxed(s) for s in during_claim), during_claim
    assert not any(_relaxed(s) for s in after), after
    if sqlite:
        assert "BEGIN IMMEDIATE @NORMAL" in during_claim, during_claim
        writes = [s for s in after if s.startswith("BEGIN IMMEDIATE")]
        assert writes, after
        assert all(s == "BEGIN IMMEDIATE @FULL" for s in writes), after
    with engine.connect() as connection:
        if sqlite:  # a new connection starts at FULL, as the pool hands it out
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        else:  # LOCAL: gone with the claim's transaction
            setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            assert setting == "on"
