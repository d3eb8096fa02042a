"""The signal route's targets (issue 12) on a 14-day, 250 Hz study: pyramid cost and window latency.

    .venv/bin/python bench/bench_signal.py [--days 14] [--cache bench/.cache/signal] [--windows 40]
        [--no-http]

Targets: the pyramid costs <= 0.7x the raw signal's bytes and is built during import; a 1,200-pixel
window at every zoom from 10 s to the whole recording answers in p95 <= 50 ms with <= 16 KB of JSON.

Steps (the recording, the study store and its analysis are cached under ``--cache``, not committed):

1. ``ecgdesk simulate --days D --seed 7`` (2 leads, 250 Hz, WFDB), once;
2. a study store: create, ``import`` (copy + pyramid) and analyse the study with the default engine, once;
   the import time is printed when it happens;
3. the pyramid built again from the stored recording into a temporary folder: time, bytes / raw bytes;
4. the beat index of the current run built again (first read of a run);
5. one audit row committed alone (the floor of every audited read: an fsync on SQLite);
6. ``workflow.signal.signal_window`` in-process for 1,200-pixel windows at random positions, each zoom:
   latency p50/p95/max (audit row included) and the bytes of the JSON answer; beside it the direct way
   without a pyramid (read the samples, min/max per pixel) for the zooms up to 6 h, as the peer;
7. the same windows through ``ecgdesk serve`` (uvicorn, 1 worker) over loopback, logged in as a
   physician, on one kept-alive connection (``--no-http`` skips it).

Writes ``bench/results/signal.csv`` (one row per zoom and way, with a timestamp). Timings taken on a
machine shared with other work vary with its load: compare the ways within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from ecgdesk.coding import Service, Setting
from ecgdesk.errors import InputError
from ecgdesk.records.pyramid import build_pyramid, quantize, raw_bytes, remove_pyramid
from ecgdesk.store import Store, append, open_store
from ecgdesk.store.models import AnalysisRun, RecordingBlob, Study
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.pyramids import open_blob_recording
from ecgdesk.workflow.signal import BEATS_INDEX, signal_window
from ecgdesk.workflow.studies import StudyRequest, create_study, import_recording
from ecgdesk.workflow.users import add_user

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "signal.csv"
WIDTH = 1200
TARGET_MS = 50.0
TARGET_BYTES = 16 * 1024
TARGET_COST = 0.7
ZOOMS_S = (10, 30, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400)
DIRECT_MAX_S = 6 * 3600  # the direct way reads every sample: bounded to keep the run short
LEAD = "II"
PIN = "demo-2468"


def _recording(cache: Path, days: float) -> Path:
    out = cache / f"sim-{days:g}d"
    header = out / "sim.hea"
    if not header.is_file():
        print(f"simulating {days:g} days into {out} ...", flush=True)
        subprocess.run([sys.executable, "-m", "ecgdesk.cli.main", "simulate", "--days", str(days),
                        "--seed", "7", "--out", str(out)], check=True)
    return header


def _study(cache: Path, days: float, header: Path) -> tuple[Store, int]:
    """The cached store with one imported and analysed study (made on the first run)."""
    home = cache / f"store-{days:g}d"
    marker = home / "bench-study.json"
    if marker.is_file():
        return open_store(home=home), int(json.loads(marker.read_text())["study_id"])
    if home.exists():
        _remove_tree(home)
    store = open_store(home=home)
    request = StudyRequest(patient_id="BENCH1", name="Bench, Signal", birth_date=date(1950, 1, 2), sex="F",
                           service=Service.AMBULATORY_ECG, ordering_npi="1245319599", indications=("R00.2",),
                           duration_days=days, setting=Setting.PRACTITIONER)
    study_id = create_study(store, request, "bench")
    t0 = time.perf_counter()
    import_recording(store, study_id, header, "bench")
    print(f"import (copy {header.with_suffix('.dat').stat().st_size / 1e9:.2f} GB + pyramid): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    analyze_study(store, study_id, "bench")
    print(f"analysis: {time.perf_counter() - t0:.1f} s", flush=True)
    marker.write_text(json.dumps({"study_id": study_id}))
    return store, study_id


def _remove_tree(path: Path) -> None:
    for child in path.rglob("*"):
        if not child.is_symlink():
            os.chmod(child, 0o755 if child.is_dir() else 0o644)
    shutil.rmtree(path)


def _rows(store: Store, study_id: int) -> tuple[RecordingBlob, AnalysisRun]:
    from sqlalchemy import select

    with store.transaction() as session:
        study = session.get(Study, study_id)
        assert study is not None
        blob = session.get(RecordingBlob, study.recording_id)
        run = session.scalar(select(AnalysisRun).where(AnalysisRun.study_id == study_id,
                                                       AnalysisRun.is_current.is_(True)))
        assert blob is not None and run is not None
        return blob, run


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    array = np.asarray(values)
    return float(np.percentile(array, 50)), float(np.percentile(array, 95)), float(array.max())


def _direct(store: Store, blob: RecordingBlob, start_s: float, end_s: float) -> int:
    """The peer: min/max per pixel straight from the samples (what a viewer without a pyramid does)."""
    recording = open_blob_recording(store, blob.blob_dir, blob.main_file)
    fs = recording.fs
    first, stop = int(start_s * fs), min(int(end_s * fs), recording.n_samples)
    values = quantize(recording.read(first, stop, LEAD), np.array([0.001]))[:, 0]
    edges = (np.arange(WIDTH) * (stop - first)) // WIDTH
    mins, maxs = np.minimum.reduceat(values, edges), np.maximum.reduceat(values, edges)
    return len(json.dumps({"mins": mins.tolist(), "maxs": maxs.tolist()}))


def _measure(call: Callable[[float, float], int], zoom: float, duration: float, n: int,
             rng: np.random.Generator) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for _ in range(n):
        start = float(rng.uniform(0.0, duration - zoom)) if zoom < duration else 0.0
        t0 = time.perf_counter()
        sizes.append(call(start, start + zoom))
        times.append((time.perf_counter() - t0) * 1000)
    return times, sizes


def _bench_users(store: Store) -> None:
    """An administrator and the physician who reads over HTTP (kept when the store is reused)."""
    with contextlib.suppress(InputError):
        add_user(store, "bench.admin", "admin", PIN, "Bench Admin", actor="bench")
    with contextlib.suppress(InputError):
        add_user(store, "bench.dr", "physician", PIN, "Bench Doctor, MD", npi="1234567893", credentials="MD",
                 actor="bench.admin", admin_password=PIN)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _server(home: Path) -> Iterator[tuple[int, str]]:
    """``ecgdesk serve`` (uvicorn, 1 worker) on loopback over the bench store; yields (port, cookie)."""
    port = _free_port()
    env = {**os.environ, "ECGDESK_HOME": str(home)}
    env.pop("ECGDESK_DATABASE_URL", None)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-m", "ecgdesk.cli.main", "serve", "--port", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 180  # a loaded 2-core machine starts the service slowly
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(OSError):
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    probe.request("GET", "/healthz")
                    if probe.getresponse().status == 200:
                        break
                time.sleep(0.1)
            else:
                process.terminate()
                process.wait(timeout=30)
                log.seek(0)
                raise SystemExit(f"the service did not start: {log.read().decode(errors='replace')[-2000:]}")
            login = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            login.request("POST", "/api/v1/session", json.dumps({"username": "bench.dr", "password": PIN}),
                          {"Content-Type": "application/json"})
            answer = login.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"login failed: {answer.status}")
            cookie = answer.getheader("set-cookie", "").split(";")[0]
            yield port, cookie
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "signal")
    parser.add_argument("--windows", type=int, default=40, help="random windows per zoom")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    header = _recording(args.cache, args.days)
    store, study_id = _study(args.cache, args.days, header)
    _bench_users(store)
    blob, run = _rows(store, study_id)
    recording = open_blob_recording(store, blob.blob_dir, blob.main_file)
    duration = recording.duration_s
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    rows: list[dict[str, object]] = []

    with tempfile.TemporaryDirectory(prefix="ecgdesk-pyramid-", dir=args.cache) as tmp:
        t0 = time.perf_counter()
        pyramid = build_pyramid(recording, Path(tmp) / "p")
        build_s = time.perf_counter() - t0
        cost = pyramid.n_bytes / raw_bytes(recording)
        remove_pyramid(pyramid.folder)
    print(f"pyramid: {recording.n_leads} leads x {recording.n_samples} samples ({duration / 86400:.1f} days) "
          f"built in {build_s:.1f} s; {pyramid.n_bytes / 1e6:.1f} MB = {cost:.3f} x the raw "
          f"{raw_bytes(recording) / 1e6:.1f} MB (target <= {TARGET_COST})", flush=True)
    rows.append({"run_at": stamp, "way": "pyramid-build", "zoom_s": duration, "n": 1,
                 "p50_ms": round(build_s * 1000), "p95_ms": "", "max_ms": "", "bytes_p95": pyramid.n_bytes,
                 "bytes_max": raw_bytes(recording), "note": f"cost {cost:.3f} x raw"})

    shutil.rmtree(store.resolve(run.beats_path).parent / BEATS_INDEX, ignore_errors=True)
    t0 = time.perf_counter()
    signal_window(store, study_id, LEAD, 0.0, 10.0, WIDTH, "bench")
    first_ms = (time.perf_counter() - t0) * 1000
    print(f"first read of the run (beat index of {run.id} built): {first_ms:.0f} ms", flush=True)

    # The floor of any audited read: one audit row committed (an fsync on SQLite), timed alone.
    commits = []
    for _ in range(args.windows):
        t0 = time.perf_counter()
        with store.transaction() as session:
            append(session, "bench", "bench:probe", "bench", 0, None, None)
        commits.append((time.perf_counter() - t0) * 1000)
    c50, c95, cmax = _percentiles(commits)
    print(f"one audit row committed alone: p50 {c50:.1f} ms, p95 {c95:.1f} ms, max {cmax:.1f} ms", flush=True)
    rows.append({"run_at": stamp, "way": "audit-commit", "zoom_s": "", "n": args.windows,
                 "p50_ms": round(c50, 2), "p95_ms": round(c95, 2), "max_ms": round(cmax, 2),
                 "bytes_p95": "", "bytes_max": "",
                 "note": "the commit every audited read pays"})

    def workflow_call(start: float, end: float) -> int:
        return len(signal_window(store, study_id, LEAD, start, end, WIDTH, "bench").model_dump_json())

    with contextlib.ExitStack() as stack:
        http_call = None if args.no_http else _http_caller(stack, store.home, study_id)
        worst = _zooms(args, duration, rows, stamp, store, blob, workflow_call, http_call)
    worst_p95, worst_bytes = worst
    print(f"worst zoom (HTTP where measured): p95 {worst_p95:.1f} ms = {worst_p95 / TARGET_MS:.2f} x the "
          f"{TARGET_MS:g} ms target; largest answer {worst_bytes / 1024:.1f} KB = "
          f"{worst_bytes / TARGET_BYTES:.2f} x 16 KB; pyramid {cost / TARGET_COST:.2f} x the {TARGET_COST} x "
          f"raw budget")
    new_file = not RESULTS.exists()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        if new_file:
            writer.writeheader()
        writer.writerows(rows)
    store.close()


def _http_caller(stack: contextlib.ExitStack, home: Path, study_id: int) -> Callable[[float, float], int]:
    port, cookie = stack.enter_context(_server(home))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # kept alive, as a browser does

    def call(start: float, end: float) -> int:
        connection.request("GET", f"/api/v1/studies/{study_id}/signal?lead={LEAD}&start_s={start!r}"
                                  f"&end_s={end!r}&width_px={WIDTH}", headers={"Cookie": cookie})
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise SystemExit(f"HTTP {answer.status}: {body[:300]!r}")
        return len(body)

    call(0.0, 10.0)  # the worker's first request imports and maps what the others reuse
    return call


def _zooms(
    args: argparse.Namespace, duration: float, rows: list[dict[str, object]], stamp: str, store: Store,
    blob: RecordingBlob, workflow_call: Callable[[float, float], int],
    http_call: Callable[[float, float], int] | None,
) -> tuple[float, int]:
    """Every zoom, each way: print and add a row; the worst p95 and size of the way closest to a user."""
    rng = np.random.default_rng(args.seed)
    worst_p95, worst_bytes = 0.0, 0
    print(f"{'zoom':>9} {'way':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB p95':>7} {'KB max':>7}")
    for zoom in (*ZOOMS_S, duration):
        zoom = min(float(zoom), duration)
        ways: list[tuple[str, Callable[[float, float], int], int]] = [
            ("workflow", workflow_call, args.windows)]
        if http_call is not None:
            ways.append(("http", http_call, args.windows))
        if zoom <= DIRECT_MAX_S:
            ways.append(("direct", lambda s, e: _direct(store, blob, s, e), max(3, args.windows // 8)))
        for way, call, n in ways:
            times, sizes = _measure(call, zoom, duration, n, rng)
            p50, p95, worst = _percentiles(times)
            bytes_p95, bytes_max = int(np.percentile(sizes, 95)), max(sizes)
            if way == ("workflow" if http_call is None else "http"):
                worst_p95, worst_bytes = max(worst_p95, p95), max(worst_bytes, bytes_max)
            print(f"{zoom:>9.0f} {way:>9} {p50:8.1f} {p95:8.1f} {worst:8.1f} {bytes_p95 / 1024:7.1f} "
                  f"{bytes_max / 1024:7.1f}", flush=True)
            rows.append({"run_at": stamp, "way": way, "zoom_s": zoom, "n": n, "p50_ms": round(p50, 2),
                         "p95_ms": round(p95, 2), "max_ms": round(worst, 2), "bytes_p95": bytes_p95,
                         "bytes_max": bytes_max, "note": ""})
    return worst_p95, worst_bytes


if __name__ == "__main__":
    main()
