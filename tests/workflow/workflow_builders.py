"""Fixtures of the workflow tests: a fresh store in a temp folder and a tiny WFDB recording."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import find_peaks

from backends import BACKENDS, make_store
from ecgdesk.coding import Service, Setting
from ecgdesk.records import Recording, write_recording
from ecgdesk.store import Store
from ecgdesk.workflow.analysis import AnalysisOutput
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.studies import StudyRequest

PIN = "demo-2468"
PHYSICIAN_NPI = "1234567893"
ORDERING_NPI = "1245319599"
#: A second interpreting physician's (one NPI is one active account).
SECOND_NPI = "1003000126"


@pytest.fixture(params=BACKENDS)
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh store, on SQLite and on PostgreSQL (see ``tests/backends.py``)."""
    store = make_store(tmp_path, request.param)
    yield store
    store.close()


@pytest.fixture(autouse=True)
def quick_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2 and scrypt in tests (the cost is stored in each hash, so checking works the same)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("ecgdesk.workflow.users.SCRYPT_N", 1 << 10)
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr("ecgdesk.workflow.users.HASHER", cheap)


@pytest.fixture(scope="session")
def tiny_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute synthetic WFDB record (its header path)."""
    folder = tmp_path_factory.mktemp("tiny")
    return write_recording(synthetic_recording(2.0, seed=3), folder, "wfdb", "tiny")


def request(**changes: object) -> StudyRequest:
    values: dict[str, object] = dict(
        patient_id="P1",
        name="Doe, Jane",
        birth_date=date(1950, 1, 2),
        sex="F",
        service=Service.AMBULATORY_ECG,
        ordering_npi=ORDERING_NPI,
        indications=("R00.2",),
        duration_days=8.0,
        setting=Setting.PRACTITIONER,
        place_of_service="11",
    )
    values.update(changes)
    return StudyRequest(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FakeTemplate:
    template_id: int
    label: str
    n_beats: int
    waveform: np.ndarray


@dataclass(frozen=True)
class FakeBeats:
    samples: np.ndarray
    labels: np.ndarray
    template_ids: np.ndarray
    templates: list[FakeTemplate]
    fs: float


def fake_engine() -> object:
    """A beat engine for the pipeline that needs no detector: R peaks by threshold, every 7th beat 'V'.

    The workflow tests check the workflow (runs, edits, atomicity), not beat detection; the labels are
    chosen so that a template edit visibly changes the summary.
    """
    from ecgdesk.analysis.pipeline import BeatEngine

    def detect(ecg: np.ndarray, fs: float) -> np.ndarray:
        peaks, _ = find_peaks(ecg, height=0.6, distance=int(0.3 * fs))
        return peaks.astype(np.int64)

    def features(ecg: np.ndarray, fs: float, samples: np.ndarray) -> np.ndarray:
        return samples

    def concat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts)

    def classify(features: np.ndarray, samples: np.ndarray, fs: float) -> FakeBeats:
        ids = np.where(np.arange(samples.size) % 7 == 6, 1, 0).astype(np.int32)
        labels = np.where(ids == 1, "V", "N").astype("<U1")
        wave = np.zeros(10)
        templates = [
            FakeTemplate(0, "N", int(np.sum(ids == 0)), wave),
            FakeTemplate(1, "V", int(np.sum(ids)), wave),
        ]
        return FakeBeats(samples, labels, ids, templates, fs)

    return BeatEngine(detect, features, concat, classify)


def fake_analyzer(recording: Recording, diary: Path | None, progress: object) -> AnalysisOutput:
    from ecgdesk.analysis.pipeline import analyze

    result = analyze(recording, diary=diary, engine=fake_engine())  # type: ignore[arg-type]
    beats = result.beats
    return AnalysisOutput(result.findings, beats.samples, beats.labels, beats.template_ids)  # type: ignore[attr-defined]


def assert_pdf_carries_signatures(pdf: Path, signatures: list[tuple[str, str, int, datetime]]) -> None:
    """The PDF's text names every signature, oldest first, with its meaning, printed name, UTC date-time
    and the report version it signed (21 CFR 11.50): ``(meaning, printed name, version, signed_at)``."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))
    from scanning_builders import pdf_text

    text = " ".join(pdf_text(pdf.read_bytes()))
    at = -1
    for meaning, name, version, signed_at in signatures:
        who = f"{meaning}: {name}"
        assert who in text, (who, text)
        assert text.index(who) > at, f"{who!r} is not after the signature before it"
        at = text.index(who)
        rest = text[at:]
        assert f"{signed_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" in rest, (signed_at, rest[:200])
        assert f"report version {version}" in rest, (version, rest[:200])
