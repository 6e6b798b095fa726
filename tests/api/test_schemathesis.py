"""Property-based run over the app's own OpenAPI: the API behaves as its schema says.

Every check schemathesis has but `positive_data_acceptance`, on positive and negative data:
no 5xx; statuses, content types, headers and bodies as documented; schema-violating
requests refused; `Allow` right on a 405; and (ours) every problem's `code` listed for
that operation and status. Requests go in-process (ASGI) with a valid key of the role each
operation is for, so they get past the role check and exercise validation and the domain.
The figures (operations, requests, failures) are printed at the end and written to
var/test-reports/.
"""

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode
from sqlmodel import Session

from api.app import create_app
from api.contract import documented_codes
from api.problems import PROBLEM_MEDIA_TYPE
from bidding.models import Role
from bidding.settings import Settings
from tests import factories as builders
from tests.conftest import RAISED_LIMITS, create_tables, report_figures

MAX_EXAMPLES = 25
"""Per operation: 49 operations, positive and negative, in about a minute on one core."""

_figures: Counter[str] = Counter()
_operations: set[str] = set()
_failed: set[str] = set()


# Loaded at import, as schemathesis' pytest plugin needs; the database is filled by `keys`.
_DATABASE = Path(tempfile.gettempdir()) / f"supplybid-schemathesis-{os.getpid()}.db"
APP = create_app(Settings(database_url=f"sqlite:///{_DATABASE}", **RAISED_LIMITS))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
DOCUMENT = APP.openapi()


@schemathesis.check
def problem_code_is_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refusal's `code` is one the schema lists for this operation and status."""
    content_type = response.headers.get("content-type", [""])[0]
    if response.status_code < 400 or not content_type.startswith(PROBLEM_MEDIA_TYPE):
        return None
    if response.status_code == 405:
        return None  # a method the path lacks (schemathesis checks its `Allow`)
    code = response.json().get("code")
    listed = documented_codes(DOCUMENT, case.operation.path, case.method, response.status_code)
    if code not in listed:
        raise AssertionError(
            f"{case.method} {case.operation.path} answered {response.status_code} {code!r}, "
            f"not listed in the schema ({sorted(listed)})"
        )
    return None


@pytest.fixture(scope="module")
def keys() -> Iterator[dict[str, str]]:
    """Tables, demo-like data and a key per role in the app's database."""
    create_tables(APP.state.engine)
    with Session(APP.state.engine, expire_on_commit=False) as session:
        factory = builders.a_factory(session)
        item = builders.an_item(session)
        builders.an_open_round(session, item_list=[item])
        made = {
            "admin": builders.a_key(session, Role.admin),
            "manager": builders.a_key(session, Role.manager),
            "factory": builders.a_key(session, Role.factory, factory),
        }
    yield made
    APP.state.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_DATABASE}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def report() -> Iterator[None]:
    """Report the run's figures once every operation has run."""
    yield
    figures = {
        "operations": len(_operations),
        "requests": _figures["requests"],
        "failed_operations": sorted(_failed),
        "failures": len(_failed),
        "modes": _figures["mode:positive"] and _figures["mode:negative"] and "positive+negative",
        "cases_positive": _figures["mode:positive"],
        "cases_negative": _figures["mode:negative"],
        "status_codes": {k[7:]: v for k, v in sorted(_figures.items()) if k.startswith("status:")},
    }
    report_figures("schemathesis", figures)


def _role_for(method: str, path: str) -> str:
    if path.startswith(("/v1/api-keys", "/v1/audit")):
        return "admin"
    if "/bids" in path:
        return "factory"
    return "manager"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_every_generated_request_without_a_server_error(
    case: Any, keys: dict[str, str], report: None
) -> None:
    _operations.add(case.operation.label)
    role = _role_for(case.method, case.path)
    _figures["requests"] += 1
    _figures[f"mode:{case.meta.generation.mode.value}" if case.meta else "mode:unknown"] += 1
    try:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {keys[role]}"},
            excluded_checks=[checks.positive_data_acceptance],
            additional_checks=[problem_code_is_documented],
        )
    except BaseException:
        _failed.add(case.operation.label)
        raise
    _figures[f"status:{response.status_code}"] += 1
