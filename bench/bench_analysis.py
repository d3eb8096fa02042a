"""Speed and memory of the whole ambulatory analysis on a 14-day, single-lead, 250 Hz recording.

Target (issue 3): ``analyze`` of 14 days in <= 60 s wall and <= 1.5 GB peak resident memory on the 2-core
machine. The recording comes from ``ecgdesk simulate`` when that command exists, else it is built by
tiling MIT-BIH record 100 (MLII, resampled to 250 Hz) with per-tile gain and noise changes; it is cached
under ``--cache`` so reruns skip it. Each duration (1, 3.5, 7, 14 days: prefixes of the same file) is
analysed in a fresh process, so peak RSS is that process's own. The peer is sleepecg's C detector on the
same samples (detection only, the fastest open detector): its time shows how much of a detector's work the
whole analysis costs.

    .venv/bin/python bench/bench_analysis.py [--days 14] [--cache /tmp/ecgdesk-bench] [--no-peer]
        [--engine ecgdesk|sleepecg] [--events SPEC]

``--events SPEC`` simulates that event mix (``ecgdesk simulate --events``) instead of the default one, e.g.
``pvc:900/h,pac:300/h`` for a patient with frequent ectopy (about a fifth of the beats ventricular): the
beat model then reads hundreds of thousands of beats, the case that sets the classifier's peak memory.

``--engine sleepecg`` runs the same pipeline with sleepecg's detector in place of ecgdesk's detector and
classifier (every beat N): the cost of everything around the beat engine (I/O, quality, rhythm).

Writes ``bench/results/analysis_speed_<engine>.csv`` and ``analysis_speed_<engine>.png`` (with
``--events``: ``analysis_speed_<engine>_<events>.csv`` and ``.png``).
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

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
MITDB = ROOT.parent / "shared" / "data" / "mitdb"

CHILD = r"""
import dataclasses, json, resource, sys, time
from pathlib import Path
import numpy as np
from ecgdesk.records import open_recording
from ecgdesk.analysis.pipeline import BeatEngine, analyze
rec = open_recording(Path(sys.argv[1]))
rec = dataclasses.replace(rec, n_samples=min(rec.n_samples, int(sys.argv[2])))
engine = None
if sys.argv[3] == "sleepecg":
    from sleepecg import detect_heartbeats

    @dataclasses.dataclass
    class Table:
        samples: np.ndarray
        labels: np.ndarray
        templates: list

    engine = BeatEngine(
        lambda x, fs: np.asarray(detect_heartbeats(x.astype(np.float64), fs), dtype=np.int64),
        lambda x, fs, samples: samples, np.concatenate,
        lambda f, samples, fs: Table(samples, np.full(samples.size, "N"), []),
    )
t0 = time.perf_counter()
result = analyze(rec, engine=engine)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
s = result.findings.summary
print(json.dumps({"wall_s": wall, "peak_rss_bytes": peak, "beats": s.total_beats,
                  "analyzable_pct": s.analyzable_pct, "times": dataclasses.asdict(result.times)}))
"""

PEER = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from sleepecg import detect_heartbeats
from ecgdesk.records import open_recording
rec = open_recording(Path(sys.argv[1]))
n = min(rec.n_samples, int(sys.argv[2]))
busy = 0.0
count = 0
for start in range(0, n, int(3600 * rec.fs)):
    x = rec.read(start, min(n, start + int(3600 * rec.fs)), 0)[:, 0].astype(np.float64)
    t0 = time.perf_counter()
    count += len(detect_heartbeats(x, rec.fs))
    busy += time.perf_counter() - t0
print(json.dumps({"detect_s": busy, "beats": count}))
"""


def _slug(events: str | None) -> str:
    return "" if not events else "_" + "".join(c if c.isalnum() else "-" for c in events)


def _marker(cache: Path, days: float, events: str | None) -> Path:
    """The JSON file that records where the cached recording is and what made it."""
    return cache / f"bench-{days:g}d{_slug(events)}.json"


def build_recording(cache: Path, days: float, events: str | None = None) -> Path:
    """The cached 14-day recording (``ecgdesk simulate``, or tiled MIT-BIH 100 as a fallback)."""
    cache.mkdir(parents=True, exist_ok=True)
    marker = _marker(cache, days, events)
    if marker.exists():
        return Path(json.loads(marker.read_text())["path"])
    has_simulate = (
        subprocess.call(
            [sys.executable, "-m", "ecgdesk.cli.main", "simulate", "--help"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        == 0
    )
    source = "ecgdesk simulate"
    if events and not has_simulate:
        raise SystemExit("--events needs ecgdesk simulate")
    if has_simulate:
        out = cache / f"sim{_slug(events)}"
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "ecgdesk.cli.main",
                "simulate",
                "--days",
                str(days),
                "--leads",
                "1",
                "--fs",
                "250",
                "--seed",
                "7",
                "--out",
                str(out),
                *(["--events", events] if events else []),
            ]
        )
        if code:
            raise SystemExit(f"simulate failed ({code})")
        path = sorted(out.glob("*.hea"))[0]
    else:
        source = "tiled MIT-BIH 100"
        path = _tile_mitdb(cache, days)
    marker.write_text(json.dumps({"path": str(path), "source": source}))
    return path


def _tile_mitdb(cache: Path, days: float) -> Path:
    import wfdb
    from scipy import signal

    from ecgdesk.records.recording import Lead
    from ecgdesk.records.writers import open_writer

    x = wfdb.rdrecord(str(MITDB / "100"), channels=[0]).p_signal[:, 0]
    tile = signal.resample_poly(x, 25, 36).astype(np.float32)  # 360 -> 250 Hz, 30 min
    n_tiles = int(np.ceil(days * 86400 / (tile.size / 250)))
    rng = np.random.default_rng(7)
    with open_writer(cache, "tiled", "wfdb", 250.0, [Lead("MLII")]) as writer:
        for _ in range(n_tiles):
            writer.write(
                (tile * rng.uniform(0.7, 1.3) + rng.normal(0, 0.01, tile.size)).astype(np.float32)[:, None]
            )
    return cache / "tiled.hea"


def run_child(code: str, path: Path, n: int, engine: str = "ecgdesk") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(n), engine], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ecgdesk-bench"))
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--engine", choices=["ecgdesk", "sleepecg"], default="ecgdesk")
    parser.add_argument("--events", help="simulate this event mix (ecgdesk simulate --events)")
    args = parser.parse_args()
    path = build_recording(args.cache, args.days, args.events)
    source = json.loads(_marker(args.cache, args.days, args.events).read_text())["source"]
    if args.events:
        source += f" --events {args.events}"
    name = f"{args.engine}{_slug(args.events)}"
    fs = 250.0
    rows = []
    for days in sorted({d for d in (1.0, 3.5, 7.0, args.days) if d <= args.days}):
        n = int(days * 86400 * fs)
        r = run_child(CHILD, path, n, args.engine)
        peer = None if args.no_peer or days != args.days else run_child(PEER, path, n)
        row = {
            "days": days,
            "source": source,
            "engine": args.engine,
            "wall_s": round(r["wall_s"], 2),
            "peak_rss_mb": round(r["peak_rss_bytes"] / 2**20, 1),
            "beats": r["beats"],
            "analyzable_pct": round(r["analyzable_pct"], 2),
            **{k: round(v, 2) for k, v in r["times"].items()},
            "sleepecg_detect_s": round(peer["detect_s"], 2) if peer else "",
        }
        rows.append(row)
        print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"analysis_speed_{name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    last = rows[-1]
    print(
        f"\n{last['days']:g} days ({source}): {last['wall_s']} s wall (target <= 60: ratio "
        f"{last['wall_s'] / 60:.2f}), peak RSS {last['peak_rss_mb']} MB (target <= 1536: ratio "
        f"{last['peak_rss_mb'] / 1536:.2f})"
    )
    if last["sleepecg_detect_s"] != "":
        print(
            f"sleepecg C detector alone on the same samples: {last['sleepecg_detect_s']} s; whole analysis / "
            f"sleepecg detection = {last['wall_s'] / max(float(last['sleepecg_detect_s']), 1e-9):.2f}x"
        )
    _plot(rows, args.engine, name)
    print(
        f"max RSS of this driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
        f"finished {time.strftime('%H:%M:%S')}"
    )


def _plot(rows: list[dict], engine: str, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = [r["days"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    stages = ["read_s", "quality_s", "detect_s", "features_s", "classify_s", "rhythm_s"]
    bottom = np.zeros(len(rows))
    for st in stages:
        v = np.array([r[st] for r in rows])
        a.bar([str(d) for d in days], v, bottom=bottom, label=st[:-2])
        bottom += v
    a.axhline(60, color="k", ls="--", lw=1, label="target 60 s")
    a.set_xlabel("recording length (days)")
    a.set_ylabel("wall seconds")
    a.legend(fontsize=8)
    b.plot(days, [r["peak_rss_mb"] for r in rows], "o-")
    b.axhline(1536, color="k", ls="--", lw=1, label="target 1.5 GB")
    b.set_xlabel("recording length (days)")
    b.set_ylabel("peak RSS (MB)")
    b.legend(fontsize=8)
    fig.suptitle(f"ecgdesk analyze: single lead, 250 Hz (beat engine: {engine})")
    fig.tight_layout()
    fig.savefig(RESULTS / f"analysis_speed_{name}.png", dpi=100)


if __name__ == "__main__":
    main()
