"""Import warnings carried into the study (issue 19, item 8): a side file the import cannot store (a named
pipe, a folder) is a warning at import, kept with the study, and added to the findings of every analysis
of it (the job behind ``study analyze``, a technician edit), so the report, ``study show`` and the study
detail say it too; the stored copy alone reads without a word about it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from workflow_builders import PIN, fake_analyzer, request

from ecgdesk.cli.main import main
from ecgdesk.records import open_recording, recording_files
from ecgdesk.store import Store
from ecgdesk.store.enums import EditKind
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow import analysis
from ecgdesk.workflow.analysis import analyze_study, edit_beats
from ecgdesk.workflow.analysis_jobs import enqueue_analysis
from ecgdesk.workflow.jobs import run_inline
from ecgdesk.workflow.reporting import report_study
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

pytest.importorskip("ecgdesk.analysis.pipeline")
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")

FIFO = "event file tiny.evt ignored: is a named pipe (FIFO), not a recording file"
#: name of the side file, how it is made, the import's warning
SIDE_PROBLEMS: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "events_fifo": ("tiny.evt", os.mkfifo, FIFO),
    "events_folder": ("tiny.evt", os.mkdir, "event file tiny.evt ignored: is a folder, not a recording file"),
    "diary_fifo": (
        "tiny.diary.csv",
        os.mkfifo,
        "side file tiny.diary.csv not stored: it is a named pipe (FIFO), not a regular file",
    ),
}


@pytest.fixture(autouse=True)
def quick_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline with a threshold beat detector: these tests follow warnings, not beats."""
    monkeypatch.setattr(analysis, "default_analyzer", fake_analyzer)


def copied(tiny_record: Path, folder: Path) -> Path:
    """The tiny record's header and signal file in a folder of their own (its header path); not its side
    files: other tests of the session add some beside it."""
    folder.mkdir()
    for source in recording_files(tiny_record):
        shutil.copyfile(source, folder / source.name)
    return folder / tiny_record.name


def messages(document: dict[str, list[dict[str, str]]]) -> list[str]:
    return [m["text"] for m in document["messages"] if (m["level"], m["code"]) == ("warning", "recording")]


@pytest.mark.parametrize("case", sorted(SIDE_PROBLEMS))
def test_a_side_file_left_out_at_import_is_in_every_analysis_and_the_report(
    store: Store, tiny_record: Path, tmp_path: Path, case: str
) -> None:
    name, make, expected = SIDE_PROBLEMS[case]
    header = copied(tiny_record, tmp_path / "source")
    make(header.parent / name)
    study_id = create_study(store, request(), "tech")
    imported = import_recording(store, study_id, header, "tech")
    assert imported.warnings == (expected,)
    assert open_recording(imported.path).warnings == ()  # the stored copy alone says nothing
    view = show_study(store, study_id)
    assert view.recording is not None and view.recording.import_warnings == [expected]
    job = run_inline(store, enqueue_analysis(store, study_id, "tech"))  # what `study analyze` runs
    assert job.status == "done", job.error
    carried = f"at import: {expected}"
    view = show_study(store, study_id)
    assert view.analysis is not None and view.analysis.warnings == [carried]
    folder = Path(view.analysis.beats_file).parent
    assert messages(json.loads((folder / "findings.json").read_text(encoding="utf-8"))) == [carried]
    edited = edit_beats(store, study_id, EditKind.TEMPLATE, 1, "N", "tech")  # recomputed: still said
    assert not edited.reused and [m.text for m in edited.findings.messages if m.code == "recording"] == [
        carried
    ]
    report = report_study(store, study_id, "tech")
    assert report.html_path is not None and f"[warning] {carried}" in report.html_path.read_text("utf-8")


def test_a_warning_the_stored_copy_repeats_is_said_once(
    store: Store, tiny_record: Path, tmp_path: Path
) -> None:
    """An ``.evt`` of bad bytes is stored, and reading the stored copy warns of it again: no second line."""
    header = copied(tiny_record, tmp_path / "source")
    (header.parent / "tiny.evt").write_bytes(b"\xff" * 9)
    study_id = create_study(store, request(), "tech")
    imported = import_recording(store, study_id, header, "tech")
    assert len(imported.warnings) == 1 and imported.warnings[0].startswith("event file tiny.evt ignored: ")
    assert open_recording(imported.path).warnings == imported.warnings
    run = analyze_study(store, study_id, "tech")
    assert [m.text for m in run.findings.messages if m.code == "recording"] == list(imported.warnings)


def test_the_same_content_imported_again_keeps_both_imports_warnings(
    store: Store, tiny_record: Path, tmp_path: Path
) -> None:
    """The blob is the same (a named pipe is never stored), but the second source left its diary out: the
    study keeps that warning too (audited), and the analysis is not the run of the clean import's inputs."""
    clean = copied(tiny_record, tmp_path / "clean")
    with_pipe = copied(tiny_record, tmp_path / "pipe")
    os.mkfifo(with_pipe.parent / "tiny.diary.csv")
    study_id = create_study(store, request(), "tech")
    first = import_recording(store, study_id, clean, "tech")
    clean_run = analyze_study(store, study_id, "tech", engine_tag="clean")
    assert first.warnings == ()
    assert [m for m in clean_run.findings.messages if m.code == "recording"] == []
    other = create_study(store, request(patient_id="P2"), "tech")
    import_recording(store, other, clean, "tech")
    again = import_recording(store, other, with_pipe, "tech")
    assert again.reused and again.sha256 == first.sha256
    left_out = "side file tiny.diary.csv not stored: it is a named pipe (FIFO), not a regular file"
    assert again.warnings == (left_out,)
    view = show_study(store, other)
    assert view.recording is not None and view.recording.import_warnings == [left_out]
    run = analyze_study(store, other, "tech", engine_tag="clean")
    assert run.input_hash != clean_run.input_hash
    assert [m.text for m in run.findings.messages if m.code == "recording"] == [f"at import: {left_out}"]
    with store.transaction() as session:
        audited = select(AuditEntry).where(
            AuditEntry.action == "study:import-warnings", AuditEntry.entity_id == str(other)
        )
        rows = session.scalars(audited).all()
    assert [json.loads(r.after_json) for r in rows] == [{"import_warnings": [left_out]}]


def test_the_commands_print_the_import_warning_at_each_step(
    store: Store, tiny_record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    monkeypatch.setenv("ECGDESK_HOME", str(store.home))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    monkeypatch.setenv("ECGDESK_USER", "tech")
    monkeypatch.delenv("ECGDESK_TOKEN", raising=False)
    header = copied(tiny_record, tmp_path / "source")
    os.mkfifo(header.parent / "tiny.evt")
    study_id = create_study(store, request(), "tech")
    capsys.readouterr()
    assert main(["study", "import", str(study_id), str(header)]) == 0
    assert f"  warning: {FIFO}\n" in capsys.readouterr().out
    assert main(["study", "analyze", str(study_id)]) == 0
    assert f"  warning: at import: {FIFO}\n" in capsys.readouterr().out
    assert main(["study", "show", str(study_id)]) == 0
    assert f"  import warning: {FIFO}\n" in capsys.readouterr().out
    assert main(["study", "show", str(study_id), "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["recording"]["import_warnings"] == [FIFO]
    assert view["analysis"]["warnings"] == [f"at import: {FIFO}"]
