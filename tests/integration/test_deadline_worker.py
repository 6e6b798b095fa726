"""On PostgreSQL a `supplybid worker`'s periodic task closes a round at its deadline.

The worker runs as the app's role, with the rights `supplybid db upgrade` granted it, and
checks every second (SUPPLYBID_DEADLINE_CHECK_CRON) for the test's sake.
"""

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bidding import bids, rounds
from bidding.lifecycle import database_now
from bidding.models import AuditEvent, Role, Round, RoundState
from tests import factories as builders
from tests.integration.test_worker_sigkill import (  # noqa: F401  (fixtures)
    app_url,
    migrated,
    wait_for,
    worker,
)

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _round(engine: Engine, round_id: str) -> Round:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Round, round_id)
        assert row is not None
        return row


def test_a_worker_closes_a_round_at_its_deadline_as_the_system(
    app_url: str,  # noqa: F811
    migrated: Engine,  # noqa: F811
) -> None:
    with Session(migrated, expire_on_commit=False) as session:
        item = builders.an_item(session)
        row = builders.an_open_round(session, item_list=[item])
        factory = builders.a_factory(session, name="On time")
        bid, _ = bids.submit_bid(
            session=session,
            actor=builders.as_factory(factory),
            round_id=row.id,
            item_id=item.id,
            terms=builders.terms(),
        )
        round_id, bid_id = row.id, bid.id  # the use case below expires the objects
        deadline = database_now(session) + timedelta(seconds=2)
        session.rollback()
        rounds.update_round(
            session=session,
            actor=builders.MANAGER,
            round_id=round_id,
            changes={"closes_at": deadline},
        )
    with worker(app_url, deadline_check_cron="* * * * * *"):
        wait_for(
            lambda: _round(migrated, round_id).state == RoundState.closed,
            30,
            "the worker's periodic task to close the round at its deadline",
        )
    closed = _round(migrated, round_id)
    assert closed.snapshot is not None
    assert [b["id"] for b in json.loads(closed.snapshot)["bids"]] == [bid_id]
    with Session(migrated) as session:
        (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "round.close")).all()
    assert event.actor_role == Role.system
    assert event.entity_id == round_id
    assert datetime.fromisoformat(event.occurred_at) >= deadline
    assert datetime.fromisoformat(json.loads(event.after or "{}")["deadline"]) == deadline
