"""Catalogue and key pages: factories (admin, manager), items (read: admin, manager; create
and edit: manager, as POST/PATCH /v1/items), API keys (admin: create once, list, revoke)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.schemas.api_keys import ApiKeyCreate
from api.schemas.factories import FactoryCreate, FactoryUpdate
from api.schemas.items import ItemCreate, ItemUpdate
from api.web import AdminPage, CatalogPage, ManagerPage, blank_to_none, go_to, render, validated
from bidding import factories, items, keys, web_sessions
from bidding.models import Role
from bidding.values import from_cents

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 500
"""Rows of an admin list page (factories, items, keys are hundreds, not millions)."""


def _after(after: str | None) -> str | None:
    return after if after and len(after) <= 64 else None


@router.get("/admin")
def admin_home(request: Request, viewer: AdminPage) -> Response:
    """The admin's first page is the factory list."""
    return go_to(request, "/admin/factories")


@router.get("/admin/factories")
def factory_list(
    request: Request,
    session: SessionDep,
    viewer: CatalogPage,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Factories, with a form to add one."""
    rows = factories.list_factories(session=session, after=_after(after), limit=LIST_LIMIT)
    return render(request, "admin/factories.html", viewer, {"factories": rows})


def factory_fields(
    name: Annotated[str, Form(max_length=200)],
    monthly_capacity: Annotated[str, Form(max_length=20)],
    is_new: Annotated[str | None, Form(max_length=3)] = None,
) -> dict[str, object]:
    """The factory form's fields, as the API's body takes them (a checkbox is "on" or absent)."""
    return {"name": name, "monthly_capacity": monthly_capacity, "is_new": is_new == "on"}


FactoryForm = Annotated[dict[str, object], Depends(factory_fields)]


@router.post("/admin/factories")
def factory_create(
    request: Request,
    session: SessionDep,
    viewer: CatalogPage,
    form: FactoryForm,
) -> Response:
    """Register a factory (the same rules as POST /v1/factories)."""
    body = validated(FactoryCreate, form)
    row = factories.create_factory(
        session=session,
        actor=viewer.principal,
        name=body.name,
        monthly_capacity=body.monthly_capacity,
        is_new=body.is_new,
    )
    return go_to(request, f"/admin/factories/{row.id}")


@router.get("/admin/factories/{factory_id}")
def factory_edit_form(
    request: Request, session: SessionDep, viewer: CatalogPage, factory_id: str
) -> HTMLResponse:
    """One factory, editable."""
    row = factories.get_factory(session=session, principal=viewer.principal, factory_id=factory_id)
    return render(request, "admin/factory.html", viewer, {"factory": row})


@router.post("/admin/factories/{factory_id}")
def factory_update(
    request: Request,
    session: SessionDep,
    viewer: CatalogPage,
    factory_id: str,
    form: FactoryForm,
) -> Response:
    """Change a factory's name, capacity or newcomer flag."""
    body = validated(FactoryUpdate, form)
    factories.update_factory(
        session=session,
        actor=viewer.principal,
        factory_id=factory_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return go_to(request, f"/admin/factories/{factory_id}")


@router.get("/admin/items")
def item_list(
    request: Request,
    session: SessionDep,
    viewer: CatalogPage,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """Items with prices and demand; a manager also gets the form to add one."""
    rows = items.list_items(session=session, after=_after(after), limit=LIST_LIMIT)
    demand = items.demand_of(session=session, item_ids=[r.id for r in rows])
    return render(
        request,
        "admin/items.html",
        viewer,
        {
            "items": rows,
            "demand": demand,
            "from_cents": from_cents,
            "can_edit": viewer.principal.role == Role.manager,
        },
    )


def parse_demand(text: str) -> list[dict[str, str]]:
    """Demand scenarios typed as `units:probability` pairs, one per line or comma-separated."""
    scenarios = []
    for part in text.replace("\n", ",").split(","):
        if part.strip():
            units, _, probability = part.partition(":")
            scenarios.append({"units": units.strip(), "probability": probability.strip()})
    return scenarios


def item_fields(
    name: Annotated[str, Form(max_length=200)],
    retail_price: Annotated[str, Form(max_length=30)],
    handling_cost: Annotated[str, Form(max_length=30)],
    salvage_value: Annotated[str, Form(max_length=30)],
    demand: Annotated[str, Form(max_length=20000)],
) -> dict[str, object]:
    """The item form's fields, as the API's body takes them (demand typed as pairs)."""
    return {
        "name": name,
        "retail_price": retail_price.strip(),
        "handling_cost": handling_cost.strip(),
        "salvage_value": salvage_value.strip(),
        "demand": parse_demand(demand),
    }


ItemForm = Annotated[dict[str, object], Depends(item_fields)]


@router.post("/admin/items")
def item_create(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    form: ItemForm,
) -> Response:
    """Create an item with its prices and demand scenarios (the rules of POST /v1/items)."""
    body = validated(ItemCreate, form)
    row = items.create_item(
        session=session,
        actor=viewer.principal,
        name=body.name,
        retail_price=body.retail_price,
        handling_cost=body.handling_cost,
        salvage_value=body.salvage_value,
        demand=body.scenarios(),
    )
    return go_to(request, f"/admin/items/{row.id}")


@router.get("/admin/items/{item_id}")
def item_edit_form(
    request: Request, session: SessionDep, viewer: CatalogPage, item_id: str
) -> HTMLResponse:
    """One item; a manager may edit it until a round holding it opens."""
    row = items.get_item(session=session, item_id=item_id)
    demand = items.demand_of(session=session, item_ids=[row.id])[row.id]
    text = ", ".join(f"{d.units}:{d.probability}" for d in demand)
    return render(
        request,
        "admin/item.html",
        viewer,
        {
            "item": row,
            "demand_text": text,
            "from_cents": from_cents,
            "can_edit": viewer.principal.role == Role.manager,
        },
    )


@router.post("/admin/items/{item_id}")
def item_update(
    request: Request,
    session: SessionDep,
    viewer: ManagerPage,
    item_id: str,
    form: ItemForm,
) -> Response:
    """Change an item (409 `item_in_use` once a round holding it has opened)."""
    body = validated(ItemUpdate, form)
    items.update_item(
        session=session, actor=viewer.principal, item_id=item_id, changes=body.changes()
    )
    return go_to(request, f"/admin/items/{item_id}")


@router.get("/admin/keys")
def key_list(
    request: Request,
    session: SessionDep,
    viewer: AdminPage,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """API keys, revoked ones too, never the keys themselves; a form to make one."""
    rows = keys.list_keys(session=session, after=_after(after), limit=LIST_LIMIT)
    return render(
        request,
        "admin/keys.html",
        viewer,
        {
            "keys": rows,
            "factories": factories.list_factories(session=session, after=None, limit=LIST_LIMIT),
            "roles": [r for r in Role if r != Role.system],
        },
    )


@router.post("/admin/keys")
def key_create(
    request: Request,
    session: SessionDep,
    viewer: AdminPage,
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    factory: Annotated[str | None, Form(max_length=64)] = None,
) -> HTMLResponse:
    """Make a named key; the page shows it this once (and is never stored by the browser)."""
    body = validated(ApiKeyCreate, {"name": name, "role": role, "factory": blank_to_none(factory)})
    made = keys.create_key(
        session=session,
        actor=viewer.principal,
        role=Role(body.role),
        factory_id=body.factory,
        name=body.name,
    )
    return render(
        request, "admin/key_created.html", viewer, {"key": made.row, "secret": made.secret}
    )


@router.post("/admin/keys/{key_id}/revoke")
def key_revoke(request: Request, session: SessionDep, viewer: AdminPage, key_id: str) -> Response:
    """Revoke a key: its API calls answer 401 and its browser sessions end."""
    keys.revoke_key(session=session, actor=viewer.principal, key_id=key_id)
    web_sessions.end_sessions_of_key(session=session, key_id=key_id)
    return go_to(request, "/admin/keys")
