"""Paging of the workstation's server-rendered lists (the audit page's way: an offset in the query, a fixed
page size, previous/next links that keep the page's other parameters), so no page grows with the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

#: The offset of a page in a list (a query parameter of the page).
PageOffset = Annotated[int, Query(ge=0, le=2**31 - 1)]


@dataclass(frozen=True)
class Pager:
    """Where one page of a list stands: rows ``first``-``last`` of ``total``, and the links around it."""

    first: int
    last: int
    total: int
    prev_url: str
    next_url: str


def page_url(path: str, params: Mapping[str, str | int], key: str, at: int) -> str:
    """The link to the page of the list ``key`` starting at ``at``, keeping ``params`` (the page's other
    parameters; empty ones and zero offsets left out)."""
    kept = {k: v for k, v in params.items() if k != key and v not in ("", 0)}
    if at > 0:
        kept[key] = at
    return path + ("?" + urlencode(kept) if kept else "")


def within(offset: int, total: int, size: int) -> int:
    """``offset``, or the start of the list's last page when ``offset`` is past the end of a list that has
    rows (a link kept while rows were closed or removed): an empty page there would read as an empty list.
    An empty list keeps its offset: its empty state is true on any page."""
    if offset < total or total == 0:
        return offset
    return max(0, (total - 1) // size * size)


def pager(
    path: str, params: Mapping[str, str | int], key: str, offset: int, shown: int, total: int, size: int
) -> Pager:
    """The pager of the list whose offset is the query parameter ``key``; ``params`` are the page's other
    parameters (filters, other lists' offsets), kept in both links (empty ones and zero offsets left out)."""
    return Pager(
        offset + 1 if shown else 0,
        offset + shown,
        total,
        page_url(path, params, key, max(0, offset - size)) if offset > 0 else "",
        page_url(path, params, key, offset + size) if offset + size < total else "",
    )
