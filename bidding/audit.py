"""The append-only, hash-chained audit log: every state change, who, when, before, after.

Each event's hash covers the previous event's hash and the event's canonical JSON, so
changing, removing or reordering any stored event breaks the chain from there. The hash is
an HMAC under a key finance holds (SUPPLYBID_AUDIT_KEY), so whoever can write the table but
lacks the key cannot recompute the chain after a change. Chains begun before the key was set
are plain sha256 up to an `audit.chain_keyed` event, from which every event is keyed: the
old events still verify, and an unkeyed event after the switch is a break.

A chain cut at its end is consistent in itself: each new head is therefore also written,
after its commit, to an append-only anchor file outside the database
(SUPPLYBID_AUDIT_ANCHOR_PATH), and verification checks every head written there against
the chain. An anchor recorded by hand (the head of an earlier report) is checked the same way.

Writers are serialised so two transactions cannot both extend the same head (a fork):
on PostgreSQL by a transaction-level advisory lock, on SQLite by BEGIN IMMEDIATE. Anchor
lines are appended under an exclusive file lock, and read under a shared one.
The database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of stored events:
`install_append_only_guard` puts triggers on the table (migration 0004 and the tests' set-up);
on PostgreSQL the app's own role also lacks the rights to change the table or its triggers
(`migrations.roles`).
"""

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, text
from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from bidding.db import on_disk
from bidding.errors import InvalidInput
from bidding.models import AuditEvent, utcnow
from bidding.principal import SYSTEM, Principal
from bidding.settings import Settings, get_settings

log = logging.getLogger(__name__)

PLAIN_PREFIX = "sha256:"
KEYED_PREFIX = "hmac-sha256:"
GENESIS_HASH = PLAIN_PREFIX + "0" * 64
HASH_PATTERN = r"^(sha256|hmac-sha256):[0-9a-f]{64}$"
KEYED_ACTION = "audit.chain_keyed"
"""The event that switches the chain from plain sha256 to HMAC; itself the first keyed one."""
_CHAIN_LOCK = 0x5B1D_A0D1  # the advisory lock key of the chain head
_ANCHOR_LINE = re.compile(r"([0-9]{1,18}) ((?:sha256|hmac-sha256):[0-9a-f]{64})")
_PENDING_ANCHOR = "supplybid_audit_anchor"
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


@dataclass(frozen=True)
class ChainSettings:
    """How this process writes and checks the chain: its HMAC key and its anchor file."""

    key: bytes | None = None
    anchor_path: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> "ChainSettings":
        """The chain settings of the service's settings (a key file that cannot be read: none,
        which the server and workers refuse to start with; see `audit_key_refusal`)."""
        try:
            key = settings.audit_secret()
        except OSError:
            key = None
        return cls(key=key, anchor_path=settings.audit_anchor_path)

    @property
    def key_id(self) -> str | None:
        """A fingerprint of the key (not the key): the switch event names it."""
        if self.key is None:
            return None
        return hmac.new(self.key, b"supplybid audit key id", hashlib.sha256).hexdigest()[:16]


_CHAINS: "WeakKeyDictionary[Engine, ChainSettings]" = WeakKeyDictionary()


def configure_chain(engine: Engine, chain: ChainSettings) -> None:
    """Use `chain` for events written through `engine` (the app's settings, not the env's)."""
    _CHAINS[engine] = chain


def chain_settings(session: Session) -> ChainSettings:
    """The chain settings of the session's engine: configured, or from the environment."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    chain = _CHAINS.get(engine)
    return chain if chain is not None else ChainSettings.of(get_settings())


class AuditKeyMissingError(RuntimeError):
    """The chain is keyed but this process has no key: writing on would break it."""


MIN_AUDIT_KEY_LENGTH = 32


def audit_key_refusal(settings: Settings) -> str | None:
    """Why the server or a worker must not start with these settings' audit key, or None.

    Without a key every event would be plain sha256 (recomputable by whoever can write the
    table), and on a chain already keyed the first write would fail: so no key, an empty
    or short one, or a key file that cannot be read, is refused in one sentence at start.
    """
    how = (
        f"set SUPPLYBID_AUDIT_KEY to finance's key of at least {MIN_AUDIT_KEY_LENGTH} "
        "characters (e.g. `openssl rand -hex 32`), or SUPPLYBID_AUDIT_KEY_FILE to a file "
        "holding it; `make run` makes one for development in var/audit-key"
    )
    try:
        key = settings.audit_secret()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = settings.audit_key_file
        return f"SUPPLYBID_AUDIT_KEY_FILE {where} cannot be read ({reason}): {how}"
    if key is None:
        return f"no audit key: the audit log's chain is keyed with it, so {how}"
    if len(key) < MIN_AUDIT_KEY_LENGTH:
        return f"the audit key has {len(key)} characters, too short to key the chain: {how}"
    return None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: one spelling per value, so one hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(event: AuditEvent, key: bytes | None = None) -> str:
    """The hash an event must carry, from its content and the previous hash.

    With a key, an HMAC-SHA256 (`hmac-sha256:`); without, plain sha256 (`sha256:`), as
    every event before the chain was keyed.
    """
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
    message = (event.prev_hash + "\n" + content).encode("utf-8")
    if key is None:
        return PLAIN_PREFIX + hashlib.sha256(message).hexdigest()
    return KEYED_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


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
    key would name the factory to everyone who reads the log. With a key set and a chain
    not yet keyed, the switch event (`audit.chain_keyed`) goes first. The new head is
    written to the anchor file once the transaction commits.
    """
    chain = chain_settings(session)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        # Held to the end of the transaction: the next writer sees this event as the head.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    session.flush()  # the caller's pending rows first, in the order the ORM flushed them
    found = session.connection().execute(_HEAD).first()
    head: ChainHead | AuditEvent | None = None if found is None else ChainHead(*found)
    keyed_head = head is not None and head.hash.startswith(KEYED_PREFIX)
    if chain.key is None and keyed_head:
        raise AuditKeyMissingError("the audit chain is keyed: set SUPPLYBID_AUDIT_KEY to write")
    if chain.key is not None and not keyed_head:
        head = _append(
            session,
            head,
            chain.key,
            actor=SYSTEM,
            action=KEYED_ACTION,
            entity_type="audit_chain",
            entity_id="chain",
            before={"hash": "sha256"} if head is not None else None,
            after={"hash": "hmac-sha256", "key_id": chain.key_id},
        )
    event = _append(
        session,
        head,
        chain.key,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        conceal_actor_key=conceal_actor_key,
    )
    if chain.anchor_path is not None:
        _anchor_after_commit(session, chain.anchor_path, event)
    return event


class ChainHead(NamedTuple):
    """The last event's sequence number and hash (read in plain SQL by every write)."""

    seq: int
    hash: str


_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_EVENT_COLUMNS = tuple(c.name for c in _EVENTS.c)
_INSERT_EVENT = _EVENTS.insert()


def _append(
    session: Session,
    head: "ChainHead | AuditEvent | None",
    key: bytes | None,
    *,
    actor: Principal,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    conceal_actor_key: bool = False,
) -> AuditEvent:
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
    event.hash = event_hash(event, key)
    # In plain SQL (the ORM's unit of work was a third of the event); returned unattached.
    session.connection().execute(_INSERT_EVENT, {c: getattr(event, c) for c in _EVENT_COLUMNS})
    return event


# The anchor file


def _anchor_after_commit(session: Session, path: Path, event: AuditEvent) -> None:
    # After the commit, never before: a rolled-back head in the file would read as a cut tail.
    session.info[_PENDING_ANCHOR] = (path, event.seq, event.hash)
    if not sa_event.contains(session, "after_commit", _write_pending_anchor):
        sa_event.listen(session, "after_commit", _write_pending_anchor)
        sa_event.listen(session, "after_soft_rollback", _drop_pending_anchor)


def _write_pending_anchor(session: Session) -> None:
    pending = session.info.pop(_PENDING_ANCHOR, None)
    if pending is None:
        return
    path, seq, head_hash = pending
    try:
        on_disk(session)  # the head's event first (SQLite's group commit), then its anchor
        write_anchor(path, seq, head_hash)
    except OSError:
        # The event is committed: failing the request now would misreport it. The anchor
        # lags (verification still holds to the heads written before); say so loudly.
        log.exception("audit anchor %s: head %s not written", path, seq)


def _drop_pending_anchor(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING_ANCHOR, None)


def write_anchor(path: Path, seq: int, head_hash: str) -> None:
    """Append one head (`seq hash`) to the anchor file, under an exclusive lock, synced.

    Opened for appending only (O_APPEND): the process never truncates or rewrites it; the
    operator makes it append-only for everyone (`chattr +a`). Concurrent writers may append
    two heads out of order: verification checks every line, whatever its place.
    """
    with open(path, "a", encoding="ascii") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.write(f"{seq} {head_hash}\n")
        file.flush()
        os.fsync(file.fileno())


def seed_anchor(session: Session) -> bool:
    """Write the chain's head to an empty or missing anchor file; True if it wrote one.

    Run when the app starts, so a newly configured anchor holds a head before the next
    event (verification reports an empty anchor of a non-empty chain).
    """
    chain = chain_settings(session)
    if chain.anchor_path is None or _anchor_size(chain.anchor_path) > 0:
        return False
    session.flush()  # the caller's pending rows first, in the order the ORM flushed them
    found = session.connection().execute(_HEAD).first()
    head: ChainHead | AuditEvent | None = None if found is None else ChainHead(*found)
    session.rollback()
    if head is None:
        return False
    write_anchor(chain.anchor_path, head.seq, head.hash)
    return True


def _anchor_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _anchor_heads(path: Path, size: int, batch: int) -> Iterator[dict[int, set[str]]]:
    """The heads in the first `size` bytes of the anchor file, a batch of lines at a time."""
    with open(path, encoding="ascii", errors="replace") as file:
        fcntl.flock(file, fcntl.LOCK_SH)
        read = 0
        heads: dict[int, set[str]] = {}
        for line in file:
            read += len(line.encode("ascii", errors="replace"))
            if read > size:
                break
            match = _ANCHOR_LINE.fullmatch(line.strip())
            if match is None:
                log.warning("audit anchor %s: a line that is not `seq hash` skipped", path)
                continue
            heads.setdefault(int(match.group(1)), set()).add(match.group(2))
            if len(heads) >= batch:
                yield heads
                heads = {}
        if heads:
            yield heads


# Verification


@dataclass(frozen=True)
class ChainReport:
    """The verification of the chain: events checked, the first broken link, the head to record.

    `head_seq` and `head_hash` are the chain's last event when verified (0 and the genesis
    hash for an empty chain). `keyed_from_seq` is the switch event, if the chain is keyed;
    `anchored_seq` the highest head in the anchor file, if there is one.
    """

    ok: bool
    events_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    keyed_from_seq: int | None = None
    anchored_seq: int | None = None


def verify_chain(
    session: Session,
    *,
    batch: int = 1000,
    head_seq: int | None = None,
    head_hash: str | None = None,
) -> ChainReport:
    """Walk the chain in order and report the first event whose link or hash is wrong.

    Keyed events must carry the HMAC of the configured key. Then every head in the anchor
    file, and the anchor given by hand (`head_seq` and `head_hash` of an earlier report),
    must still be in the chain with its hash: a cut tail or a recomputed chain is reported.
    """
    if (head_seq is None) != (head_hash is None):
        raise InvalidInput([("query.head_hash", "give head_seq and head_hash together")])
    if head_hash is not None and not re.fullmatch(HASH_PATTERN, head_hash):
        raise InvalidInput(
            [("query.head_hash", "must be sha256: or hmac-sha256: and 64 lowercase hex digits")]
        )
    chain = chain_settings(session)
    # The anchor's lines as of now, read before the database: each was written after its
    # event committed, so a snapshot taken after this sees every event they name.
    anchor_size = _anchor_size(chain.anchor_path) if chain.anchor_path is not None else 0
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.rollback()  # a fresh snapshot (SQLite keeps the one of the first read)
    # The head as of now; events appended while we walk are the next verification's.
    session.flush()  # the caller's pending rows first, in the order the ORM flushed them
    found = session.connection().execute(_HEAD).first()
    head: ChainHead | AuditEvent | None = None if found is None else ChainHead(*found)
    last = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    report = _walk(session, chain, batch=batch, up_to=last[0])
    if report.ok and chain.anchor_path is not None:
        report = _check_anchor_file(session, report, chain.anchor_path, anchor_size, batch, last)
    if report.ok and head_seq is not None:
        by_hand = {head_seq: {head_hash or ""}}
        report = _check_heads(session, report, by_hand, last[0], "the anchor given")
    return replace(report, head_seq=last[0], head_hash=last[1])


def _walk(session: Session, chain: ChainSettings, *, batch: int, up_to: int) -> ChainReport:
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    keyed_from: int | None = None
    while True:
        events = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.seq) > last_seq, col(AuditEvent.seq) <= up_to)
            .order_by(col(AuditEvent.seq))
            .limit(batch)
        ).all()
        if not events:
            return ChainReport(ok=True, events_checked=checked, keyed_from_seq=keyed_from)
        for event in events:
            checked += 1
            if event.seq != expected_seq:
                return _broken(checked, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != expected_prev:
                return _broken(checked, event.seq, "prev_hash does not match the previous event")
            keyed = event.hash.startswith(KEYED_PREFIX)
            if keyed and keyed_from is None:
                refused = _switch_refused(event, chain)
                if refused is not None:
                    return _broken(checked, event.seq, refused)
                keyed_from = event.seq
            elif keyed_from is not None and not keyed:
                return _broken(
                    checked,
                    event.seq,
                    f"an unkeyed hash after the chain was keyed at event {keyed_from}: "
                    "the chain was recomputed without the key",
                )
            if event.hash != event_hash(event, chain.key if keyed else None):
                return _broken(checked, event.seq, "hash does not match the event's content")
            expected_prev = event.hash
            expected_seq += 1
            last_seq = event.seq


def _switch_refused(event: AuditEvent, chain: ChainSettings) -> str | None:
    """Why the first keyed event cannot start the keyed chain, or None if it can."""
    if event.action != KEYED_ACTION:
        return f"the first keyed event is not the switch ({KEYED_ACTION})"
    if chain.key is None:
        return (
            f"the chain is keyed from event {event.seq}: verifying it needs "
            "SUPPLYBID_AUDIT_KEY (finance holds it)"
        )
    try:
        key_id = json.loads(event.after or "{}").get("key_id")
    except (ValueError, AttributeError):
        key_id = None
    if key_id != chain.key_id:
        return f"the chain was keyed at event {event.seq} with another key than the one set"
    return None


def _check_anchor_file(
    session: Session,
    report: ChainReport,
    path: Path,
    size: int,
    batch: int,
    last: tuple[int, str],
) -> ChainReport:
    anchored: int | None = None
    for heads in _anchor_heads(path, size, batch) if size > 0 else iter(()):
        anchored = max([*heads, anchored or 0])
        report = _check_heads(session, report, heads, last[0], f"the anchor file {path}")
        if not report.ok:
            return replace(report, anchored_seq=anchored)
    if anchored is None and last[0] > 0:
        return replace(
            _broken(
                report.events_checked,
                last[0],
                f"the anchor file {path} holds no head: it was emptied, or the service "
                "never started with it",
            ),
            keyed_from_seq=report.keyed_from_seq,
        )
    return replace(report, anchored_seq=anchored)


def _check_heads(
    session: Session, report: ChainReport, heads: dict[int, set[str]], last_seq: int, source: str
) -> ChainReport:
    """Every (seq, hash) in `heads` must be in the chain; report the lowest that is not."""
    stored = {
        event.seq: event.hash
        for event in session.exec(select(AuditEvent).where(col(AuditEvent.seq).in_(list(heads))))
    }
    for seq in sorted(heads):
        if seq not in stored:
            first = min(seq, last_seq + 1)
            return replace(
                _broken(
                    report.events_checked,
                    first,
                    f"{source} names event {seq} but the chain ends at event {last_seq}: "
                    "events were removed",
                ),
                keyed_from_seq=report.keyed_from_seq,
            )
        if heads[seq] != {stored[seq]}:
            return replace(
                _broken(
                    report.events_checked,
                    seq,
                    f"event {seq} no longer has the hash {source} holds: "
                    "events up to it were rewritten",
                ),
                keyed_from_seq=report.keyed_from_seq,
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
