"""One audited change: the state of a row before, the change, the state after, as one event.

Every use case that changes something writes its audit event the same way; this is that
way written once. The entity type is the action's first word (`round.close` -> `round`),
so an event's action and entity always agree. Never commits: the use case does, once.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlmodel import Session

from bidding.audit import record_event
from bidding.principal import Principal

State = dict[str, Any]


class Identified(Protocol):
    """A row with an id: what an audit event names."""

    @property
    def id(self) -> str:
        """The row's id."""
        ...


def record_change(
    session: Session,
    *,
    actor: Principal,
    action: str,
    entity_id: str,
    before: State | None = None,
    after: State | None = None,
    conceal_actor_key: bool = False,
) -> None:
    """Append the event of one change; the entity type is the action's first word."""
    record_event(
        session,
        actor=actor,
        action=action,
        entity_type=action.split(".", 1)[0],
        entity_id=entity_id,
        before=before,
        after=after,
        conceal_actor_key=conceal_actor_key,
    )


@contextmanager
def audited[R: Identified](
    session: Session,
    *,
    actor: Principal,
    action: str,
    row: R,
    state: Callable[[R], State],
    created: bool = False,
    conceal_actor_key: bool = False,
) -> Iterator[State]:
    """Record `state(row)` before and after the block as one event (no before if `created`).

    The block changes the row and may add to the dict it is given: those entries join the
    event's `after`. On leaving, the row is added and flushed (a new row gets its id).
    Nothing is recorded when the block raises.
    """
    before = None if created else state(row)
    extra: State = {}
    yield extra
    session.add(row)
    session.flush()
    record_change(
        session,
        actor=actor,
        action=action,
        entity_id=row.id,
        before=before,
        after=state(row) | extra,
        conceal_actor_key=conceal_actor_key,
    )
