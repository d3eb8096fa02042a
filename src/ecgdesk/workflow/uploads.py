"""Recordings that arrive over HTTP: checked at once, then imported and analysed as background work.

The faces stream the files into a private folder and call :func:`accept_upload`, which opens the
recording with the readers (so a file that is not an ECG is refused with the reader's message and nothing
is kept) and records the upload (state ``received``). :func:`process_upload` then imports it into the blob
store and analyses it, writing its state and progress into the ``uploads`` row, which ``GET
/api/v1/studies/{id}`` shows; the folder is removed in every case.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.records import open_recording
from ecgdesk.store import Store, append
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.service_models import Upload
from ecgdesk.workflow.lifecycle import now, require_status
from ecgdesk.workflow.studies import get_study, import_recording

UPLOADABLE = {StudyStatus.ORDERED, StudyStatus.RECORDED}


@dataclass(frozen=True)
class Accepted:
    upload_id: int
    main_file: Path


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
        require_status(get_study(session, study_id), "import a recording into", UPLOADABLE)


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
            raise InputError("files", f"{main.name}: {error.reason} ({error.field})") from None
        except Exception as error:  # a reader's own failure on a hostile file is still bad input
            raise InputError(
                "files", f"not a readable ECG recording ({type(error).__name__}: {error})", main.name
            ) from None
        size = sum(f.stat().st_size for f in files)
        with store.transaction() as session:
            require_status(get_study(session, study_id), "import a recording into", UPLOADABLE)
            stamp = now()
            row = Upload(
                study_id=study_id,
                state="received",
                progress=0.0,
                message="received; import and analysis queued",
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
                {"upload": row.id, "files": [f.name for f in files], "size_bytes": size},
            )
            return Accepted(row.id, main)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _update(store: Store, upload_id: int, state: str, progress: float, message: str) -> None:
    with store.transaction() as session:
        row = session.get(Upload, upload_id)
        assert row is not None
        row.state, row.progress, row.message, row.updated_at = state, progress, message[:2000], now()


def analyze_any(store: Store, study_id: int, actor: str, progress: object = None) -> int:
    """Analyse a study with the engine of its service (ambulatory scanning, resting ECG, stress); run id."""
    from ecgdesk.workflow.analysis import analyze_study
    from ecgdesk.workflow.ecg_services import analyze_ecg_study, is_ecg_study

    if is_ecg_study(store, study_id):
        return analyze_ecg_study(store, study_id, actor).run_id
    return analyze_study(store, study_id, actor, progress=progress).run_id  # type: ignore[arg-type]


def process_upload(store: Store, upload_id: int, main: Path, actor: str, analyze: bool = True) -> None:
    """Import, then analyse, writing state and progress; never raises (the failure is the row's state)."""
    folder = main.parent
    try:
        with store.transaction() as session:
            row = session.get(Upload, upload_id)
            assert row is not None
            study_id = row.study_id
        _update(store, upload_id, "importing", 0.0, "importing the recording")
        imported = import_recording(store, study_id, main, actor)
        shutil.rmtree(folder, ignore_errors=True)
        if not analyze:
            _update(store, upload_id, "done", 1.0, f"imported (sha256 {imported.sha256[:16]}...)")
            return
        _update(store, upload_id, "analyzing", 0.0, "analysing")
        from ecgdesk.workflow.views import show_study

        view = show_study(store, study_id)
        total = view.recording.duration_h * 3600 if view.recording else 0.0
        done, last = [0.0], [0.0]

        def tick(seconds: float) -> None:
            done[0] += seconds
            if time.monotonic() - last[0] >= 1.0 and total > 0:
                last[0] = time.monotonic()
                _update(store, upload_id, "analyzing", min(0.99, done[0] / total), "analysing")

        run_id = analyze_any(store, study_id, actor, tick)
        _update(store, upload_id, "done", 1.0, f"imported and analysed (run {run_id})")
    except Exception as error:
        reason = str(error) if isinstance(error, EcgDeskError) else f"{type(error).__name__}: {error}"
        with contextlib.suppress(Exception):  # the database itself failed: nothing more to record
            _update(store, upload_id, "failed", 0.0, reason)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
