"""Strips for the monitoring tests: cut from a simulated recording around known events, plus flat lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ecgdesk.records import Recording, open_recording, write_recording
from ecgdesk.records.simulator import SimulationConfig, simulate

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
