"""The study page lists the study's background jobs (upload import, analysis, re-analysis) with their state,
attempts, retry wait and error, for the roles that may read jobs (``job:read``: technicians); a physician's
page has no such list. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service_builders import STUDY, Api, upload
from sqlalchemy import select

from ecgdesk.store.jobs_models import Job


def test_the_study_page_lists_its_jobs_for_technicians(api: Api, tiny_files: list[Path]) -> None:
    headers = api.login("tech.t")
    study_id = int(api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    with api.store.transaction() as session:
        rows = session.scalars(select(Job).where(Job.study_id == study_id).order_by(Job.id)).all()
        assert [j.kind for j in rows] == ["upload.import", "analysis.study"]  # the import names its study
        jobs = {j.kind: j for j in rows}
        jobs["upload.import"].status, jobs["upload.import"].error = "failed", "disk <full> & gone"
        jobs["upload.import"].attempts = 3
        analysis = jobs["analysis.study"]  # waiting for its retry after a transient error
        analysis.status, analysis.attempts, analysis.error = "queued", 1, "worker lost"
        analysis.not_before = datetime.now(UTC) + timedelta(minutes=10)
        ids = {kind: job.id for kind, job in jobs.items()}
    page = api.client.get(f"/studies/{study_id}")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="jobs"' in html and "Background jobs" in html
    imported = html.split(f'<tr data-job="{ids["upload.import"]}">')[1].split("</tr>")[0]
    assert "Upload: import" in imported and "failed" in imported and "3 of 3" in imported, imported
    assert "disk &lt;full&gt; &amp; gone" in imported  # escaped, never markup
    waiting = html.split(f'<tr data-job="{ids["analysis.study"]}">')[1].split("</tr>")[0]
    assert "Analysis" in waiting and "queued" in waiting and "1 of 3" in waiting
    assert "retry after " in waiting and "(attempt 2 of 3): worker lost" in waiting
    assert html.count("<tr data-job=") == 2
    api.login("dr.t")  # physicians do not read jobs (job:read is the technicians' and administrators')
    page = api.client.get(f"/studies/{study_id}")
    assert page.status_code == 200 and 'data-testid="jobs"' not in page.text


def test_the_study_detail_has_jobs_only_for_roles_that_read_jobs(api: Api, tiny_files: list[Path]) -> None:
    """``GET /api/v1/studies/{id}`` and the overview embed the study's jobs only where the role may read jobs
    (``job:read``); a physician or biller reads the study but gets ``jobs: null``, as the page shows none."""
    headers = api.login("tech.t")
    study_id = int(api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    for path in (f"/api/v1/studies/{study_id}", f"/api/v1/studies/{study_id}/overview"):
        api.login("tech.t")
        shown = api.client.get(path).json()
        study = shown.get("study", shown)
        assert [j["kind"] for j in study["jobs"]] == ["analysis.study", "upload.import"], path
        for reader in ("dr.t", "biller.t"):
            api.login(reader)
            answer = api.client.get(path)
            assert answer.status_code == 200, answer.text
            study = answer.json().get("study", answer.json())
            assert study["jobs"] is None, (path, reader, study["jobs"])
            assert study["upload"]["state"] == "done"  # the study's own import progress stays


def test_a_running_jobs_progress_stays_on_one_line(api: Api, tiny_files: list[Path]) -> None:
    """At 1024 px the State cell broke "running 42 %" between "42" and "%": the cell is kept whole now."""
    headers = api.login("tech.t")
    study_id = int(api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    with api.store.transaction() as session:
        job = session.scalars(select(Job).where(Job.study_id == study_id).order_by(Job.id)).first()
        assert job is not None
        job.status, job.progress, job_id = "running", 0.42, job.id
    html = api.client.get(f"/studies/{study_id}").text
    row = html.split(f'<tr data-job="{job_id}">')[1].split("</tr>")[0]
    state = '<td class="job-state"><span class="badge job-running">running</span>&nbsp;42&nbsp;%</td>'
    assert state in row, row
    css = api.client.get("/static/ws.css").text
    assert ".grid td.job-state { white-space: nowrap; }" in css


def test_the_queued_time_says_utc_and_stays_on_one_line(api: Api, tiny_files: list[Path]) -> None:
    """At 1024 px the Queued cell wrapped "2026-12-07 11:20:31" after the date, and nothing said the time is
    UTC (it is stored and shown in UTC): the column says "(UTC)", as the audit log's does, and the cell is a
    ``when`` cell (kept on one line)."""
    headers = api.login("tech.t")
    study_id = int(api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    with api.store.transaction() as session:
        job = session.scalars(select(Job).where(Job.study_id == study_id).order_by(Job.id)).first()
        assert job is not None
        job.created_at, job_id = datetime(2026, 12, 7, 11, 20, 31, tzinfo=UTC), job.id
    html = api.client.get(f"/studies/{study_id}").text
    head = html.split('data-testid="jobs"')[1].split("</thead>")[0]
    assert '<th scope="col">Queued (UTC)</th>' in head, head
    row = html.split(f'<tr data-job="{job_id}">')[1].split("</tr>")[0]
    assert '<td class="when">2026-12-07 11:20:31</td>' in row, row
    css = api.client.get("/static/ws.css").text
    assert re.search(r"\.grid td\.when\b[^{]*\{ white-space: nowrap; \}", css), "no nowrap rule for td.when"
