"""``ecgdesk delineate`` against the QT Database's first annotator, per lead and fused, NeuroKit2 as the peer.

For each of the shared QT Database records this runs what ``ecgdesk delineate REC.hea --out DIR`` runs (the
whole 15 min record, both leads) and reads the ``waves.csv`` it writes; NeuroKit2 (``ecg_peaks`` +
``ecg_delineate(method="dwt")``, lead by lead) runs on the annotated stretch of the same record (plus 10 s
each side), so both are compared on the same annotated beats. Every annotated beat is matched to the beat
whose QRS mark is nearest its annotated QRS peak (within 150 ms); each annotated boundary of it is compared
with the same boundary of that beat (more than 150 ms away, or absent: missed).

Figures per boundary: mean and SD of the error (ours - annotator) in ms, as Martinez et al. (2004) give them
(the mean over records of each record's mean and SD) and pooled over every beat; N; missed; and the share
of annotated beats delineated. Rows: each lead on its own (``lead 1``, ``lead 2``: the record's first and
second signal; no lead is chosen by its error), the fused marks (``all``), NeuroKit2 per lead.

The split: the methods and thresholds were chosen on the even-numbered records of the sorted list (tuning
half) and are checked on the odd-numbered ones (held out), except the P offset threshold, chosen on all 32
since waves-1.4, and the QRS onset's broad R wave rule of waves-1.5, found on a held-out record
(docs/delineate.md); both halves are printed, the held-out one is the figure to quote.

    python bench/bench_delineate.py [--records sel100,sel102] [--no-peer] [--jobs 1]

Writes ``bench/results/delineate_qtdb.csv`` and ``delineate_qtdb.txt``; NeuroKit2's marks are cached under
``bench/.cache/delineate`` (git-ignored), as they do not change from run to run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.waves import ALGORITHM_VERSION, FUSED, write_waves_csv
from ecgdesk.records import open_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qtdb_eval import BOUNDARIES, MARTINEZ, QTDB, SPLIT_NOTE, Tally, records, reference, split

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "bench" / ".cache" / "delineate"
NK_KEYS = {"P_on": "ECG_P_Onsets", "P_off": "ECG_P_Offsets", "QRS_on": "ECG_R_Onsets",
           "QRS_off": "ECG_R_Offsets", "T_off": "ECG_T_Offsets"}


def read_beats(path: Path) -> dict[str, list[dict[str, int]]]:
    """``waves.csv`` back as beats per lead: QRS peak and the boundaries of its P, QRS and T."""
    beats: dict[str, list[dict[str, int]]] = {}
    pending: dict[str, dict[str, int]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            lead, wave = row["lead"], row["wave"]
            onset, peak, offset = int(row["onset"]), int(row["peak"]), int(row["offset"])
            if wave == "P":
                pending[lead] = {"P_on": onset, "P_off": offset}
            elif wave == "QRS":
                beat = {**pending.pop(lead, {}), "QRS_peak": peak, "QRS_on": onset, "QRS_off": offset}
                beats.setdefault(lead, []).append(beat)
            elif wave == "T" and beats.get(lead):
                beats[lead][-1]["T_off"] = offset
    return beats


def neurokit_beats(record: str, signal: np.ndarray, fs: float, start: int) -> list[list[dict[str, int]]]:
    """NeuroKit2's beats per lead on ``signal`` (which starts at sample ``start``), cached per record."""
    cache = CACHE / f"{record}.neurokit2.json"
    if cache.exists():
        return json.loads(cache.read_text())
    import neurokit2 as nk

    out = []
    for lead in range(signal.shape[1]):
        beats: list[dict[str, int]] = []
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            try:
                _, info = nk.ecg_peaks(signal[:, lead], sampling_rate=int(fs))
                peaks = np.asarray(info["ECG_R_Peaks"])
                _, waves = nk.ecg_delineate(signal[:, lead], peaks, sampling_rate=int(fs), method="dwt")
            except Exception:  # the peer's failures count as missed beats, as a user would see them
                peaks, waves = np.zeros(0, dtype=int), {}
        for i, peak in enumerate(peaks):
            beat = {"QRS_peak": int(peak) + start}
            for b, key in NK_KEYS.items():
                values = waves.get(key, [])
                if i < len(values) and values[i] == values[i]:
                    beat[b] = int(values[i]) + start
            beats.append(beat)
        out.append(beats)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def summarise(name: str, tally: Tally, subset: set[str]) -> tuple[list[str], list[list[object]]]:
    lines, rows, cells = [], [], []
    for b in BOUNDARIES:
        s = tally.stats(b, subset)
        cells.append(f"{s['rec_mean']:6.1f} / {s['rec_sd']:4.1f} [{s['mean']:6.1f} / {s['sd']:4.1f}] "
                     f"n{s['n']:4d} m{tally.missed_in(b, subset):3d}")
        rows.append([name, b, s["n"], tally.missed_in(b, subset), round(s["rec_mean"], 2),
                     round(s["rec_sd"], 2),
                     round(s["mean"], 2), round(s["sd"], 2)])
    beats, found = tally.beats_in(subset)
    pct = 100.0 * found / beats if beats else float("nan")
    rows.append([name, "beats_delineated_pct", beats, beats - found, round(pct, 2), "", "", ""])
    lines.append(f"  {name:16s} beats {found:4d}/{beats:4d} = {pct:5.1f} %")
    for b, cell in zip(BOUNDARIES, cells, strict=True):
        lines.append(f"      {b:8s} {cell}")
    return lines, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="", help="comma-separated record names (default: all 32)")
    parser.add_argument("--no-peer", action="store_true", help="skip NeuroKit2")
    args = parser.parse_args()
    if not QTDB.exists():
        print(f"needs {QTDB}", file=sys.stderr)
        return 2
    names = [r for r in args.records.split(",") if r] or records()
    tune, held = split(records())
    peer = not args.no_peer
    if peer:
        try:
            import neurokit2  # noqa: F401
        except ImportError:
            print("neurokit2 is not installed (make bench); running without the peer", file=sys.stderr)
            peer = False
    tallies: dict[str, Tally] = {}
    seconds = {"ecgdesk": 0.0, "neurokit2": 0.0}
    signal_seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for index, record in enumerate(names, 1):
            ref = reference(record)
            recording = open_recording(QTDB / f"{record}.hea")
            fs = recording.fs
            signal_seconds += recording.duration_s
            t0 = time.perf_counter()
            write_waves_csv(recording, Path(tmp) / "waves.csv")
            seconds["ecgdesk"] += time.perf_counter() - t0
            ours = read_beats(Path(tmp) / "waves.csv")
            for i, lead in enumerate(recording.lead_names):
                tallies.setdefault(f"ecgdesk lead {i + 1}", Tally()).add(record, ref, ours.get(lead, []), fs)
            tallies.setdefault(f"ecgdesk {FUSED}", Tally()).add(record, ref, ours.get(FUSED, []), fs)
            if peer:
                lo = max(0, min(b.qrs_peak for b in ref) - int(10 * fs))
                hi = min(recording.n_samples, max(b.qrs_peak for b in ref) + int(10 * fs))
                raw = wfdb.rdrecord(str(QTDB / record), sampfrom=lo, sampto=hi)
                t0 = time.perf_counter()
                nk = neurokit_beats(record, np.nan_to_num(raw.p_signal), fs, lo)
                seconds["neurokit2"] += time.perf_counter() - t0
                for i, beats in enumerate(nk):
                    tallies.setdefault(f"neurokit2 lead {i + 1}", Tally()).add(record, ref, beats, fs)
            print(f"[{index}/{len(names)}] {record}", file=sys.stderr)
    out_lines = [f"QT Database, first annotator (.q1c), {len(names)} records; ecgdesk {ALGORITHM_VERSION}",
                 f"split: {SPLIT_NOTE}",
                 "per boundary: mean / SD over records as Martinez et al. 2004 "
                 "[pooled over beats: mean / SD] ms, n matched, m missed",
                 "Martinez et al. 2004: "
                 + ", ".join(f"{b} {m:+.1f} / {s:.1f}" for b, (m, s) in MARTINEZ.items())]
    csv_rows: list[list[object]] = []
    held_label = "HELD OUT (odd records, not tuned on but for the P offset and the broad R wave onset)"
    for label, subset in ((held_label, set(held) & set(names)),
                          ("tuning half (even records)", set(tune) & set(names)),
                          ("all records", set(names))):
        if not subset:
            continue
        out_lines.append(f"\n{label}: {len(subset)} records")
        for name, tally in tallies.items():
            lines, rows = summarise(name, tally, subset)
            out_lines.extend(lines)
            csv_rows.extend([label.split(" (")[0].split(":")[0], *row] for row in rows)
    out_lines.append(f"\ntime: ecgdesk {seconds['ecgdesk']:.1f} s for {signal_seconds / 60:.0f} min of "
                     f"signal "
                     f"(whole records; {signal_seconds / max(seconds['ecgdesk'], 1e-9):.0f}x real time)"
                     + (f", neurokit2 {seconds['neurokit2']:.1f} s on the annotated stretches "
                        f"(cached runs: ~0)"
                        if peer else ""))
    text = "\n".join(out_lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.records:
        (RESULTS / "delineate_qtdb.txt").write_text(text + "\n")
        with (RESULTS / "delineate_qtdb.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["split", "method", "boundary", "n", "missed", "mean_ms", "sd_ms",
                             "pooled_mean_ms",
                             "pooled_sd_ms"])
            writer.writerows(csv_rows)
        print(f"wrote {RESULTS / 'delineate_qtdb.csv'}, {RESULTS / 'delineate_qtdb.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
