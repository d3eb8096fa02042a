"""One queue item as a technician opens it: the strip in mV with beat labels computed once and kept, the
classifier's reading, the criteria in force and the patient's recent items; each view audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from monitoring_builders import START, Strips, make_strips
from sqlalchemy import func, select
from workflow_builders import ORDERING_NPI

from ecgdesk.coding import Service
from ecgdesk.errors import InputError
from ecgdesk.records import open_recording
from ecgdesk.store import Store
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_strip_models import StripBeats
from ecgdesk.workflow import monitoring_item
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_item import item_view
from ecgdesk.workflow.signal import decode_int16


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitoring-item"))


def _enrol(store: Store) -> int:
    request = EnrolmentRequest(
        "M7",
        "Roe, Rita",
        date(1950, 5, 6),
        "F",
        "DEV-7",
        Service.EVENT_MONITOR,
        START.date(),
        ORDERING_NPI,
        ("R00.2",),
    )
    return enroll(store, request, "tech").id


def _reads(store: Store) -> int:
    with store.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read:monitor-item")
            )
            or 0
        )


def test_item_view_draws_the_strip_with_beats_labelled_once(
    store: Store, strips: Strips, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolment = _enrol(store)
    normal = ingest_file(store, strips.normal, "DEV-7", "device").item_id
    pause = ingest_file(store, strips.pause, "DEV-7", "device").item_id
    assert normal is not None and pause is not None
    view = item_view(store, pause, "tech")
    assert view.enrolment_id == enrolment and view.patient == "Roe, Rita" and view.patient_id == "M7"
    assert view.priority in {"urgent", "emergent"} and view.reason  # a 4.5 s pause fires a rule
    assert view.matched and any(r["event"] == "pause" for r in view.matched)
    assert view.observation is not None and view.observation["label"] == view.label
    assert view.criteria is not None and "not yet signed" in view.criteria.source
    assert {r["event"] for r in view.criteria.rules} >= {"pause", "vt"}
    assert [r.id for r in view.recent] == [normal]

    strip = view.strip
    assert strip is not None and strip.beats.source == "computed" and not strip.truncated
    source = open_recording(strips.pause)
    mv = decode_int16(strip.samples).astype(float) * strip.scale_mv
    assert mv.size == source.n_samples and strip.fs == source.fs
    assert np.allclose(mv, source.read(0, source.n_samples)[:, 0], atol=strip.scale_mv)
    beats = np.array(strip.beats.offsets)
    assert len(strip.beats.labels) == beats.size and set(strip.beats.labels) <= set("NSVFQ")
    rr = np.diff(beats) / strip.fs
    assert 30 <= beats.size <= 90  # 45 s of sinus rhythm around one pause
    assert rr.max() >= 4.0  # the pause is between two labelled beats
    # each labelled beat is at a QRS: the signal's largest deflection within 100 ms is there
    window = int(0.1 * strip.fs)
    peaks = [np.argmax(np.abs(mv[max(0, b - window) : b + window])) + max(0, b - window) for b in beats]
    assert np.median(np.abs(np.array(peaks) - beats)) <= 0.05 * strip.fs

    def no_second_analysis(*_: object) -> None:
        raise AssertionError("the strip was analysed again")

    monkeypatch.setattr(monitoring_item, "_label_beats", no_second_analysis)
    again = item_view(store, pause, "dr.a")
    assert again.strip is not None and again.strip.beats.source == "stored"
    assert again.strip.beats.offsets == strip.beats.offsets and again.strip.beats.labels == strip.beats.labels
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StripBeats)) == 1
    assert _reads(store) == 2


def test_unknown_item_and_unreadable_strip(store: Store, strips: Strips) -> None:
    with pytest.raises(InputError) as caught:
        item_view(store, 4242, "tech")
    assert caught.value.field == "item"
    _enrol(store)
    flat = ingest_file(store, strips.flat, "DEV-7", "device").item_id
    assert flat is not None
    view = item_view(store, flat, "tech")
    assert view.priority == "unreadable" and view.label == "~"
    assert view.strip is not None and view.strip.beats.offsets == []
    assert view.strip.beats.note  # says why no beat is labelled
    assert _reads(store) == 1


def test_item_view_draws_the_lead_the_triage_read(
    store: Store, strips: Strips, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two leads, the first one flat (electrode off): the triage reads the second, and the view draws it
    from ecgdesk.records import Recording
    from ecgdesk.records.writers import write_recording
    from ecgdesk.store.monitoring_models import QueueItem, Transmission

    source = open_recording(strips.normal)
    signal = source.read(0, source.n_samples)[:, 0]
    two = Recording.from_array(np.column_stack([np.zeros_like(signal), signal]), source.fs,
                               lead_names=["I", "II"], record_name="electrode-off")
    path = write_recording(two, tmp_path, "wfdb", "electrode-off")
    _enrol(store)
    item = ingest_file(store, path, "DEV-7", "device").item_id
    assert item is not None
    opened: list[str] = []
    read_strip = monitoring_item.read_strip
    monkeypatch.setattr(monitoring_item, "read_strip",
                        lambda st, tr: opened.append(tr.main_file) or read_strip(st, tr))
    view = item_view(store, item, "tech")
    assert len(opened) == 1  # the first view draws and labels the strip from one open file
    assert view.label != "~" and view.priority != "unreadable"
    assert view.reason and "lead I flat" in str(view.observation["reason"] if view.observation else "")
    strip = view.strip
    assert strip is not None and strip.lead == "II"
    mv = decode_int16(strip.samples).astype(float) * strip.scale_mv
    assert np.allclose(mv, signal, atol=strip.scale_mv)
    assert 30 <= len(strip.beats.offsets) <= 90  # 45 s of sinus rhythm, labelled on lead II
    # the daily report's event strip is cut from the same lead
    with store.transaction() as session:
        queued = session.get(QueueItem, item)
        assert queued is not None
        transmission = session.get(Transmission, queued.transmission_id)
        assert transmission is not None
        session.expunge(transmission)
    reads: list[object] = []
    read = Recording.read
    monkeypatch.setattr(Recording, "read",
                        lambda self, *a, **k: reads.append(k.get("leads")) or read(self, *a, **k))
    window, fs, _ = monitoring_item.strip_window(store, transmission, 5.0, 10.0)
    assert fs == source.fs and np.allclose(window, signal[int(2 * fs) : int(12 * fs)], atol=0.01)
    assert reads == [0, 1]  # the flat lead, then the live one, read once
