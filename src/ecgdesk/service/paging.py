"""Paging of the API's listings: ``offset`` and ``limit`` (at most ``MAX_PAGE``) in the query; the answer is
the page's rows, with the number of rows in all in ``X-Total-Count`` and the next page in ``Link``
(RFC 8288, ``rel="next"``, relative to the request), so a client that reads a JSON array keeps working and
no answer grows with the database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from ecgdesk.workflow.paging import MAX_PAGE, Rows

Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="rows of the listing to skip")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"rows of this page (at most {MAX_PAGE})")]

#: The headers of a page, for the OpenAPI document (``responses=PAGED`` on the route).
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "one page of the listing, in a stable order",
        "headers": {
            "X-Total-Count": {"description": "rows in the whole listing", "schema": {"type": "integer"}},
            "Link": {"description": 'the next page, rel="next" (absent on the last page)',
                     "schema": {"type": "string"}},
        },
    }
}


def page_headers(request: Request, response: Response, rows: Rows[Any], offset: int) -> None:
    """Say how many rows there are in all and where the next page is."""
    response.headers["X-Total-Count"] = str(rows.total)
    following = offset + len(rows)
    if rows and following < rows.total:
        url = request.url.include_query_params(offset=following)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
