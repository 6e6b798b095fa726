"""A real server on a free port (8500-8599) and Debian's Chromium, driven by Playwright.

Playwright's own browser download is unreachable from these machines (and from a locked-down
user network), so the tests launch /usr/bin/chromium; .ci/run installs it.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from sqlmodel import Session

from api.app import create_app
from bidding.models import Factory, Item, Role
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import RAISED_LIMITS, create_tables

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PORTS = range(8500, 8600)


def free_port() -> int:
    """The first port of the range nobody listens on."""
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8500-8599")


@dataclass
class Server:
    """The app served over HTTP, with keys per role and the data the stories start from."""

    base: str
    keys: dict[str, str]
    factories: list[Factory]
    items: list[Item]
    screenshots: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """uvicorn in a thread on 127.0.0.1, on a SQLite database with the embedded solve worker."""
    path = tmp_path_factory.mktemp("browser") / "browser.db"
    app = create_app(
        Settings(
            database_url=f"sqlite:///{path}",
            job_queue="embedded",
            solve_delay_s=1.0,
            **RAISED_LIMITS,
        )
    )
    create_tables(app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        made = [
            builders.a_factory(session, name="Dongguan Plush Co.", capacity=40000),
            builders.a_factory(session, name="Yiwu Toys Ltd.", capacity=30000),
            builders.a_factory(session, name="Shantou Play Works", capacity=25000, is_new=True),
        ]
        goods = [
            builders.an_item(session),
            builders.an_item(session, name="Wooden train", retail_price="59.00"),
        ]
        keys = {
            "admin": builders.a_key(session, Role.admin),
            "manager": builders.a_key(session, Role.manager),
            "finance": builders.a_key(session, Role.finance),
        }
        for index, factory in enumerate(made):
            keys[f"factory{index}"] = builders.a_key(session, Role.factory, factory)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", server_header=False
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    shots = Path(os.environ.get("SUPPLYBID_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    yield Server(f"http://127.0.0.1:{port}", keys, made, goods, shots)
    instance.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page with what it logged as errors and every request it made to another host."""

    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    """Console errors a test provokes on purpose (a refused page's 403), as substrings."""

    def clean(self) -> None:
        """No console error (CSP violations included) and nothing asked of another host."""
        unexpected = [e for e in self.errors if not any(x in e for x in self.expected)]
        assert unexpected == [], unexpected
        assert self.foreign == [], self.foreign


@pytest.fixture
def watched(browser: Browser, server: Server) -> Iterator[Watched]:
    """A fresh browser context (no cookies) whose page is watched; checked clean at the end."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    seen = Watched(page)
    own = urlsplit(server.base).netloc

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"{page.url}: {message.text}")

    def on_request(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != own:
            seen.foreign.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(f"{page.url}: {error}"))
    page.on("request", on_request)
    page.on("dialog", lambda dialog: dialog.accept())
    yield seen
    context.close()
    seen.clean()


def sign_in(watched: Watched, server: Server, key: str, next_path: str = "/") -> None:
    """Sign in through the form, as a person would."""
    watched.page.goto(f"{server.base}/login?next={next_path}")
    watched.page.fill("input[name=api_key]", key)
    watched.page.click("button[type=submit]")
    watched.page.wait_for_load_state()
