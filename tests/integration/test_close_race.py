"""The close race (SPEC 4): many factories submitting while the manager closes the round.

Each submission runs in its own thread and session. Afterwards every accepted bid must
be in the snapshot frozen at the close, no bid may have been accepted after it, and
every refusal must be the typed RoundNotOpen, never another error.
"""

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding import bids, rounds
from bidding.db import make_engine
from bidding.errors import RoundNotOpen
from bidding.models import AuditEvent, Bid, Round
from bidding.principal import Principal
from tests.conftest import report_figures
from tests.factories import MANAGER, a_factory, an_item, an_open_round, as_factory, terms

SUBMISSIONS = 120
CLOSE_AFTER = 40  # accepted bids before the close starts, so the two really overlap
SPREAD_S = 0.4


def _race(database_url: str, round_id: str, actors: list[tuple[Principal, str]]) -> dict[str, Any]:
    engine: Engine = make_engine(database_url, pool_size=64)
    accepted: list[str] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    enough = threading.Event()
    closing = threading.Event()
    closed = threading.Event()
    start = threading.Barrier(len(actors) + 1)

    def submit(actor: Principal, item_id: str, index: int) -> None:
        start.wait()
        # The first half arrives spread out before the close; the third quarter is let go
        # as the close starts, so some queue before it on the lock and some after; the
        # last quarter comes once the close has committed. SQLite's busy handler is not
        # fair, so without that last quarter the close could lose every race for the
        # lock and the test would prove nothing about refusals.
        half, three_quarters = len(actors) // 2, 3 * len(actors) // 4
        if index >= three_quarters:
            closed.wait(timeout=60)
        elif index >= half:
            closing.wait(timeout=60)
        group = half if index < half else len(actors) // 4
        time.sleep(SPREAD_S * (index % group) / group)
        with Session(engine, expire_on_commit=False) as session:
            try:
                bid, _ = bids.submit_bid(
                    session=session, actor=actor, round_id=round_id, item_id=item_id, terms=terms()
                )
            except RoundNotOpen:
                with lock:
                    outcomes["refused_round_not_open"] += 1
                return
            except Exception as exc:  # anything else is a failure of the guarantee
                with lock:
                    outcomes[f"error:{type(exc).__name__}"] += 1
                return
        with lock:
            accepted.append(bid.id)
            outcomes["accepted"] += 1
            if len(accepted) >= CLOSE_AFTER:
                enough.set()

    def close() -> None:
        start.wait()
        enough.wait(timeout=60)
        closing.set()
        with Session(engine, expire_on_commit=False) as session:
            try:
                rounds.close_round(session=session, actor=MANAGER, round_id=round_id)
            finally:
                closed.set()

    try:
        with ThreadPoolExecutor(max_workers=len(actors) + 1) as pool:
            futures = [
                pool.submit(submit, actor, item, i) for i, (actor, item) in enumerate(actors)
            ]
            closer = pool.submit(close)
            for future in futures:
                future.result()
            closer.result()
        with Session(engine) as session:
            row = session.get(Round, round_id)
            assert row is not None
            assert row.snapshot is not None
            frozen = {b["id"] for b in json.loads(row.snapshot)["bids"]}
            stored = set(session.exec(select(Bid.id).where(Bid.round_id == round_id)).all())
            close_seq = session.exec(
                select(AuditEvent.seq).where(AuditEvent.action == "round.close")
            ).one()
            late = session.exec(
                select(AuditEvent.entity_id).where(
                    AuditEvent.action == "bid.submit", col(AuditEvent.seq) > close_seq
                )
            ).all()
    finally:
        engine.dispose()
    return {
        "submissions": len(actors),
        "accepted": outcomes["accepted"],
        "refused_round_not_open": outcomes["refused_round_not_open"],
        "errors": sum(n for k, n in outcomes.items() if k.startswith("error:")),
        "error_kinds": sorted(k for k in outcomes if k.startswith("error:")),
        "accepted_after_close": len(late) + len(stored - frozen),
        "accepted_missing_from_snapshot": len(set(accepted) - frozen),
        "in_snapshot": len(frozen),
    }


def test_no_bid_is_accepted_after_a_close_racing_many_submissions(
    database_url: str, session: Session
) -> None:
    item_a, item_b = an_item(session, name="A"), an_item(session, name="B")
    row = an_open_round(session, item_list=[item_a, item_b])
    actors = [
        (as_factory(a_factory(session, name=f"Factory {i}")), (item_a, item_b)[i % 2].id)
        for i in range(SUBMISSIONS)
    ]
    figures = _race(database_url, row.id, actors)
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    report_figures(f"close-race-{backend}", figures)
    assert figures["errors"] == 0, figures
    assert figures["accepted_after_close"] == 0, figures
    assert figures["accepted_missing_from_snapshot"] == 0, figures
    assert figures["accepted"] == figures["in_snapshot"], figures
    assert figures["accepted"] + figures["refused_round_not_open"] == SUBMISSIONS
    assert figures["accepted"] >= CLOSE_AFTER, "the close started before the first bids"
    # The last quarter submits after the close committed: every one must be refused.
    assert figures["refused_round_not_open"] >= SUBMISSIONS // 4, figures
