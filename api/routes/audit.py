"""The audit log: finance and admins read it and verify its hash chain."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import FinanceOrAdmin, Pagination, SessionDep
from api.routes import COMMON
from api.schemas.audit import AuditEventPublic, AuditVerification
from api.schemas.base import Page
from bidding import audit, finance

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=COMMON)


@router.get("/events")
def list_audit_events(
    session: SessionDep, actor: FinanceOrAdmin, page: Pagination
) -> Page[AuditEventPublic]:
    """Audit events, oldest first; bid content appears only as a commitment until the close."""
    rows = audit.list_events(session=session, after_seq=page.after_seq(), limit=page.limit)
    return Page(
        data=[AuditEventPublic.of(r) for r in rows],
        next_cursor=page.next_cursor(rows[-1].seq if rows else None, len(rows)),
    )


@router.get("/verify")
def verify_audit_chain(
    session: SessionDep,
    actor: FinanceOrAdmin,
    head_seq: Annotated[
        int | None,
        Query(ge=1, le=10**18, description="`head_seq` of the last verification you recorded."),
    ] = None,
    head_hash: Annotated[
        str | None,
        Query(pattern=audit.HASH_PATTERN, description="`head_hash` of that verification."),
    ] = None,
) -> AuditVerification:
    """Recompute the hash chain and report the first broken link; with an anchor, check it too.

    It also checks every published allocation's award rows and result against the hashes
    its publish event recorded: a stored award changed after publication is reported.

    The anchor is the head an earlier verification returned: the chain must still hold that
    event with that hash, so events removed from the end or a recomputed chain are caught.
    """
    report = audit.verify_chain(session, head_seq=head_seq, head_hash=head_hash)
    return AuditVerification.of(report, finance.verify_published_allocations(session=session))
