"""Pages of a listing: the rows of one page and how many there are in all.

The command line prints a listing whole (``limit`` None); the HTTP routes call the same workflow function
with an offset and a limit of at most :data:`MAX_PAGE`, so no answer grows with the database (a queue of
thousands of strips, years of claims), and tell the total (``X-Total-Count``) and the next page (``Link``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

#: The most rows one page of any listing carries.
MAX_PAGE = 500
T = TypeVar("T")
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


class Rows(list[T]):
    """The rows of one page (a plain list to its callers) and ``total``, the number of rows in all.

    ``total`` defaults to the rows given: copies made the way ``dataclasses.asdict`` and ``copy`` make them
    (the class called with the items alone) must work, since views holding a listing are turned into JSON
    that way (``claims show`` failed with a TypeError when its denial items became a page)."""

    def __init__(self, items: Iterable[T], total: int | None = None) -> None:
        super().__init__(items)
        self.total = len(self) if total is None else total


def paged(session: Session, query: Q, offset: int, limit: int | None) -> tuple[Q, int]:
    """``query`` cut to the page (``limit`` None: every row from ``offset``; else at most
    :data:`MAX_PAGE`), and the number of rows the whole query selects. The query must be in a stable
    order (ending with an id), or pages would overlap."""
    total = int(session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    if offset > 0:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(max(1, min(limit, MAX_PAGE)))
    return query, total
