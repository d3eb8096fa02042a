"""Two and more processes appending to the audit chain at the same moment never break or fork it.

The chain head row exists from the migration on (seq 0), and each append locks it (``SELECT ... FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so even the very first rows, written by several
processes at once on an empty log, come out as one unbroken chain.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from backends import BACKENDS, scratch_url
from ecgdesk.store import append, open_store, verify

WRITERS, ROWS = 4, 25


def _writer(url: str, home: str, name: str, start: object) -> None:
    store = open_store(url=url, home=Path(home))
    start.wait(60)  # type: ignore[attr-defined]  # every writer ready: they all begin at once
    for i in range(ROWS):
        with store.transaction() as session:
            append(session, name, "note", "study", 1, None, {"i": i})
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_parallel_writers_keep_one_chain(tmp_path: Path, backend: str) -> None:
    url = scratch_url(tmp_path, backend)
    open_store(url=url, home=tmp_path / "home").close()  # migrated once, the log still empty
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS + 1)
    writers = [
        context.Process(target=_writer, args=(url, str(tmp_path / "home"), f"w{n}", start))
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    start.wait(60)
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    store = open_store(url=url, home=tmp_path / "home")
    with store.transaction() as session:
        report = verify(session)
    store.close()
    assert report.ok, report.problem
    assert report.rows == WRITERS * ROWS
