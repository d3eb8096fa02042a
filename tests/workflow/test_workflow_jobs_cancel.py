"""A job cancelled while it runs, for every kind a person can cancel: it ends cancelled and leaves nothing
that looks like its result (no current analysis run, the study not moved on, the strip not triaged), and
retrying it does the work once; or, when its work had already committed, it ends as what happened."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from workflow_builders import request as study_request

from ecgdesk.coding import Service
from ecgdesk.records import open_recording, write_recording
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AnalysisRun
from ecgdesk.workflow.analysis_jobs import enqueue_analysis
from ecgdesk.workflow.jobs import cancel_job, retry_job, run_inline
from ecgdesk.workflow.studies import create_study, get_study, import_recording


@pytest.fixture(scope="module")
def resting_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pydicom's real 12-lead ECG as a WFDB record."""
    data = pytest.importorskip("pydicom.data")
    folder = tmp_path_factory.mktemp("ecg12")
    recording = open_recording(Path(data.get_testdata_file("waveform_ecg.dcm")))
    return write_recording(recording, folder, "wfdb", "resting")


@pytest.fixture(scope="module")
def stress_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short simulated exercise test with its protocol file."""
    from ecgdesk.records.simulator.exercise import ExerciseConfig, simulate_exercise

    config = ExerciseConfig(exercise_s=120, pretest_s=30, recovery_s=60, fs=250.0, seed=4)
    return simulate_exercise(config, tmp_path_factory.mktemp("stress")).record


def _cancelling(store: Store, job_id: int, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, cancelling job ``job_id`` (as a person would, from elsewhere) before it runs."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cancel_job(store, job_id, "tech")
        return function(*args, **kwargs)

    return wrapper


def _runs(store: Store, study_id: int) -> tuple[str, int]:
    """The study's status and how many analysis runs it has."""
    with store.transaction() as session:
        status = str(get_study(session, study_id).status)
        query = select(func.count()).select_from(AnalysisRun).where(AnalysisRun.study_id == study_id)
        runs = session.scalar(query)
        return status, int(runs or 0)


@pytest.mark.parametrize("service", [Service.RESTING_ECG, Service.STRESS_TEST])
def test_an_ecg_job_cancelled_while_it_runs_stores_nothing(
    store: Store, service: Service, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resting ECG or stress test analysis cancelled mid-run: no run, the study still recorded (it was
    'analyzed', with a run, while its job said cancelled); retried, it runs once."""
    from ecgdesk.workflow import ecg_services

    record = request.getfixturevalue("resting_record" if service is Service.RESTING_ECG else "stress_record")
    study_id = create_study(
        store, study_request(service=service, duration_days=None, indications=("R07.9",)), "tech"
    )
    import_recording(store, study_id, record, "tech")
    job_id = enqueue_analysis(store, study_id, "tech")
    original = ecg_services._analyse
    monkeypatch.setattr(ecg_services, "_analyse", _cancelling(store, job_id, original))
    info = run_inline(store, job_id)
    assert info.status == "cancelled"
    assert _runs(store, study_id) == ("recorded", 0)  # nothing that looks like the cancelled job's result
    assert not list((store.studies_root / str(study_id)).glob("runs/*"))
    monkeypatch.setattr(ecg_services, "_analyse", original)
    retry_job(store, job_id, "tech")
    info = run_inline(store, job_id)
    assert info.status == "done" and info.result is not None and not info.result["reused"]
    assert _runs(store, study_id) == ("analyzed", 1)
    with store.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None and json.loads(job.result_json or "{}")["run_id"] == info.result["run_id"]


def test_an_ambulatory_analysis_cancelled_while_it_runs_stores_nothing(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgdesk.workflow import analysis

    study_id = create_study(store, study_request(), "tech")
    import_recording(store, study_id, tiny_record, "tech")
    job_id = enqueue_analysis(store, study_id, "tech")
    original = analysis.default_analyzer
    monkeypatch.setattr(analysis, "default_analyzer", _cancelling(store, job_id, original))
    assert run_inline(store, job_id).status == "cancelled"
    assert _runs(store, study_id) == ("recorded", 0)
    monkeypatch.setattr(analysis, "default_analyzer", original)
    retry_job(store, job_id, "tech")
    assert run_inline(store, job_id).status == "done"
    assert _runs(store, study_id) == ("analyzed", 1)


def test_a_strip_triage_cancelled_while_it_runs_leaves_the_strip_unclassified(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    from monitoring_builders import START, make_strips

    from ecgdesk.workflow import monitoring_classify
    from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
    from ecgdesk.workflow.monitoring_queue import list_queue

    strips = make_strips(tmp_path)
    enroll(store, EnrolmentRequest("M1", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR,
                                   START.date(), "1245319599", ("R00.2",)), "tech")
    outcome = ingest_file(store, strips.pause, "DEV-1", "device", classify=False)
    assert outcome.job_id is not None
    original = monitoring_classify.triage_strip
    monkeypatch.setattr(monitoring_classify, "triage_strip", _cancelling(store, outcome.job_id, original))
    assert run_inline(store, outcome.job_id).status == "cancelled"
    assert [row.priority for row in list_queue(store)] == ["unclassified"]
    monkeypatch.setattr(monitoring_classify, "triage_strip", original)
    retry_job(store, outcome.job_id, "tech")
    assert run_inline(store, outcome.job_id).status == "done"
    assert [row.priority for row in list_queue(store)] == ["urgent"]


def test_an_upload_cancelled_while_it_imports_imports_nothing_and_queues_no_analysis(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload's import job cancelled mid-way: the study gets no recording and no analysis job (it got
    both, and its analysis then ran, while the upload said 'import job cancelled'); retried, it imports
    once and the upload follows its analysis to the end."""
    import shutil

    from ecgdesk.workflow import uploads
    from ecgdesk.workflow.jobs import run_chain
    from ecgdesk.workflow.views import upload_out

    study_id = create_study(store, study_request(), "tech")
    folder = store.home / "uploads" / "u1"
    folder.mkdir(parents=True)
    for path in tiny_record.parent.glob(f"{tiny_record.stem}.*"):
        shutil.copy(path, folder / path.name)
    accepted = uploads.accept_upload(store, study_id, folder, "tech")
    job_id = uploads.enqueue_upload(store, accepted, "tech")
    original = uploads.import_recording
    monkeypatch.setattr(uploads, "import_recording", _cancelling(store, job_id, original))
    assert run_chain(store, job_id).status == "cancelled"

    def state() -> tuple[str, str, list[str]]:
        with store.transaction() as session:
            row = session.get(uploads.Upload, accepted.upload_id)
            assert row is not None
            shown = upload_out(row, session)
            jobs = select(Job.kind).where(Job.study_id == study_id).order_by(Job.id)
            kinds = [str(k) for k in session.scalars(jobs)]
            return str(get_study(session, study_id).status), shown.state, kinds

    # the import job names its study (the study page lists it); no analysis was queued
    assert state() == ("ordered", "failed", ["upload.import"])
    monkeypatch.setattr(uploads, "import_recording", original)
    retry_job(store, job_id, "tech")
    assert run_chain(store, job_id).status == "done"
    assert state() == ("analyzed", "done", ["upload.import", "analysis.study"])


def test_a_report_render_cancelled_while_it_runs_stores_no_version(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render of a sent study's report after a technician's edit (``report.render``) cancelled
    mid-render: no new version, the study left analyzed (the technician's report page renders it, or the
    job is retried); retried, it renders once and the study is with the physician again."""
    from workflow_builders import fake_analyzer

    from ecgdesk.reports.context import RenderedReport
    from ecgdesk.store.enums import EditKind
    from ecgdesk.store.models import ReportVersion
    from ecgdesk.workflow import report_render
    from ecgdesk.workflow.analysis import analyze_study
    from ecgdesk.workflow.beat_edits import edit_and_queue
    from ecgdesk.workflow.reporting import report_study

    def render(ctx: object, folder: Path) -> RenderedReport:  # the files' layout is not what is tested
        (folder / "report.pdf").write_text(folder.name)
        return RenderedReport(folder / "report.pdf", None, "-", 1)

    monkeypatch.setattr(report_render, "render_scanning_report", render)
    study_id = create_study(store, study_request(), "tech")
    import_recording(store, study_id, tiny_record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    job_id = edit_and_queue(store, study_id, EditKind.BEAT, [0], "V", "tech").report_job
    assert job_id is not None
    monkeypatch.setattr(report_render, "render_scanning_report", _cancelling(store, job_id, render))

    def versions() -> tuple[str, list[int]]:
        with store.transaction() as session:
            rows = session.scalars(select(ReportVersion.version).where(ReportVersion.study_id == study_id))
            return str(get_study(session, study_id).status), sorted(rows)

    assert run_inline(store, job_id).status == "cancelled"
    assert versions() == ("analyzed", [1])
    assert sorted(p.name for p in (store.studies_root / str(study_id) / "reports").iterdir()) == ["v1"]
    monkeypatch.setattr(report_render, "render_scanning_report", render)
    retry_job(store, job_id, "tech")
    info = run_inline(store, job_id)
    assert info.status == "done" and info.result == {"version": 2, "reused": False}, info
    assert versions() == ("reported", [1, 2])
