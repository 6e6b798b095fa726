"""The audit log: finance and admins read it and verify its hash chain."""

from fastapi import APIRouter

from api.deps import FinanceOrAdmin, Pagination, SessionDep
from api.routes import COMMON
from api.schemas import AuditEventPublic, AuditVerification, Page
from bidding import audit

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
def verify_audit_chain(session: SessionDep, actor: FinanceOrAdmin) -> AuditVerification:
    """Recompute the hash chain and report the first broken link, if any."""
    return AuditVerification.of(audit.verify_chain(session))
