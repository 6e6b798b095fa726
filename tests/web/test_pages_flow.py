"""The manager's, finance's and admin's stories through the pages (TestClient, both databases)."""

import re
import time

from _pytest.monkeypatch import MonkeyPatch
from fastapi.testclient import TestClient
from sqlmodel import Session

from bidding import comparison, workspace
from tests.conftest import World
from tests.web.helpers import csrf_of, sign_in


def _bid(world: World, round_id: str, who: str, cost: str, capacity: int) -> None:
    answer = world.client.post(
        f"/v1/rounds/{round_id}/bids",
        json={"item": world.item_id, "unit_cost": cost, "capacity": capacity},
        headers=world.headers(who),
    )
    assert answer.status_code == 201, answer.text


def _wait_done(client: TestClient, allocation_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/allocations/{allocation_id}/status")
        if status.headers.get("HX-Refresh") == "true":
            return str(client.get(f"/allocations/{allocation_id}").text)
        assert 'id="phase"' in status.text
        time.sleep(0.1)
    raise AssertionError("the solve did not finish")


ROW = re.compile(r'<tr class="(same|differs)"><td>([^<]+)</td>')


def _compared_rows(client: TestClient, url: str) -> list[tuple[str, str]]:
    """(class, label) of every figure row of a comparison, page after page."""
    rows: list[tuple[str, str]] = []
    page = 0
    while True:
        answer = client.get(f"{url}&page={page}", headers={"HX-Request": "true"})
        assert answer.status_code == 200, answer.text
        assert "<h1>" not in answer.text  # htmx gets the table's block only
        rows += ROW.findall(answer.text)
        if f"page={page + 1}" not in answer.text:
            return rows
        page += 1


def test_manager_runs_a_round_from_the_pages(world: World, monkeypatch: MonkeyPatch) -> None:
    manager = world.client
    token = sign_in(manager, world.keys["manager"])
    form = manager.get("/rounds/new")
    assert world.item_id in form.text
    made = manager.post(
        "/rounds",
        data={
            "csrf_token": token,
            "name": "Page round",
            "category": "toys",
            "period": "2026-12",
            "margin_floor": "0.10",
            "capacity_share": "0.5",
            "item": world.item_id,
            f"min_fill.{world.item_id}": "",
            "factory": [world.factory_id, world.rival_id],
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    round_url = made.headers["location"]
    round_id = round_url.rsplit("/", 1)[1]
    page = manager.get(round_url)
    assert "draft" in page.text
    assert "Own factory" in page.text
    opened = manager.post(f"{round_url}/open", data={"csrf_token": token}, follow_redirects=False)
    assert opened.status_code == 303
    _bid(world, round_id, "factory", "10.00", 8000)
    _bid(world, round_id, "rival", "12.00", 9000)
    page = manager.get(round_url)
    assert "2 live bids" in page.text
    assert "Bid tabulation" not in page.text  # sealed while open
    closed = manager.post(
        f"{round_url}/close", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert closed.headers["HX-Redirect"] == round_url
    page = manager.get(round_url)
    assert "Bid tabulation" in page.text
    table = page.text[page.text.index('id="tabulation"') :]
    assert table.index("Own factory") < table.index("Rival factory")  # by supply price
    assert "11.12" in page.text  # 10.00 / 0.9 rounded up
    assert 'class="figure-data"' in page.text
    solved = manager.post(f"{round_url}/solve", data={"csrf_token": token}, follow_redirects=False)
    allocation_url = solved.headers["location"]
    allocation_id = allocation_url.rsplit("/", 1)[1]
    text = _wait_done(manager, allocation_id)
    assert "Award matrix" in text
    assert "You won your full capacity" in text or " units of Plush bear you offered" in text
    for chart in ("curve", "capacity", "spend", "takeover", "margins"):
        assert f'id="{chart}" class="figure-data"' in text
    what_if = manager.post(
        f"/rounds/{round_id}/what-if",
        data={"csrf_token": token, "exclude_factory": world.rival_id, "margin_floor": ""},
        follow_redirects=False,
    )
    assert what_if.status_code == 303, what_if.text
    what_if_id = what_if.headers["location"].rsplit("/", 1)[1]
    assert "left out of the allocation by a what-if" in _wait_done(manager, what_if_id)
    compared = manager.get(f"/allocations/{allocation_id}/compare?other={what_if_id}")
    assert compared.status_code == 200, compared.text
    assert "Differences only" in compared.text
    with Session(world.engine) as session:
        fast = workspace.compare(session=session, allocation_id=allocation_id, other_id=what_if_id)
        full = comparison.compare_allocations(
            session=session, allocation_id=allocation_id, other_id=what_if_id
        )
    for quick, slow in (
        (fast.base_figures, full.base_figures),
        (fast.other_figures, full.other_figures),
    ):
        assert (quick.objective, quick.spend, quick.units) == (
            slow.objective,
            slow.spend,
            slow.units,
        )
        assert (quick.expected_unsold, quick.takeover_cost) == (
            slow.expected_unsold,
            slow.takeover_cost,
        )
        assert quick.item_takeover_cost == slow.item_takeover_cost
        assert {k: v for k, v in quick.factory_spend.items() if v} == {
            k: v for k, v in slow.factory_spend.items() if v
        }
    assert re.search(r'class="(better|worse)"', compared.text)
    monkeypatch.setattr(workspace, "PAGE_ROWS", 1)  # one item and one factory a page
    compare_url = f"/allocations/{allocation_id}/compare?other={what_if_id}"
    every = _compared_rows(manager, compare_url)
    differing = _compared_rows(manager, compare_url + "&differences=true")
    assert {label for _, label in every} > {label for _, label in differing}
    # The switch pages through what differs on every page, and only through that.
    assert differing == [r for r in every if r[0] == "differs"]
    assert any(label.startswith("Rival factory") for _, label in differing)
    bad_what_if = manager.post(
        f"/rounds/{round_id}/what-if",
        data={"csrf_token": token, "margin_floor": "1.5"},
    )
    assert bad_what_if.status_code == 422
    assert "margin_floor" in bad_what_if.text
    published = manager.post(
        f"/allocations/{allocation_id}/publish", data={"csrf_token": token}, follow_redirects=False
    )
    assert published.status_code == 303, published.text
    assert "published" in manager.get(allocation_url).text
    again = manager.post(f"/allocations/{what_if_id}/publish", data={"csrf_token": token})
    assert again.status_code == 409
    settle_form = manager.get(f"{round_url}/settlement")
    assert f"sold.{world.item_id}" in settle_form.text
    settled = manager.post(
        f"{round_url}/settlement",
        data={"csrf_token": csrf_of(settle_form.text), f"sold.{world.item_id}": "12000"},
        follow_redirects=False,
    )
    assert settled.status_code == 303, settled.text

    finance = TestClient(world.client.app)
    finance_token = sign_in(finance, world.keys["finance"])
    assert "Page round" in finance.get("/finance").text
    margins = finance.get("/finance/margins")
    assert "No finding" in margins.text
    assert 'id="margins" class="figure-data"' in margins.text
    assert "settled" in finance.get("/finance/takeover").text
    report = finance.get(f"/finance/rounds/{round_id}")
    assert "Own factory" in report.text
    assert "Realised" in report.text
    csv = finance.get(f"/finance/rounds/{round_id}/statements/download?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "factory" in csv.text
    xlsx = finance.get("/finance/takeover/download?format=xlsx")
    assert xlsx.content[:2] == b"PK"
    replay = finance.post(
        "/finance/replay", data={"csrf_token": finance_token, "allocation_id": allocation_id}
    )
    assert "Identical" in replay.text, replay.text
    audit = finance.get(f"/finance/audit?entity={round_id}")
    assert "Chain verified" in audit.text
    assert "round.open" in audit.text or "open" in audit.text
    assert "api_key.create" not in audit.text  # filtered to the round


def test_admin_makes_a_factory_and_a_key_then_revokes_it(world: World) -> None:
    admin = world.client
    token = sign_in(admin, world.keys["admin"])
    made = admin.post(
        "/admin/factories",
        data={"csrf_token": token, "name": "Page factory", "monthly_capacity": "1200"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert "Page factory" in admin.get("/admin/factories").text
    key = admin.post("/admin/keys", data={"csrf_token": token, "name": "Li Wei", "role": "finance"})
    assert key.status_code == 200
    assert key.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key">(sbk_[^<]+)<', key.text)
    assert secret
    person = TestClient(world.client.app)
    sign_in(person, secret.group(1))
    assert person.get("/finance", follow_redirects=False).status_code == 200
    keys_page = admin.get("/admin/keys")
    key_id = re.search(r'id="key-(key_[^"]+)"><td>Li Wei', keys_page.text)
    assert key_id
    revoked = admin.post(
        f"/admin/keys/{key_id.group(1)}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert person.get("/finance", follow_redirects=False).status_code == 303


ITEM_FORM = {
    "name": "Page item",
    "retail_price": "20.00",
    "handling_cost": "1.00",
    "salvage_value": "2.00",
    "demand": "100:0.5, 200:0.5",
}


def _item_names(world: World) -> list[str]:
    listed = world.client.get("/v1/items", headers=world.headers("manager")).json()["data"]
    return sorted(i["name"] for i in listed)


def test_items_are_made_and_changed_by_managers_only_as_in_the_api(world: World) -> None:
    admin = TestClient(world.client.app)
    admin_token = sign_in(admin, world.keys["admin"])
    before = _item_names(world)
    listed = admin.get("/admin/items")
    assert listed.status_code == 200
    assert "Add an item" not in listed.text  # admin reads the catalogue, as GET /v1/items
    refused = admin.post("/admin/items", data={"csrf_token": admin_token, **ITEM_FORM})
    assert refused.status_code == 403
    edit = admin.post(
        f"/admin/items/{world.item_id}", data={"csrf_token": admin_token, **ITEM_FORM}
    )
    assert edit.status_code == 403
    api = world.client.post("/v1/items", headers=world.headers("admin"), json={})
    assert api.status_code == 403  # the page refuses what the API refuses
    assert _item_names(world) == before

    manager = TestClient(world.client.app)
    token = sign_in(manager, world.keys["manager"])
    assert "Add an item" in manager.get("/admin/items").text
    made = manager.post(
        "/admin/items", data={"csrf_token": token, **ITEM_FORM}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    item_url = made.headers["location"]
    changed = manager.post(
        item_url,
        data={"csrf_token": token, **ITEM_FORM, "name": "Page item, renamed"},
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert "Page item, renamed" in manager.get(item_url).text
    bad = manager.post(
        "/admin/items",
        data={"csrf_token": token, **ITEM_FORM, "name": "Bad", "retail_price": "-5"},
    )
    assert bad.status_code == 422
    assert "retail_price" in bad.text
    assert _item_names(world) == sorted([*before, "Page item, renamed"])
