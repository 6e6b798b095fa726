"""The API's routes, one module per noun; each route parses, authorises and calls bidding."""

from typing import Annotated, Any, Literal

from fastapi import Query, Response

from api.schemas.base import ProblemDetails
from bidding.errors import InvalidInput
from bidding.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Report, View, to_bytes


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the refusals a route may answer (application/problem+json)."""
    return {status: {"model": ProblemDetails} for status in statuses}


COMMON = problems(401, 403, 422)
"""Every authenticated route may answer these: no key, wrong role, invalid input."""


Format = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(
        description="`json` (default), or `csv` or `xlsx`: an attachment of the same figures "
        "with names beside ids (an XLSX has a sheet per view; a CSV one view, see `view`). "
        "Any other value is a 422 naming `format`."
    ),
]
ExportView = Annotated[
    View | None,
    Query(
        description="With `format=csv`: the view the CSV holds (the report's first by "
        "default); with `format=xlsx`: the sheet the workbook opens on. A view the report "
        "does not have, or a view without `format`, is a 422 naming `view`."
    ),
]
EXPORTS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            CSV_MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}
"""The 200 answers of a route with `?format=`: JSON, CSV or XLSX."""


def export(report: Report, fmt: str, view: str | None) -> Response:
    """The report as a CSV or XLSX attachment."""
    content, media_type, filename = to_bytes(report, fmt, view)
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def json_only(view: str | None) -> None:
    """A JSON answer has every view: a `view` asked for with it is a 422 naming it."""
    if view is not None:
        raise InvalidInput(
            [("query.view", "a view picks what a CSV or XLSX export shows: add format=csv|xlsx")]
        )
