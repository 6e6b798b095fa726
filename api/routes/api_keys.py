"""API keys: an admin makes, lists and revokes them."""

from fastapi import APIRouter

from api.deps import Admin, IdPath, Pagination, SessionDep
from api.routes import COMMON, problems
from api.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from api.schemas.base import Page
from bidding import keys
from bidding.models import Role

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], responses=COMMON)


@router.post("", status_code=201, responses=problems(404))
def create_api_key(body: ApiKeyCreate, session: SessionDep, actor: Admin) -> ApiKeyCreated:
    """Make a key for a role (and factory); the key is in this response only."""
    made = keys.create_key(
        session=session, actor=actor, role=Role(body.role), factory_id=body.factory, name=body.name
    )
    return ApiKeyCreated(**ApiKeyPublic.of(made.row).model_dump(), key=made.secret)


@router.get("")
def list_api_keys(session: SessionDep, actor: Admin, page: Pagination) -> Page[ApiKeyPublic]:
    """Keys, revoked ones included; never the keys themselves."""
    rows = keys.list_keys(session=session, after=page.after, limit=page.limit)
    return Page(
        data=[ApiKeyPublic.of(r) for r in rows],
        next_cursor=page.next_cursor(rows[-1].id if rows else None, len(rows)),
    )


@router.get("/{key_id}", responses=problems(404))
def get_api_key(key_id: IdPath, session: SessionDep, actor: Admin) -> ApiKeyPublic:
    """One key."""
    return ApiKeyPublic.of(keys.get_key(session=session, key_id=key_id))


@router.delete("/{key_id}", responses=problems(404))
def revoke_api_key(key_id: IdPath, session: SessionDep, actor: Admin) -> ApiKeyPublic:
    """Revoke a key: it answers 401 from now on."""
    return ApiKeyPublic.of(keys.revoke_key(session=session, actor=actor, key_id=key_id))
