"""Long ``IN (...)`` lists cut into batches.

A query that asks for the rows of many ids binds one parameter per id. SQLite before 3.32 refused more
than 999 bound parameters in one statement (``SQLITE_MAX_VARIABLE_NUMBER``; the Python build may link such
a library) and PostgreSQL refuses more than 65,535; a remittance or a posting run may name tens of
thousands of claims. So such lists are sent 500 ids at a time, which leaves room for the query's own
parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

IN_BATCH = 500

T = TypeVar("T")


def in_batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size`` (none for an empty sequence)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
