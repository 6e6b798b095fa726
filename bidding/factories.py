"""Factories: who may bid, and how much they can make in a month."""

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from bidding.changes import audited, record_change
from bidding.db import use_case
from bidding.errors import FactoryNotFound
from bidding.models import Factory, Role
from bidding.principal import Principal
from bidding.values import new_id


def _state(factory: Factory) -> dict[str, Any]:
    return {
        "name": factory.name,
        "monthly_capacity": factory.monthly_capacity,
        "is_new": factory.is_new,
    }


@use_case
def create_factory(
    *, session: Session, actor: Principal, name: str, monthly_capacity: int, is_new: bool
) -> Factory:
    """Register a factory."""
    factory = Factory(id=new_id("fac"), name=name, monthly_capacity=monthly_capacity, is_new=is_new)
    session.add(factory)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="factory.create",
        entity_id=factory.id,
        after=_state(factory),
    )
    session.commit()
    return factory


def get_factory(*, session: Session, principal: Principal, factory_id: str) -> Factory:
    """One factory; a factory key reads only its own (another's answers 404)."""
    factory = session.get(Factory, factory_id)
    if factory is None or (principal.role == Role.factory and principal.factory_id != factory_id):
        raise FactoryNotFound(f"no factory {factory_id!r}")
    return factory


def list_factories(*, session: Session, after: str | None, limit: int) -> list[Factory]:
    """Factories in id order, after the cursor."""
    query = select(Factory).order_by(col(Factory.id)).limit(limit)
    if after is not None:
        query = query.where(col(Factory.id) > after)
    return list(session.exec(query).all())


@use_case
def update_factory(
    *, session: Session, actor: Principal, factory_id: str, changes: Mapping[str, Any]
) -> Factory:
    """Change a factory's name, monthly capacity or newcomer flag."""
    factory = get_factory(session=session, principal=actor, factory_id=factory_id)
    with audited(session, actor=actor, action="factory.update", row=factory, state=_state):
        for field in ("name", "monthly_capacity", "is_new"):
            if field in changes:
                setattr(factory, field, changes[field])
    session.commit()
    return factory
