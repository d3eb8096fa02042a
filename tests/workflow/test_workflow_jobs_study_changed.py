"""A study changed while its analysis job ran: the job's result must describe the study as it is now, or
be discarded with a message saying what changed (never an analysis of a recording the study no longer
has, made current)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from workflow_builders import request

from ecgdesk.records import open_recording, write_recording
from ecgdesk.store import Store
from ecgdesk.store.models import AnalysisRun
from ecgdesk.workflow.analysis_jobs import enqueue_analysis
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.jobs import list_jobs, run_inline
from ecgdesk.workflow.studies import create_study, get_study, import_recording

pytest.importorskip("ecgdesk.analysis.pipeline")


def _replacing(store: Store, study_id: int, record: Path, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, after which the study's recording is replaced by ``record`` (a technician importing
    the right file while the wrong one is being analysed: the import takes no study lock)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        import_recording(store, study_id, record, "tech")
        return result

    return wrapper


def _current(store: Store, study_id: int) -> tuple[str, int | None, int]:
    """The study's status, the recording of its current run (None: no current run), how many runs."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        runs = list(session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study_id)))
        current = [run for run in runs if run.is_current]
        recording = current[0].recording_id if current else None
        return str(study.status), recording, len(runs)


def test_a_holter_recording_replaced_mid_analysis_is_not_reported_as_analysed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgdesk.workflow import analysis

    wrong = write_recording(synthetic_recording(2.0, seed=3), tmp_path / "wrong", "wfdb", "wrong")
    right = write_recording(synthetic_recording(2.0, seed=9), tmp_path / "right", "wfdb", "right")
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, wrong, "tech")
    job_id = enqueue_analysis(store, study_id, "tech")
    monkeypatch.setattr(analysis, "default_analyzer",
                        _replacing(store, study_id, right, analysis.default_analyzer))
    info = run_inline(store, job_id)
    assert info.status == "failed" and info.attempts == 1  # at once: running it again cannot help
    assert info.error is not None and "recording was replaced while it was analysed" in info.error
    assert _current(store, study_id) == ("recorded", None, 0)  # not 'analyzed' with the wrong recording
    monkeypatch.undo()
    again = enqueue_analysis(store, study_id, "tech")  # the new recording's own job
    assert again != job_id and run_inline(store, again).status == "done"
    with store.transaction() as session:
        recording_id = get_study(session, study_id).recording_id
    assert _current(store, study_id) == ("analyzed", recording_id, 1)
    assert [j.status for j in list_jobs(store, study_id=study_id)] == ["done", "failed"]


def test_a_resting_ecg_replaced_mid_analysis_is_not_reported_as_analysed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgdesk.coding import Service
    from ecgdesk.workflow import ecg_services

    data = pytest.importorskip("pydicom.data")
    ecg = open_recording(Path(data.get_testdata_file("waveform_ecg.dcm")))
    wrong = write_recording(ecg, tmp_path / "wrong", "wfdb", "wrong")
    right = write_recording(ecg, tmp_path / "right", "wfdb", "right")  # the same signals, another file
    study_id = create_study(store, request(service=Service.RESTING_ECG, duration_days=None,
                                           indications=("R07.9",)), "tech")
    import_recording(store, study_id, wrong, "tech")
    job_id = enqueue_analysis(store, study_id, "tech")
    monkeypatch.setattr(ecg_services, "_analyse", _replacing(store, study_id, right, ecg_services._analyse))
    info = run_inline(store, job_id)
    assert info.status == "failed" and info.attempts == 1
    assert info.error is not None and "recording was replaced while it was analysed" in info.error
    assert _current(store, study_id) == ("recorded", None, 0)


def test_a_recording_replaced_between_the_parts_of_a_split_analysis_is_not_merged(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split study analysis whose recording is replaced after its first part: the other part and the
    merge used to read the new recording, and the merge stored the old part's beats with the new one's
    as the new recording's analysis."""
    from ecgdesk.analysis import split

    wrong = write_recording(synthetic_recording(20.0, seed=3), tmp_path / "wrong", "wfdb", "wrong")
    right = write_recording(synthetic_recording(20.0, seed=9), tmp_path / "right", "wfdb", "right")
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, wrong, "tech")
    job_id = enqueue_analysis(store, study_id, "tech", segment_s=600.0)
    original = split.analyze_segment
    calls: list[int] = []

    def first_part_then_replace(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not calls:
            import_recording(store, study_id, right, "tech")
        calls.append(1)
        return result

    monkeypatch.setattr(split, "analyze_segment", first_part_then_replace)
    info = run_inline(store, job_id)
    assert info.status == "failed"
    assert info.error is not None and "recording was replaced while it was analysed" in info.error
    assert _current(store, study_id) == ("recorded", None, 0)


@pytest.mark.parametrize("where", ["study", "file"])
def test_a_full_disk_is_retried_and_named(
    store: Store, tiny_record: Path, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A results folder on a full file system: retried (the disk may be cleared), and the error says which
    folder could not be written (it used to say only '[Errno 28] No space left on device')."""
    import errno

    from ecgdesk.analysis import io
    from ecgdesk.jobs import queue
    from ecgdesk.jobs.queue import JobSpec
    from ecgdesk.workflow.analysis_jobs import file_analysis_spec

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io, "write_outputs", full)
    monkeypatch.setattr("ecgdesk.workflow.analysis.write_outputs", full)
    monkeypatch.setenv("ECGDESK_JOB_RETRY_BASE_S", "0")
    if where == "study":
        study_id = create_study(store, request(), "tech")
        import_recording(store, study_id, tiny_record, "tech")
        job_id = enqueue_analysis(store, study_id, "tech")
        folder = store.studies_root / str(study_id) / "runs"
    else:
        spec: JobSpec = file_analysis_spec(tiny_record)
        with store.transaction() as session:
            job_id = queue.enqueue(session, spec, "tech")[0].id
        folder = store.home / "jobs" / "results"
    info = run_inline(store, job_id)
    assert (info.status, info.attempts) == ("failed", 3)  # retried, not failed at once
    assert info.error is not None and "No space left on device" in info.error
    assert str(folder) in info.error
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no partial folder left
