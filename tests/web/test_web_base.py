"""The workspace's base: sign-in, sessions, CSRF, headers, static docs."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bidding.models import WebSession
from bidding.web_sessions import IDLE_LIMIT
from tests.conftest import World
from tests.web.helpers import csrf_of, sign_in

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)


def test_signed_out_root_goes_to_login(world: World) -> None:
    answer = world.client.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/"


def test_login_returns_to_next_and_cookie_holds_no_key(world: World) -> None:
    client = world.client
    form = client.get("/login?next=/rounds")
    assert 'value="/rounds"' in form.text
    answer = client.post(
        "/login",
        data={
            "api_key": world.keys["manager"],
            "next": "/rounds",
            "time_zone": "Asia/Tokyo",
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/rounds"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert world.keys["manager"] not in cookie
    session_id = client.cookies.get("sb_session")
    assert session_id
    with Session(world.engine) as session:
        rows = session.exec(select(WebSession)).all()
        assert len(rows) == 1
        assert rows[0].id_hash != session_id  # only its hash is stored
        assert rows[0].time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", "x"])
def test_next_is_a_path_of_this_app_only(world: World, target: str) -> None:
    form = world.client.get("/login", params={"next": target})
    answer = world.client.post(
        "/login",
        data={
            "api_key": world.keys["manager"],
            "next": target,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_wrong_key_and_missing_login_csrf_are_refused(world: World) -> None:
    form = world.client.get("/login")
    wrong = world.client.post(
        "/login", data={"api_key": "sbk_nope", "csrf_token": csrf_of(form.text)}
    )
    assert wrong.status_code == 401
    assert "Unknown or revoked" in wrong.text
    fresh = TestClient(world.client.app)
    no_token = fresh.post("/login", data={"api_key": world.keys["manager"]})
    assert no_token.status_code == 401
    assert fresh.cookies.get("sb_session") is None


def test_logout_ends_the_session(world: World) -> None:
    token = sign_in(world.client, world.keys["manager"])
    session_id = world.client.cookies.get("sb_session")
    out = world.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    again = TestClient(world.client.app, cookies={"sb_session": session_id or ""})
    assert again.get("/rounds", follow_redirects=False).status_code == 303


def test_change_without_csrf_token_is_refused(world: World) -> None:
    sign_in(world.client, world.keys["manager"])
    answer = world.client.post("/logout", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert "CSRF" in answer.text


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    sign_in(world.client, world.keys["finance"])
    assert world.client.get("/finance", follow_redirects=False).status_code == 200
    key_id = world.client.get("/v1/api-keys", headers=world.headers("admin")).json()["data"]
    finance_key = next(k for k in key_id if k["role"] == "finance")
    world.client.delete(f"/v1/api-keys/{finance_key['id']}", headers=world.headers("admin"))
    assert world.client.get("/finance", follow_redirects=False).status_code == 303


def test_a_session_ends_after_eight_idle_hours(world: World) -> None:
    sign_in(world.client, world.keys["manager"])
    with Session(world.engine) as session:
        row = session.exec(select(WebSession)).one()
        row.last_seen_at = row.last_seen_at - IDLE_LIMIT - timedelta(minutes=1)
        session.add(row)
        session.commit()
    assert world.client.get("/rounds", follow_redirects=False).status_code == 303
    with Session(world.engine) as session:
        assert session.exec(select(WebSession)).all() == []


def test_pages_carry_the_page_csp_and_json_none(world: World) -> None:
    page = world.client.get("/login")
    api = world.client.get("/v1/rounds", headers=world.headers("manager"))
    refused = world.client.get("/v1/rounds")
    for answer in (page, api, refused):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        assert "server" not in answer.headers
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    assert refused.headers["content-security-policy"].startswith("default-src 'none'")


def test_key_creation_is_not_stored(world: World) -> None:
    made = world.client.post(
        "/v1/api-keys", json={"role": "finance"}, headers=world.headers("admin")
    )
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_local_files(world: World, path: str) -> None:
    page = world.client.get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "<script>" not in page.text  # no inline script
    for asset in ("/static/js/swagger-init.js", "/static/vendor/redoc/redoc.standalone.js"):
        assert world.client.get(asset).status_code == 200


def test_layout_names_the_viewers_time_zone(world: World) -> None:
    sign_in(world.client, world.keys["manager"], time_zone="America/New_York")
    page = world.client.get("/rounds")
    assert "America/New_York" in page.text
