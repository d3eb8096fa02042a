"""Technicians' beat and template edits that meet another change to the same study: another technician's
edit, or a re-analysis, made current while the edit was being recomputed or after the editor's page was
opened. The edit is refused (409 naming the run it started from and the one current now) rather than
made current over the other change, which it would silently undo; on both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from ecgdesk.errors import ConflictError
from ecgdesk.store import Store
from ecgdesk.store.enums import EditKind
from ecgdesk.store.models import AnalysisRun
from ecgdesk.workflow import analysis
from ecgdesk.workflow.analysis import analyze_study, edit_beats, edit_templates
from ecgdesk.workflow.studies import create_study, import_recording

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import fake_analyzer, request


def _analysed(store: Store, record: Path) -> int:
    study_id = create_study(store, request(), "tech.a")
    import_recording(store, study_id, record, "tech.a")
    analyze_study(store, study_id, "tech.a", analyzer=fake_analyzer)
    return study_id


def _current(store: Store, study_id: int) -> AnalysisRun:
    with store.transaction() as session:
        run = session.scalars(
            select(AnalysisRun).where(AnalysisRun.study_id == study_id, AnalysisRun.is_current.is_(True))
        ).one()
        session.expunge(run)
        return run


def _labels(store: Store, run: AnalysisRun) -> np.ndarray:
    with np.load(store.resolve(run.beats_path).parent / "beats.npz") as data:
        return np.asarray(data["labels"])


def test_an_edit_landing_while_another_is_recomputed_is_not_undone(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tech.a relabels two templates (the multi-select, seconds of recomputing on a long recording); tech.b's
    beat edit is stored meanwhile. Before, tech.a's run (derived from the run before tech.b's edit) was
    made current over it: tech.b's relabelled beat was back to its old label with no word to anyone, while
    the audit log said it was done. Now tech.a's edit is refused naming both runs and who made the
    current one; tech.b's run stays current and no folder of tech.a's run is left."""
    study_id = _analysed(store, tiny_record)
    base = _current(store, study_id)
    real = analysis.recompute

    def meanwhile(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(analysis, "recompute", real)
        edit_beats(store, study_id, EditKind.BEAT, 0, "S", "tech.b")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(analysis, "recompute", meanwhile)
    runs_before = {p.name for p in (store.studies_root / str(study_id) / "runs").iterdir()}
    with pytest.raises(ConflictError) as info:
        edit_templates(store, study_id, [0, 1], "N", "tech.a")
    assert info.value.field == "base_run"
    message = str(info.value)
    assert f"run {base.id}" in message and "tech.b" in message and "reload" in message, message
    current = _current(store, study_id)
    assert current.parent_run_id == base.id and current.created_by == "tech.b"
    assert _labels(store, current)[0] == "S"
    runs_after = {p.name for p in (store.studies_root / str(study_id) / "runs").iterdir()}
    assert len(runs_after - runs_before) == 1  # tech.b's run only


def test_an_edit_from_a_page_showing_an_older_run_is_refused(store: Store, tiny_record: Path) -> None:
    """tech.a's page shows run 1; tech.b relabels template 1 as N (run 2); tech.a, not knowing, relabels
    the same template as S from the page: it names the run it shows (``base_run``) and is refused, as a
    comment saved over another is. The current run's own id is taken."""
    study_id = _analysed(store, tiny_record)
    shown = _current(store, study_id).id
    theirs = edit_beats(store, study_id, EditKind.TEMPLATE, 1, "N", "tech.b")
    with pytest.raises(ConflictError) as info:
        edit_beats(store, study_id, EditKind.TEMPLATE, 1, "S", "tech.a", base_run=shown)
    message = str(info.value)
    assert info.value.field == "base_run"
    assert f"run {shown}" in message and f"run {theirs.run_id}" in message and "tech.b" in message, message
    assert _current(store, study_id).id == theirs.run_id
    mine = edit_templates(store, study_id, [1], "S", "tech.a", base_run=theirs.run_id)
    assert _current(store, study_id).id == mine.run_id != theirs.run_id


def test_an_edit_while_the_study_is_analysed_again_is_refused_at_once(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"Analyse again" running (its process holds the study's lock, here process 1 of this host): the
    edit waited inside the technician's request until the analysis ended (up to an hour), then applied
    its beat index to the new run's beats. Now it is a 409 at once naming the analysis; nothing changed."""
    import socket

    from ecgdesk.store.lock_models import StudyLock
    from ecgdesk.workflow import locks

    study_id = _analysed(store, tiny_record)
    before = _current(store, study_id).id
    with store.transaction() as session:
        session.add(StudyLock(study_id=study_id, action="analyze", host=socket.gethostname()[:255], pid=1,
                              acquired_at=locks.now()))

    def waited(seconds: float) -> None:
        raise AssertionError(f"the edit waited for the analysis ({seconds} s)")

    monkeypatch.setattr(locks.time, "sleep", waited)
    for edit in (lambda: edit_beats(store, study_id, EditKind.BEAT, 0, "S", "tech.a"),
                 lambda: edit_templates(store, study_id, [1], "N", "tech.a", base_run=before)):
        with pytest.raises(ConflictError) as info:
            edit()
        assert "'analyze' by process 1" in str(info.value) and "nothing was changed" in str(info.value)
    assert _current(store, study_id).id == before
