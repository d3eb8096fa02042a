"""A worker host killed (or cut off) while it analysed a study: its job runs again elsewhere once its lease
expires, and the study lock the dead process held must not stop that run (the lock's process is on another
host, so its death cannot be seen from here), nor may the holder, if it was only stalled, remove what its
successor stored."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from workflow_builders import fake_analyzer, request

from ecgdesk.reports.context import RenderedReport
from ecgdesk.store import Store, file_sha256
from ecgdesk.store.lock_models import StudyLock
from ecgdesk.store.models import AnalysisRun, ReportVersion
from ecgdesk.workflow import locks, report_render, reporting
from ecgdesk.workflow.analysis import RunInfo, analyze_study
from ecgdesk.workflow.analysis_jobs import enqueue_analysis
from ecgdesk.workflow.jobs import run_inline
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.studies import create_study, import_recording

pytest.importorskip("ecgdesk.analysis.pipeline")


def _study(store: Store, record: Path) -> int:
    study = create_study(store, request(), "tech")
    import_recording(store, study, record, "tech")
    return study


def test_a_study_locked_by_a_worker_killed_on_another_host_is_analysed_again(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the lock of a process on another host was taken over only after 6 h: the job's next run
    waited an hour for it and then failed for good ('study N is busy')."""
    study = _study(store, tiny_record)
    job_id = enqueue_analysis(store, study, "tech")
    # left by `kill -9` of the worker on lab-worker-2 15 minutes ago (its 60 s lease long expired)
    with store.transaction() as session:
        session.add(StudyLock(study_id=study, action="analyze", host="lab-worker-2", pid=4242,
                              acquired_at=now() - timedelta(minutes=15)))
    monkeypatch.setattr(locks, "WAIT_S", 1.0)  # the old code then fails in 1 s instead of an hour
    info = run_inline(store, job_id)
    assert (info.status, info.attempts, info.error) == ("done", 1, None)
    with store.transaction() as session:
        assert session.scalar(select(StudyLock).where(StudyLock.study_id == study)) is None


def test_a_held_lock_is_renewed_while_its_step_runs(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long analysis keeps its lock however long it runs (it is renewed, so it never looks dead)."""
    study = _study(store, tiny_record)
    monkeypatch.setattr(locks, "RENEW_S", 0.05)
    renewed = threading.Event()
    with locks.study_lock(store, study, "analyze"):
        with store.transaction() as session:
            session.execute(update(StudyLock).where(StudyLock.study_id == study)
                            .values(acquired_at=now() - timedelta(hours=1)))
        for _ in range(200):  # until the renewal thread has written (it writes every 0.05 s)
            with store.transaction() as session:
                row = session.get(StudyLock, study)
                assert row is not None
                stamp = row.acquired_at
                stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=now().tzinfo)  # SQLite: naive UTC
            if now() - stamp < timedelta(minutes=1):
                renewed.set()
                break
            renewed.wait(0.05)
    assert renewed.is_set()


def test_a_stalled_holder_keeps_the_run_its_successor_stored(store: Store, tiny_record: Path) -> None:
    """The holder stalls past its lock (a paused VM, a frozen NFS mount); another process takes the lock
    over and stores the same analysis; the first one then comes back. Before, it replaced the stored run's
    folder and, failing on the run already stored, deleted it: the study's current run had no files."""
    study = _study(store, tiny_record)
    successor: list[RunInfo] = []

    def stalling(*args: Any) -> Any:
        output = fake_analyzer(*args)
        with store.transaction() as session:  # its lock is not renewed while it stalls (7 h: so long
            session.execute(update(StudyLock).where(StudyLock.study_id == study)  # that even the old
                            .values(acquired_at=now() - timedelta(hours=7)))  # code took it over)
        other = threading.Thread(target=lambda: successor.append(
            analyze_study(store, study, "tech", analyzer=fake_analyzer, engine_tag="fake")))
        other.start()
        other.join()
        return output

    late = analyze_study(store, study, "tech", analyzer=stalling, engine_tag="fake")
    (first,) = successor
    assert not first.reused and late.reused and late.run_id == first.run_id
    with store.transaction() as session:
        (run,) = session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study))
        assert run.is_current
        assert store.resolve(run.beats_path).is_file()


def test_a_stalled_report_writer_leaves_its_successors_version_whole(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report step (a re-analysis job's, or `study report`) stalls past its lock between placing the
    version's folder and storing the version; the process that took the study over renders and stores
    the same version; the first one then comes back. Before, the successor's folder was deleted by the
    stalled one failing (IntegrityError) on the version already stored: the study's report had no PDF.
    Now it keeps it and answers with it."""
    study = _study(store, tiny_record)
    analyze_study(store, study, "tech", analyzer=fake_analyzer, engine_tag="fake")
    successor: list[reporting.ReportInfo] = []
    renders: list[Path] = []
    real = reporting._render

    def render(ctx: Any, folder: Path) -> RenderedReport:
        # a render's files, marked with its number (the layout is not what is tested: the folder is)
        renders.append(folder)
        for name in ("report.pdf", "report.html"):
            (folder / name).write_text(f"render {len(renders)}")
        return RenderedReport(folder / "report.pdf", folder / "report.html", "-", 1)

    def stalling(*args: Any) -> Any:
        placed = real(*args)
        if len(renders) == 1:  # the first one stalls, its folder in place and its version not stored
            with store.transaction() as session:  # not renewed while it stalls: taken over after 10 min
                session.execute(update(StudyLock).where(StudyLock.study_id == study)
                                .values(acquired_at=now() - timedelta(seconds=locks.STALE_AFTER_S + 60)))
            other = threading.Thread(
                target=lambda: successor.append(reporting.report_study(store, study, "tech")))
            other.start()
            other.join()
        return placed

    monkeypatch.setattr(report_render, "render_scanning_report", render)
    monkeypatch.setattr(reporting, "_render", stalling)
    late = reporting.report_study(store, study, "tech")
    (first,) = successor
    assert not first.reused and late.reused and late.version == first.version == 1  # the stored one
    with store.transaction() as session:
        (row,) = session.scalars(select(ReportVersion).where(ReportVersion.study_id == study))
        assert row.version == first.version == 1 and row.html_path is not None
        assert file_sha256(store.resolve(row.pdf_path)) == row.pdf_sha256
        pdf, html = store.resolve(row.pdf_path), store.resolve(row.html_path)
        assert html.read_text() == pdf.read_text() == "render 2"  # the successor's files, not a mix
    assert sorted(p.name for p in pdf.parent.parent.iterdir()) == [pdf.parent.name]  # no temporary left
