"""API keys: made once and shown once, stored as sha256 only, revoked by an admin."""

import hashlib
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding.changes import record_change
from bidding.db import use_case
from bidding.errors import ApiKeyNotFound, FactoryNotFound, InvalidInput, NotAuthenticated
from bidding.models import ApiKey, Factory, Role, utcnow
from bidding.principal import Principal
from bidding.values import new_id

KEY_PREFIX = "sbk_"


def hash_key(key: str) -> str:
    """sha256 of a key: keys are 256-bit random, so a plain hash is safe to store."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the secret, which is never shown again."""

    row: ApiKey
    secret: str


@use_case
def create_key(
    *,
    session: Session,
    actor: Principal,
    role: Role,
    factory_id: str | None = None,
    name: str = "",
) -> NewKey:
    """Make an API key for a role (a factory key is bound to one factory)."""
    if role == Role.system:
        raise InvalidInput([("body.role", "system is not a key's role")])
    if role == Role.factory and factory_id is None:
        raise InvalidInput([("body.factory", "a factory key needs its factory")])
    if role != Role.factory and factory_id is not None:
        raise InvalidInput([("body.factory", "only a factory key is bound to a factory")])
    if factory_id is not None and session.get(Factory, factory_id) is None:
        raise FactoryNotFound(f"no factory {factory_id!r}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"),
        name=name,
        role=role,
        factory_id=factory_id,
        key_hash=hash_key(secret),
        prefix=secret[: len(KEY_PREFIX) + 6],
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="api_key.create",
        entity_id=row.id,
        after={"role": str(role), "factory": factory_id, "name": name, "prefix": row.prefix},
    )
    session.commit()
    return NewKey(row=row, secret=secret)


def authenticate(*, session: Session, secret: str | None) -> Principal:
    """The principal behind a bearer key; 401 for none, an unknown or a revoked key."""
    if not secret:
        raise NotAuthenticated("send Authorization: Bearer <api key>")
    row = find_active_key(session=session, secret=secret)
    if row is None:
        raise NotAuthenticated("unknown or revoked API key")
    return Principal(key_id=row.id, role=Role(row.role), factory_id=row.factory_id)


_ACTIVE_KEYS = select(ApiKey.key_hash, ApiKey.id, ApiKey.role, ApiKey.factory_id).where(
    col(ApiKey.key_hash).in_(bindparam("key_hashes", expanding=True)),
    col(ApiKey.revoked_at).is_(None),
)


def active_principals(engine: Engine, key_hashes: Sequence[str]) -> dict[str, Principal]:
    """The principals of the unrevoked keys among these hashes, by hash: one indexed read
    on a connection of its own, no ORM session. The admission step asks for every key
    that arrived while its previous lookups ran at once, so a crowd of new keys is a few
    queries, not one each."""
    with engine.connect() as connection:
        rows = connection.execute(_ACTIVE_KEYS, {"key_hashes": list(key_hashes)}).all()
    return {
        row.key_hash: Principal(key_id=row.id, role=Role(row.role), factory_id=row.factory_id)
        for row in rows
    }


_revocations = itertools.count(1)
_revoked_upto = 0


def revocations() -> int:
    """How many key revocations this process has committed: a cache of looked-up keys
    forgets what it holds when this moves (revocations made elsewhere: its TTL)."""
    return _revoked_upto


def _count_revocation(_session: Session) -> None:
    global _revoked_upto
    _revoked_upto = next(_revocations)


def find_active_key(*, session: Session, secret: str) -> ApiKey | None:
    """The unrevoked key with this secret, if any."""
    return session.exec(
        select(ApiKey).where(ApiKey.key_hash == hash_key(secret), col(ApiKey.revoked_at).is_(None))
    ).first()


def list_keys(*, session: Session, after: str | None, limit: int) -> list[ApiKey]:
    """Keys in id order (revoked ones too, marked), after the cursor."""
    query = select(ApiKey).order_by(col(ApiKey.id)).limit(limit)
    if after is not None:
        query = query.where(col(ApiKey.id) > after)
    return list(session.exec(query).all())


def get_key(*, session: Session, key_id: str) -> ApiKey:
    """One key by id."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyNotFound(f"no API key {key_id!r}")
    return row


@use_case
def revoke_key(*, session: Session, actor: Principal, key_id: str) -> ApiKey:
    """Revoke a key: it answers 401 from now on. Revoking twice changes nothing."""
    row = get_key(session=session, key_id=key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        record_change(
            session,
            actor=actor,
            action="api_key.revoke",
            entity_id=row.id,
            before={"revoked": False},
            after={"revoked": True},
        )
        event.listen(session, "after_commit", _count_revocation, once=True)
        session.commit()
    return row
