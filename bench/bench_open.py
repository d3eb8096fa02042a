"""Open time, streaming time and peak memory on a 14-day, 3-lead, 250 Hz Holter recording.

Targets (issue 2): opening takes < 1 s and a full streaming pass (``iter_chunks``) stays under 500 MB
resident memory, for WFDB and ISHNE. Peer: ``wfdb`` itself (``rdheader`` to open, ``rdrecord`` with
``sampfrom``/``sampto`` per chunk to stream) on the same WFDB file. Each measurement runs in a fresh
subprocess so peak RSS (``resource.getrusage``) belongs to that measurement alone.

    python bench/bench_open.py                      # generate under /tmp (about 1.8 GB per format), measure
    python bench/bench_open.py --path /tmp/holter   # reuse (or create) files there
    python bench/bench_open.py --days 1             # a quick smaller run

The recording is written with ECG Desk's streaming writer from a cheap synthetic signal (a 10-minute
block of Gaussian-shaped beats plus noise, repeated with a drifting baseline). Files are never put in the
repository. Timings are with the file in the page cache (it was just written). Writes
``bench/results/open.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_DIR = Path("/tmp/ecgdesk-bench-open")
TARGET_OPEN_S = 1.0
TARGET_RSS_MB = 500.0
BLOCK_SECONDS = 600


def _synthetic_block(fs: int, n_leads: int, seed: int = 0) -> np.ndarray:
    """10 minutes of a cheap ECG-like signal (mV): Gaussian QRS and T waves at ~70 bpm, plus noise."""
    rng = np.random.default_rng(seed)
    n = BLOCK_SECONDS * fs
    t = np.arange(n) / fs
    beats = np.cumsum(rng.normal(60 / 70, 0.03, size=int(BLOCK_SECONDS * 1.4)))
    beats = beats[beats < BLOCK_SECONDS - 1]
    signal = np.zeros(n)
    for beat in beats:
        lo, hi = int((beat - 0.1) * fs), int((beat + 0.45) * fs)
        seg = t[lo:hi] - beat
        signal[lo:hi] += 1.2 * np.exp(-(seg / 0.012) ** 2) + 0.3 * np.exp(-((seg - 0.3) / 0.05) ** 2)
    gains = np.linspace(1.0, 0.6, n_leads)
    return signal[:, None] * gains + 0.02 * rng.standard_normal((n, n_leads))


def generate(directory: Path, fmt: str, days: float, fs: int, n_leads: int) -> Path:
    """Write (once) the benchmark recording in ``fmt``; returns its main path."""
    from datetime import datetime

    from ecgdesk.records import Lead, open_writer

    main = directory / ("holter.hea" if fmt == "wfdb" else "holter.ecg")
    expected_blocks = int(round(days * 86400 / BLOCK_SECONDS))
    if main.exists():
        return main
    block = _synthetic_block(fs, n_leads)
    leads = [Lead(name) for name in ("CM5", "CM1", "aVF", "V2", "V3", "V4")[:n_leads]]
    started = time.perf_counter()
    writer = open_writer(directory, "holter", fmt, fs, leads, start_time=datetime(2026, 1, 5, 9, 0, 0),
                         device="bench synthetic")
    with writer:
        for i in range(expected_blocks):
            writer.write(block + 0.1 * np.sin(2 * np.pi * i / 144))
    print(f"wrote {main} ({_size_mb(main, fmt):.0f} MB) in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return main


def _size_mb(main: Path, fmt: str) -> float:
    data = main.with_suffix(".dat") if fmt == "wfdb" else main
    return data.stat().st_size / 1e6


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def child(tool: str, path: str, chunk_seconds: float) -> dict[str, float]:
    """One measurement in this (fresh) process: open, then a full streaming pass."""
    rss_start = _peak_rss_mb()
    total = 0.0
    if tool == "ecgdesk":
        from ecgdesk.records import open_recording

        started = time.perf_counter()
        recording = open_recording(path)
        open_s = time.perf_counter() - started
        n_samples = recording.n_samples
        rss_open = _peak_rss_mb()
        started = time.perf_counter()
        for chunk in recording.iter_chunks(seconds=chunk_seconds):
            total += float(chunk.data.sum(dtype=np.float64))
        stream_s = time.perf_counter() - started
    else:
        import wfdb

        base = str(Path(path).with_suffix(""))
        started = time.perf_counter()
        header = wfdb.rdheader(base)
        open_s = time.perf_counter() - started
        n_samples = int(header.sig_len)
        rss_open = _peak_rss_mb()
        step = int(chunk_seconds * header.fs)
        started = time.perf_counter()
        for start in range(0, n_samples, step):
            record = wfdb.rdrecord(base, sampfrom=start, sampto=min(start + step, n_samples))
            total += float(record.p_signal.sum(dtype=np.float64))
        stream_s = time.perf_counter() - started
    return {"open_s": open_s, "stream_s": stream_s, "n_samples": n_samples, "checksum": total,
            "rss_after_import_mb": rss_start, "rss_after_open_mb": rss_open, "peak_rss_mb": _peak_rss_mb()}


def _measure(tool: str, path: Path, chunk_seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, str(path), "--chunk-seconds", str(chunk_seconds)],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, default=DEFAULT_DIR, help="folder for the generated recordings")
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--fs", type=int, default=250)
    parser.add_argument("--leads", type=int, default=3)
    parser.add_argument("--formats", nargs="+", default=["wfdb", "ishne"], choices=["wfdb", "ishne"])
    parser.add_argument("--chunk-seconds", type=float, default=600.0)
    parser.add_argument("--no-peer", action="store_true", help="skip the wfdb peer")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.chunk_seconds)))
        return 0

    args.path.mkdir(parents=True, exist_ok=True)
    rows = []
    for fmt in args.formats:
        main_path = generate(args.path, fmt, args.days, args.fs, args.leads)
        tools = ["ecgdesk"] + (["wfdb"] if fmt == "wfdb" and not args.no_peer else [])
        for tool in tools:
            result = _measure(tool, main_path, args.chunk_seconds)
            rows.append({
                "format": fmt, "tool": tool, "days": args.days, "fs": args.fs, "leads": args.leads,
                "n_samples": int(result["n_samples"]), "file_mb": round(_size_mb(main_path, fmt), 1),
                "open_s": round(result["open_s"], 4), "stream_s": round(result["stream_s"], 2),
                "peak_rss_mb": round(result["peak_rss_mb"], 1),
                "rss_after_open_mb": round(result["rss_after_open_mb"], 1),
                "open_ok": result["open_s"] < TARGET_OPEN_S, "rss_ok": result["peak_rss_mb"] < TARGET_RSS_MB,
            })
    print(f"{'format':7} {'tool':8} {'file MB':>8} {'open s':>8} {'stream s':>9} {'peak RSS MB':>12}  "
          "targets")
    for row in rows:
        verdict = ("open<1s " + ("ok" if row["open_ok"] else "MISSED")
                   + ", RSS<500MB " + ("ok" if row["rss_ok"] else "MISSED"))
        print(f"{row['format']:7} {row['tool']:8} {row['file_mb']:8.0f} {row['open_s']:8.4f} "
              f"{row['stream_s']:9.2f} {row['peak_rss_mb']:12.1f}  {verdict}")
    ours = {r["format"]: r for r in rows if r["tool"] == "ecgdesk"}
    for row in rows:
        if row["tool"] == "wfdb" and "wfdb" in ours:
            ecg = ours["wfdb"]
            print(f"wfdb peer / ecgdesk: open x{row['open_s'] / max(ecg['open_s'], 1e-9):.1f}, "
                  f"stream x{row['stream_s'] / max(ecg['stream_s'], 1e-9):.2f}, "
                  f"peak RSS x{row['peak_rss_mb'] / max(ecg['peak_rss_mb'], 1e-9):.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "open.csv"
    with open(target, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {target}")
    return 0 if all(r["open_ok"] and r["rss_ok"] for r in rows if r["tool"] == "ecgdesk") else 1


if __name__ == "__main__":
    sys.exit(main())
