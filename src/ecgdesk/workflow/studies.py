"""Creating studies and importing their recordings.

A study is created from an order (patient, ordering provider, indication, requested service). Importing
a recording copies its files into the content-addressed blob store (read-only) and links the study to it;
the same content imported again is recognised by its SHA-256 and nothing changes.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.coding import Component, Service, Setting
from ecgdesk.coding.necessity import IcdStatus, icd_status, normalize_icd
from ecgdesk.errors import InputError, RecordingError, check_option, check_positive, is_digits
from ecgdesk.interop.model import OrderPriority
from ecgdesk.records import Recording, RecordingFormat, open_recording, recording_files
from ecgdesk.records._checks import file_kind
from ecgdesk.records.pyramid import Progress, remove_pyramid
from ecgdesk.reports.fonts import check_printable
from ecgdesk.store import Store, append, put_files, serialise
from ecgdesk.store.blobs import remove_blob
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import ComponentPerformance, Order, Patient, RecordingBlob, Study
from ecgdesk.workflow.interop_holds import differing
from ecgdesk.workflow.lifecycle import (
    get_study,
    import_warnings,
    move,
    now,
    require_order_open,
    require_status,
    require_unchanged,
)
from ecgdesk.workflow.monitoring_sets import SET_SERVICES, audit_override, check_new_set, estimated_completion
from ecgdesk.workflow.pyramids import ensure_pyramid, pyramid_folder
from ecgdesk.workflow.schemas import StudyCreate
from ecgdesk.workflow.users import check_npi

SEXES = ("M", "F", "U")
SETTING_POS = {Setting.PRACTITIONER: "11", Setting.HOSPITAL_OUTPATIENT: "22"}


@dataclass(frozen=True)
class StudyRequest:
    """Everything ``study create`` needs: the patient and the order."""

    patient_id: str
    name: str
    birth_date: date
    sex: str
    service: Service
    ordering_npi: str
    indications: tuple[str, ...]
    duration_days: float | None = None
    setting: Setting = Setting.PRACTITIONER
    place_of_service: str | None = None
    ordering_name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    placer_order_number: str | None = None  # the EHR's order number, for orders that arrive by interface
    priority: OrderPriority = OrderPriority.ROUTINE
    #: when the set completes, where known (an enrolment's planned end); else estimated from today and the
    #: prescribed days (monitoring_sets.estimated_completion)
    completes_on: date | None = None
    #: a documented medical-necessity reason to order a monitoring set within 29 days of another (audited)
    overlap_reason: str | None = None
    #: the assigning authority of ``patient_id`` as an order gave it (interop_issuer); None: none named
    patient_issuer: str | None = None


def check_request(req: StudyRequest) -> StudyRequest:
    if not req.patient_id.strip():
        raise InputError("patient-id", "must not be empty")
    if not req.name.strip():
        raise InputError("name", "must not be empty")
    check_option("sex", req.sex, SEXES)
    if req.birth_date > date.today():
        raise InputError("birth-date", f"{req.birth_date.isoformat()} is in the future")
    check_npi(req.ordering_npi, "ordering-npi")
    if not req.indications:
        raise InputError("indication", "at least one ICD-10-CM indication code is required")
    unknown = unknown_indication(req.indications)
    if unknown is not None:
        raise InputError("indication", f"{unknown!r} is not an ICD-10-CM code")
    if req.duration_days is not None:
        check_positive("duration-days", req.duration_days)
    pos = req.place_of_service
    if pos is not None and not (len(pos) == 2 and is_digits(pos)):
        raise InputError("pos", f"a place of service is 2 digits, got {req.place_of_service!r}")
    return req


def unknown_indication(codes: Sequence[str]) -> str | None:
    """The first of ``codes`` that is not an ICD-10-CM code (what :func:`check_request` refuses)."""
    return next((code for code in codes if icd_status(code) is IcdStatus.UNKNOWN), None)


def lock_patient_id(session: Session, external_id: str) -> None:
    """Serialise "find or create" of one patient id until the transaction ends: two orders for a new
    patient arriving at once on PostgreSQL would otherwise both insert it (SQLite's write lock already
    serialises every transaction)."""
    serialise(session, f"patient:{external_id}")


def merged_note(session: Session, patient: Patient) -> str:
    """What to tell a sender about a patient the EHR merged into another (ADT^A40)."""
    into = session.get(Patient, patient.merged_into_id) if patient.merged_into_id is not None else None
    when = f"{patient.merged_at:%Y-%m-%d %H:%M}" if patient.merged_at else "earlier"
    target = into.external_id if into is not None else "another patient"
    return f"patient {patient.external_id} was merged into {target} ({when}); send it under {target}"


def create_study(store: Store, req: StudyRequest, actor: str) -> int:
    """Create (or find) the patient, the order and a study in status ``ordered``; return the study id."""
    with store.transaction() as session:
        return add_study(session, req, actor)


def add_study(session: Session, req: StudyRequest, actor: str) -> int:
    """:func:`create_study` inside the caller's transaction (an interface records its message with it)."""
    check_request(req)
    pos = req.place_of_service or SETTING_POS[req.setting]
    indications = [normalize_icd(code) for code in req.indications]
    lock_patient_id(session, req.patient_id)
    patient = session.scalar(select(Patient).where(Patient.external_id == req.patient_id))
    if patient is not None and patient.merged_into_id is not None:  # its record goes on under the survivor
        raise InputError("patient-id", merged_note(session, patient))
    if patient is None:
        patient = Patient(
            external_id=req.patient_id,
            name=req.name,
            birth_date=req.birth_date,
            sex=req.sex,
            created_at=now(),
            id_issuer=req.patient_issuer,
        )
        session.add(patient)
        session.flush()
        append(
            session,
            actor,
            "patient:create",
            "patient",
            patient.id,
            None,
            {
                "external_id": req.patient_id,
                "name": req.name,
                "birth_date": req.birth_date,
                "sex": req.sex,
                **({"id_issuer": req.patient_issuer} if req.patient_issuer else {}),
            },
        )
    elif differ := differing("study", (patient.name, str(patient.birth_date), patient.sex),
                             (req.name, str(req.birth_date), req.sex)):
        # only which fields differ, as a held order's answer says it: the stored values are patient data,
        # and this refusal is no audited read (it told anyone allowed to create a study who an id is)
        raise InputError(
            "patient-id",
            f"patient {req.patient_id!r} is on record with a different {' and '.join(differ) or 'record'}: "
            "check the patient id and what was entered (nothing was created)",
        )
    if req.patient_issuer and patient.id_issuer is None:
        # on record without an authority (made here, or stored before migration 0026): the first order that
        # names one gives it, and results name it back from then on (its own action: a held message's view
        # reads patient:update as the demographics changed)
        patient.id_issuer = req.patient_issuer
        append(session, actor, "patient:authority", "patient", patient.id, {"id_issuer": None},
               {"id_issuer": req.patient_issuer, "patient_id": req.patient_id})
    overlap = None
    if req.service in SET_SERVICES:  # the 29-day rule at the point of use (reference monitoring.md 5, rule 1)
        completes_on = req.completes_on or estimated_completion(now().date(), req.duration_days)
        days = math.ceil(req.duration_days or 1)
        overlap = check_new_set(session, patient.id, req.service, completes_on, days, req.overlap_reason)
    order = Order(
        patient_id=patient.id,
        ordering_npi=req.ordering_npi,
        ordering_name=req.ordering_name,
        indications_json=json.dumps(indications),
        service=req.service.value,
        duration_days=req.duration_days,
        setting=req.setting.value,
        place_of_service=pos,
        created_at=now(),
        placer_order_number=req.placer_order_number,
        priority=req.priority.value,
    )
    session.add(order)
    session.flush()
    stamp = now()
    study = Study(
        patient_id=patient.id,
        order_id=order.id,
        status=StudyStatus.ORDERED.value,
        technician_comments="",
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(study)
    session.flush()
    append(
        session,
        actor,
        "study:create",
        "study",
        study.id,
        None,
        {
            "status": study.status,
            "order_id": order.id,
            "service": req.service.value,
            "ordering_npi": req.ordering_npi,
            "indications": indications,
            "duration_days": req.duration_days,
            "setting": req.setting.value,
            "pos": pos,
            "priority": req.priority.value,
        },
    )
    if overlap is not None:
        audit_override(session, actor, study.id, overlap)
    return study.id


_LISTING: dict[str, tuple[int, list[str]]] = {}  # the last folder listed: its mtime and sorted names


def _names_from(folder: Path, prefix: str) -> list[str]:
    """The names in ``folder`` that start with ``prefix``. A folder of thousands of strips ingested one by
    one would be listed once per strip (quadratic); its listing is kept until the folder changes."""
    key = str(folder)
    stamp = folder.stat().st_mtime_ns
    cached = _LISTING.get(key)
    if cached is None or cached[0] != stamp:
        with os.scandir(folder) as entries:
            cached = (stamp, sorted(e.name for e in entries))
        _LISTING.clear()
        if time.time_ns() - stamp > 2_000_000_000:  # a coarse clock may not show a change within 2 s
            _LISTING[key] = cached
    names = cached[1]
    found = []
    for name in names[bisect.bisect_left(names, prefix):]:
        if not name.startswith(prefix):
            break
        found.append(name)
    return found


@dataclass(frozen=True)
class RecordFiles:
    """What a recording stores: its files, the one to open, and a warning for each side file left out."""

    files: list[Path]
    main: str
    left_out: tuple[str, ...] = ()


def record_files(path: Path, recording: Recording) -> RecordFiles:
    """The files that make up ``recording``, the name of the one to open, and the side files left out.

    A WFDB record is its header, every file the header names (all checked to exist as regular files when
    the record was opened) and the side files ``<name>.*`` beside the header (annotations, events, a
    diary, a stress protocol); any other format is its one file. A side file that is not a regular file
    (a named pipe, a folder, a device, a dangling link) is not stored, with a warning: without one, a diary
    or annotation file that was a named pipe would be left out without a word. Files the reader has named
    already (its ``.evt``) are not named twice.
    """
    if recording.format is not RecordingFormat.WFDB or recording.path is None:
        return RecordFiles([path], path.name)
    header = recording.path
    side: list[Path] = []
    left_out: list[str] = []
    for name in _names_from(header.parent, f"{header.stem}."):
        candidate = header.parent / name
        if candidate.is_file():
            side.append(candidate)
        elif not any(name in text for text in recording.warnings):
            left_out.append(_not_stored(candidate))
    return RecordFiles(list(dict.fromkeys([*recording_files(header), *side])), header.name, tuple(left_out))


def _not_stored(side: Path) -> str:
    try:
        kind = f"is {file_kind(os.stat(side).st_mode)}"
    except OSError as error:
        kind = f"cannot be read ({error.strerror or error})"
    return f"side file {side.name} not stored: it {kind}, not a regular file"


def _open_for_import(path: Path) -> Recording:
    try:
        return open_recording(path)
    except RecordingError as error:
        if error.field != "csv_fs":
            raise
        raise InputError("path", "a CSV recording without a time column cannot be stored in a study (its "
                                 "sampling rate would be lost): add a time column in seconds, or convert it "
                                 "with 'ecgdesk convert --csv-fs'", path) from None


@dataclass(frozen=True)
class ImportResult:
    study_id: int
    recording_id: int
    sha256: str
    reused: bool
    path: Path
    #: what the reader had to guess or leave out (Recording.warnings), then the side files not stored
    warnings: tuple[str, ...] = ()


def import_recording(
    store: Store,
    study_id: int,
    path: Path,
    actor: str,
    progress: Progress | None = None,
    attached: Callable[[Session, ImportResult], object] | None = None,
) -> ImportResult:
    """Store the recording at ``path`` (read-only, by content), build its signal pyramid (``progress``
    gets the seconds of recording done) and attach it to the study. ``attached`` runs inside the
    transaction that attaches it (an upload job records there that its import is done)."""
    path = Path(path)
    with store.transaction() as session:  # refuse early, before reading or copying anything
        study = get_study(session, study_id)
        require_status(study, "import a recording into", {StudyStatus.ORDERED, StudyStatus.RECORDED})
        require_order_open(session, study, "import a recording into")
    if not path.exists() and not path.with_suffix(".hea").exists():
        raise InputError("path", "no such file", path)
    recording = _open_for_import(path)
    stored = record_files(path, recording)
    warnings = (*recording.warnings, *stored.left_out)
    blob = put_files(store.blob_root, stored.files)
    try:
        ensure_pyramid(store, blob.relative_dir, stored.main, blob.sha256, progress)
        with store.transaction() as session:
            study = get_study(session, study_id)
            row = session.scalar(select(RecordingBlob).where(RecordingBlob.sha256 == blob.sha256))
            if row is None:
                row = RecordingBlob(
                    sha256=blob.sha256,
                    blob_dir=blob.relative_dir,
                    main_file=stored.main,
                    original_path=str(path),
                    format=recording.format.value,
                    fs=recording.fs,
                    n_samples=recording.n_samples,
                    n_leads=recording.n_leads,
                    duration_s=recording.duration_s,
                    start_time=recording.start_time,
                    size_bytes=blob.size_bytes,
                    imported_at=now(),
                )
                session.add(row)
                session.flush()
                append(
                    session,
                    actor,
                    "recording:store",
                    "recording",
                    row.id,
                    None,
                    {
                        "sha256": blob.sha256,
                        "files": list(blob.files),
                        "format": row.format,
                        "fs": row.fs,
                        "n_samples": row.n_samples,
                        "n_leads": row.n_leads,
                    },
                )
            if study.recording_id == row.id:
                _add_import_warnings(session, study, warnings, actor)
                result = ImportResult(
                    study_id, row.id, blob.sha256, True, blob.path(store.blob_root, stored.main), warnings
                )
                if attached is not None:
                    attached(session, result)
                return result
            before = {"recording_id": study.recording_id, "import_warnings": list(import_warnings(study))}
            require_status(study, "import a recording into", {StudyStatus.ORDERED, StudyStatus.RECORDED})
            require_order_open(session, study, "import a recording into")  # cancelled meanwhile
            study.recording_id = row.id
            study.import_warnings_json = json.dumps(list(warnings))
            move(session, study, StudyStatus.RECORDED, actor, "import")
            after = {"recording_id": row.id, "import_warnings": list(warnings)}
            append(session, actor, "study:import", "study", study.id, before, after)
            order = session.get(Order, study.order_id)
            assert order is not None
            set_component(session, study.id, Component.RECORDING, actor, None, order)
            result = ImportResult(
                study_id, row.id, blob.sha256, False, blob.path(store.blob_root, stored.main), warnings
            )
            if attached is not None:
                attached(session, result)
            return result
    except BaseException:
        if blob.created:
            with store.transaction() as session:
                still_used = session.scalar(select(RecordingBlob).where(RecordingBlob.sha256 == blob.sha256))
            if still_used is None:
                remove_blob(store.blob_root, blob.relative_dir)
                remove_pyramid(pyramid_folder(store, blob.relative_dir))
        raise


def _add_import_warnings(session: Session, study: Study, warnings: Sequence[str], actor: str) -> None:
    """The same content imported again from another source may have left out other things (a side file
    that was a named pipe there): the study keeps the warnings of every import of its recording."""
    before = import_warnings(study)
    after = tuple(dict.fromkeys([*before, *warnings]))
    if after == before:
        return
    study.import_warnings_json = json.dumps(list(after))
    study.updated_at = now()
    append(session, actor, "study:import-warnings", "study", study.id,
           {"import_warnings": list(before)}, {"import_warnings": list(after)})


def set_component(
    session: Session, study_id: int, component: Component, performer: str, npi: str | None, order: Order
) -> None:
    """Record (or replace) who performed ``component`` of the study, in the order's setting."""
    rows = session.scalars(
        select(ComponentPerformance).where(
            ComponentPerformance.study_id == study_id, ComponentPerformance.component == component.value
        )
    ).all()
    before = [{"performer": r.performer, "npi": r.npi} for r in rows]
    for r in rows:
        session.delete(r)
    row = ComponentPerformance(
        study_id=study_id,
        component=component.value,
        performer=performer,
        npi=npi,
        setting=order.setting,
        place_of_service=order.place_of_service,
        performed_at=now(),
    )
    session.add(row)
    session.flush()
    append(
        session,
        performer,
        f"component:{component.value}",
        "study",
        study_id,
        before or None,
        {
            "component": component.value,
            "performer": performer,
            "npi": npi,
            "setting": order.setting,
            "pos": order.place_of_service,
        },
    )


def open_study_recording(store: Store, row: RecordingBlob, imported: Sequence[str] = ()) -> Recording:
    """The stored recording, with the warnings of its import (``imported``, :func:`import_warnings` of the
    study) added to its own: what the import left out is not in the stored copy, so reading the copy says
    nothing about it, and every analysis carries the recording's warnings into its findings."""
    return with_import_warnings(open_recording(store.blob_root / row.blob_dir / row.main_file), imported)


def with_import_warnings(recording: Recording, imported: Sequence[str]) -> Recording:
    """``recording`` with each import warning its own reading does not repeat, marked ``at import:``."""
    extra = [f"at import: {text}" for text in imported if text not in recording.warnings]
    if not extra:
        return recording
    return dataclasses.replace(recording, warnings=(*recording.warnings, *extra))


def set_technician_comments(
    store: Store, study_id: int, text: str, actor: str, base: str | None = None
) -> None:
    """The technician's comments printed in the report (before signing; audited with before and after).
    ``base``: the comments the editor started from; when they were changed meanwhile, refused (409)."""
    check_printable("text", text)  # printed in the report that is signed: every character must show
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # a signature being recorded waits, or refuses
        require_status(
            study, "comment on", {StudyStatus.RECORDED, StudyStatus.ANALYZED, StudyStatus.REPORTED}
        )
        before = study.technician_comments
        require_unchanged(study_id, "technician comments", before, base)
        if before == text.strip():
            return
        study.technician_comments = text.strip()
        study.updated_at = now()
        append(
            session,
            actor,
            "study:comment",
            "study",
            study_id,
            {"technician_comments": before},
            {"technician_comments": study.technician_comments},
        )


def record_component(
    store: Store, study_id: int, component: str, performer: str, npi: str | None, actor: str
) -> None:
    """Record who performed a component by hand (e.g. supervision or monitoring, which no step records)."""
    value = Component(check_option("component", component, [c.value for c in Component]))
    if not performer.strip():
        raise InputError("performer", "must not be empty")
    checked = check_npi(npi, "npi") if npi is not None else None
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(
            study, "record a component of", {s for s in StudyStatus if s is not StudyStatus.BILLED}
        )
        order = session.get(Order, study.order_id)
        assert order is not None
        set_component(session, study_id, value, performer.strip(), checked, order)
        if actor != performer.strip():
            append(
                session,
                actor,
                "component:recorded-by",
                "study",
                study_id,
                None,
                {"component": value.value, "performer": performer.strip()},
            )


def create_study_from(store: Store, body: StudyCreate, actor: str) -> int:
    """:func:`create_study` from the API's input model (the same checks, the same audit rows)."""
    request = StudyRequest(
        patient_id=body.patient_id,
        name=body.name,
        birth_date=body.birth_date,
        sex=body.sex,
        service=body.service,
        ordering_npi=body.ordering_npi,
        indications=tuple(body.indications),
        duration_days=body.duration_days,
        setting=body.setting,
        place_of_service=body.place_of_service,
        ordering_name=body.ordering_name,
        priority=body.priority,
        overlap_reason=body.overlap_reason,
    )
    return create_study(store, request, actor)


def check_analyzable(store: Store, study_id: int) -> None:
    """Refuse (404/409) before starting background analysis of a study that cannot be analysed now."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "analyze", {StudyStatus.RECORDED, StudyStatus.ANALYZED, StudyStatus.REPORTED})
