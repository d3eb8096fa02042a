"""``signal_window``: the pyramid built at import, beats of the current run with edits, bounds, audit."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from ecgdesk.errors import ConflictError, InputError, NotFoundError, RecordingError
from ecgdesk.records import open_recording
from ecgdesk.records.pyramid import HEADER_FILE, Pyramid, quantize
from ecgdesk.records.pyramid import signal_window as pyramid_window
from ecgdesk.store import Store, verify
from ecgdesk.store.enums import EditKind
from ecgdesk.store.models import AuditEntry, RecordingBlob
from ecgdesk.workflow import signal as signal_module
from ecgdesk.workflow.analysis import BEATS_NPZ, analyze_study, edit_beats
from ecgdesk.workflow.pyramids import pyramid_folder
from ecgdesk.workflow.signal import BeatIndex, class_blocks, decode_int16, signal_window
from ecgdesk.workflow.studies import create_study, import_recording

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import fake_analyzer, request

JSON_LIMIT = 16 * 1024


def _recorded(store: Store, record: Path, patient: str = "P1") -> int:
    study_id = create_study(store, request(patient_id=patient), "tech")
    import_recording(store, study_id, record, "tech")
    return study_id


def _blob(store: Store) -> RecordingBlob:
    with store.transaction() as session:
        row = session.scalar(select(RecordingBlob))
        assert row is not None
        return row


def _signal_reads(store: Store) -> list[AuditEntry]:
    with store.transaction() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "read:signal")))


def _beats(store: Store, study_id: int) -> tuple[np.ndarray, np.ndarray]:
    folder = next((store.studies_root / str(study_id) / "runs").iterdir())
    with np.load(folder / BEATS_NPZ) as data:
        return data["samples"], data["labels"]


def test_import_builds_the_pyramid_once_per_recording(store: Store, tiny_record: Path) -> None:
    first = _recorded(store, tiny_record)
    folder = pyramid_folder(store, _blob(store).blob_dir)
    assert (folder / HEADER_FILE).is_file()
    stamp = (folder / HEADER_FILE).stat().st_mtime_ns
    _recorded(store, tiny_record, patient="P2")  # the same recording in a second study
    assert (folder / HEADER_FILE).stat().st_mtime_ns == stamp
    assert first and len(list(folder.parent.glob("*.pyramid-v*"))) == 1


def test_window_before_analysis_carries_signal_and_no_beats(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    result = signal_window(store, study_id, "ecg", 10.0, 20.0, 1200, "dr")
    assert result.lead == "ECG" and result.leads == ["ECG"] and result.mode == "minmax"
    assert result.beats.mode == "none" and result.beats.run_id is None
    mins, maxs = decode_int16(result.mins), decode_int16(result.maxs)
    assert mins.size == maxs.size == result.n_pixels == 1200 and np.all(mins <= maxs)
    recording = open_recording(tiny_record)
    values = quantize(recording.read(result.first_sample, result.stop_sample), np.array([result.scale_mv]))
    assert mins.min() == values.min() and maxs.max() == values.max()
    assert result.recording_start is not None and result.recording_start.startswith("2026-11-02T09:00")


def test_raw_window_in_mv(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    result = signal_window(store, study_id, "ECG", 30.0, 34.0, 1200, "dr")
    assert result.mode == "raw" and (result.first_sample, result.stop_sample) == (7500, 8500)
    mv = decode_int16(result.samples) * result.scale_mv
    np.testing.assert_allclose(mv, open_recording(tiny_record).read(7500, 8500)[:, 0], atol=0.0006)


def test_beats_of_the_window_with_a_technician_edit(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    run = analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    samples, labels = _beats(store, study_id)
    result = signal_window(store, study_id, "ECG", 20.0, 30.0, 1200, "dr")
    marks = result.beats
    inside = (samples >= result.first_sample) & (samples < result.stop_sample)
    assert marks.mode == "all" and marks.run_id == run.run_id and not marks.edited
    assert marks.total == int(inside.sum()) > 5
    assert marks.labels == "".join(labels[inside]) and "V" in marks.labels
    assert marks.first_index is not None
    assert np.array_equal(np.array(marks.offsets) + result.first_sample, samples[inside])
    assert marks.counts["V"] == marks.labels.count("V") and sum(marks.counts.values()) == marks.total

    target = marks.first_index + marks.labels.index("V")  # the technician says this V is normal
    edited = edit_beats(store, study_id, EditKind.BEAT, target, "N", "tech")
    after = signal_window(store, study_id, "ECG", 20.0, 30.0, 1200, "dr").beats
    assert after.run_id == edited.run_id and after.edited
    assert after.labels.count("V") == marks.labels.count("V") - 1
    assert after.labels[target - marks.first_index] == "N"


def test_zoomed_out_beats_are_summarised(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_id = _recorded(store, tiny_record)
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    samples, labels = _beats(store, study_id)
    monkeypatch.setattr(signal_module, "MAX_LISTED_BEATS", 20)
    result = signal_window(store, study_id, "ECG", 0.0, 120.0, 300, "dr")
    marks = result.beats
    assert marks.mode == "summary" and marks.offsets == [] and marks.labels == ""
    assert marks.total == samples.size and marks.counts["V"] == int(np.sum(labels == "V"))
    assert "more than 20" in marks.note
    assert len(marks.pixel_classes) == result.n_pixels == 300
    # A pixel shows V exactly where a V beat falls; pixels without beats show '.'.
    edges = pyramid_window(Pyramid.open(pyramid_folder(store, _blob(store).blob_dir)), open_recording(
        tiny_record), "ECG", 0.0, 120.0, 300).edges
    pixel_of = np.searchsorted(edges, samples, side="right") - 1
    v_pixels = set(pixel_of[labels == "V"].tolist())
    assert {i for i, c in enumerate(marks.pixel_classes) if c == "V"} == v_pixels
    empty = set(range(300)) - set(pixel_of.tolist())
    assert {i for i, c in enumerate(marks.pixel_classes) if c == "."} == empty


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 1000, 4097])
def test_class_counts_of_any_span_of_beats(n: int) -> None:
    rng = np.random.default_rng(n)
    codes = rng.choice(np.frombuffer(b"NNNNNNSVFQ", dtype="u1"), size=n).astype(np.uint8)
    index = BeatIndex(np.arange(n, dtype=np.int64), codes, class_blocks(codes))
    bounds = np.unique(np.concatenate([[0, n], rng.integers(0, n + 1, size=50)]))
    expected = np.array([[np.sum(codes[:b] == ord(c)) for c in "NQSFV"] for b in bounds])
    assert np.array_equal(index.counts_before(bounds), expected)


def test_every_zoom_fits_the_json_budget(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    for span in (2.0, 10.0, 30.0, 60.0, 119.0):
        result = signal_window(store, study_id, "ECG", 0.5, 0.5 + span, 1200, "dr")
        assert len(result.model_dump_json().encode()) <= JSON_LIMIT


def test_each_read_is_audited_and_the_chain_holds(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    signal_window(store, study_id, "ECG", 0.0, 10.0, 600, "dr.house")
    signal_window(store, study_id, "ECG", 10.0, 20.0, 600, "dr.house")
    reads = _signal_reads(store)
    assert [(r.actor, r.entity, r.entity_id) for r in reads] == [("dr.house", "study", str(study_id))] * 2
    assert '"start_s":10.0' in reads[1].after_json and '"lead":"ECG"' in reads[1].after_json
    with store.transaction() as session:
        assert verify(session).ok


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        (("V1", 0.0, 10.0, 100), "lead", "the leads are ECG"),
        (("ECG", 500.0, 510.0, 100), "start_s", "past the end"),
        (("ECG", -1.0, 10.0, 100), "start_s", ">= 0"),
        (("ECG", 10.0, 10.0, 100), "end_s", "after start_s"),
        (("ECG", 0.0, 10.0, 0), "width_px", "1 to 10000"),
        (("ECG", 0.0, 10.0, 10_001), "width_px", "1 to 10000"),
    ],
)
def test_bad_input_names_the_field_and_is_not_audited(
    store: Store, tiny_record: Path, args: tuple[str, float, float, int], field: str, words: str
) -> None:
    study_id = _recorded(store, tiny_record)
    with pytest.raises(InputError) as caught:
        signal_window(store, study_id, *args, "dr")
    assert caught.value.field == field and words in str(caught.value)
    assert _signal_reads(store) == []


def test_unknown_study_and_study_without_recording(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no study with id 99"):
        signal_window(store, 99, "ECG", 0.0, 10.0, 100, "dr")
    study_id = create_study(store, request(), "tech")
    with pytest.raises(ConflictError, match="no recording yet"):
        signal_window(store, study_id, "ECG", 0.0, 10.0, 100, "dr")


def test_a_study_imported_before_pyramids_gets_one_at_its_first_read(store: Store, tiny_record: Path) -> None:
    study_id = _recorded(store, tiny_record)
    folder = pyramid_folder(store, _blob(store).blob_dir)
    for child in folder.iterdir():
        child.chmod(0o644)
    shutil.rmtree(folder)
    result = signal_window(store, study_id, "ECG", 0.0, 120.0, 1200, "dr")
    assert result.n_pixels == 1200 and (folder / HEADER_FILE).is_file()
    (folder / HEADER_FILE).chmod(0o644)
    (folder / HEADER_FILE).write_text("damaged")
    assert signal_window(store, study_id, "ECG", 0.0, 120.0, 1200, "dr").mins == result.mins


def test_a_failed_pyramid_build_stores_nothing(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise RecordingError(tiny_record, "samples", "cannot be read")

    monkeypatch.setattr("ecgdesk.workflow.pyramids.build_pyramid", failing)
    study_id = create_study(store, request(), "tech")
    with pytest.raises(RecordingError):
        import_recording(store, study_id, tiny_record, "tech")
    assert list(store.blob_root.rglob("*.dat")) == [] and list(store.blob_root.rglob("*.pyramid*")) == []
    with store.transaction() as session:
        assert session.scalar(select(RecordingBlob)) is None
