"""The factory's home page: its rounds and own bids, read only (the factory issue adds more)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.web import FactoryPage, render
from bidding import bids, rounds
from bidding.bids import terms_of
from bidding.names import factory_names, item_names

router = APIRouter(include_in_schema=False)

SHOWN = 100


@router.get("/factory")
def factory_home(request: Request, session: SessionDep, viewer: FactoryPage) -> HTMLResponse:
    """The rounds this factory may see, and its own bids in each (never another's)."""
    rows = rounds.list_rounds(session=session, principal=viewer.principal, after=None, limit=SHOWN)
    own = {
        r.id: [
            (bid, terms_of(version))
            for bid, version in bids.list_bids(
                session=session, principal=viewer.principal, round_id=r.id, after=None, limit=SHOWN
            )
        ]
        for r in rows
    }
    names = item_names(session=session)
    factory = factory_names(session=session, factory_ids={viewer.principal.factory_id or ""})
    return render(
        request,
        "factory/home.html",
        viewer,
        {
            "rounds": rows,
            "own": own,
            "item_names": names,
            "factory_name": factory.get(viewer.principal.factory_id or "", ""),
        },
    )
