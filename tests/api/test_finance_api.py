"""Finance through the API: margin audit, tamper detection, takeover liability, replay."""

import json
from decimal import Decimal

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from bidding.finance import verify_published_allocations
from bidding.models import Allocation
from tests.api.test_allocations_api import (
    closed_round_with_two_bids,
    request_solve,
    wait_until_finished,
)
from tests.api.test_settlement_api import published_round, settle
from tests.conftest import World


def test_the_margin_audit_rechecks_every_published_award_and_finds_nothing_when_untouched(
    world: World,
) -> None:
    empty = world.client.get("/v1/audit/margins", headers=world.headers("finance")).json()
    assert empty == {"allocations_checked": 0, "awards_checked": 0, "findings": []}
    published_round(world)
    audit = world.client.get("/v1/audit/margins", headers=world.headers("finance")).json()
    assert audit == {"allocations_checked": 1, "awards_checked": 2, "findings": []}


def test_a_tampered_award_row_is_caught_by_the_margin_audit_and_the_published_check(
    world: World,
) -> None:
    allocation_id, own, _ = published_round(world)
    with world.engine.begin() as connection:  # someone edits the stored award behind our back
        connection.execute(
            text("UPDATE award SET supply_price_cents = 1900 WHERE bid_id = :bid"), {"bid": own}
        )
    audit = world.client.get("/v1/audit/margins", headers=world.headers("finance")).json()
    at_fault = {(f["bid"], f["factory"]) for f in audit["findings"]}
    assert (own, world.factory_id) in at_fault
    rules = " ".join(f["finding"] for f in audit["findings"])
    assert "price_below_floor" in rules
    assert "unit_margin_below_floor" in rules
    assert "awards_changed" in rules
    assert all(f["allocation"] == allocation_id for f in audit["findings"])
    with Session(world.engine) as session:
        published = verify_published_allocations(session=session)
    assert [f.finding.split(":")[0] for f in published] == ["awards_changed"]


def test_a_tampered_unit_count_that_keeps_the_margins_is_still_caught_by_the_publish_hash(
    world: World,
) -> None:
    _, own, _ = published_round(world)
    with world.engine.begin() as connection:
        connection.execute(text("UPDATE award SET units = units - 1 WHERE bid_id = :b"), {"b": own})
    audit = world.client.get("/v1/audit/margins", headers=world.headers("finance")).json()
    rules = {f["finding"].split(" ")[0].rstrip(":") for f in audit["findings"]}
    assert "awards_changed" in rules
    assert "objective_mismatch" in rules  # the verifier sees the units no longer add up


def test_the_takeover_audit_shows_expected_and_settled_liability_per_round_and_item(
    world: World,
) -> None:
    published_round(world)
    finance = world.headers("finance")
    before = world.client.get("/v1/audit/takeover", headers=finance).json()["data"]
    assert len(before) == 1
    assert before[0]["settled"] is None
    assert before[0]["expected"]["units_ordered"] == 4500
    assert settle(world, {world.item_id: 4100}).status_code == 201
    after = world.client.get("/v1/audit/takeover", headers=finance).json()["data"]
    settled = after[0]["settled"]
    assert settled["units_taken_over"] == "400"
    assert Decimal(settled["salvage"]) == 400 * Decimal("8.00")
    assert Decimal(settled["takeover_loss"]) == Decimal(settled["takeover_spend"]) - Decimal(
        settled["salvage"]
    )
    unknown = world.client.get("/v1/audit/takeover?round=rnd_nope", headers=finance)
    assert unknown.status_code == 404


def test_a_replay_of_a_published_allocation_is_identical_and_audited(world: World) -> None:
    allocation_id, _, _ = published_round(world)
    response = world.client.post(
        f"/v1/allocations/{allocation_id}/replay", headers=world.headers("finance")
    )
    assert response.status_code == 200, response.text
    replay = response.json()
    assert replay["identical"] is True
    assert replay["solver_version_differs"] is False
    assert replay["differences"] == []
    assert replay["input_hash"].startswith("sha256:")
    stored = world.client.get(f"/v1/allocations/{allocation_id}", headers=world.headers("finance"))
    assert replay["input_hash"] == stored.json()["input_hash"]
    events = world.client.get("/v1/audit/events?limit=500", headers=world.headers("finance"))
    replays = [e for e in events.json()["data"] if e["action"] == "allocation.replay"]
    assert len(replays) == 1
    assert replays[0]["entity_id"] == allocation_id


def test_a_replay_of_a_changed_stored_result_reports_the_bids_that_differ(world: World) -> None:
    allocation_id, own, _ = published_round(world)
    # Changed through the column's own storage (an LZ4 frame of the text, migration 0008).
    with Session(world.engine) as session:
        stored = session.exec(select(Allocation.result).where(Allocation.id == allocation_id)).one()
        assert stored is not None
        tampered = json.loads(stored)
        changed = [a for a in tampered["allocations"] if a["units"] == 2000]
        assert [a["bid"] for a in changed] == [own]
        changed[0]["units"] = 1999
        session.execute(
            update(Allocation)
            .where(col(Allocation.id) == allocation_id)
            .values(result=json.dumps(tampered))
        )
        session.commit()
    replay = world.client.post(
        f"/v1/allocations/{allocation_id}/replay", headers=world.headers("finance")
    ).json()
    assert replay["identical"] is False
    assert [d["bid"] for d in replay["differences"]] == [own]
    assert replay["differences"][0]["stored"]["units"] == 1999
    assert replay["differences"][0]["replayed"]["units"] == 2000
    audit = world.client.get("/v1/audit/margins", headers=world.headers("finance")).json()
    assert any(f["finding"].startswith("result_changed") for f in audit["findings"])


def test_a_what_if_replays_identically_and_an_unknown_allocation_is_a_404(world: World) -> None:
    missing = world.client.post("/v1/allocations/alc_nope/replay", headers=world.headers("finance"))
    assert missing.status_code == 404
    assert missing.json()["code"] == "allocation_not_found"
    closed_round_with_two_bids(world)
    wait_until_finished(world, request_solve(world))
    what_if = request_solve(world, {"margin_floor": "0.15"})
    assert wait_until_finished(world, what_if)["status"] == "done"
    replay = world.client.post(
        f"/v1/allocations/{what_if}/replay", headers=world.headers("finance")
    )
    assert replay.json()["identical"] is True
