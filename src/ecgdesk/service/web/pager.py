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


def pager(
    path: str, params: Mapping[str, str | int], key: str, offset: int, shown: int, total: int, size: int
) -> Pager:
    """The pager of the list whose offset is the query parameter ``key``; ``params`` are the page's other
    parameters (filters, other lists' offsets), kept in both links (empty ones and zero offsets left out)."""

    def link(at: int) -> str:
        kept = {k: v for k, v in params.items() if k != key and v not in ("", 0)}
        if at > 0:
            kept[key] = at
        return path + ("?" + urlencode(kept) if kept else "")

    return Pager(
        offset + 1 if shown else 0,
        offset + shown,
        total,
        link(max(0, offset - size)) if offset > 0 else "",
        link(offset + size) if offset + size < total else "",
    )
