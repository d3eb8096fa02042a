"""Synthetic beat sequences with known rhythm, for the rhythm-logic tests."""

from __future__ import annotations

import numpy as np


class BeatBuilder:
    """Append beats by RR interval and label; ``spans`` records the truth of each added segment."""

    def __init__(self, fs: float = 250.0, seed: int = 0) -> None:
        self.fs = fs
        self.t = 1.0
        self.times: list[float] = []
        self.labels: list[str] = []
        self.rng = np.random.default_rng(seed)
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def _add(self, rr: float, label: str) -> None:
        self.t += rr
        self.times.append(self.t)
        self.labels.append(label)

    def sinus(self, seconds: float, bpm: float = 70.0) -> BeatBuilder:
        end = self.t + seconds
        while self.t < end:
            self._add(60.0 / bpm * (1 + 0.02 * self.rng.standard_normal()), "N")
        return self

    def af(self, seconds: float, bpm: float = 100.0) -> BeatBuilder:
        start = self.t
        end = self.t + seconds
        while self.t < end:
            self._add(60.0 / bpm * float(self.rng.uniform(0.6, 1.4)), "N")
        self.spans.setdefault("af", []).append((start, self.t))
        return self

    def run(self, label: str, n: int, bpm: float) -> BeatBuilder:
        start = self.t
        for _ in range(n):
            self._add(60.0 / bpm, label)
        self.spans.setdefault(f"run{label}", []).append((start, self.t))
        self._add(60.0 / 70 * 1.3, "N")  # compensatory pause
        return self

    def pause(self, seconds: float) -> BeatBuilder:
        start = self.t
        self._add(seconds, "N")
        self.spans.setdefault("pause", []).append((start, self.t))
        return self

    def bigeminy(self, n_v: int) -> BeatBuilder:
        for _ in range(n_v):
            self._add(0.55, "V")
            self._add(1.1, "N")
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray, int]:
        samples = np.round(np.array(self.times) * self.fs).astype(np.int64)
        return samples, np.array(self.labels, dtype="<U1"), int((self.t + 1.0) * self.fs)
