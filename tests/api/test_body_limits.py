"""Bodies bounded before they are read: a wrong key costs nothing, a big body is a 413.

Six clients at once each try to send 100 MB to a real server (uvicorn on 127.0.0.1), with
a wrong key, with a valid key and a Content-Length over the limit, and with a valid key in
chunks with no length; the server's resident memory may move by at most 200 MB.
"""

import select
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding.models import Role
from tests import factories as builders
from tests.conftest import World, report_figures
from tests.served import Served, serve

CLIENTS = 6
BODY_BYTES = 100 * 1024 * 1024
CHUNK = b"0" * (1024 * 1024)
MAX_RSS_GROWTH = 200 * 1024 * 1024


def _post(served: Served, path: str, key: str, *, chunked: bool) -> dict[str, Any]:
    """Try to POST 100 MB; stop when the server answers or hangs up. Status and bytes sent."""
    address = urlsplit(served.base_url)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_BYTES}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{length}\r\n\r\n"
    )
    sent = 0
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode())
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
        try:
            while sent < BODY_BYTES:
                readable, writable, _ = select.select([sock], [sock], [], 10)
                if readable or not writable:
                    break  # the server has answered (or stopped reading for 10 s)
                sock.sendall(frame)
                sent += len(CHUNK)
        except OSError:
            pass  # the server hung up on the rest of the body
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return {"status": status, "sent_mb": sent // (1024 * 1024)}


def test_six_concurrent_100_mb_bodies_move_rss_by_at_most_200_mb(
    database_url: str, engine: Engine
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        round_id = builders.an_open_round(session, item_list=[item]).id
        key = builders.a_key(session, Role.factory, builders.a_factory(session))
    path = f"/v1/rounds/{round_id}/bids"
    cases = {
        "wrong_key": ("sbk_wrong" + "x" * 40, False),
        "over_content_length": (key, False),
        "chunked": (key, True),
    }
    figures: dict[str, Any] = {}
    with serve(database_url) as served:
        baseline = peak = served.rss_bytes()
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, served.rss_bytes())
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for name, (secret, chunked) in cases.items():
                with ThreadPoolExecutor(CLIENTS) as pool:
                    tries = [
                        pool.submit(_post, served, path, secret, chunked=chunked)
                        for _ in range(CLIENTS)
                    ]
                    answers = [attempt.result() for attempt in tries]
                figures[name] = {
                    "statuses": sorted(str(a["status"]) for a in answers),
                    "max_sent_mb": max(a["sent_mb"] for a in answers),
                }
        finally:
            done.set()
            watcher.join()
        figures["rss_before_mb"] = baseline // 2**20
        figures["rss_growth_mb"] = (peak - baseline) // 2**20
    report_figures(f"body-limits-{engine.dialect.name}", figures)
    assert figures["wrong_key"]["statuses"] == ["401"] * CLIENTS, figures
    assert figures["over_content_length"]["statuses"] == ["413"] * CLIENTS, figures
    assert figures["chunked"]["statuses"] == ["413"] * CLIENTS, figures
    assert peak - baseline <= MAX_RSS_GROWTH, figures


def test_a_body_over_the_limit_is_a_413_problem_naming_the_limit(world: World) -> None:
    body = b'{"item": "' + b"x" * (1024 * 1024) + b'"}'
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        content=body,
        headers=world.headers("factory", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["limit"] == 1024 * 1024


def test_a_streamed_body_over_the_limit_is_a_413_with_or_without_an_idempotency_key(
    world: World,
) -> None:
    def stream() -> Any:
        for _ in range(3):
            yield b" " * (512 * 1024)

    for extra in ({}, {"Idempotency-Key": "big-1"}):
        response = world.client.post(
            f"/v1/rounds/{world.round_id}/bids",
            content=stream(),
            headers=world.headers("factory", **{"Content-Type": "application/json", **extra}),
        )
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "payload_too_large"


def test_a_bid_sheet_may_be_larger_than_a_json_body(world: World) -> None:
    # 2 MB of sheet: over the JSON limit, under the sheet limit, so the route reads it.
    sheet = b"item,unit_cost,capacity\n" + b"# padding\n" * (200 * 1024)
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids/import",
        files={"file": ("bids.csv", sheet, "text/csv")},
        headers=world.headers("factory"),
    )
    assert response.status_code != 413, response.text
    assert response.status_code < 500, response.text


def test_a_wrong_key_is_refused_before_the_body_is_read(world: World) -> None:
    read = 0

    def stream() -> Any:
        nonlocal read
        for _ in range(8):
            read += 1
            yield b" " * (256 * 1024)

    client: TestClient = world.client
    response = client.post(
        f"/v1/rounds/{world.round_id}/bids",
        content=stream(),
        headers={"Authorization": "Bearer sbk_not_a_key", "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert read == 0, "the body was read before the key was checked"
