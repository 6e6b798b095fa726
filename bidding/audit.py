"""The append-only, hash-chained audit log: every state change, who, when, before, after.

Each event's hash is sha256 over the previous event's hash and the event's canonical
JSON, so changing, removing or reordering any stored event breaks the chain from there.
Writers are serialised so two transactions cannot both extend the same head (a fork):
on PostgreSQL by a transaction-level advisory lock, on SQLite by BEGIN IMMEDIATE.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from bidding.models import AuditEvent, utcnow
from bidding.principal import Principal

GENESIS_HASH = "sha256:" + "0" * 64
_CHAIN_LOCK = 0x5B1D_A0D1  # the advisory lock key of the chain head


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one spelling per value, so one hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(event: AuditEvent) -> str:
    """The hash an event must carry, from its content and the previous hash."""
    content = canonical_json(
        {
            "seq": event.seq,
            "occurred_at": event.occurred_at,
            "actor_key_id": event.actor_key_id,
            "actor_role": event.actor_role,
            "action": event.action,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "before": event.before,
            "after": event.after,
        }
    )
    digest = hashlib.sha256((event.prev_hash + "\n" + content).encode("utf-8")).hexdigest()
    return "sha256:" + digest


def record_event(
    session: Session,
    *,
    actor: Principal,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain in the caller's transaction (never commits)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Held to the end of the transaction: the next writer sees this event as the head.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    head = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    event = AuditEvent(
        seq=(head.seq + 1) if head else 1,
        occurred_at=utcnow().isoformat(timespec="microseconds").replace("+00:00", "Z"),
        actor_key_id=actor.key_id,
        actor_role=str(actor.role),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=canonical_json(before) if before is not None else None,
        after=canonical_json(after) if after is not None else None,
        prev_hash=head.hash if head else GENESIS_HASH,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """The verification of the chain: how many events were checked, the first broken link."""

    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def verify_chain(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the chain in order and report the first event whose link or hash is wrong."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > last_seq)
            .order_by(col(AuditEvent.seq))
            .limit(batch)
        ).all()
        if not events:
            return ChainReport(ok=True, events_checked=checked)
        for event in events:
            checked += 1
            if event.seq != expected_seq:
                return _broken(checked, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != expected_prev:
                return _broken(checked, event.seq, "prev_hash does not match the previous event")
            if event.hash != event_hash(event):
                return _broken(checked, event.seq, "hash does not match the event's content")
            expected_prev = event.hash
            expected_seq += 1
            last_seq = event.seq


def _broken(checked: int, seq: int, reason: str) -> ChainReport:
    return ChainReport(ok=False, events_checked=checked, first_broken_seq=seq, reason=reason)


def list_events(session: Session, *, after_seq: int = 0, limit: int = 100) -> list[AuditEvent]:
    """Events after `after_seq`, oldest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > after_seq)
            .order_by(col(AuditEvent.seq))
            .limit(limit)
        ).all()
    )
