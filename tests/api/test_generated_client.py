"""A client generated from /openapi.json by openapi-python-client reads well and works.

The generator is a locked dev dependency, so this runs offline. Its modules and functions are
named after the operation ids (`rounds.create_round`, `bids.submit_bid`), and one call
through it creates a round.
"""

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bidding.settings import Settings
from tests.conftest import World

PACKAGE = "supplybid_generated_client"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The client package generated from the app's OpenAPI, on sys.path for the module."""
    where = tmp_path_factory.mktemp("client")
    app = create_app(Settings(database_url=f"sqlite:///{where / 'unused.db'}"))
    document = app.openapi()
    app.state.engine.dispose()
    (where / "openapi.json").write_text(json.dumps(document))
    done = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            PACKAGE,
            "--meta",
            "none",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        # Its post-hooks run ruff: the venv's, as locked.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield where / PACKAGE
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_functions_are_named_after_the_routes(generated: Path) -> None:
    operations = {
        f"{path.parent.name}.{path.stem}"
        for path in (generated / "api").glob("*/*.py")
        if path.stem != "__init__"
    }
    assert {
        "rounds.create_round",
        "bids.submit_bid",
        "allocations.solve_round",
        "allocations.publish_allocation",
        "audit.verify_audit_chain",
    } <= operations
    assert not [name for name in operations if "_v1_" in name]  # no path-derived names


def test_one_call_through_the_generated_client_creates_a_round(
    generated: Path, world: World
) -> None:
    client_module = _module("client")
    create_round = _module("api.rounds.create_round")
    models = _module("models")
    http = TestClient(
        world.client.app, headers={"Authorization": f"Bearer {world.keys['manager']}"}
    )
    client: Any = client_module.AuthenticatedClient(
        base_url="http://testserver", token=world.keys["manager"]
    ).set_httpx_client(http)
    terms = {
        "name": "Generated",
        "category": "Plush",
        "period": "2027-01",
        "currency": "CNY",
        "margin_floor": "0.10",
        "capacity_share": "0.20",
    }
    made = create_round.sync(client=client, body=models.RoundCreate.from_dict(terms))
    assert isinstance(made, models.RoundPublic), made
    assert (made.name, made.state) == ("Generated", "draft")
    bad = models.RoundCreate.from_dict({**terms, "period": "January"})
    refused = create_round.sync_detailed(client=client, body=bad)
    assert refused.status_code == 422
    assert isinstance(refused.parsed, models.ProblemDetails)
    assert refused.parsed.code == "invalid_input"
