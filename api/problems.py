"""application/problem+json responses (RFC 9457): one shape for every refusal."""

from typing import Any

from fastapi.responses import JSONResponse

from bidding.errors import BiddingError, BidSheetInvalid, InvalidInput, PublicationRefused

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem document with a stable `code` and, for a 422, every field at fault."""
    body: dict[str, Any] = {
        "type": f"urn:supplybid:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def bidding_error_response(exc: BiddingError) -> JSONResponse:
    """The response for a domain refusal: its status, code and detail."""
    errors: list[dict[str, Any]] | None = None
    if isinstance(exc, InvalidInput):
        errors = [{"field": field, "message": message} for field, message in exc.errors]
    extra: dict[str, Any] = {k: str(v) for k, v in exc.extra.items()}
    if isinstance(exc, BidSheetInvalid):
        for error, (row, cell) in zip(errors or [], exc.places, strict=True):
            error.update({k: v for k, v in (("row", row), ("cell", cell)) if v is not None})
        extra["limits"] = exc.limits
    if isinstance(exc, PublicationRefused):
        extra["findings"] = exc.findings
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=errors,
        headers=exc.headers or None,
        extra=extra,
    )
