"""Beat-by-beat comparison against a reference annotation, EC57 style (like WFDB ``bxb``).

Each reference beat is matched to the nearest unused detection within the match window (150 ms by
default, the EC57 window); unmatched reference beats are false negatives and unmatched detections false
positives. Gross sensitivity Se = TP / (TP + FN), positive predictivity +P = TP / (TP + FP).
The AAMI class of a MIT-BIH beat symbol follows de Chazal et al. (2004): :data:`AAMI_CLASS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdesk.errors import InputError, check_positive

#: MIT-BIH beat symbols counted as beats by the comparison.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
#: MIT-BIH beat symbol -> AAMI class (symbols not listed, e.g. '?', are Q).
AAMI_CLASS = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"),
              "F": "F", **dict.fromkeys("/fQ", "Q")}


@dataclass(frozen=True)
class Match:
    """The pairing of reference beats with detections."""

    pairs: np.ndarray  # per reference beat, the index of its detection, or -1
    n_detected: int

    @property
    def tp(self) -> int:
        return int(np.sum(self.pairs >= 0))

    @property
    def fn(self) -> int:
        return int(self.pairs.size - self.tp)

    @property
    def fp(self) -> int:
        return int(self.n_detected - self.tp)

    @property
    def se(self) -> float:
        """Sensitivity in percent (100 when there is no reference beat)."""
        return 100.0 * self.tp / self.pairs.size if self.pairs.size else 100.0

    @property
    def ppv(self) -> float:
        """Positive predictivity in percent (100 when nothing was detected)."""
        return 100.0 * self.tp / self.n_detected if self.n_detected else 100.0


def match_beats(reference: np.ndarray, detected: np.ndarray, fs: float, window_s: float = 0.15) -> Match:
    """Pair sorted reference and detected sample indices within ``window_s``, closest pairs first.

    Every (reference, detection) pair closer than the window is a candidate; pairs are taken in order of
    distance and each beat and each detection is used once.
    """
    fs = check_positive("fs", fs)
    window_s = check_positive("window_s", window_s)
    ref = np.asarray(reference, dtype=np.int64)
    det = np.asarray(detected, dtype=np.int64)
    window = int(round(window_s * fs))
    pairs = np.full(ref.size, -1, dtype=np.int64)
    if ref.size == 0 or det.size == 0:
        return Match(pairs, int(det.size))
    lo = np.searchsorted(det, ref - window, side="left")
    hi = np.searchsorted(det, ref + window, side="right")
    span = int((hi - lo).max())
    cand_i = np.concatenate([np.flatnonzero(lo + j < hi) for j in range(span)]) if span else np.zeros(0, int)
    cand_k = np.concatenate([(lo + j)[lo + j < hi] for j in range(span)]) if span else np.zeros(0, int)
    dist = np.abs(det[cand_k] - ref[cand_i])
    used_ref = np.zeros(ref.size, dtype=bool)
    used_det = np.zeros(det.size, dtype=bool)
    for n in np.argsort(dist, kind="stable"):
        i, k = int(cand_i[n]), int(cand_k[n])
        if not used_ref[i] and not used_det[k]:
            used_ref[i] = used_det[k] = True
            pairs[i] = k
    return Match(pairs, int(det.size))


def class_scores(truth: np.ndarray, match: Match, labels: np.ndarray, cls: str) -> tuple[float, float]:
    """(Se, +P) in percent of beat class ``cls``: ``truth`` per reference beat, ``labels`` per detection.

    As in EC57, a detection called ``cls`` that matches no reference beat is not counted against +P
    (that is a detection error, scored by :func:`match_beats`).
    """
    truth = np.asarray(truth)
    if truth.size != match.pairs.size:
        raise InputError("truth", f"{truth.size} classes for {match.pairs.size} reference beats")
    ours = np.where(match.pairs >= 0, np.asarray(labels)[np.maximum(match.pairs, 0)], "-")
    tp = int(np.sum((truth == cls) & (ours == cls)))
    n_true, n_called = int(np.sum(truth == cls)), int(np.sum(ours == cls))
    nan = float("nan")
    return (100.0 * tp / n_true if n_true else nan, 100.0 * tp / n_called if n_called else nan)
