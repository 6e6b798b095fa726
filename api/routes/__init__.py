"""The API's routes, one module per noun; each route parses, authorises and calls bidding."""

from typing import Any

from api.schemas.base import ProblemDetails


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a route may answer (application/problem+json)."""
    return {status: {"model": ProblemDetails} for status in statuses}


COMMON = problems(401, 403, 422)
"""Every authenticated route may answer these: no key, wrong role, invalid input."""
