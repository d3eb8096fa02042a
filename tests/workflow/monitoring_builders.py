"""Strips for the monitoring tests: cut from a simulated recording around known events, plus flat lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ecgdesk.coding import Service
from ecgdesk.records import Recording, open_recording, write_recording
from ecgdesk.records.simulator import SimulationConfig, simulate
from ecgdesk.store import Store
from ecgdesk.store.monitoring_models import Notification, QueueItem
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_queue import NotificationRequest, review
from ecgdesk.workflow.monitoring_roster import add_shift

START = datetime(2026, 12, 1, 9, 0)


@dataclass(frozen=True)
class Strips:
    normal: Path
    vt: Path
    pause: Path
    flat: Path
    folder: Path


def _cut(recording: Recording, start_s: float, seconds: float, out: Path, name: str) -> Path:
    first = max(0, int(start_s * recording.fs))
    data = recording.read(first, min(recording.n_samples, first + int(seconds * recording.fs)))
    strip = Recording.from_array(
        data[:, 0],
        recording.fs,
        lead_names=[recording.leads[0].name],
        start_time=START + timedelta(seconds=first / recording.fs),
        record_name=name,
    )
    return write_recording(strip, out, "wfdb", name)


def restamp(strip: Path, start_time: datetime | None, out: Path, name: str) -> Path:
    """The same samples as ``strip`` with another start time (None: the header says none)."""
    recording = open_recording(strip)
    data = recording.read(0, recording.n_samples)[:, 0]
    copy = Recording.from_array(
        data, recording.fs, lead_names=[recording.leads[0].name], start_time=start_time, record_name=name
    )
    return write_recording(copy, out, "wfdb", name)


def make_strips(folder: Path) -> Strips:
    """A 10-minute simulation with one 30-beat VT run and one 4.5 s pause, cut into 60 s strips."""
    sim_dir = folder / "sim"
    simulate(
        SimulationConfig(
            days=600 / 86400, leads=1, seed=11, events="vt:1x30,pause:1x4.5s", name="sim", start=START
        ),
        sim_dir,
    )
    truth = json.loads((sim_dir / "sim.truth.json").read_text())
    recording = open_recording(sim_dir / "sim.hea")
    episodes = {e["type"]: e for e in truth["episodes"]}
    vt, pause = episodes["vt"], episodes["pause"]
    quiet = max(0.0, min(vt["start_s"], pause["start_s"]) - 70.0)
    strips_dir = folder / "strips"
    normal = _cut(recording, quiet, 45.0, strips_dir, "normal")
    vt_strip = _cut(recording, vt["start_s"] - 25.0, 60.0, strips_dir, "vt")
    pause_strip = _cut(recording, pause["start_s"] - 20.0, 45.0, strips_dir, "pause")
    flat = write_recording(
        Recording.from_array(
            np.zeros(30 * 250, dtype=np.float32),
            250.0,
            lead_names=["ECG"],
            start_time=START,
            record_name="flat",
        ),
        strips_dir,
        "wfdb",
        "flat",
    )
    return Strips(normal, vt_strip, pause_strip, flat, strips_dir)


@dataclass(frozen=True)
class EventStrips:
    sustained_vt: Path
    complete_block: Path
    long_pause: Path


def make_event_strips(folder: Path) -> EventStrips:
    """60 s strips around a 150-beat VT (about 54 s), 2 minutes of complete AV block and a 12 s pause,
    simulated in one 20-minute recording (``ecgdesk simulate`` events ``vt``, ``avb3``, ``pause``)."""
    sim_dir = folder / "sim-events"
    simulate(
        SimulationConfig(
            days=1200 / 86400,
            leads=1,
            seed=5,
            events="vt:1x150,avb3:1x2m,pause:1x12s",
            name="ev",
            start=START,
        ),
        sim_dir,
    )
    truth = json.loads((sim_dir / "ev.truth.json").read_text())
    recording = open_recording(sim_dir / "ev.hea")
    episodes = {e["type"]: e for e in truth["episodes"]}
    out = folder / "event-strips"
    return EventStrips(
        _cut(recording, episodes["vt"]["start_s"] - 5.0, 60.0, out, "sustained_vt"),
        _cut(recording, episodes["avb3"]["start_s"] + 20.0, 60.0, out, "complete_block"),
        _cut(recording, episodes["pause"]["start_s"] - 20.0, 60.0, out, "long_pause"),
    )


def notified_emergent(store: Store, strips: Strips, minutes_ago: float, notify: bool = True) -> int:
    """An emergent item notified to Dr Smith ``minutes_ago`` minutes ago, not acknowledged; its id (with
    ``notify`` False: the item, still open, and dr.oncall on call)."""
    request = EnrolmentRequest("M1", "Roe, Rita", date(1950, 5, 6), "F", "DEV-1", Service.EVENT_MONITOR,
                               START.date(), "1245319599", ("R00.2",))
    enroll(store, request, "tech")
    item_id = ingest_file(store, strips.vt, "DEV-1", "device").item_id or 0
    now = datetime.now(UTC)
    add_shift(store, now - timedelta(hours=1), now + timedelta(hours=7), ["tech"], "dr.oncall", "admin")
    with store.transaction() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        item.priority = "emergent"
    if not notify:
        return item_id
    review(store, item_id, "notified", "tech", notification=NotificationRequest("Dr Smith", "phone"))
    with store.transaction() as session:
        for row in session.scalars(select(Notification)):
            row.sent_at = now - timedelta(minutes=minutes_ago)
    return item_id
