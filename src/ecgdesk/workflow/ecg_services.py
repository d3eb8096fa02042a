"""Resting 12-lead ECG and exercise stress test studies in the study workflow.

The lifecycle, report versions, review, password-confirmed signature, addenda, audit log and coding are the
ones of every study (:mod:`ecgdesk.workflow.reporting`, :mod:`ecgdesk.workflow.billing`); what differs is
the analysis (:func:`ecgdesk.analysis.ecg12.resting.analyze_resting`, or
:func:`ecgdesk.analysis.stress.exercise.analyze_stress` with the protocol file stored beside the recording)
and the report drawn from it. An analysis run stores the measurement document (``measurements.json`` or
``stress.json``) as its findings, and its folder holds the files ``ecgdesk ecg12`` / ``ecgdesk stress``
write.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.analysis.ecg12.resting import ALGORITHM_VERSION as RESTING_VERSION
from ecgdesk.analysis.ecg12.resting import analyze_resting, measurements_to_dict, write_outputs
from ecgdesk.analysis.stress.exercise import StressResult, analyze_stress, stress_to_dict
from ecgdesk.analysis.stress.protocol import StressProtocol, load_protocol
from ecgdesk.analysis.stress.subject import stress_subject
from ecgdesk.coding import Component, Service
from ecgdesk.errors import InputError
from ecgdesk.records import Recording
from ecgdesk.reports.context import SignatureBlock
from ecgdesk.reports.ecg12_report import Ecg12ReportContext, render_ecg12_report
from ecgdesk.reports.ecg12_report import report_content_digest as resting_digest
from ecgdesk.reports.stress_report import StressReportContext, render_stress_report, stress_report_digest
from ecgdesk.store import Store, append, canonical_json, file_sha256
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import (
    AnalysisRun,
    Order,
    Patient,
    RecordingBlob,
    Study,
)
from ecgdesk.workflow.analysis import Finalize, discard_run_folder, insert_run, make_current
from ecgdesk.workflow.lifecycle import import_warnings, move, require_same_recording, require_status
from ecgdesk.workflow.locks import locked
from ecgdesk.workflow.report_parts import report_parts
from ecgdesk.workflow.studies import get_study, open_study_recording, set_component

ECG_SERVICES = frozenset({Service.RESTING_ECG, Service.STRESS_TEST})
MANIFEST, RESULT_FILE = "manifest.json", "result.pickle"
#: 1.1: the patient record's age and sex, not the protocol file's; 1.2: pacemaker stimuli cut before the
#: stages' delineation (ecg12-1.5); 1.3: aVR known under any spelling of its name (``ECG aVR``, ``Lead aVR``),
#: so its reciprocal ST depression is not taken for ischemia; 1.4: noise left out of the heart rates, a
#: stage measured inside its own times only, phases out of order refused, warnings in stress.json; 1.5: no
#: Foster METs outside 3-21 min of Bruce exercise nor 1.0 without speeds ("Bruce" is Bruce in any case), a
#: lead named twice taken for neither (aVR included)
STRESS_VERSION = "stress-1.5"
ANALYZABLE = {StudyStatus.RECORDED, StudyStatus.ANALYZED, StudyStatus.REPORTED}
EcgReportContext = Ecg12ReportContext | StressReportContext


@dataclass(frozen=True)
class EcgRunInfo:
    run_id: int
    input_hash: str
    reused: bool
    service: Service
    summary: dict[str, Any]
    folder: Path


def study_service(session: Session, study: Study) -> Service:
    order = session.get(Order, study.order_id)
    assert order is not None
    return Service(order.service)


def is_ecg_study(store: Store, study_id: int) -> bool:
    """Whether the study is a resting ECG or a stress test (handled here, not by the ambulatory engine)."""
    with store.transaction() as session:
        return study_service(session, get_study(session, study_id)) in ECG_SERVICES


def protocol_path(store: Store, row: RecordingBlob) -> Path:
    """The stress protocol stored with the recording: ``<record>.protocol.json`` beside its header."""
    return store.blob_root / row.blob_dir / f"{Path(row.main_file).stem}.protocol.json"


def _load_stress_protocol(store: Store, row: RecordingBlob) -> StressProtocol:
    path = protocol_path(store, row)
    if not path.exists():
        raise InputError(
            "protocol",
            f"a stress test needs its protocol file: import the recording with "
            f"{path.name} beside it (see docs/stress.md)",
            row.original_path,
        )
    return load_protocol(path)


@dataclass(frozen=True)
class PatientFacts:
    """Who the patient is, from the patient record: a stress test's age and sex come from here."""

    birth_date: date | None
    sex: str

    @classmethod
    def of(cls, session: Session, study: Study) -> PatientFacts:
        patient = session.get(Patient, study.patient_id)
        assert patient is not None
        return cls(patient.birth_date, patient.sex)


def _analyse(
    store: Store, row: RecordingBlob, service: Service, recording: Recording, patient: PatientFacts
) -> tuple[dict[str, Any], Any, StressProtocol | None]:
    if service is Service.RESTING_ECG:
        result = analyze_resting(recording)
        return {"kind": service.value, **measurements_to_dict(result)}, result, None
    protocol = _load_stress_protocol(store, row)
    test_date = recording.start_time.date() if recording.start_time else None
    subject = stress_subject(protocol, patient.birth_date, patient.sex, test_date)
    stress = analyze_stress(recording, protocol, subject=subject)
    document = {"kind": service.value, "algorithm_version": STRESS_VERSION, **stress_to_dict(stress)}
    document.setdefault("warnings", list(recording.warnings))  # as the resting document carries them
    return document, stress, protocol


def _input_hash(
    store: Store, row: RecordingBlob, service: Service, imported: Sequence[str], patient: PatientFacts
) -> str:
    parts: dict[str, Any] = {
        "recording_sha256": row.sha256,
        "service": service.value,
        "algorithm_version": RESTING_VERSION if service is Service.RESTING_ECG else STRESS_VERSION,
    }
    if service is Service.STRESS_TEST:
        path = protocol_path(store, row)
        parts["protocol_sha256"] = file_sha256(path) if path.exists() else ""
        # the record's age and sex set the predicted maximum: a corrected record is a new analysis
        parts["patient"] = [str(patient.birth_date or ""), patient.sex]
    if imported:  # in the document's warnings; absent when none, so earlier runs keep their hash
        parts["import_warnings"] = list(imported)
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def _write_folder(final: Path, service: Service, document: dict[str, Any], result: Any) -> Path:
    """Write the run's files in a temporary folder renamed to ``final`` once complete; the main file.

    The main file is a manifest with the SHA-256 of each file, the analysis result among them (its typed
    objects, pickled): the run's row stores the manifest's SHA-256, so the report is later drawn from the
    verified stored result instead of analysing the recording again."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        if service is Service.RESTING_ECG:
            write_outputs(result, tmp)
            main = "waves.csv"
        else:
            (tmp / "stress.json").write_text(canonical_json(document) + "\n", encoding="utf-8")
            main = "stress.json"
        (tmp / RESULT_FILE).write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        manifest = {"main": main, "files": {name: file_sha256(tmp / name) for name in (main, RESULT_FILE)}}
        (tmp / MANIFEST).write_text(canonical_json(manifest) + "\n", encoding="utf-8")
        if final.exists():  # complete, of the same inputs; perhaps a stored run's (see analysis._write_run)
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / MANIFEST


def stored_result(store: Store, run: AnalysisRun) -> Any | None:
    """The analysis result stored with ``run``, verified against the SHA-256 chain that starts in the
    database (run -> manifest -> result); None for runs made before results were stored."""
    manifest_path = store.resolve(run.beats_path)
    if manifest_path.name != MANIFEST or not manifest_path.exists():
        return None
    if file_sha256(manifest_path) != run.beats_sha256:
        raise InputError("analysis", f"the files of analysis run {run.id} changed on disk", manifest_path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    path = manifest_path.parent / RESULT_FILE
    if file_sha256(path) != manifest["files"][RESULT_FILE]:
        raise InputError("analysis", f"the stored result of analysis run {run.id} was changed on disk", path)
    return pickle.loads(path.read_bytes())  # our own file, verified by the chain above


@locked("analyze")
def analyze_ecg_study(
    store: Store, study_id: int, actor: str, *, finalize: Finalize | None = None
) -> EcgRunInfo:
    """Analyse a resting ECG or stress test study (or reuse the run with the same inputs).

    ``finalize`` runs inside the transaction that stores or reuses the run: an ``analysis.ecg`` job is done
    there, so a job cancelled (or whose lease was lost) while it analysed stores nothing and leaves the
    study as it was, as the ambulatory analysis does (:func:`ecgdesk.workflow.analysis.analyze_study`)."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "analyze", ANALYZABLE)
        service = study_service(session, study)
        if service not in ECG_SERVICES:
            raise InputError("service", f"study {study_id} is a {service.value} study; use 'study analyze'")
        row = session.get(RecordingBlob, study.recording_id)
        assert row is not None
        imported = import_warnings(study)
        patient = PatientFacts.of(session, study)
        input_hash = _input_hash(store, row, service, imported, patient)
        existing = session.scalar(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.input_hash == input_hash)
        )
        if existing is not None:
            if not existing.is_current or StudyStatus(study.status) is StudyStatus.RECORDED:
                make_current(session, study, existing, actor, "analyze")
            if finalize is not None:
                finalize(session, existing.id, True)
            return EcgRunInfo(
                existing.id,
                input_hash,
                True,
                service,
                json.loads(existing.findings_json),
                store.resolve(existing.beats_path).parent,
            )
    recording = open_study_recording(store, row, imported)
    document, result, protocol = _analyse(store, row, service, recording, patient)
    final = store.studies_root / str(study_id) / "runs" / input_hash[:20]
    main_file = _write_folder(final, service, document, result)
    try:
        with store.transaction() as session:
            study = get_study(session, study_id)
            require_status(study, "analyze", ANALYZABLE)
            require_same_recording(study, row.id)
            run = insert_run(
                store,
                session,
                study,
                input_hash,
                algorithm_version=str(document["algorithm_version"]),
                findings_json=canonical_json(document),
                main_file=main_file,
                analyzable_s=recording.duration_s,
                wear_s=recording.duration_s,
                actor=actor,
            )
            append(
                session,
                actor,
                "analysis:run",
                "study",
                study_id,
                None,
                {
                    "run_id": run.id,
                    "input_hash": input_hash,
                    "algorithm_version": run.algorithm_version,
                    "service": service.value,
                },
            )
            move(session, study, StudyStatus.ANALYZED, actor, "analyze")
            if protocol is not None and protocol.supervisor:
                order = session.get(Order, study.order_id)
                assert order is not None
                set_component(
                    session,
                    study_id,
                    Component.SUPERVISION,
                    protocol.supervisor,
                    protocol.supervisor_npi,
                    order,
                )
            if finalize is not None:
                finalize(session, run.id, False)
            return EcgRunInfo(run.id, input_hash, False, service, document, final)
    except BaseException:
        discard_run_folder(store, study_id, input_hash, final)
        raise


def build_ecg_context(
    store: Store, session: Session, study: Study, version: int, signature: SignatureBlock | None = None
) -> EcgReportContext:
    """The report content of a resting ECG or stress study as stored now, labelled as ``version``."""
    service = study_service(session, study)
    parts = report_parts(store, session, study, version)
    run, row, recording = parts.run, parts.row, parts.recording
    header, text, addenda = parts.header, parts.interpretation, parts.addenda
    result = stored_result(store, run)
    if result is None:  # a run from before results were stored: the analysis is deterministic, re-run it
        document, result, _ = _analyse(store, row, service, recording, PatientFacts.of(session, study))
    else:
        document = json.loads(run.findings_json)
    if canonical_json(document) != run.findings_json:
        raise InputError(
            "analysis",
            f"the stored analysis run {run.id} no longer matches the recording; run 'study analyze' again",
            f"study {study.id}",
        )
    if service is Service.RESTING_ECG:
        return Ecg12ReportContext(result, header, over_read=text, signature=signature, addenda=addenda)
    assert isinstance(result, StressResult)
    return StressReportContext(result, header, interpretation=text, signature=signature, addenda=addenda)


def ecg_content_digest(ctx: EcgReportContext) -> str:
    return resting_digest(ctx) if isinstance(ctx, Ecg12ReportContext) else stress_report_digest(ctx)


def render_ecg_report(ctx: EcgReportContext, folder: Path) -> tuple[Path, Path | None]:
    """Render into ``folder``; returns (PDF, PNG page or None)."""
    if isinstance(ctx, Ecg12ReportContext):
        rendered = render_ecg12_report(ctx, folder)
        return rendered.pdf_path, rendered.png_path
    return render_stress_report(ctx, folder).pdf_path, None
