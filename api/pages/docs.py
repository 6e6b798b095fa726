"""/docs and /redoc from the app's own files: they work offline and under the page CSP."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.web import templates

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, started by a static script on /openapi.json."""
    response = templates.TemplateResponse(
        request, "docs.html", {"kind": "swagger", "title": "API", "openapi_url": "/openapi.json"}
    )
    assert isinstance(response, HTMLResponse)
    return response


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, started by a static script on /openapi.json."""
    response = templates.TemplateResponse(
        request, "docs.html", {"kind": "redoc", "title": "ReDoc", "openapi_url": "/openapi.json"}
    )
    assert isinstance(response, HTMLResponse)
    return response
