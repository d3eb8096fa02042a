"""``ecgdesk jobs list`` on a busy queue (a day's uploads, analyses and renders: hundreds of jobs), on both
backends: a page at a time, saying how many there are and how to see the next, and a limit or offset it
cannot take refused naming the field (exit 2)."""

from __future__ import annotations

import pytest
from test_workflow_jobs import with_users

from ecgdesk.cli.main import main
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.store import Store


def test_jobs_list_pages_a_long_queue_and_refuses_a_bad_limit(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, 120 jobs listed the newest 50 with no word of the other 70 and no way to reach them but a
    bigger --limit; --limit 0 said "no jobs"; --limit -1 listed every job on SQLite and was a database
    error on PostgreSQL."""
    with store.transaction() as session:
        for n in range(120):
            spec = JobSpec("analysis.file", {"n": n}, queue.input_hash({"n": n}), "t-1")
            queue.enqueue(session, spec, "tech")
    with_users(store, monkeypatch)
    assert main(["jobs", "list", "--user", "tech"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if "analysis.file" in line]) == 50
    assert out[-1] == "jobs 1-50 of 120, newest first; --offset 50 for the next 50", out[-1]
    assert main(["jobs", "list", "--offset", "100", "--user", "tech"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if "analysis.file" in line]) == 20
    assert out[-1] == "jobs 101-120 of 120, newest first", out[-1]
    assert main(["jobs", "list", "--offset", "500", "--user", "tech"]) == 0
    assert capsys.readouterr().out.strip() == "no jobs at offset 500: there are 120"
    for bad, field in (("--limit=0", "limit"), ("--limit=-1", "limit"), ("--limit=1001", "limit"),
                       ("--offset=-1", "offset")):
        assert main(["jobs", "list", bad, "--user", "tech"]) == 2, bad
        assert f"field '{field}'" in capsys.readouterr().err, bad
