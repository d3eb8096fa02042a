"""An upload's files changed or deleted on disk between their receipt (checked, the upload accepted) and
the import job that runs later (a worker busy, a retry after a failure): the job imports nothing and says
so, rather than attaching under the upload's name a recording nobody uploaded; on both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import select
from workflow_builders import request as study_request

from ecgdesk.records import write_recording
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow import uploads
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.jobs import run_chain
from ecgdesk.workflow.studies import create_study, get_study


def _accepted(store: Store, record: Path, name: str) -> tuple[int, uploads.Accepted, Path]:
    study_id = create_study(store, study_request(), "tech")
    folder = store.home / "uploads" / name
    folder.mkdir(parents=True)
    for path in record.parent.glob(f"{record.stem}.*"):
        shutil.copy(path, folder / path.name)
    return study_id, uploads.accept_upload(store, study_id, folder, "tech"), folder


def _outcome(store: Store, study_id: int, upload_id: int, job_id: int) -> tuple[str, str, str, list[str]]:
    with store.transaction() as session:
        row = session.get(uploads.Upload, upload_id)
        job = session.get(Job, job_id)
        assert row is not None and job is not None
        kinds = [str(k) for k in session.scalars(select(Job.kind).where(Job.study_id == study_id))]
        return str(get_study(session, study_id).status), row.state, job.error or "", kinds


def test_an_upload_changed_on_disk_before_its_import_imports_nothing(store: Store, tiny_record: Path) -> None:
    """Before, the job imported whatever the folder held then (here another patient's 2 minutes, readable
    and plausible) and analysed it as the upload; now it fails at once naming the upload and why, the study
    keeps no recording and no analysis is queued. The receipt's audit row keeps the files' SHA-256."""
    study_id, accepted, folder = _accepted(store, tiny_record, "u1")
    job_id = uploads.enqueue_upload(store, accepted, "tech")
    other = synthetic_recording(2.0, seed=11)
    # Only the files the recording is made of are replaced: other tests may have left a sidecar (an events
    # file) beside the shared tiny record, which stays as it was.
    elsewhere = store.home / "elsewhere"
    write_recording(other, elsewhere, "wfdb", tiny_record.stem)
    for path in elsewhere.iterdir():
        shutil.copy(path, folder / path.name)
    job = run_chain(store, job_id)
    assert job.status == "failed" and job.attempts == 1
    status, state, error, kinds = _outcome(store, study_id, accepted.upload_id, job_id)
    assert (status, state, kinds) == ("ordered", "failed", ["upload.import"])
    assert error.startswith(f"upload {accepted.upload_id}: field 'files': the uploaded files changed on disk")
    assert "nothing was imported" in error, error
    with store.transaction() as session:
        receipt = session.scalars(select(AuditEntry).where(AuditEntry.action == "upload:receive")).one()
    assert json.loads(receipt.after_json or "{}")["sha256"] == accepted.sha256


def test_an_upload_file_deleted_before_its_import_is_named(store: Store, tiny_record: Path) -> None:
    """A file of the upload gone: the job fails naming it, and what to do."""
    study_id, accepted, folder = _accepted(store, tiny_record, "u2")
    job_id = uploads.enqueue_upload(store, accepted, "tech")
    (folder / f"{tiny_record.stem}.dat").unlink()
    assert run_chain(store, job_id).status == "failed"
    status, state, error, kinds = _outcome(store, study_id, accepted.upload_id, job_id)
    assert (status, state, kinds) == ("ordered", "failed", ["upload.import"])
    assert f"{tiny_record.stem}.dat" in error and "upload the recording again" in error, error
