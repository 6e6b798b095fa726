"""The web workspace's pages, one module per noun, and the one call that mounts them."""

from fastapi import FastAPI
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles

from api.pages import admin, auth, docs, factory, finance, manager
from api.security_headers import SecurityHeadersMiddleware
from api.web import (
    HERE,
    CsrfRefused,
    PageForbidden,
    SignInRequired,
    api_bidding_error,
    csrf_refused,
    domain_error,
    page_forbidden,
    sign_in_required,
)
from bidding.errors import BiddingError

PAGE_ROUTERS: list[APIRouter] = [
    auth.router,
    docs.router,
    admin.router,
    manager.router,
    finance.router,
    factory.router,
]


def mount_web(app: FastAPI) -> None:
    """Add the workspace to the app: its pages, static files, API docs and security headers.

    Call it after the app's own exception handlers and middleware: its refusal handler
    wraps the app's (pages get a page, the API its problem+json) and its headers
    middleware must be the outermost.
    """
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PageForbidden, page_forbidden)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    previous = app.exception_handlers.get(BiddingError, api_bidding_error)
    app.add_exception_handler(BiddingError, domain_error(previous))
    app.add_middleware(SecurityHeadersMiddleware)
