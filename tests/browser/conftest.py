"""A real server and Debian's Chromium, driven by Playwright, on both databases.

- SQLite: the app in a thread, its embedded worker solving, as `make run` serves it.
- PostgreSQL: migrated by `supplybid db upgrade` as the owner; the app (in a thread) runs as
  the app's role and queues solves on procrastinate; a separate `supplybid worker` process
  runs them, as deployed.

Tests take `server` (SQLite); a test parametrized with `BACKENDS` (indirect) runs on both.
Ports come from SUPPLYBID_TEST_BROWSER_PORTS (default 8500-8599), the first free one.

Playwright's own browser download is unreachable from these machines (and from a locked-down
user network), so the tests launch /usr/bin/chromium; .ci/run installs it.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from bidding.models import Factory, Item, Role
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import RAISED_LIMITS, create_tables, postgres_roles
from tests.served import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUPPLYBID = str(Path(sys.executable).parent / "supplybid")
SOLVE_DELAY_S = "1.0"
"""Test hook: a solve waits this long once running, so the page shows its phase."""
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""`@pytest.mark.parametrize("server", BACKENDS, indirect=True)`: a story on both."""


@dataclass
class Server:
    """The app served over HTTP, with keys per role and the data the stories start from."""

    base: str
    backend: str
    engine: Engine
    keys: dict[str, str]
    factories: list[Factory]
    items: list[Item]
    screenshots: Path


@dataclass
class Seeded:
    keys: dict[str, str]
    factories: list[Factory]
    items: list[Item]


def _seed(engine: Engine) -> Seeded:
    """Three factories (one new), two items, a key per role and one per factory."""
    with Session(engine, expire_on_commit=False) as session:
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
    return Seeded(keys, made, goods)


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    """uvicorn in a thread on 127.0.0.1; its base URL."""
    port = free_port("SUPPLYBID_TEST_BROWSER_PORTS", "8500-8599")
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the stories save their screenshots (SUPPLYBID_SCREENSHOTS, else a temp folder)."""
    shots = Path(os.environ.get("SUPPLYBID_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory, screenshots: Path) -> Iterator[Server]:
    """The app on a SQLite file with its embedded solve worker."""
    path = tmp_path_factory.mktemp("browser") / "browser.db"
    app = create_app(
        Settings(
            database_url=f"sqlite:///{path}",
            job_queue="embedded",
            solve_delay_s=float(SOLVE_DELAY_S),
            **RAISED_LIMITS,
        )
    )
    create_tables(app.state.engine)
    seeded = _seed(app.state.engine)
    with _serving(app) as base:
        yield Server(
            base,
            "sqlite",
            app.state.engine,
            seeded.keys,
            seeded.factories,
            seeded.items,
            screenshots,
        )
    app.state.engine.dispose()


@contextmanager
def _worker(app_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `supplybid worker` process (procrastinate) as the app's role; stopped with SIGTERM."""
    env = {
        **os.environ,
        "SUPPLYBID_DATABASE_URL": app_url,
        "SUPPLYBID_JOB_QUEUE": "procrastinate",
        "SUPPLYBID_SOLVE_DELAY_S": SOLVE_DELAY_S,
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [SUPPLYBID, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.returncode not in (0, -15):
                log.seek(0)
                print(log.read().decode()[-3000:], file=sys.stderr)


@pytest.fixture(scope="session")
def postgres_server(screenshots: Path) -> Iterator[Server]:
    """The app on PostgreSQL as its own role, solves run by a separate worker process."""
    with postgres_roles() as roles:
        subprocess.run(
            [SUPPLYBID, "db", "upgrade"],
            env={
                **os.environ,
                "SUPPLYBID_OWNER_DATABASE_URL": roles.owner_url,
                "SUPPLYBID_DATABASE_URL": roles.app_url,
            },
            check=True,
            capture_output=True,
            timeout=120,
        )
        app = create_app(
            Settings(database_url=roles.app_url, job_queue="procrastinate", **RAISED_LIMITS)
        )
        seeded = _seed(app.state.engine)
        with _worker(roles.app_url) as worker, _serving(app) as base:
            yield Server(
                base,
                "postgres",
                app.state.engine,
                seeded.keys,
                seeded.factories,
                seeded.items,
                screenshots,
            )
            assert worker.poll() is None, "the worker stopped during the tests"
        app.state.engine.dispose()


@pytest.fixture(params=["sqlite"])
def server(request: pytest.FixtureRequest) -> Server:
    """The served app: SQLite unless the test is parametrized with `BACKENDS`."""
    found: Server = request.getfixturevalue(f"{request.param}_server")
    return found


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
