"""Hostile-input fuzz run of the command line (issue 19): every case of ``fuzz_corpus.py`` through ``info``
and the analysis that fits it (``analyze``, ``ecg12`` or ``strips``; ``--convert`` adds ``convert``), each
in a process of its own, counting per category: tracebacks (and internal errors, exit 3), hangs (killed
at --timeout of wall time), slow runs (over 10 s of CPU time), memory (peak RSS over 500 MB), garbage
accepted (a mutation that must be flagged, read with exit 0 and no warning), inputs modified, clean
refusals (exit 2) and runs that read.

    python bench/fuzz_hostile.py --out bench/results/fuzz_hostile             # this checkout
    python bench/fuzz_hostile.py --src /path/to/other/checkout/src --out ...   # the same corpus, other code

The corpus is built once per --work folder (from ../shared/data, copied into that scratch folder) and
reused, so two runs on two versions of the code see exactly the same inputs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_corpus import Case, build

SLOW_S = 10.0
MEMORY_MB = 500.0
CATEGORIES = ("traceback", "hang", "slow", "memory", "garbage", "modified", "refused", "read")


@dataclass
class Run:
    case: str
    base: str
    mutation: str
    command: str
    returncode: int
    seconds: float
    cpu_s: float
    peak_mb: float
    categories: list[str]
    message: str


def _digests(case: Case) -> dict[str, str]:
    out = {}
    for path in sorted(case.folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _limit_memory() -> None:  # keeps a runaway allocation from taking the shared machine down
    os.setpgrp()
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))


def _execute(argv: list[str], env: dict[str, str], cwd: Path,
             timeout: float) -> tuple[int, float, float, float, str, str, bool]:
    """Run; kill the process group at ``timeout``.

    Returns (returncode, wall s, CPU s, peak MB, stdout, stderr, hung). On a machine shared with other
    work the wall time mostly measures the others; the CPU time is what the command itself spent.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   preexec_fn=_limit_memory)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
                out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), timed_out)


def _commands(case: Case, scratch: Path, convert: bool) -> list[tuple[str, list[str], Path | None]]:
    """(label, arguments, results CSV of a strips run) for a case: ``info``, the analysis that fits the
    recording (``analyze``, ``ecg12`` or ``strips``) and, with ``--convert``, ``convert``."""
    path = str(case.path)
    out = case.folder if case.extra.get("out") == "same" else scratch
    results = scratch / "results.csv"
    analysis: tuple[str, list[str], Path | None] = {
        "holter": ("analyze", ["analyze", path, "--out", str(out)], None),
        "twelve": ("ecg12", ["ecg12", path, "--out", str(out)], None),
        "strip": ("strips", ["strips", path, "--out", str(results)], results),
    }[case.kind]
    if case.extra.get("out") == "same":
        return [analysis]
    commands: list[tuple[str, list[str], Path | None]] = [("info", ["info", path], None), analysis]
    if convert:
        commands.append(("convert", ["convert", path, str(scratch / "c"), "--to", "wfdb"], None))
    return commands


def _classify(case: Case, code: int, out: str, err: str, timed_out: bool, cpu_s: float, peak_mb: float,
              results: Path | None, modified: bool) -> list[str]:
    found = []
    if timed_out:
        found.append("hang")
    elif cpu_s > SLOW_S:
        found.append("slow")
    if "Traceback (most recent call last)" in err or code == 3 or (code < 0 and not timed_out) or code == 1:
        found.append("traceback")
    if peak_mb > MEMORY_MB or "MemoryError" in err or "out of memory" in err:
        found.append("memory")
    if modified:
        found.append("modified")
    flagged = code == 2 or "warning" in (out + err).lower()
    if results is not None and code == 0 and results.exists():
        rows = list(csv.DictReader(results.open()))
        flagged = not rows or (rows[0]["label"] == "~" and rows[0]["reason"].startswith("unreadable")) \
            or "warning" in rows[0]["reason"]
    if case.must_flag and code == 0 and not flagged and not timed_out:
        found.append("garbage")
    found.append("refused" if code == 2 or (results is not None and flagged and code == 0) else
                 "read" if code == 0 else "other")
    return found


def run_case(case: Case, python: str, env: dict[str, str], timeout: float, convert: bool) -> list[Run]:
    runs = []
    scratch = Path(tempfile.mkdtemp(prefix="fuzz-out-"))
    for label, args, results in _commands(case, scratch, convert):
        before = {} if case.special else _digests(case)
        code, seconds, cpu_s, peak_mb, out, err, timed_out = _execute(
            [python, "-m", "ecgdesk.cli.main", *args], env, case.folder, timeout)
        modified = not case.special and _digests(case) != before
        categories = _classify(case, code, out, err, timed_out, cpu_s, peak_mb, results, modified)
        message = (err.strip().splitlines() or [""])[-1][:200]
        runs.append(Run(case.name, case.base, case.mutation, label, code, round(seconds, 2), round(cpu_s, 2),
                        round(peak_mb, 1), categories, message))
        if results is not None:
            results.unlink(missing_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for runs.csv and summary.json")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ecgdesk-fuzz",
                        help="scratch folder of the corpus (built once, reused)")
    parser.add_argument("--src", type=Path, help="run the ecgdesk package of this src folder (PYTHONPATH)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--random", type=int, default=2, help="random flips/truncations per base and kind")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="wall seconds before a run is killed and counts as a hang")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--only", help="comma-separated bases to run (default all)")
    parser.add_argument("--convert", action="store_true", help="also run convert on every case")
    args = parser.parse_args()
    cases = build(args.work, args.seed, args.random)
    if args.only:
        cases = [c for c in cases if c.base in args.only.split(",")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    env.pop("ECGDESK_DEBUG", None)
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        def one(case: Case) -> list[Run]:
            done = run_case(case, sys.executable, env, args.timeout, args.convert)
            print(f"{case.name}: " + ", ".join(f"{r.command} {'+'.join(r.categories)}" for r in done),
                  flush=True)
            return done

        runs = [r for batch in pool.map(one, cases) for r in batch]
    counts = Counter(cat for r in runs for cat in r.categories)
    with open(args.out / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "base", "mutation", "command", "returncode", "seconds", "cpu_s", "peak_mb",
                         "categories", "message"])
        for r in runs:
            writer.writerow([r.case, r.base, r.mutation, r.command, r.returncode, r.seconds, r.cpu_s,
                             r.peak_mb, "+".join(r.categories), r.message])
    summary = {"runs": len(runs), "cases": len(cases), "seconds": round(time.monotonic() - started),
               "src": str(args.src or "this checkout"), "counts": {c: counts.get(c, 0) for c in CATEGORIES},
               "max_seconds": max(r.seconds for r in runs), "max_cpu_s": max(r.cpu_s for r in runs),
               "max_peak_mb": max(r.peak_mb for r in runs), "load_average": os.getloadavg()[0],
               "failures": [r.__dict__ for r in runs
                            if {"traceback", "hang", "memory", "garbage", "modified"} & set(r.categories)]}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{len(runs)} runs of {len(cases)} cases in {summary['seconds']} s ({summary['src']})")
    for category in CATEGORIES:
        print(f"  {category:10} {counts.get(category, 0)}")
    print(f"  slowest run {summary['max_seconds']} s wall, {summary['max_cpu_s']} s CPU; peak memory "
          f"{summary['max_peak_mb']} MB; load average {summary['load_average']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
