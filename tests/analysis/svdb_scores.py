"""S sensitivity and +P of ``ecgdesk analyze`` on one shared SVDB record, for the beat-model tests."""

from __future__ import annotations

import numpy as np

from conftest import shared_path
from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, class_scores, match_beats
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording


def svdb_s_scores(name: str) -> tuple[float, float]:
    """(S Se, S +P) in % of lead 0's analysis against the record's reference beats (AAMI classes)."""
    import wfdb

    base = str(shared_path("svdb", f"{name}.hea").with_suffix(""))
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    truth = np.array([AAMI_CLASS.get(s, "Q") for s in np.array(ann.symbol)[keep]])
    table = analyze(open_recording(base + ".hea"), lead=0).beats
    return class_scores(truth, match_beats(ann.sample[keep], table.samples, table.fs), table.labels, "S")
