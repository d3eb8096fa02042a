"""What a job does when the Dask scheduler dies under it (issue 14), with real processes on loopback.

Starts ``dask scheduler``, one ``dask worker`` and the ECG Desk loop (``ecgdesk worker --executor dask``,
short leases), queues one job that sleeps ``--job-s`` seconds (``tests/jobs/job_kinds.py``), kills the
scheduler with SIGKILL once the job has started, then, after ``--down-s`` seconds, starts a new scheduler
and a fresh Dask worker (what a process supervisor does). Prints the job's status every 2 s and checks
that it ends ``done`` with one result. Not a timing benchmark: a reproducible check of the behaviour
``docs/jobs.md`` describes.

    .venv/bin/python bench/dask_scheduler_loss.py [--port 8799] [--job-s 60] [--down-s 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS_DIR = ROOT / "tests" / "jobs"
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--job-s", type=float, default=60.0)
    parser.add_argument("--down-s", type=float, default=30.0)
    args = parser.parse_args()
    sys.path.insert(0, str(KINDS_DIR))
    from ecgdesk.jobs import queue
    from ecgdesk.jobs.queue import JobSpec
    from ecgdesk.store import open_store

    root = Path(tempfile.mkdtemp(prefix="ecgdesk-scheduler-loss-"))
    url = f"sqlite:///{root / 'db.sqlite'}"
    store = open_store(url=url, home=root)
    log = root / "starts.log"
    with store.transaction() as session:
        spec = JobSpec("test.sleep", {"seconds": args.job_s, "then": 1, "log": str(log)}, "k", "t")
        job_id = queue.enqueue(session, spec, "check")[0].id
    env = {**os.environ, "ECGDESK_HOME": str(root), "ECGDESK_DATABASE_URL": url, "PYTHONPATH": str(KINDS_DIR)}
    address = f"tcp://127.0.0.1:{args.port}"
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *command: str) -> subprocess.Popen[bytes]:
        out = open(root / f"{name}.log", "ab")  # noqa: SIM115 (the process owns it)
        process = subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    def scheduler() -> subprocess.Popen[bytes]:
        return start("scheduler", str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                     str(args.port), "--no-dashboard")

    def dask_worker() -> subprocess.Popen[bytes]:
        return start("dask-worker", str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                     "1", "--no-dashboard")

    def status() -> tuple[str, int, str | None]:
        with store.transaction() as session:
            job = queue.get_job(session, job_id)
            return job.status, job.attempts, job.error

    t0 = time.monotonic()
    try:
        first = scheduler()
        time.sleep(5)
        worker = dask_worker()
        start("loop", sys.executable, "-m", "ecgdesk.cli.main", "worker", "--executor", "dask", "--scheduler",
              address, "--kinds-module", "job_kinds", "--lease-s", "4", "--poll-s", "0.2")
        while not (log.exists() and log.read_text().strip()):
            time.sleep(0.1)
        print(f"{time.monotonic() - t0:5.0f} s  job started: {log.read_text().strip()}")
        first.kill()
        print(f"{time.monotonic() - t0:5.0f} s  scheduler killed")
        back = time.monotonic() + args.down_s
        while time.monotonic() < back:
            time.sleep(2)
            print(f"{time.monotonic() - t0:5.0f} s  {status()}")
        worker.terminate()
        worker.wait(timeout=60)
        scheduler()
        dask_worker()
        print(f"{time.monotonic() - t0:5.0f} s  new scheduler and Dask worker")
        deadline = time.monotonic() + 300
        while status()[0] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(2)
            print(f"{time.monotonic() - t0:5.0f} s  {status()}")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    final = status()
    starts = log.read_text().split("\n") if log.exists() else []
    print(f"job {job_id}: {final[0]} after {final[1]} attempt(s); runs started: {[s for s in starts if s]}")
    print(f"logs in {root}")
    if final[0] != "done":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
