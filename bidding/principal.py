"""Who acts: the caller behind an API key, or the command line."""

from dataclasses import dataclass

from bidding.models import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its key, its role and, for a factory, which one."""

    key_id: str | None
    role: Role
    factory_id: str | None = None


SYSTEM = Principal(key_id=None, role=Role.system)
"""The service itself: the command line (first key, demo seed), a round closed at its deadline."""
