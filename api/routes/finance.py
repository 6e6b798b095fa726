"""Settlement and finance: settle a published round, statements, result, audits, replay.

Reports (statements, result, margin audit, takeover) answer `?format=csv` or `?format=xlsx`
with the same figures as their JSON, as an attachment.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import IdPath, Manager, ManagerOrFinance, SessionDep, require
from api.routes import COMMON, EXPORTS, ExportView, Format, export, json_only, problems
from api.schemas.finance import (
    MarginAuditPublic,
    ReplayPublic,
    RoundResultPublic,
    SettlementCorrectionRequest,
    SettlementHistoryPublic,
    SettlementPublic,
    SettlementRequest,
    StatementsPublic,
    TakeoverAuditPublic,
)
from bidding import finance, reports, settlement
from bidding.models import Role
from bidding.principal import Principal

router = APIRouter(tags=["settlement and finance"], responses=COMMON)

Finance = Annotated[Principal, Depends(require(Role.finance))]
StatementReader = Annotated[Principal, Depends(require(Role.factory, Role.finance))]
SETTLEMENT_RULES = """
Every item of the published allocation must be given, 0 where none sold (422 naming each
item missing or unknown); units sold are whole numbers from 0 to the units allocated (422
naming the item and both numbers above that). The units not sold are taken over by the
platform and attributed to the item's bids pro rata to their allocated units, in whole
units, by largest remainder: each bid gets the floor of its exact share, the units left go
one each to the largest remainders, ties to the lower bid id.
"""


@router.post(
    "/v1/rounds/{round_id}/settlement",
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409),
    description="Record the units sold of a published round; the round becomes `settled`.\n"
    + SETTLEMENT_RULES
    + "\nRecorded once: again is a 409 `round_already_settled` (send a correction); "
    "a round not published is a 409 `round_not_published`.",
)
def settle_round(
    round_id: IdPath, body: SettlementRequest, session: SessionDep, actor: Manager
) -> SettlementPublic:
    """Settle a published round with the units sold per item."""
    recorded = settlement.settle_round(
        session=session, actor=actor, round_id=round_id, sold=body.sold
    )
    return SettlementPublic.of(recorded)


@router.post(
    "/v1/rounds/{round_id}/settlement/corrections",
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409),
    description="Correct the units sold of a settled round, with a reason: a new settlement "
    "version, audited; earlier versions are kept and the figures follow the latest.\n"
    + SETTLEMENT_RULES
    + "\nA round not settled is a 409 `round_not_settled`.",
)
def correct_settlement(
    round_id: IdPath, body: SettlementCorrectionRequest, session: SessionDep, actor: Manager
) -> SettlementPublic:
    """Correct a settled round's units sold (a new settlement version)."""
    recorded = settlement.correct_settlement(
        session=session, actor=actor, round_id=round_id, sold=body.sold, reason=body.reason
    )
    return SettlementPublic.of(recorded)


@router.get("/v1/rounds/{round_id}/settlement", responses=problems(404, 409))
def get_settlement(
    round_id: IdPath, session: SessionDep, actor: ManagerOrFinance
) -> SettlementHistoryPublic:
    """The settlement in force and every version before it (409 `round_not_settled` before)."""
    history = [
        SettlementPublic.of(v)
        for v in settlement.settlement_history(session=session, round_id=round_id)
    ]
    return SettlementHistoryPublic(current=history[-1], versions=history)


@router.get(
    "/v1/rounds/{round_id}/statements",
    response_model=StatementsPublic,
    responses={**EXPORTS, **problems(404, 409)},
)
def get_statements(
    round_id: IdPath,
    session: SessionDep,
    actor: StatementReader,
    format: Format = "json",
    view: ExportView = None,
) -> StatementsPublic | Response:
    """Per-factory statements of a published round; a factory reads its own only.

    Units ordered and paid, amount due (supply prices and setup fees), declared cost and
    setup cost, net margin (rounded down to 9 decimals), units taken over and their supply
    value. The amounts are final at publication (every unit ordered is paid); before the
    settlement `takeover_units` and `takeover_value` are null. 409 `round_not_published`
    before publication.
    """
    report = settlement.round_statements(session=session, principal=actor, round_id=round_id)
    if format != "json":
        return export(reports.statements_report(report), format, view)
    json_only(view)
    return StatementsPublic.of(report)


@router.get(
    "/v1/rounds/{round_id}/result",
    response_model=RoundResultPublic,
    responses={**EXPORTS, **problems(404, 409)},
)
def get_result(
    round_id: IdPath,
    session: SessionDep,
    actor: ManagerOrFinance,
    format: Format = "json",
    view: ExportView = None,
) -> RoundResultPublic | Response:
    """The platform's result: expected at publication against realised once settled.

    Expected: E[min(X, D)] from the allocation's demand scenarios, revenue and handling
    per item rounded half even to the cent, unsold units taken over at the item's average
    supply price. Realised: from the latest settlement. `net` = revenue - handling -
    supply_spend + salvage; `takeover_loss` = takeover_spend - salvage. Totals are the
    sums of the items; supply_spend is the sum of the statements' amounts.
    """
    published = settlement.round_result(session=session, principal=actor, round_id=round_id)
    if format != "json":
        return export(reports.result_report(published), format, view)
    json_only(view)
    return RoundResultPublic.of(published)


@router.get(
    "/v1/audit/margins",
    response_model=MarginAuditPublic,
    responses=EXPORTS,
)
def audit_margins(
    session: SessionDep, actor: Finance, format: Format = "json", view: ExportView = None
) -> MarginAuditPublic | Response:
    """Every published award re-checked by the independent verifier; findings name the bids.

    Each published allocation's result is rebuilt from its award rows and verified against
    its stored problem (margin floor, prices, fees, shares, objective); the award rows and
    the stored result are also compared with the hashes recorded when it was published.
    """
    audit = finance.margin_audit(session=session)
    if format != "json":
        return export(reports.margins_report(audit), format, view)
    json_only(view)
    return MarginAuditPublic.of(audit)


@router.get(
    "/v1/audit/takeover",
    response_model=TakeoverAuditPublic,
    responses={**EXPORTS, **problems(404)},
)
def audit_takeover(
    session: SessionDep,
    actor: Finance,
    format: Format = "json",
    view: ExportView = None,
    round: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="One round only.")
    ] = None,
) -> TakeoverAuditPublic | Response:
    """Takeover liability per published round and item: expected at publication, and settled."""
    lines = finance.takeover_audit(session=session, round_id=round)
    if format != "json":
        return export(reports.takeover_report(lines), format, view)
    json_only(view)
    return TakeoverAuditPublic.of(lines)


@router.post("/v1/allocations/{allocation_id}/replay", responses=problems(404, 409))
def replay_allocation(allocation_id: IdPath, session: SessionDep, actor: Finance) -> ReplayPublic:
    """Re-solve an allocation's stored problem: identical, or the differences; audited.

    Solved in the request (a worker thread, never the event loop): `identical` is true
    when the result matches the stored one byte for byte, timings apart;
    `solver_version_differs` says whether the solver's name or version changed.
    409 `allocation_not_done` for an allocation without a result.
    """
    return ReplayPublic.of(
        finance.replay_allocation(session=session, actor=actor, allocation_id=allocation_id)
    )
