"""The manager's, finance's and admin's stories in Chromium, and the refusals (issue 12)."""

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from solver.solve import PHASES
from tests.browser.conftest import BACKENDS, Server, Watched, sign_in

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")
"""The browser's zone in every story (conftest's `watched`)."""

MANAGER_PAGES = [
    "/rounds",
    "/rounds/new",
    "/rounds/rnd_unknown",
    "/rounds/rnd_unknown/what-if",
    "/rounds/rnd_unknown/settlement",
    "/allocations/alc_unknown",
    "/allocations/alc_unknown/compare?other=alc_other",
]
FINANCE_PAGES = [
    "/finance",
    "/finance/margins",
    "/finance/takeover",
    "/finance/rounds/rnd_unknown",
    "/finance/replay",
    "/finance/audit",
]
ADMIN_PAGES = ["/admin/factories", "/admin/items", "/admin/keys", "/admin/factories/fac_unknown"]
STAFF_PAGES = MANAGER_PAGES + FINANCE_PAGES + ADMIN_PAGES


def _shot(watched: Watched, server: Server, name: str) -> None:
    if server.backend != "sqlite":  # the same pages: the screenshots are taken once
        return
    watched.page.screenshot(path=str(server.screenshots / f"{name}.png"), full_page=True)


def _api(server: Server, who: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {server.keys[who]}"}, timeout=30
    )


def _bid_everything(server: Server, round_id: str) -> None:
    """Each factory bids on each item through the API, as factories do."""
    costs = [("14.20", "16.80"), ("15.10", "15.90"), ("13.75", "17.40")]
    for index, factory in enumerate(server.factories):
        with _api(server, f"factory{index}") as client:
            for item, cost in zip(server.items, costs[index], strict=True):
                answer = client.post(
                    f"/v1/rounds/{round_id}/bids",
                    json={"item": item.id, "unit_cost": cost, "capacity": 6000 + 1500 * index},
                )
                assert answer.status_code == 201, (factory.name, answer.text)


def _wait_for_award(watched: Watched) -> None:
    watched.page.wait_for_selector("#award-matrix", timeout=90000)


def _charts_drawn(watched: Watched, at_least: int) -> None:
    # A locator, not wait_for_function: a string evaluated in the page would break the CSP.
    watched.page.locator("div.chart .main-svg").nth(at_least - 1).wait_for()


@pytest.mark.parametrize("server", BACKENDS, indirect=True)
def test_manager_runs_a_round(watched: Watched, server: Server) -> None:
    page = watched.page
    sign_in(watched, server, server.keys["manager"])
    assert page.url.endswith("/rounds")
    assert "Asia/Shanghai" in page.inner_text("header")  # dates in the viewer's zone, named
    page.click("text=New round")
    page.fill("input[name=name]", "Toys, December")
    page.fill("input[name=category]", "toys")
    page.fill("input[name=period]", "2026-12")
    page.fill("input[name=capacity_share]", "0.5")
    for item in server.items:
        page.check(f"#item-{item.id}")
    far = (datetime.now(SHANGHAI) + timedelta(days=30)).replace(hour=18, minute=0)
    page.fill("input[name=closes_at]", f"{far:%Y-%m-%dT%H:%M}")  # in the viewer's zone
    _shot(watched, server, "round-new")
    page.click("text=Create round (draft)")
    page.wait_for_selector("#round-state")
    assert page.inner_text("#round-state") == "draft"
    round_id = page.url.rsplit("/", 1)[1]
    assert f"Closes at {far:%Y-%m-%d} 18:00 CST (Asia/Shanghai)" in page.inner_text("#deadline")
    page.click("text=Open for bids")
    page.wait_for_selector("#round-state:has-text('open')")
    _bid_everything(server, round_id)
    page.reload()
    assert "6 live bids" in page.inner_text("#bid-count")
    page.click("text=Close bidding")
    page.wait_for_selector("#tabulation")
    _charts_drawn(watched, 1)
    assert "Dongguan Plush Co." in page.inner_text("#tabulation")
    _shot(watched, server, "round-tabulation")
    page.click("#lifecycle button:has-text('Solve')")
    page.wait_for_url(re.compile(r"/allocations/"))
    allocation_url = page.url
    phase = page.locator("#phase")
    if phase.count():  # the solve is slowed by the test hook, so its phase shows first
        assert phase.inner_text() in ("queued", "running", *PHASES)
    _wait_for_award(watched)
    _charts_drawn(watched, 5)
    why = page.inner_text("#explanations")
    assert re.search(r"You won your full capacity|You won [\d,]+ of|You won no units", why)
    assert "of 6" in why  # the page counts the bids it shows
    _shot(watched, server, "allocation")
    page.click("text=New what-if…")
    page.check(f"input[name=exclude_factory][value={server.factories[0].id}]")
    page.fill("input[name=margin_floor]", "0.12")
    page.click("text=Solve what-if")
    page.wait_for_url(re.compile(r"/allocations/"))
    _wait_for_award(watched)
    assert "left out of the allocation by a what-if" in page.inner_text("#explanations")
    page.goto(allocation_url)
    page.click("button:has-text('Compare')")
    page.wait_for_selector("#comparison")
    rows = page.locator("#comparison tbody tr")
    before = rows.count()
    assert page.locator("#comparison tr.same").count() > 0
    page.check("#only-differences")  # asks the server again: differences across every page
    page.wait_for_url(re.compile(r"differences=true"))
    page.locator("#comparison tr.same").first.wait_for(state="detached")
    after = rows.count()
    assert 0 < after < before
    assert page.locator("#comparison .better, #comparison .worse").count() > 0
    _shot(watched, server, "comparison")
    if server.backend == "postgres":  # solved by the separate `supplybid worker`
        with server.engine.connect() as connection:
            done = connection.execute(
                text(
                    "SELECT args->>'allocation_id' FROM procrastinate_jobs"
                    " WHERE status = 'succeeded'"
                )
            ).scalars()
            assert allocation_url.rsplit("/", 1)[1] in set(done)
    page.goto(allocation_url)
    page.click("button:has-text('Publish')")
    page.wait_for_selector("text=published")
    assert "published" in page.inner_text("main")


def _draft_round(server: Server, name: str) -> str:
    """A draft round with the server's items, made through the API."""
    with _api(server, "manager") as manager:
        made = manager.post(
            "/v1/rounds", json={"name": name, "category": "toys", "period": "2027-02"}
        )
        assert made.status_code == 201, made.text
        for item in server.items:
            manager.put(f"/v1/rounds/{made.json()['id']}/items/{item.id}", json={})
        return str(made.json()["id"])


COUNTDOWN = re.compile(r"\(in (\d+) d (\d\d):(\d\d):(\d\d)\)")


def _countdown(watched: Watched) -> timedelta:
    """What the round page's countdown shows, once the script has started it."""
    box = watched.page.locator("#deadline .countdown")
    box.wait_for(state="visible")
    found = COUNTDOWN.search(box.inner_text())
    assert found, box.inner_text()
    days, hours, minutes, seconds = (int(g) for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@pytest.mark.parametrize("server", BACKENDS, indirect=True)
def test_manager_sets_and_moves_a_deadline_and_its_countdown_keeps_the_servers_time(
    watched: Watched, server: Server, browser: Browser
) -> None:
    round_id = _draft_round(server, "Toys, February")
    page = watched.page
    # The browser's clock is three years behind: the countdown must not count from it.
    page.clock.install(time=datetime(2023, 6, 1, 12, 0, tzinfo=SHANGHAI))
    sign_in(watched, server, server.keys["manager"])
    page.goto(f"{server.base}/rounds/{round_id}")
    soon = (datetime.now(SHANGHAI) + timedelta(days=2, hours=3)).replace(second=0, microsecond=0)
    page.fill("#deadline-form input[name=closes_at]", f"{soon:%Y-%m-%dT%H:%M}")
    page.click("#deadline-form button")
    page.wait_for_selector("#deadline")
    page.click("text=Open for bids")
    page.wait_for_selector("#round-state:has-text('open')")
    left = _countdown(watched)
    assert timedelta(days=2, hours=2, minutes=58) < left <= timedelta(days=2, hours=3)
    assert f"Closes at {soon:%Y-%m-%d %H:%M} CST (Asia/Shanghai)" in page.inner_text("#deadline")
    _shot(watched, server, "round-open")

    later = soon + timedelta(days=3)
    page.fill("#deadline-form input[name=closes_at]", f"{later:%Y-%m-%dT%H:%M}")
    page.click("#deadline-form button:has-text('Move deadline')")
    page.wait_for_selector(f"#deadline:has-text('{later:%Y-%m-%d %H:%M}')")
    assert timedelta(days=5, hours=2, minutes=58) < _countdown(watched)
    with _api(server, "manager") as manager:
        stored = manager.get(f"/v1/rounds/{round_id}").json()["closes_at"]
    assert datetime.fromisoformat(stored) == later

    past = datetime.now(SHANGHAI) - timedelta(hours=1)
    watched.expected.append("status of 422")
    page.fill("#deadline-form input[name=closes_at]", f"{past:%Y-%m-%dT%H:%M}")
    page.click("#deadline-form button:has-text('Move deadline')")
    page.wait_for_selector("#refusal")
    assert "must be in the future" in page.inner_text("#refusal")

    plain = browser.new_context(java_script_enabled=False, timezone_id="Asia/Shanghai")
    try:
        reader = plain.new_page()
        reader.goto(f"{server.base}/login?next=/rounds/{round_id}")
        reader.fill("input[name=api_key]", server.keys["manager"])
        reader.click("button[type=submit]")
        reader.wait_for_selector("#deadline")
        # Signed in without script, the viewer's zone is UTC: the plain time, zone named.
        in_utc = later.astimezone(UTC)
        assert f"Closes at {in_utc:%Y-%m-%d %H:%M} UTC" in reader.inner_text("#deadline")
        assert not reader.locator("#deadline .countdown").is_visible()
    finally:
        plain.close()


def _published_round(server: Server, name: str = "Toys, January", period: str = "2027-01") -> str:
    """A published and settled round made through the API, for the finance story to read."""
    with _api(server, "manager") as manager:
        made = manager.post(
            "/v1/rounds",
            json={
                "name": name,
                "category": "toys",
                "period": period,
                "capacity_share": "0.5",
            },
        ).json()
        for item in server.items:
            manager.put(f"/v1/rounds/{made['id']}/items/{item.id}", json={})
        manager.post(f"/v1/rounds/{made['id']}/open")
        _bid_everything(server, made["id"])
        manager.post(f"/v1/rounds/{made['id']}/close")
        solve = manager.post(f"/v1/rounds/{made['id']}/allocations", json={}).json()
        deadline = time.monotonic() + 90
        while manager.get(f"/v1/allocations/{solve['id']}").json()["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        published = manager.post(f"/v1/allocations/{solve['id']}/publish")
        assert published.status_code == 200, published.text
        sold = {item.id: 9000 for item in server.items}
        settled = manager.post(f"/v1/rounds/{made['id']}/settlement", json={"sold": sold})
        assert settled.status_code == 201, settled.text
        return str(made["id"])


@pytest.mark.parametrize("server", BACKENDS, indirect=True)
def test_finance_works_through_each_audit_page(watched: Watched, server: Server) -> None:
    round_id = _published_round(server)
    page = watched.page
    sign_in(watched, server, server.keys["finance"])
    assert page.url.endswith("/finance")
    page.click("text=Toys, January")
    assert "Dongguan Plush Co." in page.inner_text("#statements")
    assert "Realised" in page.inner_text("#platform-result")
    with page.expect_download() as csv:
        page.click("a[href$='statements/download?format=csv']")
    assert csv.value.suggested_filename == f"statements-{round_id}.csv"
    _shot(watched, server, "finance-round")
    page.click("nav >> text=Margin audit")
    page.wait_for_selector("#findings-title")
    assert "No finding" in page.inner_text("#findings-title")
    _charts_drawn(watched, 1)
    _shot(watched, server, "finance-margins")
    with page.expect_download() as xlsx:
        page.click("text=XLSX")
    assert xlsx.value.suggested_filename == "margin-audit.xlsx"
    page.click("nav >> text=Takeover")
    _charts_drawn(watched, 1)
    assert "Toys" in page.inner_text("main") or round_id in page.inner_text("main")
    page.click("nav >> text=Replay")
    page.click("button:has-text('Replay')")
    page.wait_for_selector("#replay-answer")
    assert "Identical" in page.inner_text("#replay-answer")
    page.click("nav >> text=Audit log")
    assert "Chain verified" in page.inner_text("#chain")
    page.fill("input[name=entity]", round_id)
    page.click("button:has-text('Filter')")
    events = page.inner_text("#events")
    assert "round.open" in events or "open" in events
    assert "api_key" not in events


@pytest.mark.parametrize("server", BACKENDS, indirect=True)
def test_factory_reads_its_awards_in_words_once_published(watched: Watched, server: Server) -> None:
    round_id = _published_round(server, "Toys, March", "2027-03")
    with _api(server, "factory1") as factory:
        awards = factory.get(f"/v1/rounds/{round_id}/awards").json()["data"]
    assert awards
    assert {a["factory"] for a in awards} == {server.factories[1].id}
    page = watched.page
    sign_in(watched, server, server.keys["factory1"])
    assert page.url.endswith("/factory")
    article = page.locator("article", has_text="Toys, March")
    shown = article.locator("table.awards td.explanation").all_inner_texts()
    assert shown == [a["explanation"] for a in awards]
    others = {f.name for f in server.factories} - {server.factories[1].name}
    assert not any(name in article.inner_text() for name in others)
    _shot(watched, server, "factory-awards")


def test_admin_makes_a_factory_and_a_key_then_revokes_it(
    watched: Watched, server: Server, browser: object
) -> None:
    page = watched.page
    sign_in(watched, server, server.keys["admin"])
    page.goto(f"{server.base}/admin/factories")
    page.fill("input[name=name]", "Ningbo Crafts")
    page.fill("input[name=monthly_capacity]", "12000")
    page.click("text=Add factory")
    page.wait_for_selector("h1:has-text('Ningbo Crafts')")
    page.goto(f"{server.base}/admin/items")
    assert "Wooden train" in page.inner_text("main")
    assert page.locator("text=Add item").count() == 0  # items are the managers' (API.md)
    page.goto(f"{server.base}/admin/keys")
    page.fill("input[name=name]", "Chen Jing")
    page.select_option("select[name=role]", "finance")
    page.click("text=Make key")
    secret = page.inner_text("#new-key").strip()
    assert secret.startswith("sbk_")
    _shot(watched, server, "admin-key-created")
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    person = other.new_page()
    person.goto(f"{server.base}/login")
    person.fill("input[name=api_key]", secret)
    person.click("button[type=submit]")
    person.wait_for_url(re.compile(r"/finance$"))
    page.goto(f"{server.base}/admin/keys")
    page.click("tr:has-text('Chen Jing') button:has-text('Revoke')")
    page.wait_for_selector("tr:has-text('Chen Jing') >> text=/\\d{4}-\\d{2}-\\d{2}/ >> nth=1")
    person.goto(f"{server.base}/finance")
    assert "/login" in person.url
    other.close()


def test_manager_adds_and_edits_an_item(watched: Watched, server: Server) -> None:
    page = watched.page
    sign_in(watched, server, server.keys["manager"])
    page.click("nav >> text=Items")
    page.fill("input[name=name]", "Kite")
    page.fill("input[name=retail_price]", "25.00")
    page.fill("input[name=handling_cost]", "2.00")
    page.fill("input[name=salvage_value]", "3.00")
    page.fill("input[name=demand]", "500:0.5, 900:0.5")
    page.click("text=Add item")
    page.wait_for_selector("h1:has-text('Kite')")
    page.fill("input[name=name]", "Stunt kite")
    page.click("button:has-text('Save')")
    page.wait_for_selector("h1:has-text('Stunt kite')")


@pytest.mark.parametrize("who", ["factory0", "signed out"])
def test_factory_key_and_signed_out_browser_are_refused_staff_pages(
    watched: Watched, server: Server, who: str
) -> None:
    page = watched.page
    watched.expected.append("the server responded with a status of 403 (Forbidden)")
    if who != "signed out":
        sign_in(watched, server, server.keys[who])
        assert page.url.endswith("/factory")
    for path in STAFF_PAGES:
        answer = page.goto(f"{server.base}{path}")
        assert answer is not None
        if who == "signed out":
            assert "/login?next=" in page.url, path
        else:
            assert answer.status == 403, path
            assert "Not for your role" in page.inner_text("main"), path


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info"), ("/redoc", "h1")])
def test_api_docs_work_offline_under_the_csp(
    watched: Watched, server: Server, path: str, ready: str
) -> None:
    watched.page.goto(f"{server.base}{path}")
    watched.page.wait_for_selector(ready)
    assert "supplybid" in watched.page.inner_text("body")
