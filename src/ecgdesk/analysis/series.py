"""The beat sequence the rhythm analysis works on: beat samples, AAMI labels and RR validity.

Independent of :class:`~ecgdesk.analysis.beats.BeatTable`, so rhythm logic can run on reference
annotations (MIT-BIH ``.atr``) and on simulator truth as well as on our own beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.quality import ANALYZABLE, epoch_length


@dataclass(frozen=True)
class BeatSeries:
    """Beats in time order with their RR intervals.

    ``rr_s[i]`` is the interval from beat ``i-1`` to beat ``i`` (``nan`` for the first beat);
    ``valid[i]`` is True when both beats and every epoch between them are analyzable.
    """

    samples: np.ndarray
    labels: np.ndarray
    fs: float
    n_samples: int
    states: np.ndarray
    epoch_len: int
    rr_s: np.ndarray
    valid: np.ndarray

    @classmethod
    def build(
        cls,
        samples: np.ndarray,
        labels: np.ndarray,
        fs: float,
        n_samples: int,
        states: np.ndarray | None,
        config: AnalysisConfig,
    ) -> BeatSeries:
        samples = np.asarray(samples, dtype=np.int64)
        labels = np.asarray(labels, dtype="<U1")
        L = epoch_length(fs, config)
        n_ep = max(1, -(-n_samples // L))
        if states is None:
            states = np.zeros(n_ep, dtype=np.uint8)
        rr = np.full(samples.shape[0], np.nan)
        valid = np.zeros(samples.shape[0], dtype=bool)
        if samples.shape[0] > 1:
            rr[1:] = np.diff(samples) / fs
            ep = np.minimum(samples // L, states.shape[0] - 1)
            bad_cum = np.concatenate(([0], np.cumsum(states != ANALYZABLE)))
            # bad epochs in [ep[i-1], ep[i]] inclusive
            n_bad = bad_cum[ep[1:] + 1] - bad_cum[ep[:-1]]
            valid[1:] = n_bad == 0
        return cls(
            samples, labels, float(fs), int(n_samples), np.asarray(states, dtype=np.uint8), L, rr, valid
        )

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def times_s(self) -> np.ndarray:
        return self.samples / self.fs

    def beat_analyzable(self) -> np.ndarray:
        if self.n == 0:
            return np.zeros(0, dtype=bool)
        ep = np.minimum(self.samples // self.epoch_len, self.states.shape[0] - 1)
        return np.asarray(self.states[ep] == ANALYZABLE)
