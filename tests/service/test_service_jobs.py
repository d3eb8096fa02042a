"""Uploads and re-analysis through jobs: the service only queues them (``jobs = "queue"``) and the upload
follows its jobs; ``ecgdesk serve`` starts a worker that runs them (a real server on loopback)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from service_builders import PIN, POLICY, STUDY, UPLOAD_LIMIT, Api, make_api, upload
from sqlalchemy import select, update

from ecgdesk.jobs import queue
from ecgdesk.jobs.runner import Heartbeat, JobContext
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.jobs import run_chain


@pytest.fixture
def queued_api(store: Store) -> Iterator[Api]:
    yield from make_api(store, ServiceSettings(upload_limit_bytes=UPLOAD_LIMIT, policy=POLICY, jobs="queue"))


def jobs(store: Store) -> list[queue.JobInfo]:
    with store.transaction() as session:
        return queue.list_jobs(session, include_parts=True)


def test_upload_waits_for_a_worker_then_follows_its_jobs(queued_api: Api, tiny_files: list[Path]) -> None:
    api = queued_api
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    (job,) = jobs(api.store)
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert (job.kind, job.status) == ("upload.import", "queued")  # nobody ran it: the service only queues
    assert view["upload"]["state"] == "received" and f"job {job.id}" in view["upload"]["message"]
    assert run_chain(api.store, job.id).status == "done"  # a worker: the import, then the analysis
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["upload"]["state"] == "done" and view["status"] == "analyzed", view["upload"]
    assert [j["kind"] for j in view["jobs"]] == ["analysis.study", "upload.import"]  # newest first
    # re-analysis is queued as the same job, run again; cancelled before a worker takes it
    assert api.client.post(f"/api/v1/studies/{study_id}/analysis", headers=headers).status_code == 202
    analysis = next(j for j in jobs(api.store) if j.kind == "analysis.study")
    assert analysis.status == "queued"
    page = api.client.get(f"/studies/{study_id}").text  # the study page's cancel, for who may manage jobs
    assert f'class="btn small job-cancel" data-job="{analysis.id}"' in page
    cancel = f"/api/v1/studies/{study_id}/jobs/{analysis.id}/cancel"
    doctor = api.login("dr.t")
    assert api.client.post(cancel, headers=doctor).status_code == 403  # job:manage: not a physician's
    headers = api.login("tech.t")
    assert api.client.post(f"/api/v1/studies/{study_id + 1}/jobs/{analysis.id}/cancel",
                           headers=headers).status_code == 404  # not a job of that study
    answer = api.client.post(cancel, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
    again = api.client.post(cancel, headers=headers)  # before: no cancel over HTTP at all
    assert again.status_code == 409 and "already cancelled" in again.text, again.text
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["upload"]["state"] == "failed" and "analysis job" in view["upload"]["message"]
    assert view["jobs"][0]["status"] == "cancelled"
    assert 'job-cancel" data-job' not in api.client.get(f"/studies/{study_id}").text  # nothing left to cancel
    with api.store.transaction() as session:
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "job:cancelled"))
        assert (audit.actor, audit.entity_id) == ("tech.t", str(analysis.id))
    # a new analysis may be queued at once (the same job, queued again)
    assert api.client.post(f"/api/v1/studies/{study_id}/analysis", headers=headers).status_code == 202
    assert next(j for j in jobs(api.store) if j.id == analysis.id).status == "queued"
    # the study's jobs paged (its own answer lists the 50 newest only, with no total)
    first = api.client.get(f"/api/v1/studies/{study_id}/jobs", params={"limit": 1})
    assert first.status_code == 200 and first.headers["x-total-count"] == "2", first.text
    assert first.headers["link"] == f'</api/v1/studies/{study_id}/jobs?limit=1&offset=1>; rel="next"'
    last = api.client.get(first.headers["link"][1:].split(">")[0])
    assert [j["kind"] for j in first.json() + last.json()] == ["analysis.study", "upload.import"]
    assert "link" not in last.headers
    assert api.client.get(f"/api/v1/studies/{study_id + 1}/jobs").status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _multipart(files: list[Path]) -> tuple[bytes, str]:
    boundary = "ecgdesk-test-boundary"
    body = b""
    for p in files:
        body += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{p.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + p.read_bytes() + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_serve_starts_a_worker_that_runs_the_upload(store: Store, tiny_files: list[Path]) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("one real server is enough (SQLite)")
    port = _free_port()
    env = {**os.environ, "ECGDESK_HOME": str(store.home),
           "ECGDESK_DATABASE_URL": store.engine.url.render_as_string(hide_password=False)}
    server = subprocess.Popen(
        [sys.executable, "-m", "ecgdesk.cli.main", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(path: str, body: bytes | None = None, kind: str = "application/json", **headers: str) -> object:
        request = urllib.request.Request(base + path, data=body, headers={"Content-Type": kind, **headers})
        with opener.open(request, timeout=180) as answer:  # a loaded CI machine: the first calls import a lot
            return json.loads(answer.read())

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                call("/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        login = call("/api/v1/session", json.dumps({"username": "tech.t", "password": PIN}).encode())
        csrf = {"X-CSRF-Token": login["csrf_token"]}  # type: ignore[index]
        study_id = call("/api/v1/studies", json.dumps(STUDY).encode(), **csrf)["id"]  # type: ignore[index]
        body, kind = _multipart(tiny_files)
        call(f"/api/v1/studies/{study_id}/recording", body, kind, **csrf)
        while (state := call(f"/api/v1/studies/{study_id}")["upload"]["state"]) not in ("done", "failed"):
            assert time.monotonic() < deadline + 120, "the worker did not run the upload"
            time.sleep(0.3)
        assert state == "done"
    finally:
        server.send_signal(signal.SIGTERM)  # uvicorn stops, then serve stops its worker
        try:
            output = server.communicate(timeout=60)[0].decode(errors="replace")
        finally:
            os.killpg(server.pid, signal.SIGKILL) if server.poll() is None else None
    assert "job worker: ecgdesk worker --concurrency 1" in output
    assert "ecgdesk worker: stopped; 2 job runs started" in output, output[-2000:]


def _die_before_done(api: Api, job_id: int, work: Callable[[JobContext], object] | None = None) -> None:
    """Run the job (the upload's by default) as a worker that is killed after its work, as it marks the
    job done."""
    from ecgdesk.workflow.jobs import KINDS
    from ecgdesk.workflow.uploads import run_upload_job

    with api.store.transaction() as session:
        (claim,) = queue.claim(session, "doomed", KINDS, 1, 60.0, job_id=job_id)
    with api.store.transaction() as session:
        queue.begin(session, claim)
    context = JobContext(api.store, claim, Heartbeat(api.store, claim))

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # stands for kill -9: nothing after this point is written

    context.finish_in = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        (work or run_upload_job)(context)
    with api.store.transaction() as session:  # its lease runs out
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=queue.now()))


def test_an_upload_whose_worker_died_before_its_end_imports_once_on_its_next_attempt(
    queued_api: Api, tiny_files: list[Path]
) -> None:
    """The import, the analysis it queues and the job's end are one transaction: a worker killed before
    it committed left nothing (no recording, no analysis job) and the next attempt imports once."""
    api = queued_api
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    (job,) = jobs(api.store)
    _die_before_done(api, job.id)
    assert [j.kind for j in jobs(api.store)] == ["upload.import"]  # no analysis queued
    assert api.client.get(f"/api/v1/studies/{study_id}").json()["status"] == "ordered"
    again = run_chain(api.store, job.id)  # the import's next attempt, once its lease expired
    assert again.status == "done", again.error
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["upload"]["state"] == "done" and view["status"] == "analyzed", view["upload"]
    with api.store.transaction() as session:
        imports = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "study:import",
                                            AuditEntry.entity_id == str(study_id))
        ).all()
        assert len(imports) == 1
        assert not list((api.store.home / "uploads").iterdir())  # the uploaded files are gone


def test_a_service_running_its_jobs_inline_runs_those_left_by_its_restart(
    queued_api: Api, tiny_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service that runs its jobs in its own threads (``create_app``, ``uvicorn --factory``: jobs
    ``inline``) restarted or killed while they ran left them queued or running for ever: it ran only the
    jobs it queued itself, and no worker process runs them. When it starts it runs those left now."""
    monkeypatch.setenv("ECGDESK_JOB_RETRY_BASE_S", "0")  # the dead run's lease: no backoff in this test
    api = queued_api
    headers = api.login("tech.t")
    ids = [api.client.post("/api/v1/studies", json={**STUDY, "patient_id": f"MRN-{i}"},
                           headers=headers).json()["id"] for i in range(2)]
    for study_id in ids:
        assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    running, queued = sorted(jobs(api.store), key=lambda j: j.id)
    _die_before_done(api, running.id)  # the old process died in this import; the other never started
    assert (queued.kind, queued.status) == ("upload.import", "queued")
    for restarted in make_api(api.store, ServiceSettings(upload_limit_bytes=UPLOAD_LIMIT, policy=POLICY)):
        restarted.wait()
        headers = restarted.login("tech.t")
        views = [restarted.client.get(f"/api/v1/studies/{i}", headers=headers).json() for i in ids]
        assert [(v["status"], v["upload"]["state"]) for v in views] == [("analyzed", "done")] * 2, views
    assert {j.kind: j.status for j in jobs(api.store)} == {"upload.import": "done", "analysis.study": "done"}
    attempts = {j.id: j.attempts for j in jobs(api.store)}
    assert (attempts[running.id], attempts[queued.id]) == (2, 1)  # each import ran to its end once


def test_an_edit_of_a_sent_study_renders_its_report_in_a_job(
    queued_api: Api, tiny_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A technician's edit of a study already with the physician rendered its report again inside the
    request (about 4 s for an 8-day study, the page and a server thread held). It queues a ``report.render``
    job now and answers at once with it (the page follows the job in the study's ``jobs``); a worker killed
    before the job's end stored no version, and the next attempt renders it once."""
    from ecgdesk.reports.scanning import RenderedReport
    from ecgdesk.workflow import report_render
    from ecgdesk.workflow.report_jobs import run_report_render

    def render(ctx: object, folder: Path) -> RenderedReport:  # the files' layout is not what is tested
        for name in ("report.pdf", "report.html"):
            (folder / name).write_text(f"{name} of {folder.name}")
        return RenderedReport(folder / "report.pdf", folder / "report.html", "-", 1)

    monkeypatch.setattr(report_render, "render_scanning_report", render)
    api = queued_api
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    (job,) = jobs(api.store)
    assert run_chain(api.store, job.id).status == "done"
    assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code == 200
    edit = api.client.post(f"/api/v1/studies/{study_id}/beat-edits",
                           json={"kind": "beat", "target": 0, "label": "V"}, headers=headers)
    assert edit.status_code == 200, edit.text
    render = next(j for j in jobs(api.store) if j.kind == "report.render")
    body = edit.json()
    assert (body["report_job"], body["report_version"], render.status) == (render.id, None, "queued"), body
    assert f"the report is being rendered again (job {render.id})" in body["note"]
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["status"] == "analyzed" and [r["version"] for r in view["reports"]] == [1]
    assert view["jobs"][0]["id"] == render.id and view["jobs"][0]["status"] == "queued"
    _die_before_done(api, render.id, run_report_render)
    assert [r["version"] for r in api.client.get(f"/api/v1/studies/{study_id}").json()["reports"]] == [1]
    again = run_chain(api.store, render.id)  # its next attempt, once its lease expired
    assert again.status == "done" and again.result == {"version": 2, "reused": False}, again
    assert again.attempts == 2
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["status"] == "reported" and [r["version"] for r in view["reports"]] == [1, 2]
    assert view["jobs"][0]["result"]["version"] == 2 and view["jobs"][0]["progress"] == 1.0
    with api.store.transaction() as session:
        renders = session.scalars(select(AuditEntry.actor).where(
            AuditEntry.action == "report:render", AuditEntry.entity_id == str(study_id))).all()
    assert renders == ["tech.t", "tech.t"]  # version 1, and version 2 once, under the technician
    folders = (api.store.studies_root / str(study_id) / "reports").iterdir()
    assert sorted(p.name for p in folders) == ["v1", "v2"]  # no temporary left by the killed attempt
    # a second edit's render still queued when the technician renders by hand and the physician signs:
    # not needed any more, done with a note the pages show (before: failed, "could not be rendered again")
    base = f"/api/v1/studies/{study_id}"
    later = api.client.post(f"{base}/beat-edits", json={"kind": "beat", "target": 1, "label": "V"},
                            headers=headers).json()["report_job"]
    assert api.client.post(f"{base}/report", headers=headers).status_code == 200
    doctor = api.login("dr.t")
    reading = {"text": "Sinus rhythm."}
    assert api.client.post(f"{base}/interpretation", json=reading, headers=doctor).is_success
    signed = api.client.post(f"{base}/sign", json={"password": PIN}, headers=doctor).json()["version"]
    assert run_chain(api.store, later).status == "done"
    headers = api.login("tech.t")
    job = api.client.get(base, headers=headers).json()["jobs"][0]
    note = f"the report was not rendered again: study {study_id} was signed with version {signed} meanwhile"
    assert (job["id"], job["status"], job["error"]) == (later, "done", None), job
    assert job["result"]["note"] == note, job
    assert note in api.client.get(f"/studies/{study_id}", headers=headers).text  # the study page's jobs


def test_an_upload_whose_analysis_runs_in_parts_shows_the_parts_progress(
    queued_api: Api, tmp_path: Path
) -> None:
    from ecgdesk.jobs.runner import execute
    from ecgdesk.records import write_recording
    from ecgdesk.workflow.demo import synthetic_recording
    from ecgdesk.workflow.jobs import KINDS, run_inline

    header = write_recording(synthetic_recording(20.0, seed=3), tmp_path, "wfdb", "twenty")
    files = sorted(p for p in tmp_path.iterdir() if p.stem == header.stem)
    api = queued_api
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert upload(api, study_id, files).status_code == 202
    api.wait()
    (job,) = jobs(api.store)
    assert run_inline(api.store, job.id).status == "done"  # the import; the analysis is queued
    analysis = next(j for j in jobs(api.store) if j.kind == "analysis.study")
    with api.store.transaction() as session:  # a recording longer than its segments (a 48 h Holter)
        payload = json.dumps({**analysis.payload, "segment_s": 600.0})
        session.execute(update(Job).where(Job.id == analysis.id).values(payload_json=payload))
    with api.store.transaction() as session:
        (plan,) = queue.claim(session, "w", KINDS, 1, job_id=analysis.id)
    assert execute(api.store, plan, KINDS) == "queued"  # split: it waits for its parts
    with api.store.transaction() as session:
        first, *_ = queue.claim(session, "w", KINDS, 1, roots=[analysis.id])
    assert execute(api.store, first, KINDS) == "done"
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    listed = next(j for j in view["jobs"] if j["id"] == analysis.id)
    assert view["upload"]["state"] == "analyzing" and listed["progress"] > 0
    assert view["upload"]["progress"] == listed["progress"]  # not 0 while its parts are done one by one


def _progress_line(api: Api, study_id: int) -> str:
    """The study page's 'Import and analysis:' line as read: the state, then the message."""
    html = api.client.get(f"/studies/{study_id}").text
    state = html.split('id="progress-state">', 1)[1].split("<", 1)[0]
    message = html.split('id="progress-msg">', 1)[1].split("<", 1)[0]
    return f"{state} {message}"


def test_upload_progress_says_its_state_once(queued_api: Api, tiny_files: list[Path]) -> None:
    """The progress box shows the state then the message: the message must not say the state again
    (it read 'received received; import queued (job 1)', and 'failed analysis job 2 failed')."""
    api = queued_api
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    (job,) = jobs(api.store)
    seen = []
    for _ in range(2):
        upload_view = api.client.get(f"/api/v1/studies/{study_id}").json()["upload"]
        state, message = upload_view["state"], upload_view["message"]
        assert message and state not in message.split(), upload_view
        line = _progress_line(api, study_id)
        assert line.split()[0] == state and f"{state} {state}" not in line, line
        seen.append(state)
        if state == "received":
            assert run_chain(api.store, job.id).status == "done"
    assert seen == ["received", "done"]
    assert api.client.post(f"/api/v1/studies/{study_id}/analysis", headers=headers).status_code == 202
    analysis = next(j for j in jobs(api.store) if j.kind == "analysis.study" and j.status == "queued")
    with api.store.transaction() as session:
        queue.cancel(session, analysis.id, "tech.t")
    upload_view = api.client.get(f"/api/v1/studies/{study_id}").json()["upload"]
    assert upload_view["state"] == "failed" and "failed" not in upload_view["message"].split(), upload_view
    assert upload_view["message"] == f"analysis job {analysis.id} cancelled"
