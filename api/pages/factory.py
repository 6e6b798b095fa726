"""The factory's home page: its rounds, own bids and, once published, its awards in words
(read only; the factory issue adds more)."""

from dataclasses import dataclass
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep
from api.web import FactoryPage, render
from bidding import bids, publication, rounds
from bidding.award_figures import award_context
from bidding.bids import terms_of
from bidding.lifecycle import PUBLISHED
from bidding.names import award_names, factory_names, item_names
from bidding.values import from_cents
from bidding.web_sessions import SignedIn

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
    awards = {r.id: _explained_awards(session, viewer, r.id) for r in rows if r.state in PUBLISHED}
    names = item_names(session=session)
    factory = factory_names(session=session, factory_ids={viewer.principal.factory_id or ""})
    return render(
        request,
        "factory/home.html",
        viewer,
        {
            "rounds": rows,
            "own": own,
            "awards": awards,
            "item_names": names,
            "factory_name": factory.get(viewer.principal.factory_id or "", ""),
        },
    )


@dataclass(frozen=True)
class ShownAward:
    """An award as the factory's page shows it."""

    item_name: str
    units: int
    supply_price: Decimal
    cost_ceiling: Decimal | None
    explanation: str


def _explained_awards(session: SessionDep, viewer: SignedIn, round_id: str) -> list[ShownAward]:
    """The factory's own awards of a published round, each with its sentence."""
    rows = publication.list_awards(
        session=session, principal=viewer.principal, round_id=round_id, after=None, limit=SHOWN
    )
    if not rows:
        return []
    context = award_context(
        session=session, allocation_id=rows[0].allocation_id, bid_ids={r.bid_id for r in rows}
    )
    names = award_names(session=session, rows=rows)
    shown = []
    for r in rows:
        name = r.item_name or names.item(r.item_id) or r.item_id
        shown.append(
            ShownAward(
                item_name=name,
                units=r.units,
                supply_price=from_cents(r.supply_price_cents),
                cost_ceiling=context.ceilings.get(r.bid_id),
                explanation=context.explain_award(r, name),
            )
        )
    return shown
