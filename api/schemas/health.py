"""The liveness answer."""

from typing import Literal

from api.schemas.base import Output


class Health(Output):
    """Liveness and database reachability."""

    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
