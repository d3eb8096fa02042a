"""Jobs: batch throughput on 1 vs 2 local workers vs a 2-worker Dask cluster, and one 14-day recording split
across 2 workers vs the single-process analysis (issue 14).

Part ``batch``: ``--recordings`` simulated recordings of ``--hours`` each (``ecgdesk simulate``, cached under
``--cache``). The reference is the analysis of each one, in turn, in one warm process (the compute a job
does). Then, each in a fresh process and a fresh store, :func:`ecgdesk.workflow.batch.batch_analyze` on
(a) 1 local worker process, (b) 2 local worker processes, (c) a Dask ``LocalCluster`` of 2 single-threaded
worker processes on loopback. Workers are started and warm before the clock starts. Reported: wall
seconds, recordings per hour, the ratio to 1 local worker, and the per-task overhead
``(wall x workers - reference compute) / recordings``: what a job costs beyond its analysis (database
round trips, leases, hand-over, result folder and copy), as far as the workers were kept busy.

Part ``split``: a ``--days``-day recording. Single process: ``analyze`` and the output files (fresh process).
Split: an ``analysis.file`` job with ``--segment-hours`` parts (24 h) on 2 local worker processes: the parts
run in parallel, then the merge (global classification, findings, the same output files). Reported: wall
ratio, whether the findings are identical, the per-part and merge costs from the job table (for the N-host
estimate in ``docs/jobs.md``), and the load average before and after (the machine is shared).

    .venv/bin/python bench/bench_jobs.py [--part batch|split|all] [--recordings 8] [--hours 24]
        [--days 14] [--segment-hours 24] [--cache /tmp/ecgdesk-bench-jobs]

Writes ``bench/results/jobs_batch.csv`` and ``bench/results/jobs_split.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

SIMULATE = [sys.executable, "-m", "ecgdesk.cli.main", "simulate"]

BASELINE = r"""
import json, sys, time
from pathlib import Path
import tempfile
from ecgdesk.analysis.io import write_outputs
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording
paths = [Path(p) for p in sys.argv[1:]]
times = []
for p in paths:
    t0 = time.perf_counter()
    rec = open_recording(p)
    r = analyze(rec, diary=p.with_name(p.stem + ".diary.csv"))
    with tempfile.TemporaryDirectory() as out:  # the same files a job writes
        write_outputs(r.findings, r.beats.samples, r.beats.labels, rec.fs, Path(out), p.stem)
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""

BATCH = r"""
import json, sys, time
from pathlib import Path
from ecgdesk.store import open_store
from ecgdesk.workflow.batch import batch_analyze
from ecgdesk.workflow.jobs import KINDS
mode, home, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
paths = [Path(p) for p in sys.argv[4:]]
store = open_store(url=f"sqlite:///{home / 'db.sqlite'}", home=home)
cluster = None
if mode.startswith("local"):
    from ecgdesk.jobs.executor import LocalExecutor
    executor = LocalExecutor(store, KINDS, int(mode[-1]))
    executor.wait_ready()
else:
    from ecgdesk.jobs.dask_executor import DaskExecutor, local_cluster
    cluster = local_cluster(2)  # ECG Desk's worker configuration, every port free
    executor = DaskExecutor(store, KINDS, cluster.scheduler_address)
    executor.client.run(lambda: __import__("ecgdesk.workflow.analysis_jobs"))  # warm workers
t0 = time.perf_counter()
result = batch_analyze(store, paths, out, executor, "bench", segment_s=None, poll_s=0.1)
wall = time.perf_counter() - t0
if cluster is not None:
    cluster.close()
print(json.dumps({"wall_s": wall, "done": result.count("done"), "n": len(result.items)}))
"""

SINGLE = r"""
import json, sys, time
from pathlib import Path
from ecgdesk.analysis.io import write_outputs
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording
path, out = Path(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter()
rec = open_recording(path)
result = analyze(rec, diary=path.with_name(path.stem + ".diary.csv"))
beats = result.beats
write_outputs(result.findings, beats.samples, beats.labels, rec.fs, out, rec.record_name or path.stem)
wall = time.perf_counter() - t0
import resource
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "beats": result.findings.summary.total_beats, "peak_rss_mb": rss}))
"""

SPLIT = r"""
import json, sys, time
from pathlib import Path
from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import LocalExecutor
from ecgdesk.jobs.worker import serve
from ecgdesk.store import open_store
from ecgdesk.store.jobs_models import Job
from ecgdesk.workflow.analysis_jobs import file_analysis_spec
from ecgdesk.workflow.jobs import KINDS
path, home, segment_s = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
store = open_store(url=f"sqlite:///{home / 'db.sqlite'}", home=home)
executor = LocalExecutor(store, KINDS, 2)
executor.wait_ready()
t0 = time.perf_counter()
with store.transaction() as s:
    job_id = queue.enqueue(s, file_analysis_spec(path, segment_s=segment_s), "bench")[0].id
def ended():
    with store.transaction() as s:
        return s.get(Job, job_id).status in ("done", "failed", "cancelled")
serve(store, executor, KINDS, stop=ended, poll_s=0.1)
wall = time.perf_counter() - t0
import resource
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker process
with store.transaction() as s:
    job = s.get(Job, job_id)
    parts = queue.parts_of(s, job_id)
    part_s = [(p.finished_at - p.started_at).total_seconds() for p in parts]
    merge_s = (job.finished_at - job.started_at).total_seconds()
    result = json.loads(job.result_json or "{}")
    folder = store.resolve(result["folder"]) if "folder" in result else None
print(json.dumps({"wall_s": wall, "status": job.status, "error": job.error, "part_s": part_s,
                  "merge_s": merge_s, "findings": str(folder / "findings.json") if folder else None,
                  "worker_peak_rss_mb": rss}))
"""


def run_json(code: str, *args: str) -> Any:
    """Run ``code`` in a fresh Python process; its last line of output is JSON."""
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def simulate(cache: Path, name: str, days: float, seed: int) -> Path:
    header = cache / name / f"{name}.hea"
    if not header.exists():
        print(f"simulating {name} ({days:g} days) ...", flush=True)
        subprocess.run([*SIMULATE, "--days", str(days), "--seed", str(seed), "--name", name, "--out",
                        str(cache / name)], check=True, stdout=subprocess.DEVNULL)
    return header


def bench_batch(cache: Path, n: int, hours: float) -> None:
    paths = [simulate(cache, f"rec{i}", hours / 24, i) for i in range(1, n + 1)]
    compute = run_json(BASELINE, *map(str, paths))
    total = float(sum(compute))
    print(f"reference: {n} x {hours:g} h analysed in turn in one process: {total:.1f} s "
          f"({total / n:.2f} s each)")
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for mode, workers in (("local1", 1), ("local2", 2), ("dask2", 2)):
        home = cache / f"home-{mode}-{stamp}"
        out = cache / f"out-{mode}-{stamp}"
        got = run_json(BATCH, mode, str(home), str(out), *map(str, paths))
        wall = float(got["wall_s"])
        rows.append({
            "executor": mode, "workers": workers, "recordings": n, "hours_each": hours,
            "done": got["done"], "wall_s": round(wall, 2),
            "recordings_per_h": round(3600 * n / wall, 1), "reference_compute_s": round(total, 2),
            "overhead_per_task_s": round((wall * workers - total) / n, 3),
        })
        print(f"{mode}: {wall:.1f} s, {3600 * n / wall:.0f} recordings/h, overhead/task "
              f"{(wall * workers - total) / n:.2f} s", flush=True)
    base = rows[0]["wall_s"]
    load_after = os.getloadavg()[0]
    for row in rows:
        row["speedup_vs_local1"] = round(base / row["wall_s"], 2)
        row.update(load1_before=round(load_before, 2), load1_after=round(load_after, 2), cores=os.cpu_count())
    _write(RESULTS / "jobs_batch.csv", rows)
    for row in rows:
        print(f"{row['executor']:7} wall {row['wall_s']:7.1f} s  speed-up vs 1 worker "
              f"{row['speedup_vs_local1']:.2f}  overhead/task {row['overhead_per_task_s']:.2f} s")


def bench_split(cache: Path, days: float, segment_h: float) -> None:
    path = simulate(cache, f"long{days:g}d".replace(".", "_"), days, 14)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    single_out = cache / f"single-{stamp}"
    load_before = os.getloadavg()[0]
    single = run_json(SINGLE, str(path), str(single_out))
    split = run_json(SPLIT, str(path), str(cache / f"home-split-{stamp}"), str(segment_h * 3600))
    load_after = os.getloadavg()[0]
    single_json = single_out / "findings.json"
    identical = same_findings(single_json, Path(split["findings"])) if split["findings"] else False
    parts = split["part_s"]
    row = {
        "days": days, "segment_h": segment_h, "single_wall_s": round(single["wall_s"], 2),
        "split_wall_s": round(split["wall_s"], 2),
        "ratio_single_over_split": round(single["wall_s"] / split["wall_s"], 2),
        "identical_findings": identical, "parts": len(parts),
        "part_mean_s": round(sum(parts) / len(parts), 2), "part_max_s": round(max(parts), 2),
        "merge_s": round(split["merge_s"], 2),
        "single_peak_rss_mb": round(single["peak_rss_mb"]),
        "worker_peak_rss_mb": round(split["worker_peak_rss_mb"]),
        "status": split["status"],
        "load1_before": round(load_before, 2), "load1_after": round(load_after, 2), "cores": os.cpu_count(),
    }
    _write(RESULTS / "jobs_split.csv", [row])
    print(f"{days:g} days: single {row['single_wall_s']} s, split on 2 workers {row['split_wall_s']} s "
          f"(ratio {row['ratio_single_over_split']}), identical findings: {identical}; per-day part "
          f"{row['part_mean_s']} s (max {row['part_max_s']}), merge {row['merge_s']} s; peak RSS single "
          f"{row['single_peak_rss_mb']} MB, largest worker {row['worker_peak_rss_mb']} MB")


#: Where a run put things, not what it found: the recording's path and the files a job writes beside its
#: findings (the single-process run here writes none).
NOT_FINDINGS = ("beats_file", "annotation_file")


def same_findings(single: Path, split: Path) -> bool:
    """Whether two ``findings.json`` hold the same findings (every field but :data:`NOT_FINDINGS`)."""
    docs = [json.loads(path.read_text()) for path in (single, split)]
    for doc in docs:
        doc.get("summary", {}).get("recording", {}).pop("path", None)
        for key in NOT_FINDINGS:
            doc.pop(key, None)
    return bool(docs[0] == docs[1])


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("batch", "split", "all"), default="all")
    parser.add_argument("--recordings", type=int, default=8)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--segment-hours", type=float, default=24.0, help="the length of one part")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ecgdesk-bench-jobs"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.part in ("batch", "all"):
        bench_batch(args.cache, args.recordings, args.hours)
    if args.part in ("split", "all"):
        bench_split(args.cache, args.days, args.segment_hours)


if __name__ == "__main__":
    main()
