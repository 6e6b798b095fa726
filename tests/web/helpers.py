"""Signing a TestClient in through the login form, as a browser does."""

import re

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str, time_zone: str = "Europe/Paris") -> str:
    """Sign in with a key; the CSRF token of the session (cookie kept by the client)."""
    form = client.get("/login")
    assert form.status_code == 200
    answer = client.post(
        "/login",
        data={
            "api_key": key,
            "next": "/",
            "time_zone": time_zone,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"])
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
