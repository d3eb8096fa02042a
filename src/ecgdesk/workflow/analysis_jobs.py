"""Analysis as jobs: a study's scanning analysis, a recording file's (batch), and the parts of a split.

Kinds (``KINDS``, given to every worker):

- ``analysis.study``: :func:`~ecgdesk.workflow.analysis.analyze_study` of one study; the job is done in
  the same transaction that stores (or reuses) the analysis run, so the run and the job's result commit
  together, exactly once; a study that was with the physician (reported) and whose analysis changed has
  its report rendered again, as after a beat edit, by a ``report.render`` job
  (:mod:`ecgdesk.workflow.report_jobs`) queued in that same transaction (the job's result names it as
  ``next_job``), so a worker killed after the analysis, or a render that fails for a while (a full disk),
  still leaves the render to be done, retried like any job;
- ``analysis.ecg``: a resting ECG or stress test study (:mod:`ecgdesk.workflow.ecg_services`, seconds
  long, STAT priority; its run is idempotent by input, so a repeated run reuses it); its report rendered
  again as for ``analysis.study``;
- ``analysis.file``: the analysis of a recording file into a results folder under the store's home
  (``jobs/results/<input hash>``, renamed into place when complete): ``ecgdesk batch analyze``;
- ``analysis.segment``: one segment of a split analysis (:mod:`ecgdesk.analysis.split`), saved under
  ``jobs/parts/`` for the merge.

A recording longer than ``segment_s`` (a day by default) is split: the study or file job plans the
segments, waits for its ``analysis.segment`` parts (which any worker may run), then merges them and runs
the global classification and findings itself. The merged findings equal a single-process analysis.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ecgdesk.analysis.findings import ALGORITHM_VERSION
from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec, Priority
from ecgdesk.jobs.runner import Done, JobContext, Outcome, PartResult, Spawn
from ecgdesk.records import Recording, open_recording
from ecgdesk.store import Store, file_sha256
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import RecordingBlob, Study
from ecgdesk.workflow import analysis
from ecgdesk.workflow.analysis import (
    ANALYZABLE_STATES,
    AnalysisOutput,
    Progress,
    analysis_input_hash,
    analyze_study,
    diary_of,
    output_of,
)
from ecgdesk.workflow.beat_edits import was_sent
from ecgdesk.workflow.lifecycle import import_warnings, require_status
from ecgdesk.workflow.studies import get_study, open_study_recording

KINDS: dict[str, str] = {
    "analysis.study": "ecgdesk.workflow.analysis_jobs:run_study_analysis",
    "analysis.ecg": "ecgdesk.workflow.analysis_jobs:run_ecg_analysis",
    "analysis.file": "ecgdesk.workflow.analysis_jobs:run_file_analysis",
    "analysis.segment": "ecgdesk.workflow.analysis_jobs:run_segment",
}
DEFAULT_SEGMENT_S = 86400.0
PARTS_DIR = Path("jobs") / "parts"
RESULTS_DIR = Path("jobs") / "results"


class _SplitRequested(Exception):  # noqa: N818 (control flow, never seen by a user)
    def __init__(self, plan: Any) -> None:
        self.plan = plan


# ------------------------------------------------------------------------------------------ enqueue
def analysis_spec(
    session: Session, store: Store, study_id: int, actor: str, *,
    segment_s: float | None = DEFAULT_SEGMENT_S,
) -> JobSpec:
    """The job that analyses ``study_id`` with its service's engine, read in the caller's transaction (an
    upload's import queues it in the transaction that attaches the recording): ``analysis.study`` for
    ambulatory scanning (keyed by the study and its analysis input), ``analysis.ecg`` for a resting ECG
    or stress test (keyed by the study and its recording)."""
    from ecgdesk.workflow.ecg_services import ECG_SERVICES, study_service

    study = get_study(session, study_id)
    service = study_service(session, study)
    if service in ECG_SERVICES:
        return _ecg_spec(session, study, service, actor)
    require_status(study, "analyze", ANALYZABLE_STATES)
    if study.recording_id is None:
        reason = "has no recording to analyse; import one first"
        raise InputError("study", reason, source=f"study {study_id}")
    row = session.get(RecordingBlob, study.recording_id)
    assert row is not None
    analysis_hash = analysis_input_hash(row, diary_of(store, row), imported=import_warnings(study))
    return JobSpec(
        "analysis.study",
        {"study_id": study_id, "actor": actor, "segment_s": segment_s, "recording_id": row.id},
        queue.input_hash({"study_id": study_id, "analysis": analysis_hash}),
        ALGORITHM_VERSION,
        priority=Priority.ROUTINE,
        study_id=study_id,
        recording_id=row.id,
    )


def _ecg_spec(session: Session, study: Study, service: Service, actor: str) -> JobSpec:
    from ecgdesk.workflow.ecg_services import ANALYZABLE, RESTING_VERSION, STRESS_VERSION, PatientFacts

    require_status(study, "analyze", ANALYZABLE)
    row = session.get(RecordingBlob, study.recording_id)
    assert row is not None
    key: dict[str, Any] = {"study_id": study.id, "recording_sha256": row.sha256, "service": service.value}
    imported = import_warnings(study)
    if imported:  # a new import of the same content that warned of more is analysed again
        key["import_warnings"] = list(imported)
    if service is Service.STRESS_TEST:  # the record's age and sex are its inputs (a corrected record: again)
        facts = PatientFacts.of(session, study)
        key["patient"] = [str(facts.birth_date or ""), facts.sex]
    version = RESTING_VERSION if service is Service.RESTING_ECG else STRESS_VERSION
    return JobSpec("analysis.ecg", {"study_id": study.id, "actor": actor}, queue.input_hash(key), version,
                   priority=Priority.STAT, study_id=study.id, recording_id=row.id)


def enqueue_analysis(
    store: Store,
    study_id: int,
    actor: str,
    *,
    again: bool = False,
    segment_s: float | None = DEFAULT_SEGMENT_S,
) -> int:
    """Queue the analysis of ``study_id`` with its service's engine (ambulatory scanning, or resting ECG
    and stress test); the job id. ``again``: run a finished one again (an explicit re-analysis)."""
    with store.transaction() as session:
        spec = analysis_spec(session, store, study_id, actor, segment_s=segment_s)
        return queue.enqueue(session, spec, actor, again=again)[0].id


def recording_files(path: Path) -> list[Path]:
    """The files of the recording at ``path`` (a WFDB record: every ``<name>.*`` beside the header)."""
    header = path.with_suffix(".hea")
    if path.suffix in (".hea", ".dat", "") and header.exists():
        return sorted(p for p in header.parent.glob(f"{header.stem}.*") if p.is_file())
    return [path] if path.is_file() else []


def file_analysis_spec(
    path: Path, *, priority: int = Priority.BATCH, segment_s: float | None = DEFAULT_SEGMENT_S
) -> JobSpec:
    """The job that analyses the recording file at ``path`` (keyed by its content: the same files
    analysed again reuse the result). A missing or unreadable file still gets its job, which fails
    with the reader's message."""
    path = Path(path).absolute()
    files = recording_files(path)
    diary = path.with_name(f"{path.stem}.diary.csv")
    content: dict[str, Any] = (
        {"files": {p.name: file_sha256(p) for p in files}} if files else {"missing": str(path)}
    )
    payload = {
        "path": str(path),
        "diary": str(diary) if diary.exists() else None,
        "segment_s": segment_s,
    }
    return JobSpec("analysis.file", payload, queue.input_hash(content), ALGORITHM_VERSION, priority=priority)


# ----------------------------------------------------------------------------------- work functions
def _fraction(ctx: JobContext, total_s: float) -> Progress:
    done = [0.0]

    def report(seconds: float) -> None:
        done[0] += seconds
        ctx.progress(min(1.0, done[0] / total_s) if total_s > 0 else 0.0)

    return report


def _segment_specs(ctx: JobContext, source: dict[str, Any], plan: Any) -> list[JobSpec]:
    plan_dict = plan.to_dict()
    return [
        JobSpec(
            "analysis.segment",
            {"source": source, "plan": plan_dict, "index": segment.index},
            queue.input_hash({"parent": ctx.claim.input_hash, "index": segment.index, "plan": plan_dict}),
            ALGORITHM_VERSION,
            priority=ctx.claim.priority,
        )
        for segment in plan.segments
    ]


def _analyzer(
    ctx: JobContext, parts: list[PartResult], segment_s: float | None
) -> Callable[[Recording, Path | None, Progress | None], AnalysisOutput]:
    """The analysis of one recording inside a job: merge the parts, ask for a split, or run whole."""

    def run(recording: Recording, diary: Path | None, progress: Progress | None) -> AnalysisOutput:
        from ecgdesk.analysis.split import SplitPlan, load_segment, merge_segments, plan_split

        if parts:
            plan = SplitPlan.from_dict(parts[0].payload["plan"])
            results = [load_segment(ctx.store.resolve(p.result["part"])) for p in parts]
            return output_of(merge_segments(recording, plan, results, diary))
        if segment_s:
            plan = plan_split(recording, float(segment_s))
            if len(plan.segments) > 1:
                raise _SplitRequested(plan)
        return analysis.default_analyzer(recording, diary, _fraction(ctx, recording.duration_s))

    return run


def _remove_parts(store: Store, parts: list[PartResult]) -> None:
    for part in parts:
        store.resolve(part.result["part"]).unlink(missing_ok=True)


def run_study_analysis(ctx: JobContext) -> Outcome:
    """``analysis.study``: analyse the study (split when long); done with the run it stores."""
    study_id = int(ctx.payload["study_id"])
    actor = str(ctx.payload.get("actor") or ctx.actor)
    # the recording the job was queued for (absent in jobs queued before it was recorded): its parts read
    # that one, and a study whose recording was replaced meanwhile stores nothing of them
    recording_id = ctx.payload.get("recording_id")
    parts = ctx.parts()
    sent = was_sent(ctx.store, study_id)  # with the physician: a changed analysis renders the report again

    def finalize(session: Session, run_id: int, reused: bool) -> None:
        result = {"run_id": run_id, "reused": reused, "parts": len(parts)}
        ctx.finish_in(session, _with_render(session, study_id, sent, actor, result))

    try:
        info = analyze_study(
            ctx.store, study_id, actor, analyzer=_analyzer(ctx, parts, ctx.payload.get("segment_s")),
            finalize=finalize, recording_id=None if recording_id is None else int(recording_id),
        )
    except _SplitRequested as split:
        source = {"study_id": study_id, "recording_id": recording_id}
        return Spawn(_segment_specs(ctx, source, split.plan))
    _remove_parts(ctx.store, parts)
    return Done({"run_id": info.run_id, "parts": len(parts)})


def run_ecg_analysis(ctx: JobContext) -> Outcome:
    """``analysis.ecg``: analyse a resting ECG or stress test study; done in the transaction that stores
    (or reuses) its run, so a job cancelled while it ran leaves no run and the study as it was."""
    from ecgdesk.workflow.ecg_services import analyze_ecg_study

    actor = str(ctx.payload.get("actor") or ctx.actor)
    study_id = int(ctx.payload["study_id"])
    sent = was_sent(ctx.store, study_id)

    def finalize(session: Session, run_id: int, reused: bool) -> None:
        result = {"run_id": run_id, "reused": reused}
        ctx.finish_in(session, _with_render(session, study_id, sent, actor, result))

    info = analyze_ecg_study(ctx.store, study_id, actor, finalize=finalize)
    return Done({"run_id": info.run_id, "reused": info.reused})


def _with_render(
    session: Session, study_id: int, sent: bool, actor: str, result: dict[str, Any]
) -> dict[str, Any]:
    """``result``, and, when the study had been sent (``sent``, read before the analysis) and the analysis
    moved it back to analyzed, the render of its report queued in the job's own transaction as
    ``next_job`` (run next by whoever runs the chain: ``study analyze``, the service)."""
    from ecgdesk.workflow.report_jobs import enqueue_report

    if not sent or StudyStatus(get_study(session, study_id).status) is not StudyStatus.ANALYZED:
        return result
    return {**result, "next_job": enqueue_report(session, study_id, actor)}


def _open_source(store: Store, source: dict[str, Any]) -> Recording:
    if "study_id" in source:
        with store.transaction() as session:
            study = get_study(session, int(source["study_id"]))
            row = session.get(RecordingBlob, source.get("recording_id") or study.recording_id)
            if row is None:
                raise InputError("study", "has no recording", source=f"study {source['study_id']}")
            imported = import_warnings(study)
        return open_study_recording(store, row, imported)
    return open_recording(Path(source["path"]))


def run_segment(ctx: JobContext) -> Outcome:
    """``analysis.segment``: streaming stage of one segment, saved for the merge."""
    from ecgdesk.analysis.split import SplitPlan, analyze_segment, save_segment

    recording = _open_source(ctx.store, ctx.payload["source"])
    plan = SplitPlan.from_dict(ctx.payload["plan"])
    index = int(ctx.payload["index"])
    segment = plan.segments[index]
    result = analyze_segment(
        recording, plan, index, progress=_fraction(ctx, (segment.stop - segment.start) / recording.fs)
    )
    path = save_segment(result, ctx.store.home / PARTS_DIR / f"{ctx.claim.input_hash[:32]}.npz")
    return Done({"part": ctx.store.relative(path), "beats": int(result.samples.size)})


def run_file_analysis(ctx: JobContext) -> Outcome:
    """``analysis.file``: analyse a recording file (split when long) into the results folder."""
    from ecgdesk.analysis.io import write_outputs

    path = Path(ctx.payload["path"])
    diary = Path(ctx.payload["diary"]) if ctx.payload.get("diary") else None
    recording = open_recording(path)
    parts = ctx.parts()
    try:
        output = _analyzer(ctx, parts, ctx.payload.get("segment_s"))(recording, diary, None)
    except _SplitRequested as split:
        return Spawn(_segment_specs(ctx, {"path": str(path)}, split.plan))
    ctx.check()
    final = ctx.store.home / RESULTS_DIR / ctx.claim.input_hash[:32]
    final.parent.mkdir(parents=True, exist_ok=True)
    name = recording.record_name or path.stem
    if not final.exists():  # the same input analysed before: the same files are there already
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            write_outputs(output.findings, output.samples, output.labels, recording.fs, tmp, name)
            os.rename(tmp, final)
        except OSError as error:
            shutil.rmtree(tmp, ignore_errors=True)
            if not final.exists():
                raise analysis.naming(error, final.parent) from error
    s = output.findings.summary
    result = {
        "folder": ctx.store.relative(final),
        "name": name,
        "parts": len(parts),
        "total_beats": s.total_beats,
        "analyzable_h": round(s.analyzable_time_s / 3600, 3),
        "af_burden_pct": round(s.af_burden_pct, 2),
        "episodes": len(output.findings.episodes),
    }
    with ctx.store.transaction() as session:
        ctx.finish_in(session, result)
    _remove_parts(ctx.store, parts)
    return Done(result)
