"""Browser sign-ins: a server-side session per sign-in, acting as the API key it began with.

The cookie carries a random id; the table keeps only its sha256, so a reader of the
database cannot take over a session. A session ends at sign-out, after 8 idle hours, or
as soon as its key is revoked (the lookup checks the key every time).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete
from sqlmodel import Session, col, select

from bidding import keys
from bidding.db import use_case
from bidding.errors import NotAuthenticated
from bidding.models import ApiKey, Role, WebSession, as_utc, utcnow
from bidding.principal import Principal

IDLE_LIMIT = timedelta(hours=8)
"""A session not used for this long is over (API.md: 8 hours idle)."""
TOUCH_EVERY = timedelta(minutes=1)
"""last_seen_at is written at most this often, so reading pages does not write each time."""


SESSION_COOKIE = "sb_session"
"""The cookie that carries a session id (never the key); the rate limiter keys on it too."""


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def valid_time_zone(name: str | None) -> str:
    """The IANA zone the browser named, or UTC for none or an unknown name."""
    if not name or len(name) > 64 or name not in available_timezones():
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


@dataclass(frozen=True)
class SignedIn:
    """A live session: who it acts as, its CSRF token and the viewer's time zone."""

    principal: Principal
    key_name: str
    csrf_token: str
    time_zone: str


@dataclass(frozen=True)
class NewSession:
    """A session just begun: the id for the cookie (shown once, stored hashed) and the rest."""

    session_id: str
    signed_in: SignedIn


@use_case
def sign_in(*, session: Session, secret: str, time_zone: str | None = None) -> NewSession:
    """Begin a session with an API key (401 for an unknown or revoked key)."""
    row = keys.find_active_key(session=session, secret=secret.strip())
    if row is None or Role(row.role) == Role.system:
        raise NotAuthenticated("unknown or revoked API key")
    session_id = secrets.token_urlsafe(32)
    web = WebSession(
        id_hash=_hash(session_id),
        api_key_id=row.id,
        csrf_token=secrets.token_urlsafe(32),
        time_zone=valid_time_zone(time_zone),
    )
    session.add(web)
    session.commit()
    return NewSession(session_id=session_id, signed_in=_signed_in(row, web))


def _signed_in(key: ApiKey, web: WebSession) -> SignedIn:
    return SignedIn(
        principal=Principal(key_id=key.id, role=Role(key.role), factory_id=key.factory_id),
        key_name=key.name,
        csrf_token=web.csrf_token,
        time_zone=web.time_zone,
    )


def resume(*, session: Session, session_id: str | None) -> SignedIn | None:
    """The live session behind a cookie's id, or None (unknown, idle too long, key revoked)."""
    if not session_id or len(session_id) > 100:
        return None
    found = session.exec(
        select(WebSession, ApiKey)
        .join(ApiKey, col(ApiKey.id) == col(WebSession.api_key_id))
        .where(WebSession.id_hash == _hash(session_id))
    ).first()
    if found is None:
        return None
    web, key = found
    now = utcnow()
    if key.revoked_at is not None or now - as_utc(web.last_seen_at) > IDLE_LIMIT:
        end_session(session=session, session_id=session_id)
        return None
    if now - as_utc(web.last_seen_at) > TOUCH_EVERY:
        _touch(session=session, id_hash=web.id_hash)
    return _signed_in(key, web)


def is_live(*, session: Session, session_id: str) -> bool:
    """Whether a cookie's id names a live session (its key unrevoked, not idle too long).

    Read only, for the rate limiter: it neither touches nor ends the session (`resume`,
    which the pages call, does that).
    """
    if not session_id or len(session_id) > 100:
        return False
    found = session.exec(
        select(WebSession.last_seen_at)
        .join(ApiKey, col(ApiKey.id) == col(WebSession.api_key_id))
        .where(WebSession.id_hash == _hash(session_id), col(ApiKey.revoked_at).is_(None))
    ).first()
    return found is not None and utcnow() - as_utc(found) <= IDLE_LIMIT


@use_case
def _touch(*, session: Session, id_hash: str) -> None:
    web = session.get(WebSession, id_hash)
    if web is not None:
        web.last_seen_at = utcnow()
        session.add(web)
        session.commit()


@use_case
def end_session(*, session: Session, session_id: str) -> None:
    """Sign out: the session's row is gone, so its cookie opens nothing any more."""
    session.execute(delete(WebSession).where(col(WebSession.id_hash) == _hash(session_id)))
    session.commit()


@use_case
def end_sessions_of_key(*, session: Session, key_id: str) -> int:
    """End every session of a key (when it is revoked); how many there were."""
    result = session.execute(delete(WebSession).where(col(WebSession.api_key_id) == key_id))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


@use_case
def end_idle_sessions(*, session: Session) -> int:
    """Remove sessions idle past the limit; how many."""
    cutoff = utcnow() - IDLE_LIMIT
    result = session.execute(delete(WebSession).where(col(WebSession.last_seen_at) < cutoff))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def new_token() -> str:
    """A random token (the sign-in form's CSRF token, before there is a session)."""
    return secrets.token_urlsafe(32)


def same_token(expected: str, given: str | None) -> bool:
    """Whether two tokens match, compared in constant time."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def check_csrf(signed_in: SignedIn, token: str | None) -> bool:
    """Whether a change carries the session's CSRF token (compared in constant time)."""
    return same_token(signed_in.csrf_token, token)
