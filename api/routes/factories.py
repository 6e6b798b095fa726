"""Factories: admins and managers keep them; a factory reads itself."""

from fastapi import APIRouter

from api.deps import AdminManagerOrFactory, AdminOrManager, IdPath, Pagination, SessionDep
from api.routes import COMMON, problems
from api.schemas.base import Page
from api.schemas.factories import FactoryCreate, FactoryPublic, FactoryUpdate
from bidding import factories

router = APIRouter(prefix="/v1/factories", tags=["factories"], responses=COMMON)


@router.post("", status_code=201)
def create_factory(
    body: FactoryCreate, session: SessionDep, actor: AdminOrManager
) -> FactoryPublic:
    """Register a factory with its monthly capacity."""
    row = factories.create_factory(
        session=session,
        actor=actor,
        name=body.name,
        monthly_capacity=body.monthly_capacity,
        is_new=body.is_new,
    )
    return FactoryPublic.of(row)


@router.get("")
def list_factories(
    session: SessionDep, actor: AdminOrManager, page: Pagination
) -> Page[FactoryPublic]:
    """Factories, in id order."""
    rows = factories.list_factories(session=session, after=page.after, limit=page.limit)
    return Page(
        data=[FactoryPublic.of(r) for r in rows],
        next_cursor=page.next_cursor(rows[-1].id if rows else None, len(rows)),
    )


@router.get("/{factory_id}", responses=problems(404))
def get_factory(
    factory_id: IdPath, session: SessionDep, actor: AdminManagerOrFactory
) -> FactoryPublic:
    """One factory (a factory key reads only its own)."""
    return FactoryPublic.of(
        factories.get_factory(session=session, principal=actor, factory_id=factory_id)
    )


@router.patch("/{factory_id}", responses=problems(404))
def update_factory(
    factory_id: IdPath, body: FactoryUpdate, session: SessionDep, actor: AdminOrManager
) -> FactoryPublic:
    """Change a factory's name, monthly capacity or newcomer flag."""
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    row = factories.update_factory(
        session=session, actor=actor, factory_id=factory_id, changes=changes
    )
    return FactoryPublic.of(row)
