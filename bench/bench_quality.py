"""The quality gate of ``ecgdesk analyze``: clean records kept, noise stress called noise, VF called VF.

    .venv/bin/python bench/bench_quality.py [--data ../shared/data] [--part real,stress,vf] [--minutes 15]

Three parts, all through the ambulatory analysis users run:

- ``real``: ``ecgdesk analyze`` (the CLI, in process) on LUDB 1-100 (lead II, 10 s, 12 leads), every
  shared MIT-BIH record and the 20 SVDB records (lead 0; the other lead bridges); also LUDB scaled x0.05
  and x20 (the shared LUDB leads are all rescaled to a 1 mV span; real ones are not). Beat Se / +P (EC57,
  150 ms; LUDB inside its annotated span), records called "no analyzable signal", and the share of clean
  epochs (no reference noise mark ``~`` on the lead, no artefact ``|``, no VF) called noise, lead off or
  VF.
- ``stress``: noise added to the MIT-BIH DS1 and SVDB records (``ecgdesk.analysis.noise_stress``: baseline
  wander, muscle, electrode motion, synthesised) in NSTDB's layout (clean for 5 min, then 2 min noisy and
  2 min clean by turns; the first ``--minutes`` of each record) at 12, 6, 0 and -6 dB (NSTDB's SNR). Per
  kind and SNR: share of the noisy epochs called noise, Se / +P of the beats kept inside noisy epochs, the
  share of the clean epochs of the same records called noise, and the epochs (noisy or clean, outside the
  reference's own noise and VF) called VF.
- ``vf``: the Creighton VT/VF records and MIT-BIH 207 (ventricular flutter): share of the VF epochs (at
  least 90 % inside a reference VF / VFL stretch) called VF (``V``), noise, lead off or analyzable; VF
  episodes with at least one VF epoch; non-VF epochs called VF.

Writes bench/results/quality.csv (one row per measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.evaluation import BEAT_SYMBOLS, match_beats
from ecgdesk.analysis.noise_stress import add_noise, alternating_mask, make_noise
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.cli.main import main as cli
from ecgdesk.records import Recording

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203",
       "205", "207", "208", "209", "215", "220", "223", "230")
SNRS = (12.0, 6.0, 0.0, -6.0)
KINDS = ("bw", "ma", "em")
EPOCH_S = AnalysisConfig().epoch_s


def reference_beats(base: str) -> tuple[np.ndarray, wfdb.Annotation]:
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol], dtype=bool)
    return np.asarray(ann.sample)[keep], ann


def noisy_mask(ann: wfdb.Annotation, n: int, lead: int = 0) -> np.ndarray:
    """Samples the reference marks noisy on ``lead`` (``~`` with the lead's bit, or unreadable) or as an
    isolated artefact (``|``, 0.3 s around it)."""
    mask = np.zeros(n, dtype=bool)
    noisy, since = False, 0
    for at, symbol, sub in zip(ann.sample, ann.symbol, ann.subtype, strict=True):
        if symbol == "~":
            if noisy:
                mask[since:at] = True
            noisy, since = bool(sub == -1 or (int(sub) >> lead) & 1), int(at)
        elif symbol == "|":
            mask[max(0, int(at) - int(0.3 * ann.fs)): int(at) + int(0.3 * ann.fs)] = True
    if noisy:
        mask[since:] = True
    return mask


def vf_mask(ann: wfdb.Annotation, n: int) -> np.ndarray:
    """Samples inside ventricular flutter or fibrillation: rhythm (VF / (VFL, or CUDB's ``[`` .. ``]``."""
    mask = np.zeros(n, dtype=bool)
    inside, since = False, 0
    for at, symbol, aux in zip(ann.sample, ann.symbol, ann.aux_note, strict=True):
        rhythm = (aux or "").strip("\x00")
        if symbol == "[" or (symbol == "+" and rhythm in ("(VF", "(VFL")):
            if not inside:
                inside, since = True, int(at)
        elif (symbol == "]" or symbol == "+") and inside:
            mask[since:at] = True
            inside = False
    if inside:
        mask[since:] = True
    return mask


def epoch_share(mask: np.ndarray, L: int, n_ep: int) -> np.ndarray:
    m = np.concatenate([mask, np.zeros(n_ep * L - mask.size, dtype=bool)])[: n_ep * L]
    return m.reshape(n_ep, L).mean(axis=1)


def run_cli(header: Path, lead: str, out: Path) -> tuple[np.ndarray, dict[str, object]]:
    """``ecgdesk analyze HEADER --lead LEAD --out OUT``: (beat samples, findings)."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli(["analyze", str(header), "--lead", lead, "--out", str(out)])
    if code != 0:
        raise SystemExit(f"ecgdesk analyze {header} exited {code}")
    findings = json.loads((out / "findings.json").read_text())
    with open(out / "beats.csv") as handle:
        samples = np.array([int(row["sample"]) for row in csv.DictReader(handle)], dtype=np.int64)
    return samples, findings


def _scaled_ludb(data: Path, number: int, scale: float, folder: Path) -> Path:
    rec = wfdb.rdrecord(str(data / "ludb" / str(number)))
    name = f"ludb{number}x{scale:g}".replace(".", "p")
    # the gain scales with the signal, as a recorder's would: a gain fitted to the tiny span alone fails
    # the reader's plausibility check (full scale under 0.1 mV)
    wfdb.wrsamp(name, fs=rec.fs, units=["mV"] * rec.n_sig, sig_name=rec.sig_name,
                p_signal=rec.p_signal * scale, fmt=["16"] * rec.n_sig, write_dir=str(folder),
                adc_gain=[1000.0 / scale] * rec.n_sig, baseline=[0] * rec.n_sig)
    return folder / f"{name}.hea"


def part_real(data: Path, tmp: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for scale in (1.0, 0.05, 20.0):
        tp = fn = fp = 0
        unanalysable: list[str] = []
        states: Counter[str] = Counter()
        for number in range(1, 101):
            base = str(data / "ludb" / str(number))
            header = Path(base + ".hea") if scale == 1.0 else _scaled_ludb(data, number, scale, tmp)
            det, findings = run_cli(header, "ii", tmp / "out")
            ann = wfdb.rdann(base, "ii")
            s = ann.symbol
            ref = np.array([ann.sample[k] for k in range(1, len(s) - 1)
                            if s[k] == "N" and s[k - 1] == "(" and s[k + 1] == ")"], dtype=np.int64)
            fs = 500.0
            det = det[(det >= ref.min() - 0.3 * fs) & (det <= ref.max() + 0.3 * fs)]
            m = match_beats(ref, det, fs)
            tp, fn, fp = tp + m.tp, fn + m.fn, fp + m.fp
            states.update(str(findings["quality"]["states"]))  # type: ignore[index]
            if any(msg["code"] == "no_analyzable_signal" for msg in findings["messages"]):  # type: ignore[union-attr]
                unanalysable.append(str(number))
        rows.append(_real_row(f"ludb 1-100 lead ii x{scale:g}", tp, fn, fp, unanalysable, states))
    for db in ("mitdb", "svdb"):
        tp = fn = fp = 0
        unanalysable = []
        states = Counter()
        for header in sorted((data / db).glob("*.hea")):
            base = str(header.with_suffix(""))
            det, findings = run_cli(header, wfdb.rdheader(base).sig_name[0], tmp / "out")
            ref, ann = reference_beats(base)
            fs = float(ann.fs)
            m = match_beats(ref, det, fs)
            tp, fn, fp = tp + m.tp, fn + m.fn, fp + m.fp
            n = int(wfdb.rdheader(base).sig_len)
            L = int(round(EPOCH_S * fs))
            text = str(findings["quality"]["states"])  # type: ignore[index]
            clean = (epoch_share(noisy_mask(ann, n), L, len(text)) == 0) & (
                epoch_share(vf_mask(ann, n), L, len(text)) == 0)
            states.update(c for c, ok in zip(text, clean, strict=True) if ok)
            if any(msg["code"] == "no_analyzable_signal" for msg in findings["messages"]):  # type: ignore[union-attr]
                unanalysable.append(header.stem)
            print(f"  {db}/{header.stem}: Se {m.se:.2f} +P {m.ppv:.2f} states {dict(Counter(text))}",
                  flush=True)
        rows.append(_real_row(f"{db} all shared, lead 0", tp, fn, fp, unanalysable, states))
    return rows


def _real_row(name: str, tp: int, fn: int, fp: int, unanalysable: list[str],
              states: Counter[str]) -> dict[str, object]:
    total = max(1, sum(states.values()))
    row: dict[str, object] = {
        "part": "real", "data": name, "beats": tp + fn, "se": round(100 * tp / max(1, tp + fn), 3),
        "ppv": round(100 * tp / max(1, tp + fp), 3), "unanalysable": " ".join(unanalysable) or "-",
        "clean_epochs": sum(states.values()),
        "clean_noise_pct": round(100 * states["N"] / total, 3),
        "clean_lead_off_pct": round(100 * states["L"] / total, 3),
        "clean_vf_pct": round(100 * states["V"] / total, 3)}
    print(f"{name:34} Se {row['se']:>7} +P {row['ppv']:>7}  clean epochs {row['clean_epochs']:>5}: noise "
          f"{row['clean_noise_pct']} %, lead off {row['clean_lead_off_pct']} %, VF {row['clean_vf_pct']} %; "
          f"no analyzable signal: {row['unanalysable']}", flush=True)
    return row


def part_stress(data: Path, minutes: float) -> list[dict[str, object]]:
    records = [("mitdb", r) for r in DS1] + [("svdb", h.stem) for h in sorted((data / "svdb").glob("*.hea"))]
    tally: dict[tuple[str, float], Counter[str]] = {}
    for seed, (db, name) in enumerate(records):
        base = str(data / db / name)
        rec = wfdb.rdrecord(base, sampto=int(minutes * 60 * wfdb.rdheader(base).fs))
        fs = float(rec.fs)
        x0 = rec.p_signal[:, 0]
        ref, ann = reference_beats(base)
        ref = ref[ref < x0.size]
        n = x0.size
        L = int(round(EPOCH_S * fs))
        n_ep = -(-n // L)
        mask = alternating_mask(n, fs)
        noisy_ep = epoch_share(mask, L, n_ep) == 1.0
        clean_ep = (epoch_share(mask, L, n_ep) == 0.0)
        real_ok = (epoch_share(noisy_mask(ann, n), L, n_ep) == 0) & (
            epoch_share(vf_mask(ann, n), L, n_ep) == 0)
        for kind in KINDS:
            noise = make_noise(kind, n, fs, seed=1000 + seed)
            for snr in SNRS:
                x = add_noise(x0, fs, ref, noise, snr, mask)
                result = analyze(Recording.from_array(x[:, None].astype(np.float32), fs, ["ch0"]), lead=0)
                st = np.frombuffer(result.findings.quality.states.encode(), dtype="S1").astype(str)
                t = tally.setdefault((kind, snr), Counter())
                t["noisy"] += int(np.sum(noisy_ep & real_ok))
                t["noisy_called"] += int(np.sum(noisy_ep & real_ok & (st == "N")))
                t["clean"] += int(np.sum(clean_ep & real_ok))
                t["clean_called"] += int(np.sum(clean_ep & real_ok & (st == "N")))
                t["vf_called"] += int(np.sum(real_ok & (st == "V")))
                kept = noisy_ep & real_ok & (st == "A")
                ref_k = ref[kept[np.minimum(ref // L, n_ep - 1)]]
                det = result.beats.samples
                det_k = det[kept[np.minimum(det // L, n_ep - 1)]]
                m = match_beats(ref_k, det_k, fs)
                t["tp"] += m.tp
                t["fn"] += m.fn
                t["fp"] += m.fp
        print(f"  {db}/{name} done", flush=True)
    rows: list[dict[str, object]] = []
    for (kind, snr), t in sorted(tally.items()):
        row: dict[str, object] = {
            "part": "stress", "data": f"{kind} {snr:+g} dB", "noisy_epochs": t["noisy"],
            "noisy_called_noise_pct": round(100 * t["noisy_called"] / max(1, t["noisy"]), 2),
            "kept_se": round(100 * t["tp"] / max(1, t["tp"] + t["fn"]), 2),
            "kept_ppv": round(100 * t["tp"] / max(1, t["tp"] + t["fp"]), 2),
            "clean_epochs": t["clean"],
            "clean_noise_pct": round(100 * t["clean_called"] / max(1, t["clean"]), 3),
            "stress_vf_epochs": t["vf_called"]}
        rows.append(row)
        print(f"{row['data']:12} noisy epochs {row['noisy_epochs']:>5} called noise "
              f"{row['noisy_called_noise_pct']:>6} %; beats in kept noisy epochs Se {row['kept_se']} "
              f"+P {row['kept_ppv']}; clean epochs called noise {row['clean_noise_pct']} %; epochs called VF "
              f"{row['stress_vf_epochs']}", flush=True)
    return rows


def part_vf(data: Path) -> list[dict[str, object]]:
    vf: Counter[str] = Counter()
    other: Counter[str] = Counter()
    episodes = found = 0
    headers = [*sorted((data / "cudb").glob("*.hea")), data / "mitdb" / "207.hea"]
    for header in headers:
        base = str(header.with_suffix(""))
        rec = wfdb.rdrecord(base, channels=[0])
        fs = float(rec.fs)
        ann = wfdb.rdann(base, "atr")
        result = analyze(Recording.from_array(rec.p_signal.astype(np.float32), fs, ["ch0"]), lead=0)
        st = np.frombuffer(result.findings.quality.states.encode(), dtype="S1").astype(str)
        L = int(round(EPOCH_S * fs))
        mask = vf_mask(ann, rec.sig_len)
        share = epoch_share(mask, L, st.size)
        vf.update(st[share >= 0.9].tolist())
        other.update(st[share == 0].tolist())
        starts = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8)])) == 1)
        stops = np.flatnonzero(np.diff(np.concatenate([mask.astype(np.int8), [0]])) == -1) + 1
        for a, b in zip(starts, stops, strict=True):
            if (b - a) / fs < EPOCH_S:
                continue
            episodes += 1
            found += bool(np.any(st[a // L: -(-b // L)] == "V"))
        print(f"  {header.parent.name}/{header.stem}: VF epochs {dict(Counter(st[share >= 0.9].tolist()))}, "
              f"others {dict(Counter(st[share == 0].tolist()))}", flush=True)
    total = max(1, sum(vf.values()))
    row: dict[str, object] = {
        "part": "vf", "data": "cudb 35 + mitdb 207", "vf_epochs": sum(vf.values()),
        "vf_called_vf_pct": round(100 * vf["V"] / total, 2),
        "vf_called_noise_pct": round(100 * vf["N"] / total, 2),
        "vf_called_lead_off_pct": round(100 * vf["L"] / total, 2),
        "vf_called_analyzable_pct": round(100 * vf["A"] / total, 2),
        "vf_episodes": episodes, "vf_episodes_found": found, "other_epochs": sum(other.values()),
        "other_called_vf_pct": round(100 * other["V"] / max(1, sum(other.values())), 3),
        "other_called_vf": other["V"]}
    print(f"VF epochs {row['vf_epochs']}: VF {row['vf_called_vf_pct']} %, "
          f"noise {row['vf_called_noise_pct']} %, "
          f"lead off {row['vf_called_lead_off_pct']} %, analyzable {row['vf_called_analyzable_pct']} %; "
          f"VF episodes >= 10 s found {found}/{episodes}; non-VF epochs called VF "
          f"{row['other_called_vf_pct']} % ({other['V']} of {sum(other.values())})", flush=True)
    return [row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--part", default="real,stress,vf")
    parser.add_argument("--minutes", type=float, default=15.0, help="first minutes of each stressed record")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.csv")
    args = parser.parse_args()
    parts = set(args.part.split(","))
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if "real" in parts:
            rows += part_real(args.data, Path(tmp))
    if "stress" in parts:
        rows += part_stress(args.data, args.minutes)
    if "vf" in parts:
        rows += part_vf(args.data)
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwrote {args.out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
