"""Hostile use of the study workflow (issue 19): concurrent and killed runs leave a consistent study, an
import stores every file its header names or refuses, odd ids and corrupt files are named errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from workflow_builders import PIN, fake_analyzer, request

from ecgdesk.errors import InputError, RecordingError
from ecgdesk.records import Recording
from ecgdesk.store import Store, open_store
from ecgdesk.store.lock_models import StudyLock
from ecgdesk.store.models import AnalysisRun
from ecgdesk.workflow import locks
from ecgdesk.workflow.analysis import AnalysisOutput, RunInfo, analyze_study
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.reporting import report_study
from ecgdesk.workflow.studies import create_study, get_study, import_recording
from ecgdesk.workflow.users import add_user


def _slow(recording: Recording, diary: Path | None, progress: object) -> AnalysisOutput:
    time.sleep(1.0)  # long enough for the second caller to arrive while the first works
    return fake_analyzer(recording, diary, progress)


def _study(store: Store, record: Path) -> int:
    study = create_study(store, request(), "tech")
    import_recording(store, study, record, "tech")
    return study


def test_concurrent_analyses_serialise_and_keep_the_run(store: Store, tiny_record: Path) -> None:
    study = _study(store, tiny_record)
    results: list[RunInfo] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(analyze_study(store, study, "tech", analyzer=_slow, engine_tag="slow"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(r.reused for r in results) == [False, True]
    assert results[0].run_id == results[1].run_id
    assert (results[0].folder / "beats.csv").is_file()
    with store.transaction() as session:
        assert session.query(AnalysisRun).count() == 1
        assert session.query(StudyLock).count() == 0
    assert report_study(store, study, "tech").pdf_path.is_file()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_lock_and_temporary_folder_of_a_killed_run_are_taken_over(store: Store, tiny_record: Path) -> None:
    study = _study(store, tiny_record)
    import socket

    with store.transaction() as session:
        session.add(StudyLock(study_id=study, action="analyze", host=socket.gethostname(), pid=_dead_pid(),
                              acquired_at=now()))
    leftover = store.studies_root / str(study) / "runs" / ".0123456789abcdef0123.x1y2"
    leftover.mkdir(parents=True)
    (leftover / "beats.csv").write_text("sample,symbol\n")
    run = analyze_study(store, study, "tech", analyzer=fake_analyzer, engine_tag="fake")
    assert not run.reused and run.folder.is_dir()
    assert not leftover.exists()
    with store.transaction() as session:
        assert session.query(StudyLock).count() == 0


def test_a_live_holder_is_waited_for_then_named(store: Store, tiny_record: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    study = _study(store, tiny_record)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with store.transaction() as session:
            session.add(StudyLock(study_id=study, action="report", host="another-host", pid=sleeper.pid,
                                  acquired_at=now()))
        monkeypatch.setattr(locks, "WAIT_S", 1.0)
        with pytest.raises(InputError, match=f"'report' by process {sleeper.pid} on another-host"):
            analyze_study(store, study, "tech", analyzer=fake_analyzer, engine_tag="fake")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_killed_cli_analysis_leaves_a_study_that_analyses_again(tmp_path: Path, tiny_record: Path) -> None:
    """A real ``study analyze`` process killed with SIGKILL mid-run; the next one takes over its lock."""
    env = {**os.environ, "ECGDESK_HOME": str(tmp_path / "home"), "ECGDESK_USER": "tech",
           "ECGDESK_PASSWORD": PIN}
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_TOKEN"):
        env.pop(name, None)
    setup = open_store(url=f"sqlite:///{tmp_path / 'home' / 'ecgdesk.sqlite'}", home=tmp_path / "home")
    add_user(setup, "boss", "admin", PIN, actor="setup")
    add_user(setup, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    setup.close()
    cli = [sys.executable, "-m", "ecgdesk.cli.main"]

    def ecgdesk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=300)

    created = ecgdesk("study", "create", "--patient-id", "P9", "--name", "Doe, Jo", "--birth-date",
                      "1950-01-02", "--sex", "F", "--service", "ambulatory_ecg", "--ordering-npi",
                      "1245319599", "--indication", "R00.2", "--duration-days", "2")
    assert created.returncode == 0, created.stderr
    study = created.stdout.strip()
    assert ecgdesk("study", "import", study, str(tiny_record)).returncode == 0
    victim = subprocess.Popen([*cli, "study", "analyze", study], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    database = tmp_path / "home" / "ecgdesk.sqlite"
    deadline = time.monotonic() + 120
    import sqlite3

    while time.monotonic() < deadline and victim.poll() is None:
        with sqlite3.connect(database, timeout=30) as con:
            if con.execute("SELECT count(*) FROM study_locks").fetchone()[0]:
                break
        time.sleep(0.05)
    victim.kill()
    victim.wait()
    again = ecgdesk("study", "analyze", study)
    assert again.returncode == 0, again.stderr
    assert ecgdesk("study", "report", study).returncode == 0
    runs = tmp_path / "home" / "studies" / study / "runs"
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]


def test_import_stores_every_file_the_header_names(store: Store, tiny_record: Path, tmp_path: Path) -> None:
    """A header naming another record's signal file was stored alone (and then could not be read)."""
    folder = tmp_path / "named"
    folder.mkdir()
    shutil.copy(tiny_record.with_suffix(".dat"), folder / "signal.dat")
    header = folder / "mine.hea"
    header.write_text(tiny_record.read_text().replace("tiny.dat", "signal.dat").replace("tiny ", "mine ", 1))
    study = create_study(store, request(), "tech")
    result = import_recording(store, study, header, "tech")
    stored = sorted(p.name for p in result.path.parent.iterdir())
    assert "signal.dat" in stored and "mine.hea" in stored
    run = analyze_study(store, study, "tech", analyzer=fake_analyzer, engine_tag="fake")
    assert run.findings.summary.total_beats > 0
    (folder / "signal.dat").unlink()
    other = create_study(store, request(patient_id="P2"), "tech")
    with pytest.raises(RecordingError, match=r"signal\.dat"):
        import_recording(store, other, header, "tech")


def test_import_checks_the_study_before_the_file(store: Store, tmp_path: Path) -> None:
    corrupt = tmp_path / "bad.edf"
    corrupt.write_bytes(b"0       " + b"\xff" * 300)
    with pytest.raises(InputError, match="no study with id 7"):
        import_recording(store, 7, corrupt, "tech")


@pytest.mark.parametrize("study_id", [0, -1, 2**31, 10**30])
def test_ids_out_of_range_are_no_such_study(store: Store, study_id: int) -> None:
    with store.transaction() as session, pytest.raises(InputError, match="no study with id"):
        get_study(session, study_id)


def test_csv_without_time_column_is_not_stored(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "strip.csv"
    path.write_text("I,II\n1,2\n3,4\n")
    study = create_study(store, request(), "tech")
    with pytest.raises(InputError, match="time column") as info:
        import_recording(store, study, path, "tech")
    assert info.value.field == "path"
