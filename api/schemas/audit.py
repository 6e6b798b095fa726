"""Bodies of /v1/audit/events and /v1/audit/verify."""

from collections.abc import Sequence

from api.schemas.base import Output
from api.schemas.finance import MarginFindingPublic
from bidding.audit import ChainReport
from bidding.finance import AuditFinding
from bidding.models import (
    AuditEvent,
)


class AuditEventPublic(Output):
    """One event of the audit log, with its place in the hash chain."""

    seq: int
    occurred_at: str
    actor_key_id: str | None
    actor_role: str
    action: str
    entity_type: str
    entity_id: str
    before: str | None
    after: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AuditEvent) -> "AuditEventPublic":
        """The stored event as it is (its JSON fields as the hashed text)."""
        return cls.model_validate(row, from_attributes=True)


class AuditVerification(Output):
    """The chain check: ok, events checked, the first broken link, and the head to record.

    Record `head_seq` and `head_hash` of an ok report and give them to the next
    verification: it then also catches events removed from the end or a recomputed chain.
    """

    ok: bool
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str
    published_findings: list[MarginFindingPublic]
    """Published allocations whose award rows or result differ from what was published."""

    @classmethod
    def of(
        cls, report: ChainReport, published_findings: Sequence[AuditFinding]
    ) -> "AuditVerification":
        """The public view of a report and of the published-allocation check."""
        return cls(
            ok=report.ok and not published_findings,
            published_findings=[MarginFindingPublic(**vars(f)) for f in published_findings],
            events_checked=report.events_checked,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
        )
