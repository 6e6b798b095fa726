"""Items: managers keep them; every role reads them."""

from fastapi import APIRouter

from api.deps import CurrentPrincipal, IdPath, Manager, Pagination, SessionDep
from api.routes import COMMON, problems
from api.schemas.base import Page
from api.schemas.items import ItemCreate, ItemPublic, ItemUpdate
from bidding import items

router = APIRouter(prefix="/v1/items", tags=["items"], responses=COMMON)


@router.post("", status_code=201)
def create_item(body: ItemCreate, session: SessionDep, actor: Manager) -> ItemPublic:
    """Create an item with prices and demand scenarios (0 <= salvage <= retail - handling)."""
    row = items.create_item(
        session=session,
        actor=actor,
        name=body.name,
        retail_price=body.retail_price,
        handling_cost=body.handling_cost,
        salvage_value=body.salvage_value,
        demand=body.scenarios(),
    )
    return ItemPublic.of(row, items.demand_of(session=session, item_ids=[row.id])[row.id])


@router.get("")
def list_items(session: SessionDep, actor: CurrentPrincipal, page: Pagination) -> Page[ItemPublic]:
    """Items, in id order."""
    rows = items.list_items(session=session, after=page.after, limit=page.limit)
    demand = items.demand_of(session=session, item_ids=[r.id for r in rows])
    return Page(
        data=[ItemPublic.of(r, demand[r.id]) for r in rows],
        next_cursor=page.next_cursor(rows[-1].id if rows else None, len(rows)),
    )


@router.get("/{item_id}", responses=problems(404))
def get_item(item_id: IdPath, session: SessionDep, actor: CurrentPrincipal) -> ItemPublic:
    """One item."""
    row = items.get_item(session=session, item_id=item_id)
    return ItemPublic.of(row, items.demand_of(session=session, item_ids=[row.id])[row.id])


@router.patch("/{item_id}", responses=problems(404, 409))
def update_item(
    item_id: IdPath, body: ItemUpdate, session: SessionDep, actor: Manager
) -> ItemPublic:
    """Change an item's name, prices or demand; 409 `item_in_use` once a round holding it opens."""
    row = items.update_item(session=session, actor=actor, item_id=item_id, changes=body.changes())
    return ItemPublic.of(row, items.demand_of(session=session, item_ids=[row.id])[row.id])
