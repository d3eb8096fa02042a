"""The S model on DS1 records it did not see, as recorded and as another recorder would store them.

    .venv/bin/python bench/beats_loro_perturbed.py [--data ../shared/data]
                                                   [--perturbations own,128,250,0.5-40,ma:12]

``bench/train_beats.py --loro`` scores each DS1 record with a model fitted on the other 21, but only as
the record was recorded; ``bench/bench_classes.py --rates/--front-ends/--noise`` perturbs the records,
but scores DS1 with the committed model, which was trained on those very records. Here each DS1 record is
scored by the model fitted on the other 21 records **as recorded** (``train_beats.py``'s recipe, the
committed S threshold), the held-out record as recorded and perturbed: resampled to 128 or 250 Hz
(``128``), through a 0.5-40 Hz recorder front end (``0.5-40``) or with synthetic muscle noise at 12 dB
(``ma:12``), each exactly as ``bench_classes.py`` makes it. A row is what a patient the model never saw
gets from a recorder the model never saw: the spread across rows is the part of the S figure that rests
on the recording, not the patient. DS1 only: it is where choices are made (SVDB stays the check).

The classifier's input of every record and perturbation is cached in ``bench/.cache/beats_perturbed/``
(git-ignored; delete it when detection or the beat features change). Writes
``bench/results/beats_loro_perturbed.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
import zlib
from pathlib import Path

import numpy as np
import wfdb

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the shared 2-core machine

from bench_classes import at_rate, through_front_end, with_noise
from ecgdesk.analysis import beat_model
from ecgdesk.analysis.evaluation import BEAT_SYMBOLS
from ecgdesk.analysis.findings import ALGORITHM_VERSION
from ecgdesk.records import open_recording
from train_beats import DS1, Prepared, classified_input, fit, labels_with, prepared, s_proba, scores

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "beats_perturbed"
RESULTS = ROOT / "bench" / "results" / "beats_loro_perturbed.csv"


def record_beats(data: Path, name: str, perturbation: str) -> dict[str, np.ndarray]:
    """The classifier's input (beat features, R peaks) and the reference class of each detection of DS1
    record ``name`` under ``perturbation`` (cached)."""
    path = CACHE / f"{perturbation.replace(':', '_')}_{name}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    base = str(data / "mitdb" / name)
    recording = open_recording(base + ".hea")
    if perturbation.isdigit():
        recording = at_rate(recording, int(perturbation))
    elif "-" in perturbation:
        low, high = (float(edge) for edge in perturbation.split("-"))
        recording = through_front_end(recording, (low, high))
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], dtype=bool)
    reference = np.round(np.asarray(ann.sample)[keep] * (recording.fs / float(ann.fs))).astype(np.int64)
    symbols = np.asarray(ann.symbol)[keep]
    if ":" in perturbation:
        kind, snr = perturbation.split(":")
        recording = with_noise(recording, kind, float(snr), reference, zlib.crc32(name.encode()))
    return classified_input(recording, reference, symbols, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--perturbations", default="own,128,250,0.5-40,ma:12",
                        help="own, a rate (Hz), a front end (LOW-HIGH Hz) or noise (KIND:SNR_DB), "
                             "comma-separated")
    args = parser.parse_args()
    t0 = time.perf_counter()
    wanted = [p.strip() for p in args.perturbations.split(",") if p.strip()]
    if "own" not in wanted:
        wanted.insert(0, "own")
    data: dict[str, dict[str, Prepared]] = {
        p: {name: prepared(record_beats(args.data, name, p)) for name in DS1} for p in wanted}
    print(f"classifier inputs of {len(DS1)} DS1 records x {len(wanted)} ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in wanted}
    for name in DS1:
        model = fit([data["own"][other] for other in DS1 if other != name])
        for p in wanted:
            matrix, truth, rules, candidates, lone = data[p][name]
            pairs[p].append((labels_with(rules, candidates, s_proba(model, matrix), beat_model.S_THRESHOLD,
                                         lone), truth))
    rows = []
    for p in wanted:
        s = scores(pairs[p])
        rows.append({"algorithm": ALGORITHM_VERSION, "held_out_record": p,
                     "n_S": s["S"]["beats"], "S_se": s["S"]["se"], "S_ppv": s["S"]["ppv"],
                     "n_V": s["V"]["beats"], "V_se": s["V"]["se"], "V_ppv": s["V"]["ppv"]})
        print(f"DS1 leave-one-record-out, held-out record {p}: S {s['S']['se']} / {s['S']['ppv']} "
              f"({s['S']['beats']} beats), V {s['V']['se']} / {s['V']['ppv']} ({s['V']['beats']} beats)",
              flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {RESULTS} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
