"""Analysis runs and technician edits: idempotence, atomicity, recomputed summaries, refused moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from ecgdesk.errors import InputError
from ecgdesk.store import Store, verify
from ecgdesk.store.enums import EditKind
from ecgdesk.store.models import AnalysisRun, AuditEntry, BeatEdit
from ecgdesk.workflow.analysis import analyze_study, edit_beats
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.views import show_study

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import fake_analyzer, request


def _recorded(store: Store, record: Path) -> int:
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, record, "tech")
    return study_id


def _counts(store: Store) -> tuple[int, int]:
    with store.transaction() as session:
        runs = session.scalar(select(func.count()).select_from(AnalysisRun)) or 0
        audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return runs, audit


def _run_folders(store: Store, study_id: int) -> list[Path]:
    root = store.studies_root / str(study_id) / "runs"
    return sorted(root.iterdir()) if root.exists() else []


def test_analysis_is_idempotent(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    first = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    assert not first.reused and first.findings.summary.total_beats > 100
    counts = _counts(store)
    again = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    assert again.reused and again.run_id == first.run_id and again.input_hash == first.input_hash
    assert _counts(store) == counts
    view = show_study(store, study_id)
    assert view.status == "analyzed" and view.analysis is not None
    assert {c.component for c in view.components} == {"recording", "scanning"}


def test_interrupted_analysis_leaves_nothing(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    before = _counts(store)

    def crashing(recording: object, diary: object, progress: object) -> object:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze_study(store, study_id, "tech", analyzer=crashing)  # type: ignore[arg-type]
    assert _counts(store) == before and _run_folders(store, study_id) == []
    assert show_study(store, study_id).status == "recorded"


def test_failure_after_files_written_removes_them(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database step fails after the outputs were renamed into place: files and rows are both gone."""
    import ecgdesk.workflow.analysis as module

    study_id = _recorded(store, tiny_record)
    before = _counts(store)

    def failing_insert(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(module, "_insert_run", failing_insert)
    with pytest.raises(RuntimeError):
        analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    assert _counts(store) == before
    assert _run_folders(store, study_id) == []  # no temporary folder left either
    monkeypatch.undo()
    assert not analyze_study(store, study_id, "tech", analyzer=fake_analyzer).reused


def test_template_edit_recomputes_the_summary(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    base = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    by_class = base.findings.summary.beats_by_class
    assert by_class["V"] > 0
    edited = edit_beats(store, study_id, EditKind.TEMPLATE, 1, "N", "tech")
    assert edited.run_id != base.run_id
    summary = edited.findings.summary
    assert summary.beats_by_class["V"] == 0
    assert summary.beats_by_class["N"] == by_class["N"] + by_class["V"]
    assert summary.ectopy.v_total == 0 and base.findings.summary.ectopy.v_total == by_class["V"]
    with np.load(edited.folder / "beats.npz") as data:
        assert set(data["labels"].tolist()) == {"N"}
    view = show_study(store, study_id)
    assert view.analysis is not None and view.analysis.edited and view.analysis.run_id == edited.run_id
    again = edit_beats(store, study_id, EditKind.TEMPLATE, 1, "N", "tech")
    assert again.reused and again.run_id == edited.run_id
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(BeatEdit)) == 1
        assert verify(session).ok


def test_single_beat_edit(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    base = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    edited = edit_beats(store, study_id, EditKind.BEAT, 0, "S", "tech")
    assert edited.findings.summary.beats_by_class["S"] == base.findings.summary.beats_by_class["S"] + 1


@pytest.mark.parametrize(
    ("kind", "target", "label", "field"),
    [
        (EditKind.BEAT, 10**6, "V", "beat"),
        (EditKind.TEMPLATE, 9, "V", "template"),
        (EditKind.BEAT, 0, "X", "label"),
    ],
)
def test_bad_edit_is_refused(
    store: Store, tiny_record: Path, kind: EditKind, target: int, label: str, field: str
) -> None:
    study_id = _recorded(store, tiny_record)
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    before = _counts(store)
    with pytest.raises(InputError) as info:
        edit_beats(store, study_id, kind, target, label, "tech")
    assert info.value.field == field
    assert _counts(store) == before


def test_analysis_before_import_is_refused(store: Store) -> None:
    study_id = create_study(store, request(), "tech")
    with pytest.raises(InputError, match="cannot analyze a study in status 'ordered'"):
        analyze_study(store, study_id, "tech", analyzer=fake_analyzer)


def test_edit_and_revert_reproduces_the_analysis(store: Store, tiny_record: Path) -> None:
    """Recomputing from the beats gives exactly what the analysis gave for the same labels."""
    from ecgdesk.analysis.findings import findings_to_dict

    study_id = _recorded(store, tiny_record)
    base = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    edit_beats(store, study_id, EditKind.TEMPLATE, 1, "N", "tech")
    reverted = edit_beats(store, study_id, EditKind.TEMPLATE, 1, "V", "tech")
    assert reverted.run_id != base.run_id
    assert findings_to_dict(reverted.findings) == findings_to_dict(base.findings)
