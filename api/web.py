"""The web workspace's base: templates, the signed-in browser, CSRF, refusals as pages.

Pages are served by the same app as the API and call the same domain functions. A page
handler parses, authorises (by role, here on the server), calls `bidding`, and renders.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from api.deps import SessionDep
from api.problems import bidding_error_response
from bidding import web_sessions
from bidding.errors import BiddingError, InvalidInput, PublicationRefused
from bidding.models import Role, as_utc
from bidding.web_sessions import SESSION_COOKIE, SignedIn

HERE = Path(__file__).parent
LOGIN_CSRF_COOKIE = "sb_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

templates = Jinja2Blocks(directory=str(HERE / "templates"))

NAVIGATION: dict[Role, list[tuple[str, str]]] = {
    Role.manager: [("/rounds", "Rounds"), ("/rounds/new", "New round"), ("/admin/items", "Items")],
    Role.finance: [
        ("/finance", "Rounds"),
        ("/finance/margins", "Margin audit"),
        ("/finance/takeover", "Takeover"),
        ("/finance/replay", "Replay"),
        ("/finance/audit", "Audit log"),
    ],
    Role.admin: [
        ("/admin/factories", "Factories"),
        ("/admin/items", "Items"),
        ("/admin/keys", "API keys"),
        ("/finance/audit", "Audit log"),
    ],
    Role.factory: [("/factory", "My rounds")],
}
"""The menu of each role: only pages that role may open."""

HOME: dict[Role, str] = {
    Role.manager: "/rounds",
    Role.finance: "/finance",
    Role.admin: "/admin/factories",
    Role.factory: "/factory",
}


class SignInRequired(Exception):  # noqa: N818 - a refusal, answered by a redirect
    """No live session: the browser is sent to /login, to come back here."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageForbidden(Exception):  # noqa: N818 - a refusal, answered by a 403 page
    """A signed-in viewer whose role may not open this page."""

    def __init__(self, signed_in: SignedIn, roles: frozenset[Role]) -> None:
        super().__init__(signed_in.principal.role)
        self.signed_in = signed_in
        self.roles = roles


class CsrfRefused(Exception):  # noqa: N818 - a refusal, answered by a 403 page
    """A change without the session's CSRF token."""


def safe_next(target: str | None) -> str:
    """`?next=` only as a path of this app: never another host, scheme or `//host`."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def current_viewer(request: Request, session: SessionDep) -> SignedIn | None:
    """The session behind the cookie, or None when signed out (or expired, or revoked)."""
    cached: SignedIn | None = getattr(request.state, "signed_in", None)
    if cached is not None:
        return cached
    found = web_sessions.resume(session=session, session_id=request.cookies.get(SESSION_COOKIE))
    request.state.signed_in = found
    return found


MaybeViewer = Annotated[SignedIn | None, Depends(current_viewer)]


def signed_in(request: Request, viewer: MaybeViewer) -> SignedIn:
    """The signed-in viewer; a signed-out browser is sent to /login?next=<this page>."""
    if viewer is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise SignInRequired(path if request.method == "GET" else "/")
    return viewer


Viewer = Annotated[SignedIn, Depends(signed_in)]


def page_for(*roles: Role) -> Callable[..., Any]:
    """A dependency letting only these roles open the page; changes must carry the CSRF token."""
    allowed = frozenset(roles)

    async def check(request: Request, viewer: Viewer) -> SignedIn:
        if viewer.principal.role not in allowed:
            raise PageForbidden(viewer, allowed)
        if request.method not in ("GET", "HEAD"):
            token = request.headers.get(CSRF_HEADER)
            if token is None:
                form = await request.form()
                value = form.get(CSRF_FIELD)
                token = value if isinstance(value, str) else None
            if not web_sessions.check_csrf(viewer, token):
                raise CsrfRefused()
        return viewer

    return check


ManagerPage = Annotated[SignedIn, Depends(page_for(Role.manager))]
FinancePage = Annotated[SignedIn, Depends(page_for(Role.finance))]
AdminPage = Annotated[SignedIn, Depends(page_for(Role.admin))]
FactoryPage = Annotated[SignedIn, Depends(page_for(Role.factory))]
CatalogPage = Annotated[SignedIn, Depends(page_for(Role.admin, Role.manager))]
AuditPage = Annotated[SignedIn, Depends(page_for(Role.finance, Role.admin))]
AnyPage = Annotated[
    SignedIn, Depends(page_for(Role.admin, Role.manager, Role.finance, Role.factory))
]
SettlementPage = Annotated[SignedIn, Depends(page_for(Role.manager, Role.finance))]


def is_htmx(request: Request) -> bool:
    """Whether htmx made the request (then a fragment, or a redirect header, answers)."""
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    name: str,
    viewer: SignedIn | None,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    """A page (or, with `block`, one block of it for htmx) with the layout's context."""
    full: dict[str, Any] = {
        "viewer": viewer,
        "nav": NAVIGATION.get(viewer.principal.role, []) if viewer else [],
        "csrf_token": viewer.csrf_token if viewer else "",
        "tz": viewer.time_zone if viewer else "UTC",
        **(context or {}),
    }
    response = templates.TemplateResponse(
        request, name, full, status_code=status_code, block_name=block
    )
    assert isinstance(response, HTMLResponse)
    return response


def go_to(request: Request, path: str) -> Response:
    """After a change: htmx follows HX-Redirect; a plain form a 303 (post/redirect/get)."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


# ---- formatting, used by the templates ----


def when(moment: datetime | str | None, zone: str) -> str:
    """A time in the viewer's zone, with the zone named: 2026-12-05 10:40 CET (Europe/Paris)."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = as_utc(moment).astimezone(ZoneInfo(zone))
    abbreviation = local.tzname() or zone
    named = abbreviation if abbreviation == zone else f"{abbreviation} ({zone})"
    return f"{local:%Y-%m-%d %H:%M} {named}"


def iso(moment: datetime | None) -> str:
    """A time as ISO 8601 in UTC, for a machine to read (a `<time>`, the countdown)."""
    return "" if moment is None else as_utc(moment).isoformat()


def local_input(moment: datetime | None, zone: str) -> str:
    """A time as a `datetime-local` field's value in the viewer's zone (to the minute)."""
    if moment is None:
        return ""
    return f"{as_utc(moment).astimezone(ZoneInfo(zone)):%Y-%m-%dT%H:%M}"


def money(value: Decimal | str | None) -> str:
    """Money with thousands separators and 2 decimals; a dash for none; "pending" as is (a
    threshold a job after publication works out)."""
    if value is None:
        return "—"
    if value == "pending":
        return "pending"
    return f"{Decimal(value):,.2f}"


def percent(value: Decimal | float | None, places: int = 1) -> str:
    """A fraction as a percentage."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:.{places}f}%"


def figure_json(figure: go.Figure) -> Markup:
    """A plotly figure as JSON safe inside <script type="application/json"> (no `</script>`)."""
    text = figure.to_json(engine="json")
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


templates.env.filters["when"] = when
templates.env.filters["money"] = money
templates.env.filters["iso"] = iso
templates.env.filters["local_input"] = local_input
templates.env.filters["percent"] = percent
templates.env.filters["figure_json"] = figure_json
templates.env.globals["quote"] = quote


# ---- refusals as pages ----


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/v1/") or path == "/healthz" or path == "/openapi.json")


async def sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = "/login?next=" + quote(exc.next_path, safe="/")
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def page_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    names = ", ".join(sorted(exc.roles))
    return render(
        request,
        "refused.html",
        exc.signed_in,
        {
            "title": "Not for your role",
            "detail": f"This page is for the role {names}; you are signed in as "
            f"{exc.signed_in.principal.role}.",
        },
        status_code=403,
    )


async def csrf_refused(request: Request, exc: Exception) -> Response:
    viewer = getattr(request.state, "signed_in", None)
    return render(
        request,
        "refused.html",
        viewer,
        {"title": "Form expired", "detail": "Reload the page and try again (CSRF token)."},
        status_code=403,
    )


def error_page(request: Request, exc: BiddingError) -> HTMLResponse:
    """A domain refusal on a page: its title, detail and the fields it names."""
    viewer = getattr(request.state, "signed_in", None)
    fields = exc.errors if isinstance(exc, InvalidInput) else []
    findings = exc.findings if isinstance(exc, PublicationRefused) else []
    return render(
        request,
        "refused.html",
        viewer,
        {
            "title": exc.title,
            "detail": exc.detail,
            "fields": fields,
            "findings": findings,
            "code": exc.code,
        },
        status_code=exc.status,
        block="content" if is_htmx(request) else None,
    )


def domain_error(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The app's refusal handler, answering pages with a page and the API as before."""

    async def dispatch(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BiddingError)
        if _is_page(request):
            return error_page(request, exc)
        response: JSONResponse = await handler(request, exc)
        return response

    return dispatch


async def api_bidding_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BiddingError)
    return bidding_error_response(exc)


def validated[M: BaseModel](model: type[M], data: Mapping[str, Any]) -> M:
    """A form's fields through the API's own body schema: the same rules, a 422 page if broken."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        errors = [
            (".".join(str(p) for p in e["loc"]) or "form", str(e["msg"])) for e in exc.errors()
        ]
        raise InvalidInput(errors) from None


def whole(value: str) -> int | str:
    """A form's whole number as an int (the API's unit fields take JSON integers only)."""
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else text


def local_time(value: str, zone: str) -> str:
    """A form's `datetime-local` value (no zone) read in the viewer's zone, as ISO 8601 with
    its offset, for the API's body schema to check; any other text is passed on as it is,
    so the schema names the field."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.isoformat()


def blank_to_none(value: str | None) -> str | None:
    """An empty form field means not given."""
    return value.strip() if value and value.strip() else None
