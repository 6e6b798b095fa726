"""Idempotency-Key records: a replayed creating POST gets the first response back.

A key is scoped to the API key, method and path. The first request claims the key
in its own short transaction (a unique constraint settles two racing claims), runs,
and stores its response if it succeeded, or frees the key if not; a retry with the same
body replays a stored success, one with another body is refused, and one that arrives
while the first runs gets a 409.
"""

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from bidding.db import carried_by_next_commit, use_case
from bidding.errors import IdempotencyInFlight, IdempotencyKeyReused
from bidding.models import IdempotencyRecord, as_utc, utcnow
from bidding.settings import get_settings


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a key, to replay as it was."""

    status_code: int
    content_type: str
    body: str


def body_hash(body: bytes) -> str:
    """sha256 of bytes: of the body itself, or of its canonical spelling (the API's choice)."""
    return hashlib.sha256(body).hexdigest()


def _scope(api_key_id: str, method: str, path: str, key: str) -> tuple[bool, ...]:
    return (
        IdempotencyRecord.api_key_id == api_key_id,
        IdempotencyRecord.method == method,
        IdempotencyRecord.path == path,
        IdempotencyRecord.key == key,
    )


CLAIM_ATTEMPTS = 3
"""Tries at claiming a key that other requests keep taking and freeing (then a 409)."""


@use_case
def claim(
    *, session: Session, api_key_id: str, method: str, path: str, key: str, request_hash: str
) -> StoredResponse | None:
    """Claim a key for this request: None to go ahead, or the first response to replay.

    Its commits are carried to disk by the request's own write (`carried_by_next_commit`):
    one disk flush fewer per idempotent request, and a claim lost in a power cut only
    lets a retry run as the first request, which is what a claim freed by failure does.
    """
    with carried_by_next_commit():
        return _claim(session, api_key_id, method, path, key, request_hash)


def _claim(
    session: Session, api_key_id: str, method: str, path: str, key: str, request_hash: str
) -> StoredResponse | None:
    settings = get_settings()
    now = utcnow()
    session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.expires_at) < now))
    existing = None
    for _ in range(CLAIM_ATTEMPTS):
        session.add(
            IdempotencyRecord(
                api_key_id=api_key_id,
                method=method,
                path=path,
                key=key,
                request_hash=request_hash,
                expires_at=now + timedelta(hours=settings.idempotency_ttl_hours),
            )
        )
        try:
            session.commit()
            return None
        except IntegrityError:
            session.rollback()
        existing = session.exec(
            select(IdempotencyRecord).where(*_scope(api_key_id, method, path, key))
        ).first()
        if existing is not None:
            break
        # The holder failed and freed the key between our insert and this read: claim again.
    if existing is None:
        raise IdempotencyInFlight()
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with another request body")
    if existing.status_code is None:
        stale = as_utc(existing.created_at) + timedelta(seconds=settings.idempotency_stale_after_s)
        if stale > now:
            raise IdempotencyInFlight()
        existing.created_at = now  # the first attempt died; this one takes over
        session.add(existing)
        session.commit()
        return None
    return StoredResponse(
        status_code=existing.status_code,
        content_type=existing.content_type or "application/json",
        body=existing.response_body or "",
    )


@use_case
def complete(
    *,
    session: Session,
    api_key_id: str,
    method: str,
    path: str,
    key: str,
    response: StoredResponse | None,
) -> None:
    """Store the response to replay; with None (not a success), free the key for a retry."""
    record = session.exec(
        select(IdempotencyRecord).where(*_scope(api_key_id, method, path, key))
    ).first()
    if record is None:
        return
    if response is None:
        session.delete(record)
    else:
        record.status_code = response.status_code
        record.content_type = response.content_type
        record.response_body = response.body
        session.add(record)
    session.commit()
