"""A job waiting for its retry time, as people see it: ``jobs list`` / ``jobs show``, the study (``study
show``, and the study's ``jobs`` in the API's study view) say "retry after HH:MM:SS UTC (attempt k of n):
reason"; ``jobs retry`` runs it now."""

from __future__ import annotations

import json
import re

import pytest
from workflow_builders import PIN, request

from ecgdesk.cli.main import main
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.settings import Backoff
from ecgdesk.store import Store
from ecgdesk.workflow.studies import create_study
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

ERROR = "OperationalError: server closed the connection unexpectedly"


def test_a_job_waiting_for_its_retry_is_shown_and_retried_now(
    store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    study_id = create_study(store, request(patient_id="P7"), "tech")
    with store.transaction() as session:
        job_id = queue.enqueue(session, JobSpec("analysis.study", {"study_id": study_id}, "s7", "v1",
                                                study_id=study_id), "tech")[0].id
        (claim,) = queue.claim(session, "w", ["analysis.study"], 1, backoff=Backoff(600, 600, 0))
        queue.fail(session, claim, ERROR, permanent=False)  # a database blip: queued, waiting 10 min
        when = queue.aware(queue.get_job(session, job_id).not_before)
    assert when is not None
    wait = f"retry after {when:%H:%M:%S} UTC (attempt 2 of 3): {ERROR}"

    (shown,) = show_study(store, study_id).jobs  # what GET /api/v1/studies/{id} answers
    assert (shown.status, shown.retry_wait, shown.not_before) == ("queued", wait, when)
    assert json.loads(show_study(store, study_id).model_dump_json())["jobs"][0]["retry_wait"] == wait

    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    monkeypatch.setenv("ECGDESK_HOME", str(store.home))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    for name in ("ECGDESK_USER", "ECGDESK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    assert main(["jobs", "list", "--user", "tech"]) == 0
    line = capsys.readouterr().out
    assert re.search(rf"{job_id}\s+analysis.study\s+queued .*  {re.escape(wait)}$", line, re.M), line
    assert main(["jobs", "show", str(job_id), "--user", "tech"]) == 0
    assert wait in capsys.readouterr().out
    assert main(["jobs", "list", "--json", "--user", "tech"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["retry_wait"], listed["not_before"]) == (wait, when.isoformat())
    assert main(["study", "show", str(study_id), "--user", "tech"]) == 0
    assert f"job         {job_id} analysis.study queued (attempt 1 of 3): {wait}" in capsys.readouterr().out

    assert main(["jobs", "retry", str(job_id), "--user", "tech"]) == 0  # the operator: run it now
    out = capsys.readouterr().out
    assert "queued" in out and "retry after" not in out
    with store.transaction() as session:
        (claim,) = queue.claim(session, "w", ["analysis.study"], 1, backoff=Backoff(600, 600, 0))
    assert (claim.job_id, claim.attempts) == (job_id, 2)
