"""A small, transparent beat engine for pipeline tests: band-pass peak picking, every beat N.

It lets the streaming, quality, rhythm and output logic be tested apart from ecgdesk's detector and
classifier; tests that need the real ones use :func:`ecgdesk.analysis.pipeline.default_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ecgdesk.analysis.pipeline import BeatEngine


@dataclass(frozen=True)
class SimpleTable:
    samples: np.ndarray
    labels: np.ndarray
    templates: list[object]
    fs: float


def detect(ecg: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(2, [8.0, 30.0], "bandpass", fs=fs, output="sos")
    y = np.abs(signal.sosfiltfilt(sos, ecg.astype(np.float64)))
    if y.size == 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = signal.find_peaks(y, height=0.3 * float(np.percentile(y, 99)), distance=int(0.25 * fs))
    return peaks.astype(np.int64)


def features(ecg: np.ndarray, fs: float, samples: np.ndarray) -> np.ndarray:
    return np.asarray(ecg[samples], dtype=np.float32)


def concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts)


def classify(feats: np.ndarray, samples: np.ndarray, fs: float) -> SimpleTable:
    return SimpleTable(np.asarray(samples, dtype=np.int64), np.full(samples.size, "N", dtype="<U1"), [], fs)


SIMPLE_ENGINE = BeatEngine(detect, features, concat, classify)
