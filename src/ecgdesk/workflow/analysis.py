"""Analysing a study's recording, and technician beat edits, without half-written results.

Each analysis run is identified by its *input hash*: SHA-256 over the recording's content hash, the
algorithm version, the analysis settings and the diary. Running again with the same inputs reuses the
stored run (idempotent). Outputs are written into a temporary folder that is renamed into place only when
complete, and the database rows (run, status, audit) are written in one transaction afterwards; if
anything fails the folder is removed again, so an interrupted analysis leaves neither rows nor files.

A technician edit (relabel one beat, or every beat of a template) derives a new run from the current
one: the labels are changed, the summary is recomputed from the edited beats by the analysis package's
rhythm logic, and the new run becomes current (its input hash chains the parent's hash and the edit, so
repeating an edit is idempotent too).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import (
    ALGORITHM_VERSION,
    BEAT_CLASSES,
    Findings,
    findings_from_dict,
    findings_to_dict,
)
from ecgdesk.analysis.io import write_outputs
from ecgdesk.coding import Component
from ecgdesk.errors import ConflictError, EcgDeskError, InputError, check_option
from ecgdesk.records import Recording
from ecgdesk.store import Store, append, canonical_json, file_sha256
from ecgdesk.store.enums import EditKind, StudyStatus
from ecgdesk.store.models import AnalysisRun, BeatEdit, Order, RecordingBlob, Study
from ecgdesk.workflow.lifecycle import import_warnings, move, now, require_same_recording, require_status
from ecgdesk.workflow.locks import locked
from ecgdesk.workflow.studies import get_study, open_study_recording, set_component

if TYPE_CHECKING:
    from ecgdesk.analysis.pipeline import AnalysisResult

Progress = Callable[[float], object]
#: Called inside the transaction that stores (or reuses) the run, with the run's id and whether it was
#: reused: a job marks itself done there, so the run and the job's result commit together.
Finalize = Callable[[Session, int, bool], None]
BEATS_NPZ = "beats.npz"
ANALYZABLE_STATES = {StudyStatus.RECORDED, StudyStatus.ANALYZED, StudyStatus.REPORTED}
EDITABLE_STATES = {StudyStatus.ANALYZED, StudyStatus.REPORTED}


class EngineUnavailableError(EcgDeskError):
    """A part of ECG Desk this step needs is not installed in this build."""


@dataclass(frozen=True)
class AnalysisOutput:
    """What an analyzer returns: the findings and the labelled beats (with template ids when known)."""

    findings: Findings
    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray | None = None


Analyzer = Callable[[Recording, Path | None, Progress | None], AnalysisOutput]


def default_analyzer(recording: Recording, diary: Path | None, progress: Progress | None) -> AnalysisOutput:
    """The ambulatory scanning analysis of :mod:`ecgdesk.analysis.pipeline`."""
    try:
        from ecgdesk.analysis.pipeline import analyze, default_engine

        engine = default_engine()
    except ImportError as error:
        raise EngineUnavailableError(f"the ambulatory analysis engine is not available ({error})") from None
    return output_of(analyze(recording, diary=diary, progress=progress, engine=engine))


def output_of(result: AnalysisResult) -> AnalysisOutput:
    """An analysis package result as the workflow stores it."""
    beats = result.beats
    template_ids = getattr(beats, "template_ids", None)
    return AnalysisOutput(
        result.findings,
        np.asarray(beats.samples),
        np.asarray(beats.labels),
        None if template_ids is None else np.asarray(template_ids),
    )


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    input_hash: str
    reused: bool
    findings: Findings
    folder: Path


def _hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def analysis_input_hash(
    row: RecordingBlob, diary: Path | None, engine_tag: str | None = None, imported: Sequence[str] = ()
) -> str:
    """What identifies an analysis of a stored recording: its content, the algorithm version, the
    settings, the engine, the diary and the warnings of its import (they are in the findings)."""
    inputs: dict[str, Any] = {
        "recording_sha256": row.sha256,
        "algorithm_version": ALGORITHM_VERSION,
        "config": AnalysisConfig().as_dict(),
        "lead": None,
        "engine": engine_tag,
        "diary_sha256": file_sha256(diary) if diary else None,
    }
    if imported:  # absent when there are none, so the runs made before they were stored keep their hash
        inputs["import_warnings"] = list(imported)
    return _hash(inputs)


def diary_of(store: Store, row: RecordingBlob) -> Path | None:
    """A ``<record>.diary.csv`` stored with the recording (the simulator writes one), if any."""
    stem = Path(row.main_file).stem
    path = store.blob_root / row.blob_dir / f"{stem}.diary.csv"
    return path if path.exists() else None


def _run_folder(store: Store, study_id: int, input_hash: str) -> Path:
    return store.studies_root / str(study_id) / "runs" / input_hash[:20]


def discard_run_folder(store: Store, study_id: int, input_hash: str, final: Path) -> None:
    """Remove the run folder of a step that failed, unless a stored run uses it (one stored meanwhile by
    a process that took the study over from this one, stalled past its lock)."""
    try:
        with store.transaction() as session:
            stored = session.scalar(select(AnalysisRun.id).where(
                AnalysisRun.study_id == study_id, AnalysisRun.input_hash == input_hash))
    except SQLAlchemyError:  # the database is away: keep the folder (unreferenced, it is only space)
        return
    if stored is None:
        shutil.rmtree(final, ignore_errors=True)


def _write_run(
    final: Path,
    findings: Findings,
    samples: np.ndarray,
    labels: np.ndarray,
    template_ids: np.ndarray | None,
    fs: float,
    record_name: str,
) -> tuple[Findings, Path]:
    """Write the run's files into a temporary folder and rename it to ``final`` once complete."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        findings, paths = write_outputs(findings, samples, labels, fs, tmp, record_name)
        ids = template_ids if template_ids is not None else np.full(np.shape(samples), -1, dtype=np.int32)
        with open(tmp / BEATS_NPZ, "wb") as handle:
            np.savez(
                handle,
                samples=np.asarray(samples, dtype=np.int64),
                labels=np.asarray(labels, dtype="<U1"),
                template_ids=np.asarray(ids, dtype=np.int32),
            )
        if final.exists():
            # complete (only a rename makes it) and named after the same inputs: the same files, kept as
            # they are, since a run that took the study over from a stalled one may reference it now
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise naming(error, final.parent) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return findings, final / paths.beats.name


def naming(error: OSError, folder: Path) -> OSError:
    """``error`` naming ``folder`` when it names no file (a full disk's ENOSPC names none): the person
    who reads a job's error must know which file system to clear. Still an OSError: a job retries it."""
    if error.filename is not None:
        return error
    return OSError(error.errno, f"{error.strerror or error} (writing in {folder})")


def insert_run(
    store: Store,
    session: Session,
    study: Study,
    input_hash: str,
    *,
    algorithm_version: str,
    findings_json: str,
    main_file: Path,
    analyzable_s: float,
    wear_s: float,
    actor: str,
    parent: int | None = None,
) -> AnalysisRun:
    """Store a run (its findings document and main output file) and make it the study's current one."""
    session.execute(update(AnalysisRun).where(AnalysisRun.study_id == study.id).values(is_current=False))
    assert study.recording_id is not None
    run = AnalysisRun(
        study_id=study.id,
        recording_id=study.recording_id,
        parent_run_id=parent,
        algorithm_version=algorithm_version,
        input_hash=input_hash,
        findings_json=findings_json,
        beats_sha256=file_sha256(main_file),
        beats_path=store.relative(main_file),
        analyzable_s=analyzable_s,
        wear_s=wear_s,
        is_current=True,
        created_by=actor,
        created_at=now(),
    )
    session.add(run)
    session.flush()
    return run


def _insert_run(
    store: Store,
    session: Session,
    study: Study,
    input_hash: str,
    findings: Findings,
    beats_path: Path,
    actor: str,
    parent: int | None,
) -> AnalysisRun:
    return insert_run(
        store,
        session,
        study,
        input_hash,
        algorithm_version=findings.algorithm_version,
        findings_json=canonical_json(findings_to_dict(findings)),
        main_file=beats_path,
        analyzable_s=findings.summary.analyzable_time_s,
        wear_s=findings.summary.wear_time_s,
        actor=actor,
        parent=parent,
    )


def make_current(session: Session, study: Study, run: AnalysisRun, actor: str, action: str) -> None:
    """Make ``run`` the study's current analysis (audited if it was not) and the study analyzed."""
    if not run.is_current:
        session.execute(update(AnalysisRun).where(AnalysisRun.study_id == study.id).values(is_current=False))
        run.is_current = True
        append(session, actor, "analysis:current", "study", study.id, None, {"run_id": run.id})
    move(session, study, StudyStatus.ANALYZED, actor, action)


@locked("analyze")
def analyze_study(
    store: Store,
    study_id: int,
    actor: str,
    progress: Progress | None = None,
    analyzer: Analyzer | None = None,
    engine_tag: str | None = None,
    finalize: Finalize | None = None,
    recording_id: int | None = None,
) -> RunInfo:
    """Analyse the study's recording (or reuse the run with the same inputs) and make it current.

    ``analyzer`` replaces the default analysis (tests, another beat engine); ``engine_tag`` names it
    in the input hash so its runs are never mistaken for the default engine's. ``finalize`` runs inside
    the transaction that stores or reuses the run. ``recording_id``: the recording the caller means (a
    job's, whose parts analysed it); refused when the study has another one now.
    """
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "analyze", ANALYZABLE_STATES)
        if recording_id is not None:
            require_same_recording(study, recording_id)
        row = session.get(RecordingBlob, study.recording_id)
        assert row is not None
        diary = diary_of(store, row)
        imported = import_warnings(study)
        input_hash = analysis_input_hash(row, diary, engine_tag, imported)
        existing = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.input_hash == input_hash)
        )
        if existing is not None:
            reuse = not existing.is_current or StudyStatus(study.status) is StudyStatus.RECORDED
            if reuse:
                make_current(session, study, existing, actor, "analyze")
            if finalize is not None:
                finalize(session, existing.id, True)
            return RunInfo(
                existing.id,
                input_hash,
                True,
                findings_from_dict(json.loads(existing.findings_json)),
                store.resolve(existing.beats_path).parent,
            )
        recording_row = row
    recording = open_study_recording(store, recording_row, imported)
    output = (analyzer or default_analyzer)(recording, diary, progress)
    final = _run_folder(store, study_id, input_hash)
    findings, beats_path = _write_run(
        final,
        output.findings,
        output.samples,
        output.labels,
        output.template_ids,
        recording.fs,
        recording_row.main_file.rsplit(".", 1)[0],
    )
    try:
        with store.transaction() as session:
            study = get_study(session, study_id)
            require_status(study, "analyze", ANALYZABLE_STATES)
            require_same_recording(study, recording_row.id)
            stored = session.scalar(select(AnalysisRun).where(
                AnalysisRun.study_id == study_id, AnalysisRun.input_hash == input_hash))
            if stored is not None:  # stored meanwhile by a process that took the study over: reuse it
                make_current(session, study, stored, actor, "analyze")
                if finalize is not None:
                    finalize(session, stored.id, True)
                return RunInfo(stored.id, input_hash, True, findings, final)
            run = _insert_run(store, session, study, input_hash, findings, beats_path, actor, None)
            append(
                session,
                actor,
                "analysis:run",
                "study",
                study.id,
                None,
                {
                    "run_id": run.id,
                    "input_hash": input_hash,
                    "algorithm_version": run.algorithm_version,
                    "analyzable_s": run.analyzable_s,
                    "beats_sha256": run.beats_sha256,
                },
            )
            move(session, study, StudyStatus.ANALYZED, actor, "analyze")
            order = session.get(Order, study.order_id)
            assert order is not None
            set_component(session, study.id, Component.SCANNING, actor, None, order)
            if finalize is not None:
                finalize(session, run.id, False)
            return RunInfo(run.id, input_hash, False, findings, final)
    except BaseException:
        discard_run_folder(store, study_id, input_hash, final)
        raise


# ------------------------------------------------------------------------------------- technician edits
@dataclass(frozen=True)
class _Template:
    template_id: int
    label: str
    n_beats: int
    waveform: np.ndarray


@dataclass(frozen=True)
class _EditedBeats:
    """The beat table shape the rhythm logic reads (samples, labels, template ids, templates)."""

    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray
    templates: list[_Template]
    fs: float


def relabel(
    labels: np.ndarray, template_ids: np.ndarray, kind: EditKind, target: int, label: str
) -> np.ndarray:
    """New labels after relabelling beat ``target`` or every beat of template ``target``."""
    check_option("label", label, BEAT_CLASSES)
    out = labels.copy()
    if kind is EditKind.BEAT:
        if not 0 <= target < labels.size:
            raise InputError("beat", f"beat index {target} is out of range; this run has {labels.size} beats")
        out[target] = label
        return out
    mask = template_ids == target
    if not mask.any():
        known = ", ".join(str(t) for t in sorted(set(template_ids.tolist())) if t >= 0) or "none"
        raise InputError("template", f"no template {target} in this run; the templates are {known}")
    out[mask] = label
    return out


def _config_from(findings: Findings) -> AnalysisConfig:
    defaults = AnalysisConfig()
    values = {
        f.name: type(getattr(defaults, f.name))(findings.config[f.name])
        for f in dataclasses.fields(AnalysisConfig)
        if f.name in findings.config
    }
    return AnalysisConfig(**values)


def recompute(
    recording: Recording, findings: Findings, beats: _EditedBeats, diary: Path | None = None
) -> Findings:
    """The findings of the edited beats: the analysis package's rhythm logic run again on the same epochs
    (``analysis.pipeline.findings_from_beats``), with the same markers and diary, so the patient events get
    the rhythm of the edited beats too."""
    from ecgdesk.analysis.diary import marker_entries, read_diary
    from ecgdesk.analysis.pipeline import LeadChoice, findings_from_beats
    from ecgdesk.analysis.quality import states_from_string

    states = states_from_string(findings.quality.states)
    info = findings.summary.recording
    choice = LeadChoice(recording.lead_index(info.lead), info.lead_choice)
    entries = marker_entries(recording)
    if diary is not None:
        entries += read_diary(diary, recording.start_time, recording.duration_s)
    return findings_from_beats(recording, choice, beats, states, entries, _config_from(findings))


def require_base(session: Session, study_id: int, base_run: int | None) -> AnalysisRun:
    """The study's current run, which must be ``base_run`` (the run the edit was made on: the editor's page,
    or the run read when the edit began), else a 409 naming both and who made the current one. An edit
    made current over a run it was not derived from would silently undo that run's change (another
    technician's edit, a re-analysis); a beat index of another run may even be another beat."""
    base = session.scalar(
        select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
    )
    if base is None:
        raise InputError("study", "has no current analysis run to edit", source=f"study {study_id}")
    if base_run is not None and base.id != base_run:
        what = "an edit" if base.parent_run_id is not None else "an analysis"
        made = base.created_at.strftime("%Y-%m-%d %H:%M:%S")
        raise ConflictError(
            "base_run",
            f"the analysis changed after the edit was made on analysis run {base_run}: the current run is "
            f"run {base.id} ({what} by {base.created_by}, {made} UTC); nothing was changed: reload to see "
            "it, then edit again",
            source=f"study {study_id}",
        )
    return base


#: An edit does not wait (in the technician's request, up to an hour) for an analysis of the study: it
#: would then apply to the new run's beats, or be refused as made on a run no longer current.
WAIT_NOT_FOR = frozenset({"analyze"})


@locked("edit", busy_if=WAIT_NOT_FOR)
def edit_beats(store: Store, study_id: int, kind: EditKind, target: int, label: str, actor: str,
               base_run: int | None = None) -> RunInfo:
    """Relabel a beat or a template in the current run; the summary is recomputed in a new current run.
    ``base_run``: the run the editor sees (the workstation's pages), refused (409) if it is not current."""
    return _edit(store, study_id, kind, [target], label, actor, base_run)


@locked("edit", busy_if=WAIT_NOT_FOR)
def edit_templates(store: Store, study_id: int, targets: list[int], label: str, actor: str,
                   base_run: int | None = None) -> RunInfo:
    """Relabel every beat of several templates at once (the workstation's multi-select): one new run, so
    the summary is recomputed once, not once per template."""
    if not targets:
        raise InputError("templates", "choose at least one template to relabel")
    return _edit(store, study_id, EditKind.TEMPLATE, sorted(set(targets)), label, actor, base_run)


def _edit(store: Store, study_id: int, kind: EditKind, targets: list[int], label: str, actor: str,
          base_run: int | None) -> RunInfo:
    check_option("label", label, BEAT_CLASSES)
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "edit beats of", EDITABLE_STATES)
        base = require_base(session, study_id, base_run)
        recording_row = session.get(RecordingBlob, base.recording_id)
        assert recording_row is not None
        base_id, base_hash, base_json = base.id, base.input_hash, base.findings_json
        imported = import_warnings(study)
        base_folder = store.resolve(base.beats_path).parent
    with np.load(base_folder / BEATS_NPZ) as data:
        samples, labels, template_ids = data["samples"], data["labels"], data["template_ids"]
    new_labels, per_target = labels, []
    for target in targets:
        step = relabel(new_labels, template_ids, kind, target, label)
        per_target.append(int(np.count_nonzero(step != new_labels)))
        new_labels = step
    changed = int(np.count_nonzero(new_labels != labels))
    if changed == 0:  # the labels are already so (e.g. the same edit repeated): nothing to do
        return RunInfo(base_id, base_hash, True, findings_from_dict(json.loads(base_json)), base_folder)
    # One target keeps the hash of a single edit (runs made before multi-select stay recognised).
    what: dict[str, Any] = {"target": targets[0]} if len(targets) == 1 else {"targets": targets}
    input_hash = _hash({"parent": base_hash, "kind": kind.value, **what, "label": label})
    findings = findings_from_dict(json.loads(base_json))
    with store.transaction() as session:
        existing = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.input_hash == input_hash)
        )
        if existing is not None:
            study = get_study(session, study_id, for_update=True)
            require_base(session, study_id, base_id)
            make_current(session, study, existing, actor, "edit")
            return RunInfo(
                existing.id,
                input_hash,
                True,
                findings_from_dict(json.loads(existing.findings_json)),
                store.resolve(existing.beats_path).parent,
            )
    recording = open_study_recording(store, recording_row, imported)
    templates = [
        _Template(
            t.template_id,
            str(new_labels[template_ids == t.template_id][0])
            if np.any(template_ids == t.template_id)
            else t.label,
            t.n_beats,
            np.asarray(t.waveform),
        )
        for t in findings.templates
    ]
    edited = recompute(
        recording,
        findings,
        _EditedBeats(samples, new_labels, template_ids, templates, recording.fs),
        diary_of(store, recording_row),
    )
    final = _run_folder(store, study_id, input_hash)
    edited, beats_path = _write_run(
        final,
        edited,
        samples,
        new_labels,
        template_ids,
        recording.fs,
        recording_row.main_file.rsplit(".", 1)[0],
    )
    try:
        with store.transaction() as session:
            study = get_study(session, study_id, for_update=True)  # a change meanwhile: refused, not undone
            require_status(study, "edit beats of", EDITABLE_STATES)
            require_base(session, study_id, base_id)
            run = _insert_run(store, session, study, input_hash, edited, beats_path, actor, base_id)
            for target, n_changed in zip(targets, per_target, strict=True):
                session.add(
                    BeatEdit(
                        study_id=study_id,
                        base_run_id=base_id,
                        result_run_id=run.id,
                        kind=kind.value,
                        target=target,
                        new_label=label,
                        n_beats_changed=n_changed,
                        user=actor,
                        created_at=now(),
                    )
                )
            before = {"run_id": base_id, "beats_by_class": findings.summary.beats_by_class}
            after = {
                "run_id": run.id,
                "kind": kind.value,
                **what,
                "label": label,
                "n_beats_changed": changed,
                "beats_by_class": edited.summary.beats_by_class,
            }
            append(session, actor, "analysis:edit", "study", study_id, before, after)
            move(session, study, StudyStatus.ANALYZED, actor, "edit")
            return RunInfo(run.id, input_hash, False, edited, final)
    except BaseException:
        discard_run_folder(store, study_id, input_hash, final)
        raise
