"""The append-only, hash-chained audit log: every state change, who, when, before, after.

Each event's hash is sha256 over the previous event's hash and the event's canonical
JSON, so changing, removing or reordering any stored event breaks the chain from there;
removing the last events, or rewriting the chain with every hash recomputed, is caught
against an anchor (a head seq and hash) recorded by an earlier verification.
Writers are serialised so two transactions cannot both extend the same head (a fork):
on PostgreSQL by a transaction-level advisory lock, on SQLite by BEGIN IMMEDIATE.
The database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of stored events:
`install_append_only_guard` puts triggers on the table (migration 0004 and the tests' set-up).
"""

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, text
from sqlmodel import Session, col, select

from bidding.errors import InvalidInput
from bidding.models import AuditEvent, utcnow
from bidding.principal import Principal

GENESIS_HASH = "sha256:" + "0" * 64
_CHAIN_LOCK = 0x5B1D_A0D1  # the advisory lock key of the chain head
APPEND_ONLY_MESSAGE = "audit_event is append-only"

_POSTGRES_GUARD = (
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$ BEGIN"
    f" RAISE EXCEPTION USING MESSAGE = '{APPEND_ONLY_MESSAGE}: ' || TG_OP || ' refused',"
    " ERRCODE = 'restrict_violation';"
    " END $$",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
    " FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event"
    " FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)
_POSTGRES_UNGUARD = (
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_no_delete ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
)
_SQLITE_GUARD = tuple(
    f"CREATE TRIGGER audit_event_no_{operation.lower()} BEFORE {operation} ON audit_event"
    f" BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
    for operation in ("UPDATE", "DELETE")
)
_SQLITE_UNGUARD = (
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_event_no_update",
)


def install_append_only_guard(connection: Connection) -> None:
    """Make the database refuse any UPDATE or DELETE (or TRUNCATE) of `audit_event` rows.

    Triggers on the table, in the connection's transaction; the caller commits. Replaces
    a guard already there. On SQLite, a batch migration that rebuilds `audit_event` drops
    its triggers: such a migration must install the guard again.
    """
    remove_append_only_guard(connection)
    statements = _POSTGRES_GUARD if connection.dialect.name == "postgresql" else _SQLITE_GUARD
    for statement in statements:
        connection.exec_driver_sql(statement)


def remove_append_only_guard(connection: Connection) -> None:
    """Drop the triggers `install_append_only_guard` made, if there, in the caller's transaction."""
    statements = _POSTGRES_UNGUARD if connection.dialect.name == "postgresql" else _SQLITE_UNGUARD
    for statement in statements:
        connection.exec_driver_sql(statement)


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
    conceal_actor_key: bool = False,
) -> AuditEvent:
    """Append an event to the chain in the caller's transaction (never commits).

    `conceal_actor_key` records the actor's role without its key: for a sealed bid, whose
    key would name the factory to everyone who reads the log.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Held to the end of the transaction: the next writer sees this event as the head.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    head = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    event = AuditEvent(
        seq=(head.seq + 1) if head else 1,
        occurred_at=utcnow().isoformat(timespec="microseconds").replace("+00:00", "Z"),
        actor_key_id=None if conceal_actor_key else actor.key_id,
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
    """The verification of the chain: events checked, the first broken link, the head to record.

    `head_seq` and `head_hash` are the chain's last event when verified (0 and the genesis
    hash for an empty chain): the anchor to give the next verification.
    """

    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


HASH_PATTERN = r"^sha256:[0-9a-f]{64}$"


def verify_chain(
    session: Session,
    *,
    batch: int = 1000,
    head_seq: int | None = None,
    head_hash: str | None = None,
) -> ChainReport:
    """Walk the chain in order and report the first event whose link or hash is wrong.

    A chain rewritten from some event on with every hash recomputed, or cut short at its
    end, is consistent in itself. Given an anchor the verifier already trusts (`head_seq`
    and `head_hash` of the report it recorded last time), the chain must still hold that
    event with that hash: a rewrite of any event up to it, or a cut below it, is broken.
    """
    if (head_seq is None) != (head_hash is None):
        raise InvalidInput([("query.head_hash", "give head_seq and head_hash together")])
    if head_hash is not None and not re.fullmatch(HASH_PATTERN, head_hash):
        raise InvalidInput([("query.head_hash", "must be sha256: and 64 lowercase hex digits")])
    # The head as of now; events appended while we walk are the next verification's.
    head = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    last = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    report = _walk(session, batch=batch, up_to=last[0])
    if report.ok and head_seq is not None:
        report = _check_anchor(session, report, head_seq, head_hash or "", last[0])
    return replace(report, head_seq=last[0], head_hash=last[1])


def _walk(session: Session, *, batch: int, up_to: int) -> ChainReport:
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > last_seq, col(AuditEvent.seq) <= up_to)
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


def _check_anchor(
    session: Session, report: ChainReport, head_seq: int, head_hash: str, last_seq: int
) -> ChainReport:
    checked = report.events_checked
    if head_seq > last_seq:
        return _broken(
            checked,
            last_seq + 1,
            f"the chain ends at event {last_seq}, before the anchor {head_seq}: "
            "events were removed",
        )
    anchored = session.exec(select(AuditEvent).where(AuditEvent.seq == head_seq)).one()
    if anchored.hash != head_hash:
        return _broken(
            checked,
            head_seq,
            f"event {head_seq} no longer has the anchor's hash: events up to it were rewritten",
        )
    return report


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
