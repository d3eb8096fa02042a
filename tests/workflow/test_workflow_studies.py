"""Creating studies and importing recordings: validation, idempotence, read-only blobs, refused moves."""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from workflow_builders import request

from ecgdesk.errors import InputError
from ecgdesk.store import Store, verify
from ecgdesk.store.models import AuditEntry, RecordingBlob, Study
from ecgdesk.workflow.lifecycle import TRANSITIONS
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.views import show_study
from ecgdesk.workflow.worklist import list_studies


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_create_and_import(store: Store, tiny_record: Path) -> None:
    study_id = create_study(store, request(), "tech")
    assert show_study(store, study_id).status == "ordered"
    result = import_recording(store, study_id, tiny_record, "tech")
    assert not result.reused
    view = show_study(store, study_id)
    assert view.status == "recorded" and view.recording is not None
    assert view.components[0].component == "recording"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o444
    assert _digest(result.path) == _digest(tiny_record)
    assert [row.id for row in list_studies(store)] == [study_id]


def test_study_list_rows_are_the_worklist_rows_of_the_http_schema(store: Store) -> None:
    """``study list`` reads plain rows (no Pydantic loaded); their JSON is the HTTP worklist's, and the
    list is audited like a page of it."""
    from ecgdesk.workflow.views import study_page

    ids = [create_study(store, request(patient_id=f"P{n}"), "tech") for n in range(3)]
    entries = list_studies(store, "tech")
    page = study_page(store, "tech", None, 0, 50)
    assert [e.id for e in entries] == ids and [r.id for r in page.items] == ids[::-1]
    assert [e.to_dict() for e in entries] == [r.to_dict() for r in reversed(page.items)]
    assert entries[0].to_dict()["created_at"].endswith("Z")
    with store.transaction() as session:
        reads = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "study",
                                                                 AuditEntry.entity_id == "*")).all()
    assert reads == ["read:worklist", "read:worklist"]


def test_a_signed_stat_study_no_longer_comes_first(store: Store) -> None:
    """Priority orders the worklist only while the study is unsigned: a STAT study the physician has
    signed falls back among the others by time."""
    from ecgdesk.interop.model import OrderPriority
    from ecgdesk.store.enums import Role
    from ecgdesk.store.models import Study
    from ecgdesk.workflow.review import worklist
    from ecgdesk.workflow.review_schemas import WorklistIn

    signed = create_study(store, request(patient_id="P0", priority=OrderPriority.STAT), "tech")
    routine = create_study(store, request(patient_id="P1"), "tech")
    stat = create_study(store, request(patient_id="P2", priority=OrderPriority.STAT), "tech")
    with store.transaction() as session:
        row = session.get(Study, signed)
        assert row is not None
        row.status = "signed"  # as if signed; only the ordering is under test here
    everything = worklist(store, "admin", Role.ADMIN, WorklistIn(statuses=[]))
    assert [r.id for r in everything.items] == [stat, routine, signed]
    assert [r.priority for r in everything.items] == [OrderPriority.STAT, OrderPriority.ROUTINE,
                                                      OrderPriority.STAT]


def test_import_is_idempotent(store: Store, tiny_record: Path) -> None:
    study_id = create_study(store, request(), "tech")
    first = import_recording(store, study_id, tiny_record, "tech")
    with store.transaction() as session:
        rows_before = session.scalar(select(func.count()).select_from(AuditEntry))
    again = import_recording(store, study_id, tiny_record, "tech")
    assert again.reused and again.sha256 == first.sha256
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RecordingBlob)) == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == rows_before
        assert verify(session).ok


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"ordering_npi": "1234567890"}, "ordering-npi", "check digit"),
        ({"indications": ("X99.999",)}, "indication", "not an ICD-10-CM code"),
        ({"sex": "Q"}, "sex", "allowed values"),
        ({"duration_days": -1.0}, "duration-days", "positive"),
        ({"place_of_service": "1"}, "pos", "2 digits"),
    ],
)
def test_bad_order_is_refused_naming_the_field(
    store: Store, changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InputError) as info:
        create_study(store, request(**changes), "tech")
    assert info.value.field == field and reason in info.value.reason
    assert list_studies(store) == []


def test_same_patient_id_with_other_details_is_refused(store: Store) -> None:
    create_study(store, request(), "tech")
    with pytest.raises(InputError, match="differ"):
        create_study(store, request(name="Roe, Richard"), "tech")


def test_bad_recording_is_refused_and_left_unchanged(store: Store, tmp_path: Path) -> None:
    study_id = create_study(store, request(), "tech")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,ecg\n0,abc\n", encoding="utf-8")
    before = _digest(bad)
    with pytest.raises(InputError) as info:
        import_recording(store, study_id, bad, "tech")
    assert str(bad) in str(info.value)
    assert _digest(bad) == before
    assert show_study(store, study_id).status == "ordered"


def test_unknown_study_is_named(store: Store, tiny_record: Path) -> None:
    with pytest.raises(InputError, match="no study with id 42"):
        import_recording(store, 42, tiny_record, "tech")


def test_lifecycle_has_no_way_back_from_billed() -> None:
    from ecgdesk.store.enums import StudyStatus as S

    assert TRANSITIONS[S.BILLED] == frozenset()
    assert S.SIGNED not in TRANSITIONS[S.ANALYZED]
    assert all(S.ORDERED not in nxt for nxt in TRANSITIONS.values())


def _blob_entries(store: Store) -> list[Path]:
    return sorted(store.blob_root.rglob("*")) if store.blob_root.exists() else []


def test_interrupted_import_leaves_nothing(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecgdesk.store.blobs as blobs

    study_id = create_study(store, request(), "tech")
    copied: list[str] = []
    real_copy = blobs.shutil.copyfile

    def copy_then_fail(src: Path, dst: Path) -> object:
        if copied:
            raise KeyboardInterrupt  # interrupted while copying the second file
        copied.append(str(src))
        return real_copy(src, dst)

    monkeypatch.setattr(blobs.shutil, "copyfile", copy_then_fail)
    with pytest.raises(KeyboardInterrupt):
        import_recording(store, study_id, tiny_record, "tech")
    assert [p for p in _blob_entries(store) if p.is_file()] == []
    view = show_study(store, study_id)
    assert view.status == "ordered" and view.recording is None


def test_database_failure_after_copy_removes_the_new_blob(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecgdesk.workflow.studies as studies

    study_id = create_study(store, request(), "tech")

    def failing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(studies, "set_component", failing)
    with pytest.raises(RuntimeError):
        import_recording(store, study_id, tiny_record, "tech")
    assert [p for p in _blob_entries(store) if p.is_file()] == []
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RecordingBlob)) == 0
    monkeypatch.undo()
    assert not import_recording(store, study_id, tiny_record, "tech").reused


def test_record_component_by_hand(store: Store) -> None:
    from ecgdesk.workflow.studies import record_component

    study_id = create_study(store, request(), "tech")
    record_component(store, study_id, "supervision", "Ana A, MD", "1234567893", "admin")
    record_component(store, study_id, "supervision", "Ben B, MD", None, "admin")  # replaces the first
    rows = show_study(store, study_id).components
    assert [(c.component, c.performer, c.npi) for c in rows] == [("supervision", "Ben B, MD", None)]
    with pytest.raises(InputError) as info:
        record_component(store, study_id, "reading", "X", None, "admin")
    assert info.value.field == "component" and "allowed values" in info.value.reason


@pytest.mark.shared_data
def test_import_a_mitdb_record_with_its_annotations(store: Store) -> None:
    from conftest import shared_path

    header = shared_path("mitdb", "100.hea")
    before = {p.name: _digest(p) for p in header.parent.glob("100.*")}
    study_id = create_study(store, request(), "tech")
    result = import_recording(store, study_id, header.with_suffix(""), "tech")  # the record name alone
    stored = {p.name: p for p in result.path.parent.iterdir()}
    assert set(stored) == set(before) and {"100.hea", "100.dat", "100.atr"} <= set(stored)
    assert all(_digest(p) == before[name] for name, p in stored.items())
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in stored.values())
    view = show_study(store, study_id)
    assert view.recording is not None and view.recording.fs == 360.0 and view.recording.n_leads == 2
    assert {p.name: _digest(p) for p in header.parent.glob("100.*")} == before  # inputs unchanged


def test_record_files_sees_a_side_file_added_to_a_folder_listed_before(tmp_path: Path) -> None:
    """The folder's listing is kept between strips (a folder of thousands), and renewed when it changes."""
    import os

    import numpy as np

    from ecgdesk.records import Recording, open_recording, write_recording
    from ecgdesk.workflow.studies import record_files

    for name in ("a", "b"):
        write_recording(Recording.from_array(np.zeros(500), 250.0), tmp_path, "wfdb", record_name=name)
    os.utime(tmp_path, ns=(10**18, 10**18))  # listed long after its last change: the listing is kept
    header = tmp_path / "b.hea"
    stored = record_files(header, open_recording(header))
    assert ([f.name for f in stored.files], stored.main) == (["b.hea", "b.dat"], "b.hea")
    (tmp_path / "b.atr").write_bytes(b"\x00\x00")  # an annotation file arrives: the folder changes
    assert [f.name for f in record_files(header, open_recording(header)).files] == ["b.hea", "b.dat", "b.atr"]
    assert [f.name for f in record_files(tmp_path / "a.hea", open_recording(tmp_path / "a.hea")).files] == [
        "a.hea", "a.dat"]


def test_a_study_whose_patient_conflicts_names_only_the_fields_that_differ(store: Store) -> None:
    """The refusal gave the stored patient's name, birth date and sex ('patient 'P1' exists as Doe, Jane,
    born 1950-01-02, sex F') with no audit row: anyone allowed to create a study could read who an id is.
    It now names only the fields that differ, as a held order's answer does."""
    create_study(store, request(), "tech")
    with pytest.raises(InputError) as refused:
        create_study(store, request(name="Roe, Rita", birth_date=date(1961, 5, 6)), "tech")
    text = str(refused.value)
    assert refused.value.field == "patient-id" and "different name and birth date" in text
    assert "Doe" not in text and "1950" not in text and "sex F" not in text
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Study)) == 1  # nothing created
