"""The audit routes and `supplybid audit verify`: a tampered event is reported by both."""

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bidding.db import get_engine
from bidding.settings import get_settings
from cli.main import app as cli
from tests.conftest import AUDIT_KEY, World
from tests.factories import without_audit_guard


@pytest.fixture
def cli_on(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The command line, configured for the world's database."""
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", world.engine.url.render_as_string(False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_finance_pages_through_the_audit_events(world: World) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = world.client.get("/v1/audit/events", params=params, headers=world.headers("finance"))
        assert page.status_code == 200
        seen += [e["seq"] for e in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, len(seen) + 1))
    assert len(seen) > 4


def test_a_tampered_event_is_reported_by_the_api_and_the_command_line(
    world: World, cli_on: CliRunner
) -> None:
    verified = world.client.get("/v1/audit/verify", headers=world.headers("admin")).json()
    assert verified["ok"] is True
    assert cli_on.invoke(cli, ["audit", "verify"]).exit_code == 0
    with world.engine.begin() as connection, without_audit_guard(connection):
        connection.execute(text("UPDATE audit_event SET actor_role = 'admin' WHERE seq = 3"))
    report = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert (report["ok"], report["first_broken_seq"]) == (False, 3)
    result = cli_on.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at event 3" in result.output


def test_keys_create_prints_the_key_alone_on_the_last_line(world: World, cli_on: CliRunner) -> None:
    result = cli_on.invoke(cli, ["keys", "create", "--role", "finance", "--name", "ops"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sbk_")
    assert world.client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {key}"}).json()[
        "ok"
    ]
    refused = cli_on.invoke(cli, ["keys", "create", "--role", "factory"])
    assert refused.exit_code == 2


def _audit_events(world: World) -> list[dict[str, Any]]:
    page = world.client.get(
        "/v1/audit/events", params={"limit": 500}, headers=world.headers("finance")
    )
    assert page.status_code == 200
    events: list[dict[str, Any]] = page.json()["data"]
    return events


def test_while_open_finance_sees_no_factory_item_or_content_in_bid_events(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(
        url,
        json={"item": world.item_id, "unit_cost": "18.37", "capacity": 7919, "min_lot": 13},
        headers=world.headers("factory"),
    ).json()
    amended = world.client.put(
        f"{url}/{bid['id']}",
        json={"unit_cost": "17.11", "capacity": 7907},
        headers=world.headers("factory"),
    )
    assert amended.status_code == 200, amended.text
    world.client.delete(f"{url}/{bid['id']}", headers=world.headers("factory"))
    logged = [e for e in _audit_events(world) if e["entity_type"] == "bid"]
    assert [e["action"] for e in logged] == ["bid.submit", "bid.amend", "bid.withdraw"]
    factory_keys = {
        k["id"]
        for k in world.client.get("/v1/api-keys", headers=world.headers("admin")).json()["data"]
        if k["factory"] is not None
    }
    for event in logged:
        # The event names the bid and nothing else of it: its states hold exactly the bid
        # id, the round id and a commitment, and no field names the factory or the item.
        assert event["entity_id"] == bid["id"]
        assert event["actor_key_id"] not in factory_keys
        for field in (world.factory_id, world.item_id):
            assert field not in json.dumps(event), (event["action"], field)
        for state in (event["before"], event["after"]):
            if state is not None:
                logged_state = json.loads(state)
                assert set(logged_state) == {"bid", "round", "commitment"}
                assert logged_state["bid"] == bid["id"]
                assert logged_state["round"] == world.round_id
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", logged_state["commitment"])


def test_after_the_close_finance_checks_each_commitment_against_the_log(world: World) -> None:
    url = f"/v1/rounds/{world.round_id}/bids"
    bid = world.client.post(
        url,
        json={"item": world.item_id, "unit_cost": "18.37", "capacity": 7919},
        headers=world.headers("factory"),
    ).json()
    # The amendment spells its money loosely: the commitment is over the stored values.
    amended = world.client.put(
        f"{url}/{bid['id']}",
        json={"unit_cost": "17.1", "capacity": 7919, "setup_cost": 5},
        headers=world.headers("factory"),
    )
    assert amended.status_code == 200, amended.text
    assert world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    ).is_success
    versions = world.client.get(
        f"{url}/{bid['id']}/versions", headers=world.headers("finance")
    ).json()["data"]
    logged = {
        json.loads(e["after"])["commitment"]
        for e in _audit_events(world)
        if e["entity_type"] == "bid" and e["entity_id"] == bid["id"]
    }
    for version in versions:
        content = json.dumps(
            {
                "bid": bid["id"],
                "round": world.round_id,
                "factory": bid["factory"],
                "item": bid["item"],
                "version": version["version"],
                "unit_cost": version["unit_cost"],
                "capacity": version["capacity"],
                "ask_price": version["ask_price"],
                "min_lot": version["min_lot"],
                "setup_cost": version["setup_cost"],
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(f"{version['nonce']}\n{content}".encode()).hexdigest()
        assert f"sha256:{digest}" == version["commitment"]
        assert version["commitment"] in logged
    assert len(versions) == 2


def test_an_anchor_catches_events_removed_from_the_end_and_a_recomputed_chain(
    world: World,
) -> None:
    recorded = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert recorded["ok"] is True
    assert recorded["head_seq"] == recorded["events_checked"] > 0
    anchor = {"head_seq": recorded["head_seq"], "head_hash": recorded["head_hash"]}
    assert world.client.get(
        "/v1/audit/verify", params=anchor, headers=world.headers("finance")
    ).json()["ok"]
    with world.engine.begin() as connection, without_audit_guard(connection):
        connection.execute(
            text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": recorded["head_seq"]}
        )
    alone = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert alone["ok"] is True  # without the anchor, a shorter chain looks whole
    against = world.client.get("/v1/audit/verify", params=anchor, headers=world.headers("finance"))
    assert (against.json()["ok"], against.json()["first_broken_seq"]) == (
        False,
        recorded["head_seq"],
    )


def test_a_half_given_or_malformed_anchor_is_a_422(world: World) -> None:
    for params in (
        {"head_seq": "1"},
        {"head_hash": "sha256:" + "0" * 64},
        {"head_seq": "1", "head_hash": "sha256:xyz"},
        {"head_seq": "0", "head_hash": "sha256:" + "0" * 64},
    ):
        response = world.client.get(
            "/v1/audit/verify", params=params, headers=world.headers("finance")
        )
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


def test_a_keyed_anchored_log_reports_a_cut_tail_to_the_api_and_the_command_line(
    keyed_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = keyed_world
    for name in ("One", "Two"):
        made = world.client.post(
            "/v1/factories",
            json={"name": name, "monthly_capacity": 1000},
            headers=world.headers("manager"),
        )
        assert made.status_code == 201, made.text
    report = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert report["ok"] is True, report
    assert report["head_hash"].startswith("hmac-sha256:")
    assert report["keyed_from_seq"] is not None
    assert report["anchored_seq"] == report["head_seq"]
    with world.engine.begin() as connection, without_audit_guard(connection):
        connection.execute(
            text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": report["head_seq"]}
        )
    cut = world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()
    assert (cut["ok"], cut["first_broken_seq"]) == (False, report["head_seq"])
    assert "removed" in cut["reason"]
    monkeypatch.setenv("SUPPLYBID_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("SUPPLYBID_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("SUPPLYBID_AUDIT_ANCHOR_PATH", str(tmp_path / "audit.anchor"))
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "verify"])
        get_engine().dispose()
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()
    assert result.exit_code == 1
    assert f"BROKEN at event {report['head_seq']}" in result.output
