"""Sign-in, sign-out and the workspace's front door."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.web import (
    HOME,
    LOGIN_CSRF_COOKIE,
    AnyPage,
    MaybeViewer,
    Viewer,
    render,
    safe_next,
)
from bidding import web_sessions
from bidding.errors import NotAuthenticated
from bidding.web_sessions import SESSION_COOKIE

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    # Behind https (directly or via a proxy that says so) the cookie is Secure.
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


@router.get("/")
def home(viewer: Viewer) -> Response:
    """The workspace: each role starts on its own first page."""
    return RedirectResponse(HOME.get(viewer.principal.role, "/login"), status_code=303)


@router.get("/login")
def login_form(
    request: Request,
    viewer: MaybeViewer,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """A form with one field, the API key; signed in already, straight on."""
    target = safe_next(next)
    if viewer is not None:
        return RedirectResponse(target, status_code=303)
    token = web_sessions.new_token()
    response = render(request, "login.html", None, {"next": target, "login_csrf": token})
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    time_zone: Annotated[str, Form(max_length=64)] = "UTC",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Sign in with an API key: a server-side session, its id in an HttpOnly cookie."""
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not web_sessions.same_token(cookie, csrf_token):
        return _login_refused(request, target, "The form expired: try again.")
    try:
        made = web_sessions.sign_in(session=session, secret=api_key, time_zone=time_zone)
    except NotAuthenticated:
        return _login_refused(request, target, "Unknown or revoked API key.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        made.session_id,
        max_age=int(web_sessions.IDLE_LIMIT.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _login_refused(request: Request, target: str, message: str) -> Response:
    token = web_sessions.new_token()
    response = render(
        request,
        "login.html",
        None,
        {"next": target, "login_csrf": token, "error": message},
        status_code=401,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, viewer: AnyPage) -> Response:
    """Sign out (with the CSRF token): the session row is deleted and the cookie cleared."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        web_sessions.end_session(session=session, session_id=session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
