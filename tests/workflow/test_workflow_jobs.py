"""Analysis through jobs: the same results as the direct workflow call, a long recording split into parts,
a job that runs out of attempts shown on its study, and the ``jobs`` / ``batch analyze`` commands."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ecgdesk.cli.main import main
from ecgdesk.jobs import queue
from ecgdesk.records import write_recording
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.analysis_jobs import KINDS, enqueue_analysis
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.jobs import run_inline, show_job
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.views import show_study

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import PHYSICIAN_NPI, PIN, request

from ecgdesk.workflow.users import add_user


def with_users(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An administrator and a technician with PIN; the commands run on ``store`` and find the PIN in
    ``$ECGDESK_PASSWORD``."""
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, actor="boss", admin_password=PIN)
    monkeypatch.setenv("ECGDESK_HOME", str(store.home))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    for name in ("ECGDESK_USER", "ECGDESK_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def recorded(store: Store, record: Path, patient: str) -> int:
    study_id = create_study(store, request(patient_id=patient), "tech")
    import_recording(store, study_id, record, "tech")
    return study_id


def findings(store: Store, study_id: int) -> dict[str, object]:
    import json

    from sqlalchemy import select

    from ecgdesk.store.models import AnalysisRun

    with store.transaction() as session:
        run = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        )
        assert run is not None
        value: dict[str, object] = json.loads(run.findings_json)
    return value


@pytest.fixture(scope="module")
def half_hour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("half_hour")
    return write_recording(synthetic_recording(30.0, seed=5), folder, "wfdb", "halfhour")


def test_a_split_study_job_equals_the_direct_analysis(store: Store, half_hour: Path) -> None:
    direct = recorded(store, half_hour, "P1")
    analyze_study(store, direct, "tech")
    through_job = recorded(store, half_hour, "P2")
    job_id = enqueue_analysis(store, through_job, "tech", segment_s=600.0)
    info = run_inline(store, job_id)
    assert info.status == "done" and info.result is not None and info.result["parts"] == 3
    assert show_job(store, job_id).job.parts == {"done": 3}
    assert findings(store, through_job) == findings(store, direct)
    assert not list((store.home / "jobs" / "parts").glob("*.npz"))  # the parts' files are gone
    # enqueued again: the same job, and its result is reused
    assert enqueue_analysis(store, through_job, "tech", segment_s=600.0) == job_id


def test_a_study_job_that_runs_out_of_attempts_shows_on_the_study(
    store: Store, tiny_record: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    study_id = recorded(store, tiny_record, "P1")
    job_id = enqueue_analysis(store, study_id, "tech")
    for _ in range(3):  # each time, the worker that took it is killed and its lease runs out
        with store.transaction() as session:
            (claim,) = queue.claim(session, "w", KINDS, 1, 30.0)
            past = queue.now() - timedelta(seconds=1)
            session.execute(update(Job).where(Job.id == claim.job_id).values(lease_expires_at=past))
        with store.transaction() as session:
            queue.requeue_expired(session, "sweeper")
    (job,) = show_study(store, study_id).jobs
    assert (job.id, job.status, job.attempts) == (job_id, "failed", 3)
    assert job.error is not None and job.error.startswith("gave up after 3 attempts: lease of w/")
    assert not show_job(store, job_id).job.failed_on_input
    assert show_study(store, study_id).status == "recorded"
    with_users(store, monkeypatch)
    assert main(["study", "show", str(study_id), "--user", "tech"]) == 0
    assert f"job         {job_id} analysis.study failed (attempt 3 of 3): gave up" in capsys.readouterr().out
    # retried from the command line, and analysed inline by `study analyze`
    assert main(["jobs", "retry", str(job_id), "--user", "tech"]) == 0
    assert "queued" in capsys.readouterr().out
    assert main(["study", "analyze", str(study_id), "--user", "tech"]) == 0
    assert f"job {job_id})" in capsys.readouterr().out
    assert main(["jobs", "show", str(job_id), "--user", "boss"]) == 0
    out = capsys.readouterr().out
    assert "done" in out and "attempts 1/3" in out and "'run_id'" in out
    assert main(["jobs", "list", "--status", "done", "--json", "--user", "tech"]) == 0
    assert f'"id": {job_id}' in capsys.readouterr().out
    assert main(["jobs", "cancel", str(job_id), "--user", "tech"]) == 2
    assert "already done" in capsys.readouterr().err
    assert main(["jobs", "retry", str(job_id), "--user", "dr.a"]) == 2  # not a physician's action
    assert "job:manage" in capsys.readouterr().err


def test_a_study_whose_recording_the_engine_refuses_is_bad_input_exit_2(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 32767 Hz: within what the readers accept (1 Hz-100 kHz), outside what the engine analyses
    record = write_recording(synthetic_recording(0.2, fs=32767.0, seed=3), tmp_path, "wfdb", "fast")
    study_id = recorded(store, record, "P9")
    with_users(store, monkeypatch)
    assert main(["study", "analyze", str(study_id), "--user", "tech"]) == 2
    err = capsys.readouterr().err
    assert "field 'fs'" in err and "32767" in err
    (job,) = show_study(store, study_id).jobs
    assert (job.status, job.attempts) == ("failed", 1)  # at once, not retried
    assert show_job(store, job.id).job.failed_on_input
    assert show_study(store, study_id).status == "recorded"


def test_batch_analyze_command(store: Store, tmp_path: Path, tiny_record: Path,
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with_users(store, monkeypatch)
    broken = tmp_path / "broken.edf"
    broken.write_bytes(b"0       not an EDF header")
    out = tmp_path / "out"
    args = ["batch", "analyze", str(tiny_record), str(broken), "--out", str(out), "--concurrency", "1",
            "--user", "tech"]
    assert main(args) == 1  # one recording failed
    captured = capsys.readouterr()
    assert "2 recordings: 1 done, 1 failed" in captured.out and "broken.edf" in captured.err
    with open(out / "summary.csv", encoding="utf-8") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert rows["tiny"]["status"] == "done" and (out / "tiny" / "findings.json").exists()
    assert rows["broken"]["status"] == "failed" and "broken.edf" in rows["broken"]["error"]
    assert not (out / "broken").exists()
    assert main(["jobs", "list", "--kind", "analysis.file", "--user", "boss"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("analysis.file") == 2 and "failed" in listed and "done" in listed
