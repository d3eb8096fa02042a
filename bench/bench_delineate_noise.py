"""``ecgdesk delineate`` under noise: the QT Database records with NSTDB-style noise, with and without the
quality gate of waves-1.7.

    .venv/bin/python bench/bench_delineate_noise.py [--kinds ma,em] [--snr 6,0,-6] [--every 1]

Each shared QT Database record (both leads, whole 15 min) is delineated as stored, without the gate
(``StreamParams(quality_gate=False)``, as waves-1.6 did): its fiducials are the reference beats. Then the
same record with synthetic noise (:mod:`ecgdesk.analysis.noise_stress`: ``ma`` muscle, ``em`` electrode
motion; an independent draw on each lead) at each signal-to-noise ratio in the MIT-BIH Noise Stress Test
Database's layout (clean for the first 302.3 s, then noise and clean in alternating 120 s stretches; the
0.3 s keeps the stretches off the delineation's block and epoch borders, as a recording's noise is), is
delineated with and without the gate. A delineated beat within 100 ms of a reference beat is true, else
false (a "beat" of noise); each is counted where it lies, in a noise stretch or a clean one.

What a user wants: in the noise, few false beats (their marks are noise) and, where the heart can still be
read, the true ones; in the clean stretches beside the noise, every beat. Row ``clean``: the records as
stored, the beats the gate keeps of the reference beats.

Writes bench/results/delineate_noise.csv.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.noise_stress import add_noise, alternating_mask, make_noise
from ecgdesk.analysis.waves import ALGORITHM_VERSION, StreamParams, delineate_recording
from ecgdesk.records.recording import Recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qtdb_eval import QTDB, records

RESULTS = Path(__file__).resolve().parent / "results"
FIRST_S = 302.3
MATCH_S = 0.1


def fiducials(x: np.ndarray, fs: float, gate: bool) -> np.ndarray:
    recording = Recording.from_array(x.astype(np.float32), fs, ["a", "b"])
    params = StreamParams(quality_gate=gate)
    return np.array([b.fiducial for b in delineate_recording(recording, params=params)], dtype=np.int64)


def tally(found: np.ndarray, reference: np.ndarray, noisy: np.ndarray, fs: float, into: Counter) -> None:
    for f in found.tolist():
        true = reference.size > 0 and int(np.min(np.abs(reference - f))) <= MATCH_S * fs
        into[("noise" if noisy[f] else "clean") + ("_true" if true else "_false")] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="ma,em")
    parser.add_argument("--snr", default="6,0,-6", help="signal-to-noise ratios, dB")
    parser.add_argument("--every", type=int, default=1, help="every n-th record of the sorted list")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    snrs = [float(s) for s in args.snr.split(",") if s]
    names = records()[:: args.every]
    counts: dict[tuple[str, str, str], Counter] = {}
    started = time.perf_counter()
    for index, name in enumerate(names, 1):
        raw = wfdb.rdrecord(str(QTDB / name))
        fs = float(raw.fs)
        x = np.nan_to_num(raw.p_signal[:, :2])
        reference = fiducials(x, fs, gate=False)
        stored = counts.setdefault(("as stored", "", "gate"), Counter())
        stored["reference"] += reference.size
        tally(fiducials(x, fs, gate=True), reference, np.zeros(x.shape[0], dtype=bool), fs, stored)
        noisy = alternating_mask(x.shape[0], fs, first_s=FIRST_S)
        for kind in kinds:
            noise = np.stack([make_noise(kind, x.shape[0], fs, seed=7 + lead) for lead in range(2)], axis=1)
            for snr in snrs:
                y = np.stack([add_noise(x[:, lead], fs, reference, noise[:, lead], snr, noisy)
                              for lead in range(2)], axis=1)
                for gate in (False, True):
                    into = counts.setdefault((kind, f"{snr:g}", "gate" if gate else "no gate"), Counter())
                    into["reference"] += reference.size
                    tally(fiducials(y, fs, gate), reference, noisy, fs, into)
        print(f"[{index}/{len(names)}] {name}", file=sys.stderr, flush=True)
    fields = ("clean_true", "clean_false", "noise_true", "noise_false")
    rows = [[*key, c["reference"], *(c[f] for f in fields)] for key, c in counts.items()]
    print(f"ecgdesk {ALGORITHM_VERSION}, {len(names)} QT Database records, "
          f"{time.perf_counter() - started:.0f} s")
    print(f"{'noise':<10} {'SNR dB':>6} {'':<8} {'clean true':>10} {'clean false':>11} {'noise true':>10} "
          f"{'noise false':>11}")
    for kind, snr, gate, _, *values in rows:
        print(f"{kind:<10} {snr:>6} {gate:<8} " + " ".join(f"{v:>10}" for v in values))
    if args.every == 1:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / "delineate_noise.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["noise", "snr_db", "gate", "reference_beats", *fields])
            writer.writerows(rows)
        print(f"wrote {RESULTS / 'delineate_noise.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
