"""Every page against every role through TestClient: allowed, 403, or sent to sign in."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.app import create_app
from bidding.models import Role
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import RAISED_LIMITS, create_tables
from tests.web.helpers import sign_in

ROLES = ("admin", "manager", "finance", "factory")

# (method, path, roles allowed). {round}, {factory}, {item} come from the world.
PAGES: list[tuple[str, str, set[str]]] = [
    ("GET", "/", set(ROLES)),
    ("GET", "/admin", {"admin"}),
    ("GET", "/admin/factories", {"admin", "manager"}),
    ("POST", "/admin/factories", {"admin", "manager"}),
    ("GET", "/admin/factories/{factory}", {"admin", "manager"}),
    ("POST", "/admin/factories/{factory}", {"admin", "manager"}),
    ("GET", "/admin/items", {"admin", "manager"}),
    ("POST", "/admin/items", {"manager"}),
    ("GET", "/admin/items/{item}", {"admin", "manager"}),
    ("POST", "/admin/items/{item}", {"manager"}),
    ("GET", "/admin/keys", {"admin"}),
    ("POST", "/admin/keys", {"admin"}),
    ("POST", "/admin/keys/key_unknown/revoke", {"admin"}),
    ("GET", "/rounds", {"manager"}),
    ("GET", "/rounds/new", {"manager"}),
    ("POST", "/rounds", {"manager"}),
    ("GET", "/rounds/{round}", {"manager"}),
    ("POST", "/rounds/{draft}/open", {"manager"}),
    ("POST", "/rounds/{draft}/deadline", {"manager"}),
    ("POST", "/rounds/{round}/close", {"manager"}),
    ("POST", "/rounds/{draft}/cancel", {"manager"}),
    ("POST", "/rounds/{round}/solve", {"manager"}),
    ("GET", "/rounds/{round}/what-if", {"manager"}),
    ("POST", "/rounds/{round}/what-if", {"manager"}),
    ("GET", "/rounds/{round}/settlement", {"manager"}),
    ("POST", "/rounds/{round}/settlement", {"manager"}),
    ("GET", "/allocations/alc_unknown", {"manager"}),
    ("GET", "/allocations/alc_unknown/status", {"manager"}),
    ("POST", "/allocations/alc_unknown/publish", {"manager"}),
    ("GET", "/allocations/alc_unknown/compare?other=alc_other", {"manager"}),
    ("GET", "/finance", {"finance"}),
    ("GET", "/finance/margins", {"finance"}),
    ("GET", "/finance/margins/download?format=csv", {"finance"}),
    ("GET", "/finance/takeover", {"finance"}),
    ("GET", "/finance/takeover/download?format=xlsx", {"finance"}),
    ("GET", "/finance/rounds/{round}", {"finance"}),
    ("GET", "/finance/rounds/{round}/statements/download?format=csv", {"finance"}),
    ("GET", "/finance/rounds/{round}/result/download?format=csv", {"finance"}),
    ("GET", "/finance/replay", {"finance"}),
    ("POST", "/finance/replay", {"finance"}),
    ("GET", "/finance/audit", {"finance", "admin"}),
    ("GET", "/factory", {"factory"}),
]


@dataclass
class Site:
    """One app for the whole matrix, with a signed-in browser per role and a signed-out one."""

    browsers: dict[str, tuple[TestClient, str]]
    signed_out: TestClient
    ids: dict[str, str]
    manager_key: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Role checks need no fresh database per request: one SQLite app serves them all."""
    path: Path = tmp_path_factory.mktemp("pages") / "pages.db"
    app = create_app(
        Settings(database_url=f"sqlite:///{path}", job_queue="embedded", **RAISED_LIMITS)
    )
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        factory = builders.a_factory(session)
        item = builders.an_item(session)
        row = builders.an_open_round(session, item_list=[item])
        draft = builders.a_draft_round(session, item_list=[item])
        keys = {
            "admin": builders.a_key(session, Role.admin),
            "manager": builders.a_key(session, Role.manager),
            "finance": builders.a_key(session, Role.finance),
            "factory": builders.a_key(session, Role.factory, factory),
        }
    ids = {"round": row.id, "draft": draft.id, "factory": factory.id, "item": item.id}
    with TestClient(app) as signed_out:
        browsers = {}
        for role, key in keys.items():
            client = TestClient(app)
            browsers[role] = (client, sign_in(client, key))
        yield Site(browsers, signed_out, ids, keys["manager"])
    app.state.engine.dispose()


def _path(site: Site, template: str) -> str:
    return template.format(**site.ids)


def _every_page_and_role() -> list[tuple[str, str, set[str], str]]:
    return [(m, p, allowed, role) for m, p, allowed in PAGES for role in ROLES]


@pytest.mark.parametrize(("method", "template", "allowed", "role"), _every_page_and_role())
def test_page_is_open_to_its_roles_only(
    site: Site, method: str, template: str, allowed: set[str], role: str
) -> None:
    client, token = site.browsers[role]
    path = _path(site, template)
    if method == "GET":
        answer = client.get(path, follow_redirects=False)
    else:
        answer = client.post(path, data={"csrf_token": token}, follow_redirects=False)
    if role in allowed:
        assert answer.status_code not in (401, 403), (role, path, answer.text[:300])
        assert answer.headers.get("location", "").startswith("/login") is False
    else:
        assert answer.status_code == 403, (role, path, answer.status_code)
        assert "Not for your role" in answer.text


@pytest.mark.parametrize(("method", "template"), sorted({(m, p) for m, p, _ in PAGES}))
def test_signed_out_browser_is_sent_to_sign_in(site: Site, method: str, template: str) -> None:
    path = _path(site, template)
    answer = site.signed_out.request(method, path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_a_change_without_the_csrf_token_changes_nothing(site: Site) -> None:
    client, _ = site.browsers["manager"]
    fresh = site.signed_out.post(
        "/v1/rounds",
        headers={"Authorization": f"Bearer {site.manager_key}"},
        json={"name": "C", "category": "c", "period": "2026-12"},
    ).json()["id"]
    answer = client.post(f"/rounds/{fresh}/cancel", follow_redirects=False)
    assert answer.status_code == 403
    forged = client.post(
        f"/rounds/{fresh}/cancel", data={"csrf_token": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403
    state = site.signed_out.get(
        f"/v1/rounds/{fresh}", headers={"Authorization": f"Bearer {site.manager_key}"}
    ).json()["state"]
    assert state == "draft"
