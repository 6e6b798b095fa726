"""The deadline race through the HTTP layer: factories submit, amend and withdraw around the
deadline while the embedded queue's timer closes the round (the close race's twin).

Every request is sent at a set offset from the deadline, from 1.5 s before it to 1 s after.
The database runs on this host, so its clock (which the service reads the deadline by) and
the test's are the same clock. Afterwards: no change sent after the deadline was accepted;
every accepted change, and no refused one, is in the snapshot frozen at the close; no
refusal came back before the deadline; no 5xx; and the close is the system's.
"""

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlmodel import Session

from bidding import bids
from bidding.lifecycle import database_now
from bidding.models import Role
from tests import factories as builders
from tests.conftest import World, report_figures

FACTORIES = 90
BEFORE_S, AFTER_S = 1.5, 1.0
"""Requests are sent from this long before the deadline to this long after it."""
LEAD_S = 3.0
"""The deadline is this far ahead when set: time for every thread to be ready and waiting."""

Kind = Literal["submit", "amend", "withdraw"]
KINDS: tuple[Kind, ...] = ("submit", "amend", "withdraw")


@dataclass
class Attempt:
    """One factory's change, when it was sent and answered, and how."""

    kind: Kind
    key: str
    offset_s: float
    bid_id: str | None = None
    unit_cost: str = ""
    sent_at: float = 0.0
    answered_at: float = 0.0
    status: int = 0
    code: str | None = None


def _attempts(world: World) -> list[Attempt]:
    """A factory per attempt; those that amend or withdraw hold a live bid already."""
    attempts = []
    with Session(world.engine, expire_on_commit=False) as session:
        for i in range(FACTORIES):
            kind = KINDS[i % 3]
            factory = builders.a_factory(session, name=f"Racer {i}")
            key = builders.a_key(session, Role.factory, factory)
            bid_id = None
            if kind != "submit":
                bid, _ = bids.submit_bid(
                    session=session,
                    actor=builders.as_factory(factory),
                    round_id=world.round_id,
                    item_id=world.item_id,
                    terms=builders.terms(unit_cost="20.00", capacity=100),
                )
                bid_id = bid.id
            offset = -BEFORE_S + (BEFORE_S + AFTER_S) * i / (FACTORIES - 1)
            cost = f"{10 + i // 100}.{i % 100:02d}"
            attempts.append(Attempt(kind, key, offset, bid_id, unit_cost=cost))
    return attempts


def _send(world: World, attempt: Attempt, deadline_s: float, start: threading.Barrier) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    headers = {"Authorization": f"Bearer {attempt.key}"}
    start.wait()
    time.sleep(max(0.0, deadline_s + attempt.offset_s - time.time()))
    attempt.sent_at = time.time()
    if attempt.kind == "submit":
        response = world.client.post(
            url,
            json={"item": world.item_id, "unit_cost": attempt.unit_cost, "capacity": 100},
            headers=headers,
        )
    elif attempt.kind == "amend":
        response = world.client.put(
            f"{url}/{attempt.bid_id}",
            json={"unit_cost": attempt.unit_cost, "capacity": 100},
            headers=headers,
        )
    else:
        response = world.client.delete(f"{url}/{attempt.bid_id}", headers=headers)
    attempt.answered_at = time.time()
    attempt.status = response.status_code
    if response.status_code >= 400:
        attempt.code = response.json().get("code", "?")
    elif attempt.kind == "submit":
        attempt.bid_id = response.json()["id"]


def _accepted(attempt: Attempt) -> bool:
    return attempt.status in (200, 201)


def _reflected(attempt: Attempt, frozen: dict[str, Decimal]) -> bool:
    """Whether the snapshot shows the change as made."""
    if attempt.kind == "submit":
        return attempt.bid_id is not None and attempt.bid_id in frozen
    if attempt.kind == "withdraw":
        return attempt.bid_id not in frozen
    return frozen.get(attempt.bid_id or "") == Decimal(attempt.unit_cost)


def test_no_change_sent_after_the_deadline_is_accepted_or_lost(world: World) -> None:
    attempts = _attempts(world)
    round_url = f"/v1/rounds/{world.round_id}"
    assert world.client.get(round_url, headers=world.headers("manager")).status_code == 200
    with Session(world.engine) as session:
        deadline = database_now(session) + timedelta(seconds=LEAD_S)
    moved = world.client.patch(
        round_url,
        json={"closes_at": deadline.isoformat()},
        headers=world.headers("manager"),
    )
    assert moved.status_code == 200, moved.text
    start = threading.Barrier(len(attempts))
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [
            pool.submit(_send, world, attempt, deadline.timestamp(), start) for attempt in attempts
        ]
        for future in futures:
            future.result()

    give_up = time.monotonic() + 20
    while world.client.get(round_url, headers=world.headers("manager")).json()["state"] == "open":
        assert time.monotonic() < give_up, "the embedded queue's timer did not close the round"
        time.sleep(0.1)
    problem = world.client.get(f"{round_url}/problem", headers=world.headers("manager")).json()
    frozen = {b["id"]: Decimal(str(b["unit_cost"])) for b in problem["bids"]}
    events = world.client.get(
        "/v1/audit/events", params={"limit": 500}, headers=world.headers("finance")
    ).json()["data"]
    (close,) = [e for e in events if e["action"] == "round.close"]
    after_close = [e for e in events if e["seq"] > close["seq"] and e["action"].startswith("bid.")]

    at = deadline.timestamp()
    accepted = [a for a in attempts if _accepted(a)]
    refused = [a for a in attempts if not _accepted(a) and a.status < 500]
    statuses = Counter(a.status for a in attempts)
    refusals = Counter(a.code for a in refused)
    figures = {
        "database": world.engine.dialect.name,
        "sent": len(attempts),
        "sent_before_deadline": sum(a.sent_at < at for a in attempts),
        "sent_after_deadline": sum(a.sent_at >= at for a in attempts),
        "by_kind": dict(Counter(a.kind for a in attempts)),
        "accepted": len(accepted),
        "refused": dict(refusals),
        "accepted_after_deadline": sum(a.sent_at >= at for a in accepted) + len(after_close),
        "refused_answered_before_deadline": sum(a.answered_at < at for a in refused),
        "lost": sum(not _reflected(a, frozen) for a in accepted)
        + sum(_reflected(a, frozen) for a in refused if a.kind != "submit"),
        "server_errors": sum(n for status, n in statuses.items() if status >= 500),
        "closed_by": close["actor_role"],
        "close_after_deadline_s": round(
            (datetime.fromisoformat(close["occurred_at"]) - deadline).total_seconds(), 3
        ),
    }
    report_figures(f"deadline-race-http-{world.engine.dialect.name}", figures)
    assert figures["server_errors"] == 0, figures
    assert figures["accepted_after_deadline"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["refused_answered_before_deadline"] == 0, figures
    assert set(refusals) <= {"round_not_open"}, figures
    assert len(accepted) + len(refused) == FACTORIES
    assert close["actor_role"] == "system"
    assert json.loads(close["after"])["deadline"] == deadline.astimezone(UTC).isoformat()
    assert datetime.fromisoformat(close["occurred_at"]) >= deadline
    # The race was real: changes were made before the deadline and refused after it.
    assert len(accepted) >= FACTORIES // 10, figures
    assert figures["sent_after_deadline"] >= FACTORIES // 3, figures
    assert len(refused) >= figures["sent_after_deadline"], figures
