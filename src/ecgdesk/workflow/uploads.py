"""Recordings that arrive over HTTP: checked at once, then imported and analysed as background work.

The faces stream the files into a private folder and call :func:`accept_upload`, which opens the
recording with the readers (so a file that is not an ECG is refused with the reader's message and nothing
is kept) and records the upload (state ``received``). :func:`enqueue_upload` then queues an
``upload.import`` job (:func:`run_upload_job`): it imports the recording into the blob store and queues the
study's analysis job, whose status the upload then shows (``GET /api/v1/studies/{id}``). The upload folder
lives under the store's home, so any worker (a Dask worker on another host too) can import it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.jobs.queue import LeaseLostError
from ecgdesk.jobs.runner import Done, JobContext, Outcome
from ecgdesk.records import open_recording
from ecgdesk.store import Store, append
from ecgdesk.store.blobs import file_sha256_all
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.service_models import Upload
from ecgdesk.workflow.lifecycle import now, require_order_open, require_status
from ecgdesk.workflow.studies import ImportResult, get_study, import_recording

UPLOADABLE = {StudyStatus.ORDERED, StudyStatus.RECORDED}


@dataclass(frozen=True)
class Accepted:
    upload_id: int
    main_file: Path
    #: the received files' manifest SHA-256 (the blob store's): the import job imports exactly these
    sha256: str | None = None


def main_file(files: list[Path]) -> Path:
    """The file the readers open: the WFDB header when there is one, else the only file."""
    headers = [f for f in files if f.suffix.lower() == ".hea"]
    if len(headers) == 1:
        return headers[0]
    if len(files) == 1:
        return files[0]
    raise InputError(
        "files",
        f"{len(files)} files and {len(headers)} WFDB headers: send one recording (a .hea and its files)",
    )


def check_study_open(store: Store, study_id: int) -> None:
    """Refuse an upload before receiving it when the study cannot take one (unknown id, wrong status)."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "import a recording into", UPLOADABLE)
        require_order_open(session, study, "import a recording into")


def accept_upload(store: Store, study_id: int, folder: Path, actor: str) -> Accepted:
    """Check the received files are a readable recording; record the upload. On refusal the folder goes."""
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
        if not files:
            raise InputError("files", "no file was uploaded")
        main = main_file(files)
        try:
            open_recording(main)
        except InputError as error:  # the reader's message, naming the uploaded file (not our folder)
            # the file the reader names (a signal file the header names and the upload lacks), else the main
            named = Path(error.source).name if error.source else main.name
            raise InputError("files", f"{named}: {error.reason} ({error.field})") from None
        except Exception as error:  # a reader's own failure on a hostile file is still bad input
            raise InputError(
                "files", f"not a readable ECG recording ({type(error).__name__}: {error})", main.name
            ) from None
        size = sum(f.stat().st_size for f in files)
        sha256 = file_sha256_all(folder, [f.name for f in files])
        with store.transaction() as session:
            study = get_study(session, study_id)
            require_status(study, "import a recording into", UPLOADABLE)
            require_order_open(session, study, "import a recording into")
            stamp = now()
            row = Upload(
                study_id=study_id,
                state="received",
                progress=0.0,
                message="import and analysis queued",  # the detail after the state: never the state again
                files_json=json.dumps([f.name for f in files]),
                size_bytes=size,
                actor=actor,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(row)
            session.flush()
            append(
                session,
                actor,
                "upload:receive",
                "study",
                study_id,
                None,
                {"upload": row.id, "files": [f.name for f in files], "size_bytes": size, "sha256": sha256},
            )
            return Accepted(row.id, main, sha256)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _update(store: Store, upload_id: int, state: str, progress: float, message: str) -> None:
    with store.transaction() as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        row.state, row.progress, row.message, row.updated_at = state, progress, message[:2000], now()


def enqueue_upload(store: Store, accepted: Accepted, actor: str) -> int:
    """Queue the import (then analysis) of an accepted upload; the job id."""
    from ecgdesk.jobs import queue
    from ecgdesk.jobs.queue import JobSpec, Priority

    with store.transaction() as session:
        row = session.get(Upload, accepted.upload_id)
        assert row is not None
        spec = JobSpec(
            "upload.import",
            {"upload_id": accepted.upload_id, "main": store.relative(accepted.main_file), "actor": actor,
             "sha256": accepted.sha256},
            queue.input_hash({"upload_id": accepted.upload_id}),
            "upload-1",
            priority=Priority.ROUTINE,
            study_id=row.study_id,  # listed with the study's jobs (its page, its detail, 'jobs list --study')
        )
        job, _ = queue.enqueue(session, spec, actor)
        row.message, row.job_id = f"import queued (job {job.id})", job.id
        return job.id


def run_upload_job(ctx: JobContext) -> Outcome:
    """``upload.import``: import the upload, then queue the study's analysis (the upload follows it).

    The recording is attached, the analysis queued and the job done in one transaction (with an
    ``upload:import`` audit row naming the upload), so a job cancelled or whose lease was lost mid-way
    imports nothing and queues nothing, and its retry imports once. Bad input fails the upload and the
    job at once (its folder removed); another error leaves the folder for the job's next attempt. An
    import committed by an earlier attempt (one made before the import and the job's end were one
    transaction) is not repeated: the job finds the analysis that attempt queued, or queues it.
    """
    store = ctx.store
    upload_id, actor = int(ctx.payload["upload_id"]), str(ctx.payload["actor"])
    main = store.resolve(ctx.payload["main"])
    with store.transaction() as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        study_id = row.study_id
        names = [str(name) for name in json.loads(row.files_json)]
        before = _imported_before(session, study_id, upload_id)
    _update(store, upload_id, "importing", 0.0, "reading the recording's files")
    result: dict[str, Any] = {"study_id": study_id}

    def conclude(session: Session, sha256: str, warnings: tuple[str, ...]) -> None:
        """Queue the analysis and end the upload's job, in the transaction of the import."""
        job_id = _analysis_job(session, store, study_id, actor, ctx.job_id if before is not None else None)
        result.update(sha256=sha256, next_job=job_id, warnings=list(warnings))
        row = session.get(Upload, upload_id)
        assert row is not None
        row.state, row.progress, row.job_id, row.updated_at = "analyzing", 0.0, job_id, now()
        row.message = f"imported; analysis queued (job {job_id})" + "".join(
            f"; warning: {warning}" for warning in warnings
        )
        ctx.finish_in(session, result)

    def attached(session: Session, imported: ImportResult) -> None:
        append(session, actor, "upload:import", "study", study_id, None, {
            "upload": upload_id, "recording_id": imported.recording_id, "sha256": imported.sha256,
            "warnings": list(imported.warnings), "job": ctx.job_id,
        })
        conclude(session, imported.sha256, tuple(imported.warnings))

    try:
        if before is None:
            _require_as_received(main.parent, names, ctx.payload.get("sha256"), upload_id)
            import_recording(store, study_id, main, actor, attached=attached)
        else:  # an earlier attempt imported it and stopped before the end
            with store.transaction() as session:
                conclude(session, str(before["sha256"]), tuple(before.get("warnings") or ()))
    except LeaseLostError:  # cancelled, or another worker runs it now: its files stay for that run
        raise
    except EcgDeskError as error:
        _update(store, upload_id, "failed", 0.0, str(error))
        shutil.rmtree(main.parent, ignore_errors=True)
        raise
    shutil.rmtree(main.parent, ignore_errors=True)
    return Done(result)


def _require_as_received(folder: Path, names: list[str], received: object, upload_id: int) -> None:
    """Refuse to import an upload whose files are not the ones received and checked (changed or deleted
    on disk while the job waited, e.g. for its retry): importing them would attach, under the upload's
    name, a recording nobody uploaded. Jobs queued before the checksum was kept carry none."""
    if not isinstance(received, str):
        return
    try:
        now_sha = file_sha256_all(folder, names)
    except OSError as error:
        raise InputError(
            "files", f"the uploaded file {Path(error.filename or '').name or '?'} cannot be read any more "
            f"({error.strerror or error}); nothing was imported: upload the recording again",
            f"upload {upload_id}",
        ) from None
    if now_sha != received:
        raise InputError(
            "files", f"the uploaded files changed on disk after they were received (SHA-256 {received[:12]}… "
            f"then, {now_sha[:12]}… now); nothing was imported: upload the recording again",
            f"upload {upload_id}",
        )


def _imported_before(session: Session, study_id: int, upload_id: int) -> dict[str, Any] | None:
    """What an earlier attempt of the upload's job imported (its ``upload:import`` audit row), if any."""
    rows = session.scalars(
        select(AuditEntry.after_json)
        .where(AuditEntry.action == "upload:import", AuditEntry.entity == "study",
               AuditEntry.entity_id == str(study_id))
        .order_by(AuditEntry.id.desc())
    )
    for text in rows:
        after: dict[str, Any] = json.loads(text)
        if after.get("upload") == upload_id:
            return after
    return None


def _analysis_job(session: Session, store: Store, study_id: int, actor: str, queued_after: int | None) -> int:
    """The study's analysis job, in the caller's transaction: with ``queued_after`` (the upload job's id,
    on an attempt after its import), the one an earlier attempt queued when there is one (the study may
    be past analysable by now), else queued now."""
    from ecgdesk.jobs import queue
    from ecgdesk.store.jobs_models import Job, JobStatus
    from ecgdesk.workflow.analysis_jobs import analysis_spec

    if queued_after is not None:
        earlier = session.scalar(
            select(Job.id)
            .where(Job.study_id == study_id, Job.kind.in_(("analysis.study", "analysis.ecg")),
                   Job.parent_id.is_(None), Job.id > queued_after,
                   Job.status != JobStatus.CANCELLED.value)
            .order_by(Job.id.desc())
            .limit(1)
        )
        if earlier is not None:
            return int(earlier)
    return queue.enqueue(session, analysis_spec(session, store, study_id, actor), actor)[0].id
