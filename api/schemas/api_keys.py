"""Bodies of /v1/api-keys."""

from datetime import datetime
from typing import Literal

from api.schemas.base import Input, OptionalName, Output, Ref
from bidding.models import (
    ApiKey,
    as_utc,
)


class ApiKeyCreate(Input):
    """A key to make: its role, and for a factory key its factory."""

    role: Literal["admin", "manager", "finance", "factory"]
    factory: Ref | None = None
    name: OptionalName = ""


class ApiKeyPublic(Output):
    """An API key as listed: never the key itself, only its first characters."""

    id: str
    name: str
    role: str
    factory: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> "ApiKeyPublic":
        """The public view of a row."""
        return cls(
            id=row.id,
            name=row.name,
            role=str(row.role),
            factory=row.factory_id,
            prefix=row.prefix,
            created_at=as_utc(row.created_at),
            revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
        )


class ApiKeyCreated(ApiKeyPublic):
    """A key just made: `key` is shown this once and never again."""

    key: str
