"""Resting 12-lead delineation, rhythm and axis against LUDB's cardiologists, with NeuroKit2 as the peer.

Runs ECG Desk's delineation and NeuroKit2's (``ecg_peaks`` + ``ecg_delineate(method="dwt")`` per lead) on
the same records in one run, matches every annotated boundary to the nearest boundary of the same kind each
method gave (within 150 ms; a reference boundary without one counts as missed), and prints mean and SD of
the errors in ms. Also: rhythm label agreement and axis category agreement with ``ludb.csv``.

    python bench/bench_ecg12.py [--records 1-100] [--no-peer] [--resample HZ] [--hum MV,HZ]

``--resample`` and ``--hum`` (mains hum added to every lead, e.g. ``0.1,50``) are robustness checks.

Writes ``bench/results/ecg12_ludb.csv``. Needs ``../shared/data/ludb`` and, for the peer, ``neurokit2``
(``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import wfdb
from tqdm import tqdm

from ecgdesk.analysis.ecg12.delineation import WaveKind
from ecgdesk.analysis.ecg12.measure import AxisCategory
from ecgdesk.analysis.ecg12.resting import analyze_resting
from ecgdesk.analysis.waves import delineate_recording
from ecgdesk.records.recording import Recording

ROOT = Path(__file__).resolve().parents[1]
LUDB = ROOT.parent / "shared" / "data" / "ludb"
RESULTS = ROOT / "bench" / "results"
BOUNDARIES = ("P_on", "P_off", "QRS_on", "QRS_off", "T_off")
MATCH_MS = 150.0
LUDB_RHYTHM = {
    "Sinus rhythm": "sinus_rhythm", "Sinus bradycardia": "sinus_bradycardia",
    "Sinus tachycardia": "sinus_tachycardia", "Sinus arrhythmia": "sinus_arrhythmia",
    "Atrial fibrillation": "atrial_fibrillation", "Atrial flutter, typical": "atrial_flutter",
}
SINUS_FAMILY = {"sinus_rhythm", "sinus_bradycardia", "sinus_tachycardia", "sinus_arrhythmia"}
LUDB_AXIS = {
    "left axis deviation": "left_axis_deviation", "normal": "normal", "vertical": "vertical",
    "horizontal": "horizontal", "right axis deviation": "right_axis_deviation",
}


def reference(record: str, lead: str) -> dict[str, np.ndarray]:
    ann = wfdb.rdann(str(LUDB / record), lead)
    s, y = ann.sample, ann.symbol
    out: dict[str, list[int]] = {b: [] for b in BOUNDARIES}
    names = {"p": "P", "N": "QRS", "t": "T"}
    for i in range(1, len(y) - 1):
        if y[i] in names and y[i - 1] == "(" and y[i + 1] == ")":
            kind = names[y[i]]
            if kind != "T":
                out[f"{kind}_on"].append(int(s[i - 1]))
            out[f"{kind}_off"].append(int(s[i + 1]))
    return {k: np.asarray(v) for k, v in out.items()}


def match(ref: np.ndarray, found: np.ndarray, fs: float) -> tuple[list[float], int]:
    errors: list[float] = []
    missed = 0
    found = np.sort(found[np.isfinite(found)]) if found.size else found
    for r in ref:
        if found.size == 0:
            missed += 1
            continue
        j = int(np.argmin(np.abs(found - r)))
        err = (found[j] - r) / fs * 1000.0
        if abs(err) > MATCH_MS:
            missed += 1
        else:
            errors.append(float(err))
    return errors, missed


def ours_boundaries(result, lead_index: int) -> dict[str, np.ndarray]:
    waves = [w for beat in result.delineation.leads[lead_index].beat_waves for w in beat]
    out: dict[str, list[int]] = {b: [] for b in BOUNDARIES}
    for w in waves:
        kind = w.kind.value
        if kind != "T":
            out[f"{kind}_on"].append(w.onset)
        out[f"{kind}_off"].append(w.offset)
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def fused_reference(refs: list[dict[str, np.ndarray]], fs: float,
                    spread: dict[str, list[float]] | None = None) -> dict[str, np.ndarray]:
    """Per beat, the median over the leads of the cardiologists' marks of each boundary.

    LUDB marks every lead on its own, and the marks of one beat spread over the leads (T offset by some
    20 ms SD): a per-lead comparison measures that spread as much as the method. The marks of a boundary,
    pooled over the leads, are grouped by beat (a group ends 100 ms after its first mark; beats are 300 ms
    apart or more); a beat marked in at least half the leads gives one fused reference mark. ``spread``
    collects each lead's mark minus its beat's fused mark (ms): the cardiologists' own lead-to-lead spread.
    """
    out: dict[str, np.ndarray] = {}
    gap = 0.1 * fs
    for b in BOUNDARIES:
        marks = np.sort(np.concatenate([r[b] for r in refs]))
        groups: list[list[int]] = []
        for m in marks:
            if groups and m - groups[-1][0] <= gap:
                groups[-1].append(int(m))
            else:
                groups.append([int(m)])
        kept = [g for g in groups if 2 * len(g) >= len(refs)]
        out[b] = np.asarray([np.median(g) for g in kept], dtype=float)
        if spread is not None:
            spread.setdefault(b, []).extend((m - np.median(g)) * 1000.0 / fs for g in kept for m in g)
    return out


def ours_fused(result) -> dict[str, np.ndarray]:
    """Per beat, the median over the leads of our boundaries: the global boundary the leads were pulled to."""
    out: dict[str, list[float]] = {b: [] for b in BOUNDARIES}
    for waves in zip(*(lead.beat_waves for lead in result.delineation.leads), strict=True):
        for kind in ("P", "QRS", "T"):
            found = [w for beat in waves for w in beat if w.kind.value == kind]
            if not found:
                continue
            if kind != "T":
                out[f"{kind}_on"].append(float(np.median([w.onset for w in found])))
            out[f"{kind}_off"].append(float(np.median([w.offset for w in found])))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def neurokit_boundaries(signal: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, info = nk.ecg_peaks(signal, sampling_rate=int(fs))
            _, waves = nk.ecg_delineate(signal, info["ECG_R_Peaks"], sampling_rate=int(fs), method="dwt")
        except Exception:  # the peer's failures count as missed boundaries, as a user would see them
            return {b: np.zeros(0) for b in BOUNDARIES}
    keys = {"P_on": "ECG_P_Onsets", "P_off": "ECG_P_Offsets", "QRS_on": "ECG_R_Onsets",
            "QRS_off": "ECG_R_Offsets", "T_off": "ECG_T_Offsets"}
    return {b: np.asarray([v for v in waves.get(k, []) if v == v], dtype=float) for b, k in keys.items()}


def lead_gains_normalised(signal: np.ndarray) -> bool:
    """True when every lead spans exactly the same range (1.0): the leads were rescaled one by one."""
    spans = np.ptp(signal, axis=0)
    return bool(np.allclose(spans, spans[0], rtol=1e-3))


def einthoven_axis(result) -> float | None:
    """Diagnostic: the QRS axis after restoring the relative gain of leads I and II from Einthoven's law.

    When each lead was rescaled on its own, III, aVR, aVL and aVF are each still a known mix of I and II
    (III = II - I, aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2), so a least-squares fit of each on the
    stored I and II gives four estimates of the gain ratio of I to II. With that ratio restored, the axis
    follows from the net QRS areas of I and II. Not used by the product: recordings in mV need none of it.
    """
    d = result.delineation
    names = [n.lower() for n in d.lead_names]
    if not all(k in names for k in ("i", "ii", "iii", "avr", "avl", "avf")):
        return None
    qrs = d.leads[0].median_wave(WaveKind.QRS)
    if qrs is None:
        return None
    ref = max(0, qrs.onset - 5)
    beat = d.median.data - d.median.data[max(0, ref - 2):ref + 1].mean(axis=0)
    seg = {k: beat[qrs.onset:qrs.offset + 1, names.index(k)] for k in ("i", "ii", "iii", "avr", "avl", "avf")}
    design = np.column_stack([seg["i"], seg["ii"]])
    # Fitted coefficients (a on I, b on II) and the gain ratio g(I)/g(II) each implies.
    ratio_of = {"iii": lambda a, b: b / -a, "avr": lambda a, b: b / a, "avl": lambda a, b: -2.0 * b / a,
                "avf": lambda a, b: b / (-2.0 * a)}
    estimates = []
    for lead, ratio in ratio_of.items():
        (a, b), *_ = np.linalg.lstsq(design, seg[lead], rcond=None)
        if a != 0 and ratio(a, b) > 0:
            estimates.append(ratio(a, b))
    if not estimates:
        return None
    gain = float(np.exp(np.median(np.log(estimates))))
    one, two = float(seg["i"].sum()), gain * float(seg["ii"].sum())
    # Lead I sees A cos(axis), lead II A cos(axis - 60 deg): A sin(axis) = (2 II - I) / sqrt(3).
    return math.degrees(math.atan2((2.0 * two - one) / math.sqrt(3.0), one))


def report_fused(fused: dict[str, dict[str, list[tuple[int, float]]]], missed: dict[str, dict[str, int]],
                 spread: dict[str, list[float]], writer) -> None:
    """Print and write fused marks against the fused reference, all records and by half, per method."""
    print("\nfused marks (one per beat) vs the median of the cardiologists' lead marks (mean / SD ms):")
    halves = (("all", lambda r: True), ("1-50", lambda r: r <= 50), ("51-100", lambda r: r > 50))
    for method, errors in fused.items():
        print(f"  {method}")
        for name, inside in halves:
            cells = []
            for b in BOUNDARIES:
                v = np.asarray([e for r, e in errors[b] if inside(r)])
                cells.append(f"{b} {v.mean():5.1f} / {v.std():4.1f}" if v.size else f"{b} -")
                if name == "all":
                    mean, sd = (float(v.mean()), float(v.std())) if v.size else (float("nan"), float("nan"))
                    writer.writerow([method, b, v.size, missed[method][b], round(mean, 2), round(sd, 2), ""])
            print(f"    {name:7s} " + "   ".join(cells))
        print("    missed: " + "  ".join(f"{b} {missed[method][b]}" for b in BOUNDARIES))
    print("  the cardiologists' own lead-to-lead spread (SD of a lead's mark about its beat's median, ms): "
          + "  ".join(f"{b} {np.std(spread.get(b, [np.nan])):.1f}" for b in BOUNDARIES))


def delineate_fused(signal: np.ndarray, fs: float, names: list[str],
                    leads: list[str]) -> dict[str, np.ndarray]:
    """The fused marks (lead ``all``) of ``ecgdesk delineate --leads ...`` on the chosen leads."""
    recording = Recording.from_array(signal.astype(np.float32), fs, names)
    out: dict[str, list[float]] = {b: [] for b in BOUNDARIES}
    for beat in delineate_recording(recording, leads):
        for w in beat.fused:
            kind = w.kind.value
            if kind != "T":
                out[f"{kind}_on"].append(float(w.onset))
            out[f"{kind}_off"].append(float(w.offset))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def report_diagnostics(keyed: dict[str, list[tuple[int, str, float]]],
                       axis_rows: list[tuple[int, bool, bool]], normalised: int, n: int) -> None:
    """Print the halves (parameters chosen on 1-50, checked on 51-100) and what bounds the agreement."""
    halves = (("1-50", lambda r: r <= 50), ("51-100", lambda r: r > 50))
    print("\necgdesk by half (mean / SD ms):")
    for name, inside in halves:
        cells = []
        for b in BOUNDARIES:
            v = np.asarray([e for r, _, e in keyed[b] if inside(r)])
            cells.append(f"{b} {v.mean():5.1f} / {v.std():4.1f}" if v.size else f"{b} -")
        rows = [row for row in axis_rows if inside(row[0])]
        axis = f"axis {sum(r[1] for r in rows)}/{len(rows)}" if rows else ""
        print(f"  {name:7s} " + "   ".join(cells) + f"   {axis}")
    # The error SD splits into: between records, between the leads of a record, and beat to beat within
    # one lead. Our boundaries are the same in every beat of a lead (median beat), so the last part - the
    # annotated boundary moving from beat to beat relative to the QRS - is out of reach of any such method.
    print("ecgdesk error SD split (ms): total = sqrt(records^2 + leads^2 + beats^2)")
    for b in BOUNDARIES:
        rows_b = keyed[b]
        if not rows_b:
            continue
        v = np.asarray([e for _, _, e in rows_b])
        groups: dict[tuple[int, str], list[float]] = {}
        records: dict[int, list[float]] = {}
        for r, lead, e in rows_b:
            groups.setdefault((r, lead), []).append(e)
            records.setdefault(r, []).append(e)
        beats = np.concatenate([np.asarray(g) - np.mean(g) for g in groups.values()])
        within_record = np.concatenate([np.asarray(g) - np.mean(g) for g in records.values()])
        leads = math.sqrt(max(0.0, float(within_record.var() - beats.var())))
        between = math.sqrt(max(0.0, float(v.var() - within_record.var())))
        print(f"  {b:8s} total {v.std():5.1f}  records {between:5.1f}  leads {leads:5.1f}  "
              f"beat-to-beat {beats.std():5.1f}")
    if normalised:
        print(f"{normalised}/{n} records have every lead rescaled to the same span (1.0 'mV'): amplitudes "
              f"are not comparable between leads, so limb leads break Einthoven's law and amplitude criteria "
              f"(axis, voltage) read differently than on the cardiologists' paper")
    if axis_rows:
        restored = sum(r[2] for r in axis_rows)
        print(f"axis diagnostic, I/II gain restored from Einthoven's law: {restored}/{len(axis_rows)} = "
              f"{100 * restored / len(axis_rows):.1f} % agree")


def parse_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1-100")
    parser.add_argument("--no-peer", action="store_true", help="skip NeuroKit2")
    parser.add_argument("--stream-leads", default="ii,v5",
                        help="also run `ecgdesk delineate` on these leads (fused marks; '' to skip)")
    parser.add_argument("--resample", type=float, default=None,
                        help="resample the records to this rate first (robustness check); errors stay in ms")
    parser.add_argument("--hum", default=None, metavar="MV,HZ",
                        help="add mains hum of this amplitude (mV) and frequency to every lead first "
                             "(robustness check), e.g. 0.1,50")
    args = parser.parse_args()
    hum = tuple(float(v) for v in args.hum.split(",")) if args.hum else None
    if not LUDB.exists():
        print(f"needs {LUDB}", file=sys.stderr)
        return 2
    peer = not args.no_peer
    if peer:
        try:
            import neurokit2  # noqa: F401
        except ImportError:
            print("neurokit2 is not installed (make bench); running without the peer", file=sys.stderr)
            peer = False
    labels = {}
    with (LUDB / "ludb.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            labels[row["ID"]] = row
    methods = ["ecgdesk"] + (["neurokit2"] if peer else [])
    errors = {m: {b: [] for b in BOUNDARIES} for m in methods}
    missed = {m: {b: 0 for b in BOUNDARIES} for m in methods}
    seconds = {m: 0.0 for m in methods}
    rhythm_exact = rhythm_family = axis_ok = axis_n = n = normalised = 0
    # Per record and lead, for the halves (1-50 tuned on, 51-100 held out) and the spread's breakdown.
    keyed: dict[str, list[tuple[int, str, float]]] = {b: [] for b in BOUNDARIES}
    axis_rows: list[tuple[int, bool, bool]] = []  # record, our category agrees, Einthoven-restored agrees
    sinus_rates: dict[str, list[float]] = {}  # LUDB's sinus label -> our ventricular rates (bpm)
    # Our fused marks against the fused reference (median over the leads, both sides), by record.
    # ``ecgdesk delineate`` runs on two leads chosen beforehand (the usual Holter pair), never by error.
    stream_leads = [lead for lead in args.stream_leads.split(",") if lead]
    fused_methods = ["ecgdesk fused"]
    if stream_leads:
        fused_methods.append(f"ecgdesk delineate {'+'.join(stream_leads)}")
    fused: dict[str, dict[str, list[tuple[int, float]]]] = {
        m: {b: [] for b in BOUNDARIES} for m in fused_methods}
    fused_missed = {m: {b: 0 for b in BOUNDARIES} for m in fused_methods}
    spread: dict[str, list[float]] = {}
    for number in tqdm(parse_range(args.records), desc="LUDB records", file=sys.stderr):
        record = str(number)
        raw = wfdb.rdrecord(str(LUDB / record))
        fs = float(raw.fs)
        signal = raw.p_signal
        normalised += lead_gains_normalised(signal)
        if args.resample:
            from scipy.signal import resample_poly

            signal = resample_poly(signal, int(args.resample), int(fs), axis=0)
        if hum:
            t = np.arange(signal.shape[0]) / (args.resample or fs)
            signal = signal + hum[0] * np.sin(2 * np.pi * hum[1] * t + 0.7)[:, None]
        scale = (args.resample or fs) / fs  # our sample indices per reference sample
        recording = Recording.from_array(signal.astype(np.float32), args.resample or fs, raw.sig_name)
        t0 = time.perf_counter()
        result = analyze_resting(recording)
        seconds["ecgdesk"] += time.perf_counter() - t0
        refs = [reference(record, lead) for lead in raw.sig_name]
        ours_all = {fused_methods[0]: ours_fused(result)}
        if stream_leads:
            ours_all[fused_methods[1]] = delineate_fused(signal, args.resample or fs, raw.sig_name,
                                                         stream_leads)
        fused_ref = fused_reference(refs, fs, spread)
        for method, bounds in ours_all.items():
            for b, ref_b in fused_ref.items():
                errs, miss = match(ref_b, bounds[b] / scale, fs)
                fused[method][b].extend((number, e) for e in errs)
                fused_missed[method][b] += miss
        for li, lead in enumerate(raw.sig_name):
            ref = refs[li]
            found = {"ecgdesk": {k: v / scale for k, v in ours_boundaries(result, li).items()}}
            if peer:
                t0 = time.perf_counter()
                found["neurokit2"] = {k: v / scale for k, v in
                                      neurokit_boundaries(signal[:, li], args.resample or fs).items()}
                seconds["neurokit2"] += time.perf_counter() - t0
            for method, bounds in found.items():
                for b in BOUNDARIES:
                    errs, miss = match(ref[b], bounds[b], fs)
                    errors[method][b].extend(errs)
                    if method == "ecgdesk":
                        keyed[b].extend((number, lead, e) for e in errs)
                    missed[method][b] += miss
        row = labels[record]
        truth = LUDB_RHYTHM.get(row["Rhythms"].strip())
        ours = result.rhythm_name.value
        paced = bool(row["Cardiac pacing"].strip())
        n += 1
        if truth in SINUS_FAMILY and ours in SINUS_FAMILY:
            sinus_rates.setdefault(truth, []).append(result.measurements.hr_bpm)
        # LUDB gives the underlying rhythm and pacing separately; "paced" agrees where pacing is present.
        rhythm_exact += ours == truth or (ours == "paced" and paced)
        rhythm_family += ((ours in SINUS_FAMILY and truth in SINUS_FAMILY) or ours == truth
                          or (ours == "paced" and paced))
        axis_text = row["Electric axis of the heart"].strip().split(": ")[-1]
        if axis_text in LUDB_AXIS and result.measurements.axis_category is not None:
            axis_n += 1
            agrees = result.measurements.axis_category.value == LUDB_AXIS[axis_text]
            axis_ok += agrees
            restored = einthoven_axis(result)
            restored_agrees = restored is not None and AxisCategory.of(restored).value == LUDB_AXIS[axis_text]
            axis_rows.append((number, agrees, restored_agrees))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("ecg12_ludb.csv" if not args.resample else f"ecg12_ludb_{args.resample:g}hz.csv")
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "boundary", "n", "missed", "mean_ms", "sd_ms", "seconds_total"])
        print(f"\nLUDB records {args.records}: boundary error vs cardiologists (ms), "
              f"matched within {MATCH_MS:g} ms")
        print(f"{'boundary':8s} " + " ".join(f"{m + ' mean/sd (missed)':>30s}" for m in methods))
        for b in BOUNDARIES:
            cells = []
            for m in methods:
                v = np.asarray(errors[m][b])
                mean, sd = (float(v.mean()), float(v.std())) if v.size else (float("nan"), float("nan"))
                cells.append(f"{mean:8.1f} / {sd:5.1f} ({missed[m][b]:5d})")
                writer.writerow([m, b, v.size, missed[m][b], round(mean, 2), round(sd, 2),
                                 round(seconds[m], 2)])
            print(f"{b:8s} " + " ".join(f"{c:>30s}" for c in cells))
        for m in methods:
            print(f"time {m}: {seconds[m]:.1f} s")
        if peer:
            ratio = seconds["neurokit2"] / max(seconds["ecgdesk"], 1e-9)
            print(f"speed ratio neurokit2/ecgdesk: {ratio:.1f}x")
        print(f"rhythm agreement: exact {rhythm_exact}/{n} = {100 * rhythm_exact / n:.1f} %, "
              f"sinus family merged {rhythm_family}/{n} = {100 * rhythm_family / n:.1f} %")
        if axis_n:
            print(f"axis category agreement: {axis_ok}/{axis_n} = {100 * axis_ok / axis_n:.1f} %")
        report_fused(fused, fused_missed, spread, writer)
        report_diagnostics(keyed, axis_rows, normalised, n)
        # Whether LUDB's sinus labels follow any rate limit: the ranges of our rate under each label.
        for label, rates in sorted(sinus_rates.items()):
            print(f"LUDB '{label}': our rate {min(rates):.1f}-{max(rates):.1f} bpm over {len(rates)} records")
        writer.writerow(["ecgdesk", "rhythm_exact_pct", n, "", round(100 * rhythm_exact / n, 1), "", ""])
        writer.writerow(["ecgdesk", "rhythm_family_pct", n, "", round(100 * rhythm_family / n, 1), "", ""])
        if axis_n:
            axis_pct = round(100 * axis_ok / axis_n, 1)
            writer.writerow(["ecgdesk", "axis_category_pct", axis_n, "", axis_pct, "", ""])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
